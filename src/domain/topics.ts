// The words every part of Herald shares: topics, audiences and their keys.
//   user:<id>       one user's private notifications
//   broadcast       everyone
//   group:<name>    the members a token names in its `groups` claim

/** Who is asking: the user and every topic they may read (`user:<sub>`, `broadcast`, `group:*`). */
export interface Audience {
  user: string;
  topics: readonly string[];
}

export const BROADCAST = 'broadcast';
const GROUP_PREFIX = 'group:';
const GROUP_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** A shared topic a publisher may name: `broadcast` or `group:<name>` (pattern for schemas). */
export const SHARED_TOPIC_PATTERN = '^(broadcast|group:[A-Za-z0-9_-]{1,64})$';

export function isValidGroupName(name: string): boolean {
  return GROUP_NAME.test(name);
}

export function userTopic(user: string): string {
  return `user:${user}`;
}

export function groupTopic(name: string): string {
  return `${GROUP_PREFIX}${name}`;
}

/** The group's name for a `group:<name>` topic, else null. */
export function groupName(topic: string): string | null {
  return topic.startsWith(GROUP_PREFIX) ? topic.slice(GROUP_PREFIX.length) : null;
}

/** Everything a user reads: their own topic, broadcast, and each group they belong to. */
export function audienceFor(user: string, groups: readonly string[]): Audience {
  return { user, topics: [userTopic(user), BROADCAST, ...groups.map(groupTopic)] };
}

/** Identifies an audience (user + topics), so streams with the same view share one count. */
export function audienceKey(audience: Audience): string {
  return `${audience.user}\n${[...audience.topics].sort().join('\n')}`;
}

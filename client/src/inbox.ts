import { ApiRequester, type ApiOptions } from './api.js';
import type { BatchItemResult, HeraldNotification, InboxStatus, Preferences, PublishAnswer, PublishBody } from './types.js';

export type InboxOptions = ApiOptions;

export interface ListQuery {
  /**
   * Default `all`. `unread`, `read` and `all` leave out snoozed, expired and not yet
   * delivered items (and topic items of a muted type); `snoozed` lists the snoozed ones.
   */
  status?: InboxStatus;
  type?: string;
  /** 1..100, default 50 (server side). */
  limit?: number;
  /** `next_cursor` of the previous page. */
  cursor?: string;
  /** `true` lists the archived items (only those); default false, the inbox without them. */
  archived?: boolean;
}

/** What `PATCH /v1/notifications/{id}` answers: the updated item and the new unread count. */
export interface InboxChange {
  notification: HeraldNotification;
  unread_count: number;
}

export interface InboxPage {
  items: HeraldNotification[];
  next_cursor: string | null;
  unread_count: number;
}

/**
 * The inbox REST API (`/v1/notifications…`, `/v1/preferences`), newest first. Every call
 * rejects with a `HeraldError` carrying the server's error `code` (e.g. `invalid_time`,
 * `too_many_mutes`, `not_found`) and the HTTP `status`.
 */
export class HeraldInbox {
  readonly #api: ApiRequester;

  constructor(options: InboxOptions) {
    this.#api = new ApiRequester(options);
  }

  list(query: ListQuery = {}): Promise<InboxPage> {
    const params = new URLSearchParams();
    if (query.status) params.set('status', query.status);
    if (query.type) params.set('type', query.type);
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    if (query.cursor) params.set('cursor', query.cursor);
    if (query.archived !== undefined) params.set('archived', String(query.archived));
    const search = params.size > 0 ? `?${params.toString()}` : '';
    return this.#request<InboxPage>('GET', `v1/notifications${search}`);
  }

  async unreadCount(): Promise<number> {
    const body = await this.#request<{ unread_count: number }>('GET', 'v1/notifications/unread-count');
    return body.unread_count;
  }

  markRead(id: string): Promise<InboxChange> {
    return this.#patch(id, { status: 'read' });
  }

  markUnread(id: string): Promise<InboxChange> {
    return this.#patch(id, { status: 'unread' });
  }

  /** Marks it seen (shown to the user) without reading it. */
  markSeen(id: string): Promise<InboxChange> {
    return this.#patch(id, { seen: true });
  }

  /** Archives it (`archived` false brings it back): archived items leave the inbox and the count. */
  archive(id: string, archived = true): Promise<InboxChange> {
    return this.#patch(id, { archived });
  }

  unarchive(id: string): Promise<InboxChange> {
    return this.archive(id, false);
  }

  /**
   * Hides it from the inbox and the count until `until` (at most 366 days ahead; the server
   * answers `invalid_time` otherwise); `null` wakes it now. It then comes back with the
   * read state it had, and every stream of the user gets `notification.updated`.
   */
  snooze(id: string, until: Date | null): Promise<InboxChange> {
    return this.#patch(id, { snoozed_until: until === null ? null : until.toISOString() });
  }

  /** Marks everything read; answers how many changed and the new unread count. */
  readAll(): Promise<{ updated: number; unread_count: number }> {
    return this.#request('POST', 'v1/notifications/read-all', {});
  }

  /** Marks everything seen; answers how many changed and the unread count. */
  seenAll(): Promise<{ updated: number; unread_count: number }> {
    return this.#request('POST', 'v1/notifications/seen-all', {});
  }

  getPreferences(): Promise<Preferences> {
    return this.#request('GET', 'v1/preferences');
  }

  /**
   * Replaces the preferences; answers them as stored. The user's other streams get
   * `preferences.updated`. Rejects with `too_many_mutes` past 100 entries and
   * `invalid_mute_pattern` for an entry that is neither a type nor `prefix.*`.
   */
  setPreferences(preferences: Preferences): Promise<Preferences> {
    return this.#request('PUT', 'v1/preferences', { muted_types: preferences.muted_types });
  }

  /**
   * For publishers (a token with the `publish` scope): cancels a scheduled notification
   * before it is due. Rejects with `already_delivered` (409) once it was delivered,
   * `expired_before_delivery` (410) when its expiry passed before it was due, and
   * `not_found` (404) for one another publisher scheduled.
   */
  async cancelScheduled(id: string): Promise<void> {
    await this.#request<undefined>('DELETE', `v1/notifications/${encodeURIComponent(id)}`);
  }

  /**
   * For publishers (a token with the `publish` scope): publishes one notification, answered
   * once it is stored. Rejects with the server's code (`invalid_request`, `idempotency_conflict`, …).
   */
  publish(body: PublishBody): Promise<PublishAnswer> {
    return this.#request('POST', 'v1/notifications', body);
  }

  /**
   * For publishers: publishes many notifications in one request (at most the server's
   * HERALD_MAX_BATCH, default 500). The valid ones are stored in one transaction; resolves
   * with one result per item, in order, each stored (`status` 202) or failed alone
   * (`status` and `error`). Rejects only when the batch as a whole is refused.
   */
  async publishBatch(notifications: readonly PublishBody[]): Promise<BatchItemResult[]> {
    const answer = await this.#request<{ results: BatchItemResult[] }>('POST', 'v1/notifications/batch', { notifications });
    return answer.results;
  }

  #patch(id: string, body: Record<string, unknown>): Promise<InboxChange> {
    return this.#request('PATCH', `v1/notifications/${encodeURIComponent(id)}`, body);
  }

  #request<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.#api.request<T>(method, path, body);
  }
}

// The stream cursor: `<epoch>.<user seq>.<broadcast seq>[.<group>:<seq>]*`.
// Short, ASCII and free of CR/LF, so it survives Last-Event-ID headers and CORS.

export interface Cursor {
  epoch: string;
  /** Last delivered sequence per topic. */
  seqs: Map<string, number>;
}

const GROUP_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const SEQ = /^\d{1,15}$/;

export function isValidGroupName(name: string): boolean {
  return GROUP_NAME.test(name);
}

export function userTopic(user: string): string {
  return `user:${user}`;
}

export function encodeCursor(epoch: string, user: string, seqs: ReadonlyMap<string, number>): string {
  let out = `${epoch}.${seqs.get(userTopic(user)) ?? 0}.${seqs.get('broadcast') ?? 0}`;
  for (const [topic, seq] of seqs) {
    if (topic.startsWith('group:')) out += `.${topic.slice(6)}:${seq}`;
  }
  return out;
}

/** Parses a cursor; null when it is not one (the stream then answers `reset`). */
export function decodeCursor(raw: string, user: string): Cursor | null {
  if (raw.length > 4096) return null;
  const parts = raw.split('.');
  const [epoch, userSeq, broadcastSeq, ...groups] = parts;
  if (!epoch || !/^[a-z0-9]{1,32}$/.test(epoch) || !SEQ.test(userSeq ?? '') || !SEQ.test(broadcastSeq ?? '')) return null;
  const seqs = new Map<string, number>([
    [userTopic(user), Number(userSeq)],
    ['broadcast', Number(broadcastSeq)],
  ]);
  for (const group of groups) {
    const [name, seq, extra] = group.split(':');
    if (extra !== undefined || !name || !GROUP_NAME.test(name) || !SEQ.test(seq ?? '')) return null;
    seqs.set(`group:${name}`, Number(seq));
  }
  return { epoch, seqs };
}

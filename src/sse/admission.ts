import { HeraldError } from '../errors.js';
import type { StreamSession } from './session.js';

/** The stream limits of one node (src/config.ts: HERALD_MAX_CONNECTIONS…). */
export interface AdmissionLimits {
  /** Streams this node holds at most. */
  maxConnections: number;
  /** Streams one user may hold on this node. */
  maxConnectionsPerUser: number;
  /** Streams one client address may hold on this node. */
  maxConnectionsPerIp: number;
}

/**
 * Which streams this node holds, by user and by client address, and whether another may
 * open: the only place the node's stream limits and its draining refusal are judged.
 */
export class Admission {
  readonly #limits: AdmissionLimits;
  readonly #sessions = new Set<StreamSession>();
  readonly #users = new Map<string, Set<StreamSession>>();
  /** A count, not a set: nothing is ever told per address. */
  readonly #ips = new Map<string, number>();
  #draining = false;

  constructor(limits: AdmissionLimits) {
    this.#limits = limits;
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** Every stream held, in the order they took their slots. */
  get sessions(): ReadonlySet<StreamSession> {
    return this.#sessions;
  }

  /** The user's streams here, or undefined when they have none. */
  streamsOf(user: string): ReadonlySet<StreamSession> | undefined {
    return this.#users.get(user);
  }

  /** True once the node is shutting down: it admits nothing new. */
  get draining(): boolean {
    return this.#draining;
  }

  startDraining(): void {
    this.#draining = true;
  }

  /** Throws the answer for a stream that must not open (limits, draining). Spends nothing. */
  admit(user: string, ip: string): void {
    if (this.#draining) throw new HeraldError('unavailable', 'This node is shutting down; reconnect.', 1);
    const limits = this.#limits;
    if (this.#sessions.size >= limits.maxConnections) throw new HeraldError('overloaded', 'This node holds its maximum number of streams.', 5);
    if ((this.#users.get(user)?.size ?? 0) >= limits.maxConnectionsPerUser) {
      throw new HeraldError('too_many_connections', `At most ${limits.maxConnectionsPerUser} streams per user; close one first.`, 5);
    }
    if ((this.#ips.get(ip) ?? 0) >= limits.maxConnectionsPerIp) {
      throw new HeraldError('too_many_connections', `At most ${limits.maxConnectionsPerIp} streams per client address.`, 5);
    }
  }

  /** Takes the session's slot (after `admit`, before any await). */
  add(session: StreamSession): void {
    this.#sessions.add(session);
    let streams = this.#users.get(session.user);
    if (!streams) this.#users.set(session.user, (streams = new Set()));
    streams.add(session);
    this.#ips.set(session.ip, (this.#ips.get(session.ip) ?? 0) + 1);
  }

  /** Frees the session's slot; false when it held none (already removed). */
  remove(session: StreamSession): boolean {
    if (!this.#sessions.delete(session)) return false;
    const streams = this.#users.get(session.user);
    if (streams) {
      streams.delete(session);
      if (streams.size === 0) this.#users.delete(session.user);
    }
    const ipCount = (this.#ips.get(session.ip) ?? 1) - 1;
    if (ipCount > 0) this.#ips.set(session.ip, ipCount);
    else this.#ips.delete(session.ip);
    return true;
  }
}

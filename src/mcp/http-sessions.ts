/**
 * The open sessions of the MCP HTTP server, and the rules that keep one client from using them up:
 *
 *  - At most `maxPerClient` sessions per client address (IPv6: per /64) and `maxSessions` in all. A
 *    newcomer beyond either is let in: a session of that client (or, when the server is full, of
 *    anyone) is closed for it — one that never made a call first, then the longest idle. Refusing
 *    newcomers instead would let one client lock every other out.
 *  - A session that makes no call (a request other than `initialize`) within `unusedTimeoutMs` is
 *    closed, open stream or not: opening sessions costs a flood nothing, calling is what clients do.
 *  - A session with no call and no stream open for `idleTimeoutMs` is closed.
 *
 * Plain bookkeeping: closing is the caller's (`close`), so this file knows no transport but the
 * one hook that tells calls apart.
 */
import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { isJSONRPCRequest } from '@modelcontextprotocol/sdk/types.js';

export interface SessionLimits {
  maxSessions: number;
  maxPerClient: number;
  idleTimeoutMs: number;
  unusedTimeoutMs: number;
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = {
  maxSessions: 1000,
  maxPerClient: 100,
  idleTimeoutMs: 30 * 60_000,
  // with the sweep at half of it, a session that made no call is gone within 45 s
  unusedTimeoutMs: 30_000
};

interface Entry<T> {
  value: T;
  client: string;
  /** Made a call: a request other than initialize. */
  used: boolean;
  /** HTTP responses still being written (calls and streams): while any is open the session is not idle. */
  openResponses: number;
  /** POSTs still being answered. */
  openCalls: number;
  openedAt: number;
  lastActiveAt: number;
}

export class SessionTable<T> {
  private readonly entries = new Map<string, Entry<T>>();

  constructor(
    private readonly limits: SessionLimits,
    /** Closes a session the table let go; the session must be forgotten (`forget`) by then or soon. */
    private readonly close: (id: string, value: T, why: string) => void,
    private readonly now: () => number = () => performance.now()
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(id: string): T | undefined {
    return this.entries.get(id)?.value;
  }

  ids(): string[] {
    return [...this.entries.keys()];
  }

  /** Adds a session of `client`, after closing what the limits say must go to make room for it. */
  open(id: string, client: string, value: T, transport: Transport): void {
    const mine = [...this.entries].filter(([, e]) => e.client === client);
    if (mine.length >= this.limits.maxPerClient) this.evict(mine, `its client ${client} holds ${this.limits.maxPerClient}`);
    else if (this.entries.size >= this.limits.maxSessions) this.evict([...this.entries], `the server holds ${this.limits.maxSessions}`);
    const at = this.now();
    const entry: Entry<T> = { value, client, used: false, openResponses: 0, openCalls: 0, openedAt: at, lastActiveAt: at };
    this.entries.set(id, entry);
    watchCalls(transport, () => (entry.used = true));
  }

  forget(id: string): boolean {
    return this.entries.delete(id);
  }

  /** An HTTP response of the session, open until it is written: a call (a POST) or a stream. */
  track(id: string, res: ServerResponse, isCall: boolean): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    entry.openResponses++;
    if (isCall) entry.openCalls++;
    entry.lastActiveAt = this.now();
    res.once('close', () => {
      entry.openResponses--;
      if (isCall) entry.openCalls--;
      entry.lastActiveAt = this.now();
    });
  }

  /** Closes the sessions left unused or idle for too long. */
  sweep(): void {
    const now = this.now();
    for (const [id, e] of this.entries) {
      if (!e.used && now - e.openedAt >= this.limits.unusedTimeoutMs) this.let(id, e, 'it made no call');
      else if (e.openResponses === 0 && now - e.lastActiveAt >= this.limits.idleTimeoutMs) this.let(id, e, 'it was idle');
    }
  }

  /** How often `sweep` must run for the timeouts to hold (within half of each). */
  sweepIntervalMs(): number {
    return Math.max(10, Math.min(60_000, this.limits.idleTimeoutMs / 2, this.limits.unusedTimeoutMs / 2));
  }

  /** Closes the one session of `candidates` that costs the least: not answering a call, never used, idle longest. */
  private evict(candidates: [string, Entry<T>][], why: string): void {
    const rank = (e: Entry<T>) => [e.openCalls > 0 ? 1 : 0, e.used ? 1 : 0, e.lastActiveAt];
    const [id, entry] = candidates.reduce((best, next) => (lexicographicallyBefore(rank(next[1]), rank(best[1])) ? next : best));
    this.let(id, entry, `a newcomer needed room (${why})`);
  }

  private let(id: string, entry: Entry<T>, why: string): void {
    this.entries.delete(id);
    this.close(id, entry.value, why);
  }
}

/** Calls `onCall` for each request the transport receives other than initialize (set once the server is connected). */
function watchCalls(transport: Transport, onCall: () => void): void {
  const deliver = transport.onmessage;
  transport.onmessage = (message, extra) => {
    if (isJSONRPCRequest(message) && message.method !== 'initialize') onCall();
    deliver?.(message, extra);
  };
}

function lexicographicallyBefore(a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]!;
  return false;
}

/**
 * Whom a session counts against: an IPv4 address (also when IPv4-mapped), or an IPv6 /64 — the
 * block one subscriber usually gets, so that one client cannot pass for many by changing addresses.
 */
export function clientOf(address: string | undefined): string {
  if (!address) return 'unknown';
  const plain = address.replace(/%.*$/, '').toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(plain);
  if (mapped) return mapped[1]!;
  if (!plain.includes(':')) return plain;
  const [head = '', tail] = plain.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => (parseInt(g, 16) || 0).toString(16)).join(':')}::/64`;
}

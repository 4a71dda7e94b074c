import { randomUUID } from 'node:crypto';

/** What the embedded backend logs; InsForge's names for its own sources are accepted too (routes.ts). */
export const LOG_SOURCES = ['api', 'functions', 'auth', 'database'] as const;
export type LogSource = (typeof LOG_SOURCES)[number];

/** InsForge v2's log entry: a one-line message and its fields. */
export interface LogEntry {
  id: string;
  timestamp: string;
  eventMessage: string;
  body: Record<string, unknown>;
}

/** Entries kept per source: the newest, in memory; older ones are dropped (and all of them at a restart). */
export const LOG_RING_SIZE = 1000;
/** Bytes of text one entry may keep in a field (console output, a statement, a stack). */
export const LOG_FIELD_BYTES = 8 * 1024;

export const clip = (text: string, max = LOG_FIELD_BYTES) => (text.length > max ? `${text.slice(0, max)} …(truncated)` : text);

/**
 * The backend's logs, by source: one bounded ring each, so no amount of traffic grows memory
 * beyond LOG_RING_SIZE entries of bounded size per source. Never holds keys, tokens or bodies:
 * the writers (hooks.ts, functions, schedules) put in only the fields they name.
 */
export class LogBook {
  private readonly rings = new Map<LogSource, { seq: number; entry: LogEntry }[]>(LOG_SOURCES.map((s) => [s, []]));
  /** Orders entries written in the same millisecond. */
  private seq = 0;

  add(source: LogSource, eventMessage: string, body: Record<string, unknown>): void {
    const ring = this.rings.get(source)!;
    ring.push({ seq: this.seq++, entry: { id: randomUUID(), timestamp: new Date().toISOString(), eventMessage: clip(eventMessage, 1024), body } });
    if (ring.length > LOG_RING_SIZE) ring.splice(0, ring.length - LOG_RING_SIZE);
  }

  /** Newest first: at most `limit` entries, after `since` and before `before` (ISO times), matching `search`. */
  read(sources: readonly LogSource[], q: { limit: number; since?: string; before?: string; search?: string }): { logs: (LogEntry & { source: LogSource })[]; total: number } {
    const needle = q.search?.toLowerCase();
    const matching = sources
      .flatMap((source) => this.rings.get(source)!.map(({ seq, entry }) => ({ seq, entry: { ...entry, source } })))
      .filter(({ entry: e }) => (!q.since || e.timestamp > q.since) && (!q.before || e.timestamp < q.before))
      .filter(({ entry: e }) => !needle || `${e.eventMessage} ${JSON.stringify(e.body)}`.toLowerCase().includes(needle))
      .sort((a, b) => b.seq - a.seq);
    return { logs: matching.slice(0, q.limit).map((m) => m.entry), total: matching.length };
  }
}

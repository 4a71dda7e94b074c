import { BackendError } from './errors.js';

/** Retries for idempotent requests only: a connection that failed, a gateway that failed, or a rate limit. */
export const MAX_RETRIES = 3;
const BASE_DELAY_MS = 250;
/** Longer waits are not worth holding a tool call for: the error says when to come back instead. */
export const MAX_WAIT_MS = 10_000;

const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);

/** How long to wait before retry number `attempt` (0-based), or undefined when this error is final. */
export function retryDelay(err: unknown, attempt: number, random: () => number = Math.random): number | undefined {
  if (!(err instanceof BackendError) || attempt >= MAX_RETRIES) return undefined;
  // our own timeout already waited the full budget once; a cancellation is the caller's wish
  if (err.code === 'TIMEOUT' || err.code === 'CANCELLED') return undefined;
  if (err.code !== 'BACKEND_UNREACHABLE' && !RETRYABLE_STATUS.has(err.status)) return undefined;
  if (err.retryAfterMs !== undefined) return err.retryAfterMs <= MAX_WAIT_MS ? err.retryAfterMs : undefined;
  // full jitter around an exponential step, so many clients do not retry in lockstep
  return Math.round(BASE_DELAY_MS * 2 ** attempt * (0.5 + random()));
}

/** Retry-After (seconds or an HTTP date), else X-RateLimit-Reset (epoch seconds, or seconds from now). */
export function retryAfterMs(headers: Record<string, string | string[] | undefined>, now = Date.now()): number | undefined {
  const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  const retryAfter = one(headers['retry-after']);
  if (retryAfter !== undefined) {
    const seconds = Number(retryAfter);
    if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  const reset = Number(one(headers['x-ratelimit-reset']) ?? one(headers['ratelimit-reset']));
  if (Number.isFinite(reset) && reset > 0) return reset > 1e9 ? Math.max(0, reset * 1000 - now) : reset * 1000;
  return undefined;
}

import { describe, expect, it } from 'vitest';
import { BackendError } from '../../src/client/errors.js';
import { MAX_RETRIES, retryAfterMs, retryDelay } from '../../src/client/retry.js';

const err = (status: number, code = `HTTP_${status}`, retryAfter?: number) => new BackendError(status, code, 'x', undefined, undefined, retryAfter);

describe('retry policy', () => {
  it.each([502, 503, 504, 429])('retries %i with jittered exponential backoff', (status) => {
    expect(retryDelay(err(status), 0, () => 0)).toBe(125);
    expect(retryDelay(err(status), 2, () => 1)).toBe(1500);
  });

  it('retries a connection failure', () => {
    expect(retryDelay(err(503, 'BACKEND_UNREACHABLE'), 0, () => 0.5)).toBe(250);
  });

  it.each([400, 401, 403, 404, 409, 500])('does not retry %i', (status) => {
    expect(retryDelay(err(status), 0)).toBeUndefined();
  });

  it('does not retry its own timeout, a cancellation, or beyond the attempt limit', () => {
    expect(retryDelay(err(504, 'TIMEOUT'), 0)).toBeUndefined();
    expect(retryDelay(err(499, 'CANCELLED'), 0)).toBeUndefined();
    expect(retryDelay(err(503), MAX_RETRIES)).toBeUndefined();
    expect(retryDelay(new Error('boom'), 0)).toBeUndefined();
  });

  it('honours Retry-After, and gives up when it is too far away', () => {
    expect(retryDelay(err(429, 'TOO_MANY_REQUESTS', 2000), 0)).toBe(2000);
    expect(retryDelay(err(429, 'TOO_MANY_REQUESTS', 60_000), 0)).toBeUndefined();
  });

  it('reads Retry-After seconds and dates, and X-RateLimit-Reset as epoch or delta', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs({ 'retry-after': '3' }, now)).toBe(3000);
    expect(retryAfterMs({ 'retry-after': 'Thu, 01 Jan 2026 00:00:05 GMT' }, now)).toBe(5000);
    expect(retryAfterMs({ 'x-ratelimit-reset': String(now / 1000 + 7) }, now)).toBe(7000);
    expect(retryAfterMs({ 'x-ratelimit-reset': '4' }, now)).toBe(4000);
    expect(retryAfterMs({}, now)).toBeUndefined();
  });
});

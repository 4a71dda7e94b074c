import { expect } from 'vitest';
import { PostgrestError } from '../../src/backend/db/postgrest.js';

/** Runs fn and returns the PostgrestError it throws (fails the test otherwise). */
export function error(fn: () => unknown): PostgrestError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PostgrestError);
    return e as PostgrestError;
  }
  throw new Error('expected a PostgrestError');
}

/** The PostgrestError fn throws, checked for its status, code and (optionally) message. */
export function expectError(fn: () => unknown, status: number, code: string, message?: string | RegExp): PostgrestError {
  const e = error(fn);
  expect({ status: e.status, code: e.code }).toEqual({ status, code });
  if (message !== undefined) expect(e.message).toMatch(message);
  return e;
}

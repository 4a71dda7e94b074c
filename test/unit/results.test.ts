import { describe, expect, it } from 'vitest';
import { BackendError, errorFromResponse } from '../../src/client/errors.js';
import { fail, wrapUntrusted } from '../../src/mcp/results.js';

const errorOf = (err: unknown) => (JSON.parse((fail(err).content[0] as { text: string }).text) as { error: Record<string, unknown> }).error;

describe('error results', () => {
  it('cap a huge message and details (Postgres quotes the offending token)', () => {
    const huge = 'é'.repeat(500_000);
    const error = errorOf(new BackendError(400, '42601', `syntax error at or near "${huge}"`, 'Fix the SQL.', { token: huge }));
    expect(JSON.stringify(error).length).toBeLessThan(5000);
    expect(error.message).toMatch(/^syntax error at or near "é+… \(\d+ more characters\)$/);
    expect(error).toMatchObject({ status: 400, code: '42601', nextActions: 'Fix the SQL.' });
  });

  it('never cut a surrogate pair in two', () => {
    const message = errorOf(new BackendError(400, 'X', '😀'.repeat(5000))).message as string;
    expect(message).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });

  it('turn a lone surrogate in a name, and a refused local path, into input errors', () => {
    let uriError: unknown;
    try {
      encodeURIComponent('\uD800');
    } catch (err) {
      uriError = err;
    }
    expect(errorOf(uriError)).toMatchObject({ status: 400, code: 'INVALID_INPUT' });
    const enoent = Object.assign(new Error("ENOENT: no such file or directory, open '/nope'"), { code: 'ENOENT', syscall: 'open' });
    expect(errorOf(enoent)).toMatchObject({ status: 400, code: 'LOCAL_FILE_ERROR', message: expect.stringContaining('/nope') });
    expect(errorOf(new TypeError('x is undefined'))).toMatchObject({ status: 500, code: 'INTERNAL_ERROR' });
  });

  it('a 429 says when to come back, whatever its body', () => {
    expect(errorFromResponse(429, 'text/plain', 'Too Many Requests', 2000).nextActions).toBe('Rate limited: wait 2 s, then retry.');
    expect(errorFromResponse(429, 'application/json', '{"message":"slow down"}').nextActions).toBe('Rate limited: wait a little, then retry.');
    expect(errorFromResponse(502, 'text/html', '<h1>502 Bad Gateway</h1>').message).toBe('The backend answered 502 with a non-JSON body (text/html): 502 Bad Gateway');
  });
});

describe('untrusted data wrapper', () => {
  it('uses a fresh 48-bit nonce each time and adds little', () => {
    const a = wrapUntrusted('{}');
    const b = wrapUntrusted('{}');
    expect(a).toMatch(/^<untrusted-data-([0-9a-f]{12})>\{\}<\/untrusted-data-\1>$/);
    expect(a).not.toBe(b);
    expect(a.length - 2).toBeLessThanOrEqual(120);
  });
});

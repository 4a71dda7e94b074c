import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, fetch } from 'undici';
import { DB_KINDS, startTestBackend, TEST_ANON_KEY, type TestBackend } from '../support/backend.js';

/**
 * The anon key is public: every visitor of an app has it. Its rate limit is therefore counted per
 * client address as well, so that one client's burst does not lock out everyone else. Two clients
 * on two loopback addresses (127.0.0.1 and 127.0.0.2, real sockets, no proxy header).
 */

const LIMIT = 10;

describe.each(DB_KINDS)('anon rate limits on %s', (kind) => {
  let b: TestBackend;
  const first = new Agent({ localAddress: '127.0.0.1' });
  const second = new Agent({ localAddress: '127.0.0.2' });

  beforeAll(async () => {
    b = await startTestBackend(kind, { rateLimit: LIMIT });
    expect((await b.api('/api/storage/buckets', { method: 'POST', json: { bucketName: 'pub', isPublic: true } })).status).toBe(201);
    const form = new FormData();
    form.append('file', new Blob(['hello']), 'hello.txt');
    expect((await globalThis.fetch(`${b.url}/api/storage/buckets/pub/objects/hello.txt`, { method: 'PUT', headers: { authorization: `Bearer ${b.keys.apiKey}` }, body: form })).status).toBe(200);
  });
  afterAll(async () => {
    await b?.close();
    await Promise.all([first.close(), second.close()]);
  });

  const get = (from: Agent) => fetch(`${b.url}/api/storage/buckets/pub/objects/hello.txt`, { dispatcher: from, headers: { apikey: TEST_ANON_KEY } });
  const signUp = (from: Agent, email: string) =>
    fetch(`${b.url}/api/auth/users`, { dispatcher: from, method: 'POST', headers: { apikey: TEST_ANON_KEY, 'content-type': 'application/json' }, body: JSON.stringify({ email, password: 'secure_password123' }) });

  it("one client's burst with the anon key does not 429 another client's GET or sign-up", async () => {
    const burst: number[] = [];
    for (let i = 0; i <= LIMIT; i++) {
      const res = await get(first);
      await res.arrayBuffer();
      burst.push(res.status);
    }
    expect(burst).toEqual([...Array<number>(LIMIT).fill(200), 429]);

    const otherGet = await get(second);
    expect(otherGet.status).toBe(200);
    expect(await otherGet.text()).toBe('hello');
    expect(Number(otherGet.headers.get('x-ratelimit-remaining'))).toBe(LIMIT - 1);
    const otherSignUp = await signUp(second, `other-${kind}@example.com`);
    expect(otherSignUp.status).toBe(200);
    await otherSignUp.arrayBuffer();

    // the bursting client is still limited, for sign-up too
    const ownSignUp = await signUp(first, `burst-${kind}@example.com`);
    expect(ownSignUp.status).toBe(429);
    expect(await ownSignUp.json()).toMatchObject({ statusCode: 429, error: 'TOO_MANY_REQUESTS' });
  });
});

/**
 * Signed URLs (issue 17): a private file handed out as a link that works without credentials until
 * it expires, then answers 403 — through @insforge/sdk's createSignedUrl and the get-file-url tool.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '@insforge/sdk';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { DB_KINDS, startTestBackend, TEST_ANON_KEY, type TestBackend } from '../support/backend.js';
import { call, stdioClient } from '../support/mcp.js';

const sleepUntil = (at: string) => new Promise((r) => setTimeout(r, Math.max(0, new Date(at).getTime() - Date.now()) + 200));

describe.each(DB_KINDS)('signed URLs on %s', (kind) => {
  let b: TestBackend;
  let mcp: Client;

  beforeAll(async () => {
    b = await startTestBackend(kind);
    for (const [bucketName, isPublic] of [['vault', false], ['open', true]] as const) {
      expect((await b.api('/api/storage/buckets', { method: 'POST', json: { bucketName, isPublic } })).status).toBe(201);
    }
    ({ client: mcp } = await stdioClient(['--url', b.url]));
    await call(mcp, 'upload-file', { bucket: 'vault', key: 'a/secret.txt', text: 'private bytes' });
    await call(mcp, 'upload-file', { bucket: 'vault', key: 'other.txt', text: 'other bytes' });
    await call(mcp, 'upload-file', { bucket: 'open', key: 'hello.txt', text: 'public bytes' });
  });
  afterAll(async () => {
    await mcp?.close();
    await b?.close();
  });

  it('the SDK: createSignedUrl gives a URL that works with no credentials, and an expiry', async () => {
    const sdk = createClient({ baseUrl: b.url, anonKey: TEST_ANON_KEY, isServerMode: true });
    // the anon key may not mint one for a private bucket
    expect((await sdk.storage.from('vault').createSignedUrl('a/secret.txt', 600)).error).toMatchObject({ statusCode: 403 });
    // a signed-in user may, for a file they can read: their own
    expect((await sdk.auth.signUp({ email: 'signer@example.com', password: 'signer-password-1' })).error).toBeNull();
    expect((await sdk.storage.from('vault').upload('mine.txt', new Blob(['my bytes'], { type: 'text/plain' }))).error).toBeNull();
    expect((await fetch(`${b.url}/api/storage/buckets/vault/objects/mine.txt`)).status).toBe(401); // private
    const { data, error } = await sdk.storage.from('vault').createSignedUrl('mine.txt', 600);
    expect(error).toBeNull();
    expect(new Date(data!.expiresAt!).getTime() - Date.now()).toBeGreaterThan(590_000);
    const res = await fetch(data!.signedUrl);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('my bytes');
    // …and not for the admin's file, which RLS hides from them
    expect((await sdk.storage.from('vault').createSignedUrl('a/secret.txt', 600)).error).toMatchObject({ statusCode: 404 });
  });

  it('get-file-url: private bucket, a signed URL that works, then answers 403 once expired', async () => {
    const { data } = await call(mcp, 'get-file-url', { bucket: 'vault', key: 'a/secret.txt', expiresIn: 4 });
    expect(data).toMatchObject({ signed: true, url: expect.stringContaining('signature='), expiresAt: expect.any(String) });
    const first = await fetch(data.url);
    expect(first.status).toBe(200);
    expect(await first.text()).toBe('private bytes');
    await sleepUntil(data.expiresAt);
    const expired = await fetch(data.url);
    expect(expired.status).toBe(403);
    expect(await expired.json()).toMatchObject({ statusCode: 403, error: 'FORBIDDEN', message: expect.stringContaining('expired'), nextActions: expect.stringContaining('get-file-url') });
  });

  it('a signature fits one object: another key, a changed expiry or a forged signature answer 403', async () => {
    const { data } = await call(mcp, 'get-file-url', { bucket: 'vault', key: 'a/secret.txt' });
    const url = new URL(data.url);
    const other = new URL(url);
    other.pathname = other.pathname.replace('a%2Fsecret.txt', 'other.txt');
    expect((await fetch(other)).status).toBe(403);
    const later = new URL(url);
    later.searchParams.set('expires', String(Number(url.searchParams.get('expires')) + 3600));
    expect((await fetch(later)).status).toBe(403);
    const forged = new URL(url);
    forged.searchParams.set('signature', 'A'.repeat(43));
    expect((await fetch(forged)).status).toBe(403);
    const malformed = new URL(url);
    malformed.searchParams.delete('signature');
    expect((await fetch(malformed)).status).toBe(403);
  });

  it('get-file-url: a public bucket gives its plain URL, with no expiry', async () => {
    const { data } = await call(mcp, 'get-file-url', { bucket: 'open', key: 'hello.txt' });
    expect(data).toEqual({ url: `${b.url}/api/storage/buckets/open/objects/hello.txt`, expiresAt: null, signed: false, note: expect.any(String) });
    expect(await (await fetch(data.url)).text()).toBe('public bytes');
  });

  it('get-file-url: a missing file, a bad expiry', async () => {
    const missing = await call(mcp, 'get-file-url', { bucket: 'vault', key: 'nope.txt' }, { allowError: true });
    expect(missing.data.error).toMatchObject({ status: 404 });
    const bad = await call(mcp, 'get-file-url', { bucket: 'vault', key: 'a/secret.txt', expiresIn: 0 }, { allowError: true });
    expect(bad.text).toContain('expiresIn');
  });
});

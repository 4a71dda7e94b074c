/**
 * Secrets (issue 17): write-only values for functions. A function reads them as Deno.env.get and
 * process.env; no route, tool result or log line gives a value back; run-sql cannot reach them, and
 * the database holds them encrypted with the data dir's key; they survive a restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { DB_KINDS, startTestBackend, TEST_SECRET_VALUE as VALUE, type TestBackend } from '../support/backend.js';
import { call, stdioClient } from '../support/mcp.js';

const READER = `module.exports = async function () {
  return Response.json({ deno: Deno.env.get('STRIPE_KEY') ?? null, node: process.env.STRIPE_KEY ?? null, url: Deno.env.get('INSFORGE_BASE_URL') })
}`;

describe.each(DB_KINDS)('secrets on %s', (kind) => {
  let b: TestBackend;
  let mcp: Client;
  let stderr: () => string;
  const backendLog: string[] = [];
  const outputs: string[] = [];
  const tool = async (name: string, args: Record<string, unknown> = {}, opts: { allowError?: boolean } = {}) => {
    const outcome = await call(mcp, name, args, opts);
    // the reader function echoes the value on purpose: what a function returns is its own business
    if (name !== 'invoke-function') outputs.push(outcome.text);
    return outcome;
  };

  beforeAll(async () => {
    b = await startTestBackend(kind, { backend: { log: (m) => backendLog.push(m) } });
    ({ client: mcp, stderr } = await stdioClient(['--url', b.url]));
  });
  afterAll(async () => {
    await mcp?.close();
    await b?.close();
  });

  it('set-secret, then a function reads it as Deno.env.get and process.env', async () => {
    expect((await tool('set-secret', { key: 'STRIPE_KEY', value: VALUE })).data).toEqual({ key: 'STRIPE_KEY', created: true });
    await tool('deploy-function', { slug: 'reader', code: READER });
    const { data } = await tool('invoke-function', { slug: 'reader' });
    expect(data.body).toEqual({ deno: VALUE, node: VALUE, url: b.url });
  });

  it('a secret named like a built-in variable does not replace it', async () => {
    await tool('set-secret', { key: 'INSFORGE_BASE_URL', value: 'http://elsewhere.example' });
    expect((await tool('invoke-function', { slug: 'reader' })).data.body.url).toBe(b.url);
    await tool('delete-secret', { key: 'INSFORGE_BASE_URL', confirm: true });
  });

  it('list-secrets names them with dates, never values; set-secret replaces', async () => {
    const { data } = await tool('list-secrets');
    expect(data.secrets).toEqual([{ id: expect.any(String), key: 'STRIPE_KEY', isActive: true, isReserved: false, lastUsedAt: null, expiresAt: null, createdAt: expect.any(String), updatedAt: expect.any(String) }]);
    expect((await tool('set-secret', { key: 'STRIPE_KEY', value: `${VALUE}_v2` })).data).toEqual({ key: 'STRIPE_KEY', created: false });
    expect((await tool('invoke-function', { slug: 'reader' })).data.body.deno).toBe(`${VALUE}_v2`);
    await tool('set-secret', { key: 'STRIPE_KEY', value: VALUE });
  });

  it('the v2 routes: admin only, names checked, values write-only', async () => {
    expect((await b.api('/api/secrets', { key: 'anon' })).status).toBe(401);
    expect((await b.api('/api/secrets', { key: 'none' })).status).toBe(401);
    const one = await b.api('/api/secrets/STRIPE_KEY');
    expect(one.status).toBe(403);
    expect(one.text).not.toContain(VALUE);
    expect((await b.api('/api/secrets', { method: 'POST', json: { key: 'lower', value: 'x' } })).json).toMatchObject({ statusCode: 400, message: expect.stringContaining('uppercase') });
    expect((await b.api('/api/secrets', { method: 'POST', json: { key: 'NO_VALUE' } })).status).toBe(400);
    expect((await b.api('/api/secrets', { method: 'POST', json: { key: 'STRIPE_KEY', value: 'again' } })).json).toMatchObject({ statusCode: 409, error: 'SECRET_ALREADY_EXISTS' });
    expect((await b.api('/api/secrets/NEVER', { method: 'PUT', json: { value: 'x' } })).status).toBe(404);
    const created = await b.api('/api/secrets', { method: 'POST', json: { key: 'TEMP_ONE', value: 'temp' } });
    expect(created.status).toBe(201);
    expect(created.json).toEqual({ success: true, message: 'Secret TEMP_ONE has been created successfully', id: expect.any(String) });
    expect((await b.api('/api/secrets/TEMP_ONE', { method: 'DELETE' })).json).toEqual({ success: true, message: 'Secret TEMP_ONE has been deleted successfully' });
  });

  it('run-sql cannot read them, and the database holds only ciphertext', async () => {
    const refused = await tool('run-sql', { query: 'select * from secrets.values' }, { allowError: true });
    expect(refused.data.error).toMatchObject({ code: '42501' });
    const stored = await b.db.internal.query<{ sealed: string }>("select sealed from secrets.values where key = 'STRIPE_KEY'");
    expect(stored.rows[0]!.sealed).not.toContain(VALUE);
    expect(Buffer.from(stored.rows[0]!.sealed, 'base64url').toString('latin1')).not.toContain(VALUE);
  });

  it('they survive a restart of the backend', async () => {
    await mcp.close();
    await b.close();
    b = await startTestBackend(kind, { dataDir: b.dataDir, backend: { databaseUrl: b.databaseUrl, log: (m) => backendLog.push(m) } });
    ({ client: mcp, stderr } = await stdioClient(['--url', b.url]));
    expect((await tool('invoke-function', { slug: 'reader' })).data.body.deno).toBe(VALUE);
  });

  it('delete-secret asks first, then the function no longer sees it', async () => {
    expect((await tool('delete-secret', { key: 'STRIPE_KEY' }, { allowError: true })).data.error).toMatchObject({ status: 428 });
    expect((await tool('delete-secret', { key: 'STRIPE_KEY', confirm: true })).data).toEqual({ deleted: true });
    expect((await tool('invoke-function', { slug: 'reader' })).data.body).toMatchObject({ deno: null, node: null });
    expect((await tool('delete-secret', { key: 'STRIPE_KEY', confirm: true }, { allowError: true })).data.error).toMatchObject({ status: 404 });
  });

  it('no value ever appeared in a tool result, the server log or the backend log', () => {
    for (const text of [...outputs, stderr(), backendLog.join('\n')]) expect(text).not.toContain(VALUE);
  });
});

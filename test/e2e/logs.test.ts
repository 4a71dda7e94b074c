/**
 * Logs (issue 17): api, functions, auth and database sources, read through get-logs and InsForge's
 * v2 logs routes. A function that throws is found with its stack in one call; no key, token,
 * password or body ever reaches a log; the rings are bounded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { DB_KINDS, startTestBackend, TEST_ANON_KEY, TEST_API_KEY, type TestBackend } from '../support/backend.js';
import { call, stdioClient } from '../support/mcp.js';
import { LOG_RING_SIZE, LogBook } from '../../src/backend/logs/book.js';

const PASSWORD = 'logs-password-never-logged-7';
const BODY_MARK = 'body-text-never-logged-3';

describe.each(DB_KINDS)('logs on %s', (kind) => {
  let b: TestBackend;
  let mcp: Client;
  let userToken: string;
  const logs = async (args: Record<string, unknown>) => (await call(mcp, 'get-logs', args)).data;

  beforeAll(async () => {
    b = await startTestBackend(kind);
    ({ client: mcp } = await stdioClient(['--url', b.url]));
    await call(mcp, 'run-sql', { query: 'create table notes (id serial primary key, body text)' });
  });
  afterAll(async () => {
    await mcp?.close();
    await b?.close();
  });

  it('api: method, path, status, duration and role of each request', async () => {
    const inserted = await b.api('/api/db/notes', { method: 'POST', key: 'anon', json: [{ body: BODY_MARK }], headers: { prefer: 'return=representation' } });
    expect(inserted.status).toBe(201);
    const { entries } = await logs({ source: 'api', search: '/api/db/notes' });
    expect(entries[0]).toMatchObject({ message: expect.stringMatching(/^POST \/api\/db\/notes 201 \d+ms$/), method: 'POST', path: '/api/db/notes', status: 201, durationMs: expect.any(Number), role: 'anon', timestamp: expect.any(String) });
  });

  it('auth: sign-ups, sign-ins and failures, with the email and never the password', async () => {
    const up = await b.api('/api/auth/users?client_type=mobile', { method: 'POST', key: 'anon', json: { email: 'logger@example.com', password: PASSWORD } });
    expect(up.status).toBe(200);
    userToken = up.json.accessToken;
    expect((await b.api('/api/auth/sessions?client_type=mobile', { method: 'POST', key: 'anon', json: { email: 'logger@example.com', password: 'wrong-password-1' } })).status).toBe(401);
    expect((await b.api('/api/auth/sessions?client_type=mobile', { method: 'POST', key: 'anon', json: { email: 'logger@example.com', password: PASSWORD } })).status).toBe(200);
    const { entries } = await logs({ source: 'auth' });
    expect(entries.slice(0, 3).map((e: { event: string; ok: boolean }) => [e.event, e.ok])).toEqual([['sign-in', true], ['sign-in', false], ['sign-up', true]]);
    expect(entries[1]).toMatchObject({ email: 'logger@example.com', status: 401, reason: expect.any(String), message: 'sign-in failed for logger@example.com' });
    expect((await b.api('/api/db/notes', { headers: { authorization: `Bearer ${userToken}` } })).status).toBe(200);
    expect((await logs({ source: 'api', search: 'GET /api/db/notes' })).entries[0]).toMatchObject({ role: 'authenticated' });
  });

  it('functions: an agent whose function throws finds the stack trace and its console output with one call', async () => {
    await call(mcp, 'deploy-function', {
      slug: 'broken',
      code: "function parse(req) { console.log('parsing order'); throw new Error('order total is not a number') }\nmodule.exports = async function (req) { return parse(req) }",
    });
    expect((await call(mcp, 'invoke-function', { slug: 'broken', body: { total: 'x' } })).data.status).toBe(500);
    const { entries } = await logs({ source: 'functions', limit: 1 });
    expect(entries).toEqual([
      expect.objectContaining({ slug: 'broken', method: 'POST', status: 500, trigger: 'http', durationMs: expect.any(Number), output: ['parsing order'], error: 'order total is not a number', stack: expect.stringContaining('parse') }),
    ]);
    await call(mcp, 'deploy-function', { slug: 'fine', code: "module.exports = async function () { console.log('all good'); return new Response('ok') }" });
    await call(mcp, 'invoke-function', { slug: 'fine' });
    expect((await logs({ source: 'functions', limit: 1 })).entries[0]).toMatchObject({ slug: 'fine', status: 200, output: ['all good'] });
  });

  it('database: failed statements with their code, and slow ones', async () => {
    await call(mcp, 'query-table', { table: 'notes', where: [{ column: 'id', op: 'eq', value: 'not-a-number' }] }, { allowError: true });
    const failed = (await logs({ source: 'database', search: '22P02' })).entries[0];
    expect(failed).toMatchObject({ failed: true, code: '22P02', statement: expect.stringContaining('notes') });
    await call(mcp, 'run-sql', { query: 'select pg_sleep(0.6)' });
    expect((await logs({ source: 'database', search: 'pg_sleep' })).entries[0]).toMatchObject({ slow: true, durationMs: expect.any(Number), statement: expect.stringContaining('pg_sleep(0.6)') });
  });

  it('since and search narrow the answer; results are wrapped as untrusted', async () => {
    const now = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 5));
    await b.api('/api/db/notes?select=id', { key: 'anon' });
    const later = await logs({ source: 'api', since: now });
    expect(later.entries.length).toBeGreaterThan(0);
    for (const e of later.entries) expect(e.timestamp > now).toBe(true);
    const raw = await call(mcp, 'get-logs', { source: 'api', limit: 1 });
    expect(raw.text).toMatch(/^<untrusted-data-/);
  });

  it('never a key, token, password or body in any source', async () => {
    for (const source of ['api', 'functions', 'auth', 'database']) {
      const text = JSON.stringify(await logs({ source, limit: 1000 }));
      for (const secret of [TEST_API_KEY, TEST_ANON_KEY, userToken, PASSWORD, BODY_MARK]) expect(text, source).not.toContain(secret);
    }
  });

  it('the v2 routes: sources, a source by its InsForge name, search; admin only', async () => {
    expect((await b.api('/api/logs/sources')).json.map((s: { name: string }) => s.name)).toEqual(['api', 'functions', 'auth', 'database']);
    const byName = await b.api('/api/logs/function.logs?limit=1');
    expect(byName.json).toMatchObject({ logs: [{ id: expect.any(String), timestamp: expect.any(String), eventMessage: expect.stringContaining('fine'), body: { slug: 'fine' } }], total: expect.any(Number) });
    const found = await b.api('/api/logs/search?q=order%20total&source=functions');
    expect(found.json).toEqual([expect.objectContaining({ source: 'functions', body: expect.objectContaining({ slug: 'broken' }) })]);
    expect((await b.api('/api/logs/search')).status).toBe(400);
    expect((await b.api('/api/logs/nope')).status).toBe(404);
    expect((await b.api('/api/logs/api', { key: 'anon' })).status).toBe(401);
    expect((await b.api('/api/logs/api?limit=0')).status).toBe(400);
  });
});

describe('the log book', () => {
  it(`keeps the newest ${LOG_RING_SIZE} entries per source, and clips long fields' messages`, () => {
    const book = new LogBook();
    for (let i = 0; i < LOG_RING_SIZE + 500; i++) book.add('api', `request ${i}`, { i });
    book.add('auth', 'x'.repeat(5000), {});
    const { logs, total } = book.read(['api'], { limit: 1 });
    expect(total).toBe(LOG_RING_SIZE);
    expect(logs[0]!.body).toEqual({ i: LOG_RING_SIZE + 499 });
    expect(book.read(['api'], { limit: 5000 }).logs.at(-1)!.body).toEqual({ i: 500 });
    expect(book.read(['auth'], { limit: 1 }).logs[0]!.eventMessage.length).toBeLessThan(1100);
  });
});

import { stat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS, freshDataDir, sql, startTestBackend, TEST_ANON_KEY, type TestBackend } from '../support/backend.js';
import { startBackend, DataDirBusyError } from '../../src/backend/server.js';

describe.each(DB_KINDS)('admin routes and row-level security on %s', (kind) => {
  let b: TestBackend;

  beforeAll(async () => {
    b = await startTestBackend(kind);
    await sql(
      b,
      `create table authors (id bigint generated always as identity primary key, name text not null);
       create table notes (
         id uuid primary key default gen_random_uuid(),
         author_id bigint references authors(id) on delete cascade,
         body text default 'empty', public boolean not null default false);
       create index notes_public on notes(public);
       alter table notes enable row level security;
       create policy notes_read_public on notes for select to anon using (public);
       insert into authors (name) values ('Ada');
       insert into notes (author_id, body, public) values (1, 'visible', true), (1, 'hidden', false);`,
    );
  });
  afterAll(async () => {
    await b?.close();
  });

  it('GET /api/health is open', async () => {
    const res = await b.api('/api/health', { key: 'none' });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ status: 'ok', version: expect.any(String) });
  });

  it('GET /api/metadata lists tables with columns, keys, RLS; admin only', async () => {
    const res = await b.api('/api/metadata');
    expect(res.status).toBe(200);
    const notes = res.json.database.tables.find((t: { tableName: string }) => t.tableName === 'notes');
    expect(notes).toMatchObject({ tableName: 'notes', rlsEnabled: true, primaryKey: ['id'] });
    expect(notes.columns).toContainEqual({ columnName: 'body', type: 'text', isNullable: true, defaultValue: "'empty'::text", isPrimaryKey: false });
    expect(notes.foreignKeys).toEqual([expect.objectContaining({ columns: ['author_id'], referenceTable: 'authors', referenceColumns: ['id'], onDelete: 'CASCADE' })]);
    expect(notes.policies[0]).toMatchObject({ policyName: 'notes_read_public', command: 'SELECT' });
    expect(res.json.version).toEqual(expect.any(String));
    expect((await b.api('/api/metadata', { key: 'anon' })).status).toBe(401);
    expect((await b.api('/api/metadata', { key: 'none' })).status).toBe(401);
  });

  it('GET /api/metadata/{table} describes one table; unknown → 404', async () => {
    const res = await b.api('/api/metadata/notes');
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ tableName: 'notes', recordCount: 2 });
    expect(res.json.indexes.map((i: { indexName: string }) => i.indexName)).toContain('notes_public');
    expect((await b.api('/api/metadata/nope')).status).toBe(404);
  });

  it('POST /api/database/advance/rawsql runs parameterised SQL; admin only', async () => {
    const res = await b.api('/api/database/advance/rawsql', { method: 'POST', json: { query: 'select $1::int + 1 as n, $2::text as s', params: [41, "o'hara"] } });
    expect(res.status).toBe(200);
    expect(res.json.rows).toEqual([{ n: 42, s: "o'hara" }]);
    expect(res.json.fields.map((f: { name: string }) => f.name)).toEqual(['n', 's']);
    const anon = await b.api('/api/database/advance/rawsql', { key: 'anon', method: 'POST', json: { query: 'select 1' } });
    expect(anon.status).toBe(401);
    const bad = await b.api('/api/database/advance/rawsql', { method: 'POST', json: { query: 'selec 1' } });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ statusCode: 400, code: '42601' });
  });

  it('a failed raw SQL batch leaves nothing half-done', async () => {
    const res = await b.api('/api/database/advance/rawsql', { method: 'POST', json: { query: "insert into authors (name) values ('Half'); select 1/0;" } });
    expect(res.status).toBe(400);
    const check = await sql(b, "select count(*)::int as n from authors where name = 'Half'");
    expect(check.rows[0]!.n).toBe(0);
  });

  describe('RLS', () => {
    it('anon sees only what the policy shows', async () => {
      const res = await b.api('/api/db/notes?select=body', { key: 'anon' });
      expect(res.json).toEqual([{ body: 'visible' }]);
    });
    it('the admin key bypasses RLS', async () => {
      const res = await b.api('/api/db/notes?select=body&order=body');
      expect(res.json).toEqual([{ body: 'hidden' }, { body: 'visible' }]);
    });
    it('anon cannot insert (no insert policy) → 403 with code 42501, and nothing is written', async () => {
      const res = await b.api('/api/db/notes', { method: 'POST', key: 'anon', json: { author_id: 1, body: 'sneaky', public: true } });
      expect(res.status).toBe(403);
      expect(res.json).toMatchObject({ statusCode: 403, code: '42501' });
      const check = await sql(b, "select count(*)::int as n from notes where body = 'sneaky'");
      expect(check.rows[0]!.n).toBe(0);
    });
    it('anon cannot update or delete hidden rows (they match nothing)', async () => {
      const upd = await b.api('/api/db/notes?body=eq.hidden', { method: 'PATCH', key: 'anon', headers: { Prefer: 'return=representation' }, json: { body: 'changed' } });
      expect(upd.json).toEqual([]);
      const del = await b.api('/api/db/notes?body=eq.hidden', { method: 'DELETE', key: 'anon', headers: { Prefer: 'return=representation' } });
      expect(del.json).toEqual([]);
      const check = await sql(b, "select count(*)::int as n from notes where body = 'hidden'");
      expect(check.rows[0]!.n).toBe(1);
    });
    it('auth.uid() is null and the role is anon for the anon key', async () => {
      await sql(b, "create or replace function whoami() returns json language sql stable as $$ select json_build_object('uid', auth.uid(), 'role', current_user) $$");
      const res = await b.api('/api/db/rpc/whoami', { method: 'POST', key: 'anon' });
      expect(res.json).toEqual({ uid: null, role: 'anon' });
    });
  });
});

describe('data dir', () => {
  it('keeps keys in a 0600 file and data across a restart', async () => {
    const dataDir = await freshDataDir();
    const first = await startBackend({ dataDir, host: '127.0.0.1', port: 0, rateLimit: 1000, adminRateLimit: 1000, log: () => undefined });
    const keys = JSON.parse(await readFile(join(dataDir, 'keys.json'), 'utf8'));
    expect((await stat(join(dataDir, 'keys.json'))).mode & 0o777).toBe(0o600);
    expect(keys.apiKey).toMatch(/^ik_/);
    const headers = { authorization: `Bearer ${keys.apiKey}`, 'content-type': 'application/json' };
    await fetch(`${first.url}/api/database/advance/rawsql`, { method: 'POST', headers, body: JSON.stringify({ query: "create table kept (v text); insert into kept values ('still here')" }) });
    await first.close();

    const second = await startBackend({ dataDir, host: '127.0.0.1', port: 0, rateLimit: 1000, adminRateLimit: 1000, log: () => undefined });
    try {
      const res = await fetch(`${second.url}/api/db/kept`, { headers: { apikey: keys.anonKey } });
      expect(await res.json()).toEqual([{ v: 'still here' }]);
    } finally {
      await second.close();
    }
  });

  it('refuses a second backend on the same data dir with a clear message', async () => {
    const dataDir = await freshDataDir();
    const first = await startBackend({ dataDir, host: '127.0.0.1', port: 0, rateLimit: 1000, adminRateLimit: 1000, log: () => undefined });
    try {
      // a second process, through the built CLI, as a user would start it
      const child = spawn(process.execPath, ['dist/cli.js', 'backend', '--data-dir', dataDir, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      expect(code).not.toBe(0);
      expect(stderr).toContain('in use by another insforge-mcp backend');
      expect(stderr).toContain(first.url);
      // and in-process, the typed error the MCP server uses to reuse the running backend
      await expect(startBackend({ dataDir, host: '127.0.0.1', port: 0, rateLimit: 1, adminRateLimit: 1, log: () => undefined })).rejects.toBeInstanceOf(DataDirBusyError);
      const still = await fetch(`${first.url}/api/health`);
      expect(still.status).toBe(200);
    } finally {
      await first.close();
    }
  });

  it('rate limits per key with a 429 envelope', async () => {
    const b = await startTestBackend('pglite', { rateLimit: 3 });
    try {
      const statuses: number[] = [];
      let last;
      for (let i = 0; i < 4; i++) {
        last = await b.api('/api/health', { key: 'none', headers: { apikey: TEST_ANON_KEY } });
        statuses.push(last.status);
      }
      expect(statuses).toEqual([200, 200, 200, 429]);
      expect(last!.json).toMatchObject({ statusCode: 429, error: 'TOO_MANY_REQUESTS', nextActions: expect.any(String) });
      expect(last!.headers.get('retry-after')).not.toBeNull();
      // the admin key has its own, larger budget
      expect((await b.api('/api/health')).status).toBe(200);
    } finally {
      await b.close();
    }
  });
});

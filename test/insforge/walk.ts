/**
 * Every MCP tool, driven through the SDK Client over stdio against one backend, with the error
 * cases an agent meets: the real InsForge backend (test/insforge/tools.test.ts) and the embedded
 * backend through each dialect (test/e2e/mcp-dialects.test.ts) walk the same steps and must give
 * the same answers. Steps named D1…D10 are the defects issue 12 found on the real backend.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { RUN, Session } from './support.js';
import { TEST_SECRET_VALUE } from '../support/backend.js';

export interface WalkTarget {
  /** The backend's URL, as given to --url. */
  url: string;
  /** The spawned server's environment, with the keys asked for (both by default). */
  env(keys?: { apiKey?: boolean; anonKey?: boolean }): Record<string, string>;
  /** --dialect and its value. */
  dialectArgs: string[];
  /** What the server must detect or use. */
  dialect: 'documented' | 'insforge-v2';
  /** What the backend's /api/health reports. */
  version: string;
  /**
   * Whether the backend's PostgREST applies `Prefer: missing=default`. PostgREST 12 does (and so
   * does the embedded backend); the PostgREST stand-in of ../shared/insforge does not.
   */
  missingDefault: boolean;
  /**
   * Whether a signed-in user reads only their own files in a private bucket. The embedded backend
   * says so; InsForge 2.3.1 applies its owner policies on storage.objects only where a project
   * enables them (a fresh install leaves RLS off there: any signed-in user reads any private file).
   */
  privateFilesOwnerOnly: boolean;
  /**
   * Whether the backend signs download URLs of private buckets. The embedded backend does; InsForge
   * 2.3.1 with local disk storage hands out its plain URL (only its S3 provider presigns).
   */
  signsPrivateUrls: boolean;
  /**
   * Whether the functions log holds each invocation. The embedded backend's does; InsForge 2.3.1's
   * function.logs reads Deno Deploy's logs or its log files, which the CI install leaves empty.
   */
  functionLogs: boolean;
}

/** A 1×1 PNG. */
const PNG_B64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
const ODD_TITLE = 'x, (y) "z": \\ w';
const FILE_FIELDS = ['bucket', 'key', 'mimeType', 'size', 'uploadedAt', 'url'];

const titles = (rows: { title: string }[]) => rows.map((r) => r.title);
const blockTypes = (result: CallToolResult) => result.content.map((c) => c.type);

/** Registers the walk's steps (vitest `it`s, in order) on the target `get()` gives once the suite runs. */
export function defineWalk(get: () => WalkTarget): void {
  const s = RUN;
  const T = `walk_${s}`;
  const OWN = `walk_${s}_own`;
  const FN = `walk_${s}_add`;
  const B = `walk-${s}`;
  const email = `walk-${s}@example.com`;
  const password = `walk-password-${s}`;
  const slug = (name: string) => `walk-${s}-${name}`;
  let t: WalkTarget;
  let admin: Session;
  let anon: Session;
  let readOnly: Session;

  beforeAll(async () => {
    t = get();
    admin = await Session.start(t.url, t.env(), t.dialectArgs);
  });
  afterAll(async () => {
    await admin?.call('run-sql', { query: `drop table if exists ${T}, ${OWN}; drop function if exists ${FN}(int, int)`, confirm: true }).catch(() => undefined);
    for (const fn of ['esm', 'cjs', 'throws', 'secret', 'sched']) await admin?.call('delete-function', { slug: slug(fn), confirm: true }, { error: true }).catch(() => undefined);
    await admin?.call('delete-bucket', { bucketName: B, confirm: true }, { error: true }).catch(() => undefined);
    await Promise.all([admin?.close(), anon?.close(), readOnly?.close()]);
  });

  it('get-backend-metadata: the backend, its dialect and its own version (D9)', async () => {
    const { data } = await admin.call('get-backend-metadata');
    expect(data.backend).toEqual({ url: t.url, dialect: t.dialect, version: t.version, anonKey: expect.any(String) });
  });

  it('run-sql: DDL answers with rows, never an output-schema error (D3); params; destructive SQL asks first', async () => {
    const created = await admin.call('run-sql', { query: `create table ${T} (id serial primary key, title text not null, qty int default 7, note text)` });
    expect(created.data).toMatchObject({ rows: [], truncated: false });
    await admin.call('run-sql', { query: `create function ${FN}(a int, b int) returns int language sql as 'select a + b'` });
    expect((await admin.call('run-sql', { query: 'select $1::int + 1 as n', params: [41] })).data.rows).toEqual([{ n: 42 }]);
    expect(await admin.error('run-sql', { query: `drop table if exists never_${s}` })).toMatchObject({ status: 428, code: 'CONFIRMATION_REQUIRED' });
  });

  it('insert-records: rows with different keys, omitted columns take their defaults (D2)', async () => {
    const { data } = await admin.call('insert-records', { table: T, records: [{ title: 'h1', qty: 1, note: 'n' }, { title: 'h2' }] });
    expect(data.inserted).toBe(2);
    expect(data.rows[0]).toMatchObject({ title: 'h1', qty: 1, note: 'n' });
    expect(data.rows[1]).toMatchObject({ title: 'h2', note: null, qty: t.missingDefault ? 7 : null });
    const more = await admin.call('insert-records', { table: T, records: [{ title: 'a', qty: 2 }, { title: 'b', qty: 3 }, { title: 'c', qty: 5 }, { title: ODD_TITLE, qty: 4 }] });
    expect(more.data.inserted).toBe(4);
  });

  it('query-table: any number of conditions on one column (D1), quoted values', async () => {
    const range = await admin.call('query-table', { table: T, where: [{ column: 'qty', op: 'gte', value: 2 }, { column: 'qty', op: 'lte', value: 4 }], order: [{ column: 'qty' }] });
    expect(titles(range.data.rows)).toEqual(['a', 'b', ODD_TITLE]);
    const three = await admin.call('query-table', {
      table: T,
      where: [{ column: 'qty', op: 'gte', value: 2 }, { column: 'qty', op: 'lte', value: 4 }, { column: 'qty', op: 'neq', value: 3 }],
      order: [{ column: 'qty' }],
    });
    expect(titles(three.data.rows)).toEqual(['a', ODD_TITLE]);
    const quoted = await admin.call('query-table', { table: T, where: [{ column: 'title', op: 'eq', value: ODD_TITLE }, { column: 'title', op: 'neq', value: 'q' }] });
    expect(titles(quoted.data.rows)).toEqual([ODD_TITLE]);
    const listed = await admin.call('query-table', { table: T, where: [{ column: 'title', op: 'in', value: ['a', ODD_TITLE] }, { column: 'title', op: 'neq', value: 'a' }] });
    expect(titles(listed.data.rows)).toEqual([ODD_TITLE]);
    const both = await admin.call('query-table', {
      table: T,
      where: [{ column: 'qty', op: 'gte', value: 2 }, { column: 'qty', op: 'lte', value: 4 }],
      or: [{ column: 'title', op: 'eq', value: 'a' }, { column: 'title', op: 'eq', value: 'b' }],
      order: [{ column: 'title', ascending: false }],
    });
    expect(titles(both.data.rows)).toEqual(['b', 'a']);
    const negated = await admin.call('query-table', { table: T, where: [{ column: 'qty', op: 'is', value: null, not: true }, { column: 'qty', op: 'lt', value: 3, not: true }], order: [{ column: 'qty' }] });
    expect(titles(negated.data.rows)).toEqual(['b', ODD_TITLE, 'c', 'h2'].slice(0, t.missingDefault ? 4 : 3));
  });

  it('query-table: pages with nextOffset and counts; past the end, an empty page with the count (D7)', async () => {
    const first = await admin.call('query-table', { table: T, select: 'title', order: [{ column: 'id' }], limit: 2, count: true });
    expect(first.data).toEqual({ rows: [{ title: 'h1' }, { title: 'h2' }], count: 6, truncated: true, nextOffset: 2 });
    const past = await admin.call('query-table', { table: T, offset: 50, count: true });
    expect(past.data).toEqual({ rows: [], count: 6, truncated: false });
    const end = await admin.call('query-table', { table: T, offset: 6, count: true });
    expect(end.data).toEqual({ rows: [], count: 6, truncated: false });
  });

  it('query-table: an unknown table and bad filters are errors that say what is wrong', async () => {
    expect(await admin.error('query-table', { table: `nope_${s}` })).toMatchObject({ status: 404, message: expect.stringContaining(`nope_${s}`) });
    expect(await admin.error('query-table', { table: T, where: [{ column: 'qty', op: 'gte', value: 'many' }] })).toMatchObject({ status: 400, code: '22P02' });
    expect(await admin.error('query-table', { table: T, where: [{ column: 'nope', op: 'eq', value: 1 }] })).toMatchObject({ status: 400, code: '42703' });
  });

  it('update-records, call-rpc, delete-records (asks first)', async () => {
    const updated = await admin.call('update-records', { table: T, where: [{ column: 'title', op: 'eq', value: 'a' }], values: { note: 'updated' } });
    expect(updated.data).toMatchObject({ updated: 1, rows: [{ title: 'a', note: 'updated' }] });
    expect((await admin.call('call-rpc', { function: FN, args: { a: 40, b: 2 } })).data.result).toBe(42);
    const where = [{ column: 'title', op: 'eq', value: 'h1' }];
    expect(await admin.error('delete-records', { table: T, where })).toMatchObject({ status: 428, code: 'CONFIRMATION_REQUIRED' });
    expect((await admin.call('delete-records', { table: T, where, confirm: true })).data).toMatchObject({ deleted: 1 });
  });

  it('describe-table: columns, keys, indexes, RLS and the row count it promises (D9)', async () => {
    const { data } = await admin.call('describe-table', { table: T });
    expect(data.table).toMatchObject({ tableName: T, primaryKey: ['id'], rlsEnabled: false, recordCount: 5, policies: [] });
    expect(data.table.columns).toEqual([
      { columnName: 'id', type: 'integer', isNullable: false, defaultValue: expect.stringContaining('nextval'), isPrimaryKey: true },
      { columnName: 'title', type: 'text', isNullable: false, defaultValue: null, isPrimaryKey: false },
      { columnName: 'qty', type: 'integer', isNullable: true, defaultValue: '7', isPrimaryKey: false },
      { columnName: 'note', type: 'text', isNullable: true, defaultValue: null, isPrimaryKey: false },
    ]);
    expect(data.table.indexes).toEqual([expect.objectContaining({ indexName: `${T}_pkey`, isPrimary: true, isUnique: true })]);
    expect(await admin.error('describe-table', { table: `nope_${s}` })).toMatchObject({ status: 404 });
  });

  it('get-backend-metadata: verbose gives the RLS flags, policies and SQL functions it promises (D9)', async () => {
    await admin.call('run-sql', {
      query: `create table ${OWN} (id uuid primary key default gen_random_uuid(), owner uuid default auth.uid(), body text);
              alter table ${OWN} enable row level security;
              create policy own_rows on ${OWN} for all to authenticated using (owner = auth.uid()) with check (owner = auth.uid());`,
    });
    const compact = await admin.call('get-backend-metadata');
    expect(compact.data.tables[T]).toBe('id:integer pk, title:text, qty:integer, note:text');
    const { data } = await admin.call('get-backend-metadata', { verbose: true });
    expect(data.backend).toEqual({ url: t.url, dialect: t.dialect, version: t.version, anonKey: expect.any(String) });
    expect(data.tables[T]).toMatchObject({ rlsEnabled: false, primaryKey: ['id'], policies: [], columns: expect.arrayContaining([expect.objectContaining({ columnName: 'id', isPrimaryKey: true })]) });
    expect(data.tables[OWN]).toMatchObject({
      rlsEnabled: true,
      policies: [{ policyName: 'own_rows', command: 'ALL', roles: ['authenticated'], using: '(owner = auth.uid())', withCheck: '(owner = auth.uid())' }],
    });
    expect(data.sqlFunctions).toEqual(expect.arrayContaining([{ name: FN, arguments: 'a integer, b integer', returns: 'integer' }]));
    expect(Array.isArray(data.buckets)).toBe(true);
    expect(Array.isArray(data.functions)).toBe(true);
  });

  it('get-backend-metadata: one request for any number of tables, not one per table (D9)', async () => {
    const proxy = await startFaultProxy(t.url);
    const counted = await Session.start(proxy.url, t.env(), t.dialectArgs);
    try {
      await counted.call('get-backend-metadata'); // detects the dialect and version once
      proxy.resetCounts();
      proxy.log.length = 0;
      await counted.call('get-backend-metadata');
      // the embedded backend lists columns with its tables; InsForge needs one export for all of them
      expect(proxy.log.length, proxy.log.join('\n')).toBeLessThanOrEqual(t.dialect === 'documented' ? 1 : 2);
      proxy.log.length = 0;
      await counted.call('get-backend-metadata', { verbose: true });
      expect(proxy.log.length, proxy.log.join('\n')).toBeLessThanOrEqual(t.dialect === 'documented' ? 1 : 2);
    } finally {
      await counted.close();
      await proxy.close();
    }
  });

  it('storage as the admin: a private bucket, files in one normalised shape (D10), text, images, other bytes', async () => {
    const created = await admin.call('create-bucket', { bucketName: B });
    expect(created.data).toEqual({ bucket: { name: B, public: false } });
    expect((await admin.call('list-buckets')).data.buckets).toEqual(expect.arrayContaining([expect.objectContaining({ name: B, public: false })]));
    const up = await admin.call('upload-file', { bucket: B, key: 'admin/secret.txt', text: 'top secret' });
    expect(up.data.file).toMatchObject({ bucket: B, key: 'admin/secret.txt', size: 10, mimeType: 'text/plain', url: expect.stringContaining(`/api/storage/buckets/${B}/objects/`) });
    await admin.call('upload-file', { bucket: B, key: 'admin/dot.png', base64: PNG_B64 });
    await admin.call('upload-file', { bucket: B, key: 'admin/blob.bin', base64: Buffer.from([0, 1, 2, 3]).toString('base64'), contentType: 'application/octet-stream' });
    const listed = await admin.call('list-files', { bucket: B, prefix: 'admin/' });
    expect(listed.data.files.map((f: { key: string }) => f.key).sort()).toEqual(['admin/blob.bin', 'admin/dot.png', 'admin/secret.txt']);
    for (const f of listed.data.files) expect(Object.keys(f).sort()).toEqual(FILE_FIELDS);
    expect(listed.data.total).toBe(3);
    expect((await admin.call('download-file', { bucket: B, key: 'admin/secret.txt' })).data.text).toBe('top secret');
    expect(blockTypes((await admin.call('download-file', { bucket: B, key: 'admin/dot.png' })).result)).toEqual(['text', 'image']);
    expect(blockTypes((await admin.call('download-file', { bucket: B, key: 'admin/blob.bin' })).result)).toEqual(['text', 'resource']);
  });

  it('get-file-url: a private file as a link that works without keys where the backend signs it', async () => {
    const { data } = await admin.call('get-file-url', { bucket: B, key: 'admin/secret.txt', expiresIn: 600 });
    const unauthenticated = await fetch(data.url);
    if (t.signsPrivateUrls) {
      expect(data).toEqual({ url: expect.stringContaining('signature='), expiresAt: expect.any(String), signed: true });
      expect(await unauthenticated.text()).toBe('top secret');
    } else {
      expect(data).toEqual({ url: expect.stringContaining(`/api/storage/buckets/${B}/objects/admin%2Fsecret.txt`), expiresAt: null, signed: false, note: expect.stringContaining('public') });
      expect(unauthenticated.status).toBe(401);
    }
    expect(await admin.error('get-file-url', { bucket: B, key: 'admin/never.txt' })).toMatchObject({ status: 404 });
  });

  it('auth: wrong password, sign-up, acting as the user under RLS, sign-out, sign-in', async () => {
    expect((await admin.call('get-current-user')).data).toEqual({ signedIn: false, actingAs: expect.stringContaining('admin API key') });
    const signedUp = await admin.call('sign-up', { email, password });
    expect(signedUp.data).toMatchObject({ signedIn: true, user: { email } });
    expect(signedUp.text).not.toContain('eyJ'); // the token stays in the session
    expect((await admin.call('get-current-user')).data).toMatchObject({ signedIn: true, user: { email }, actingAs: expect.stringContaining('signed-in user') });
    const mine = await admin.call('insert-records', { table: OWN, records: [{ body: 'mine' }] });
    expect(mine.data.rows).toEqual([expect.objectContaining({ body: 'mine', owner: signedUp.data.user.id })]);
    expect((await admin.call('query-table', { table: OWN })).data.rows).toHaveLength(1);
    expect((await admin.call('sign-out')).data).toEqual({ signedOut: true });
    // the code is the backend's own: InsForge's (and v2's) AUTH_UNAUTHORIZED, the documented API's INVALID_CREDENTIALS
    expect(await admin.error('sign-in', { email, password: 'not-the-password' })).toMatchObject({ status: 401, code: expect.stringMatching(/^(AUTH_UNAUTHORIZED|INVALID_CREDENTIALS)$/) });
    expect((await admin.call('sign-in', { email, password })).data).toMatchObject({ signedIn: true, user: { email } });
  });

  it("storage as the user: their own private file (and the admin's only where the backend allows it)", async () => {
    await admin.call('upload-file', { bucket: B, key: 'user/mine.txt', text: 'mine' });
    expect((await admin.call('download-file', { bucket: B, key: 'user/mine.txt' })).data.text).toBe('mine');
    if (t.privateFilesOwnerOnly) expect([403, 404]).toContain((await admin.error('download-file', { bucket: B, key: 'admin/secret.txt' })).status);
    else expect((await admin.call('download-file', { bucket: B, key: 'admin/secret.txt' })).data.text).toBe('top secret');
    await admin.call('sign-out');
  });

  it('with only the anon key: says so, admin tools say they need --api-key (D5), private files stay private', async () => {
    anon = await Session.start(t.url, t.env({ anonKey: true }), t.dialectArgs);
    const who = await anon.call('get-current-user');
    expect(who.data).toEqual({ signedIn: false, actingAs: expect.stringContaining('anon key') });
    expect(who.data.actingAs).not.toContain('admin');
    for (const tool of ['get-backend-metadata', 'list-buckets', 'list-functions']) {
      expect(await anon.error(tool), tool).toMatchObject({ code: 'API_KEY_REQUIRED', nextActions: expect.stringContaining('--api-key') });
    }
    expect((await anon.call('query-table', { table: T, select: 'title', where: [{ column: 'title', op: 'eq', value: 'a' }] })).data.rows).toEqual([{ title: 'a' }]);
    const refused = await anon.error('download-file', { bucket: B, key: 'admin/secret.txt' });
    expect([401, 403, 404]).toContain(refused.status);
  });

  it('--read-only: every tool it offers works or says why not', async () => {
    readOnly = await Session.start(t.url, t.env(), [...t.dialectArgs, '--read-only']);
    await readOnly.call('get-backend-metadata');
    await readOnly.call('describe-table', { table: T });
    await readOnly.call('query-table', { table: T, limit: 1 });
    if (t.dialect === 'documented') expect((await readOnly.call('run-sql', { query: `select count(*)::int as n from ${T}` })).data.rows).toEqual([{ n: 5 }]);
    else expect(await readOnly.error('run-sql', { query: `select 1` })).toMatchObject({ status: 501, code: 'READ_ONLY_UNSUPPORTED' });
    await readOnly.call('sign-in', { email, password });
    expect((await readOnly.call('get-current-user')).data).toMatchObject({ signedIn: true, user: { email } });
    expect((await readOnly.call('sign-out')).data).toEqual({ signedOut: true });
    expect((await readOnly.call('get-current-user')).data.signedIn).toBe(false);
    await readOnly.call('list-buckets');
    expect((await readOnly.call('list-files', { bucket: B, prefix: 'admin/' })).data.total).toBe(3);
    expect((await readOnly.call('download-file', { bucket: B, key: 'admin/secret.txt' })).data.text).toBe('top secret');
    expect((await readOnly.call('get-file-url', { bucket: B, key: 'admin/secret.txt' })).data.signed).toBe(t.signsPrivateUrls);
    await readOnly.call('list-ai-models');
    await readOnly.call('chat-completion', { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'ro' }] });
    await readOnly.call('generate-image', { model: 'google/gemini-2.5-flash-image-preview', prompt: 'ro' });
    await readOnly.call('list-functions');
    await readOnly.call('list-secrets');
    await readOnly.call('list-schedules');
    await readOnly.call('get-logs', { source: 'api', limit: 1 });
    await readOnly.call('get-docs');
    expect(await readOnly.uncalled()).toEqual([]);
  });

  it('delete-file asks first, like every delete tool (D6)', async () => {
    expect(await admin.error('delete-file', { bucket: B, key: 'admin/secret.txt' })).toMatchObject({ status: 428, code: 'CONFIRMATION_REQUIRED' });
    expect((await admin.call('download-file', { bucket: B, key: 'admin/secret.txt' })).data.text).toBe('top secret');
    expect((await admin.call('delete-file', { bucket: B, key: 'admin/secret.txt', confirm: true })).data).toEqual({ deleted: true });
    expect(await admin.error('download-file', { bucket: B, key: 'admin/secret.txt' })).toMatchObject({ status: 404 });
    expect(await admin.error('delete-bucket', { bucketName: B })).toMatchObject({ status: 428 });
    expect((await admin.call('delete-bucket', { bucketName: B, confirm: true })).data).toEqual({ deleted: true });
  });

  it("AI: models, a chat, a failing provider reported as the provider's failure (D4), an image", async () => {
    expect((await admin.call('list-ai-models')).data.models.length).toBeGreaterThan(0);
    expect((await admin.call('chat-completion', { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'walk' }] })).data.message).toEqual({ role: 'assistant', content: 'echo: walk' });
    const failed = await admin.error('chat-completion', { model: 'openai/fail-stream', messages: [{ role: 'user', content: 'walk' }] });
    expect(failed).toMatchObject({ status: 502, code: 'AI_PROVIDER_ERROR', message: expect.stringContaining('500') });
    expect(failed.nextActions).not.toContain('bug');
    expect(blockTypes((await admin.call('generate-image', { model: 'google/gemini-2.5-flash-image-preview', prompt: 'a dot' })).result)).toContain('image');
  });

  it('functions: the recommended and the ESM form both run (D8); results without the code or transport headers (D10)', async () => {
    const esm = await admin.call('deploy-function', {
      slug: slug('esm'),
      code: "export default async (req) => Response.json({ got: await req.json(), method: req.method }, { headers: { 'x-walk': 'yes' } })",
    });
    expect(esm.data).toMatchObject({ created: true, note: expect.stringContaining('module.exports') });
    expect(esm.data.function).toMatchObject({ slug: slug('esm'), status: 'active' });
    expect(esm.data.function).not.toHaveProperty('code');
    const called = await admin.call('invoke-function', { slug: slug('esm'), body: { a: 1 } });
    expect(called.data).toMatchObject({ status: 200, body: { got: { a: 1 }, method: 'POST' } });
    expect(called.data.headers).toEqual({ 'content-type': expect.stringContaining('application/json'), 'x-walk': 'yes' });
    expect((await admin.call('deploy-function', { slug: slug('esm'), code: 'export default async function handler() { return new Response("again") }' })).data.created).toBe(false);
    expect((await admin.call('invoke-function', { slug: slug('esm'), method: 'GET' })).data).toMatchObject({ status: 200, body: 'again' });

    await admin.call('deploy-function', { slug: slug('cjs'), code: "module.exports = async function (req) { return new Response('plain ' + req.method, { status: 201 }) }" });
    expect((await admin.call('invoke-function', { slug: slug('cjs'), method: 'PUT' })).data).toMatchObject({ status: 201, body: 'plain PUT' });

    await admin.call('deploy-function', { slug: slug('throws'), code: "module.exports = async function () { throw new Error('walk boom') }" });
    const thrown = await admin.call('invoke-function', { slug: slug('throws') });
    expect(thrown.data.status).toBe(500);
    expect(JSON.stringify(thrown.data.body)).toContain('walk boom');
    expect(await admin.error('invoke-function', { slug: slug('never') })).toMatchObject({ status: 404, code: 'FUNCTION_NOT_FOUND' });

    const logged = await admin.call('get-logs', { source: 'functions', search: 'walk boom' });
    if (t.functionLogs) expect(logged.data.entries[0]).toMatchObject({ slug: slug('throws'), status: 500, error: expect.stringContaining('walk boom'), stack: expect.any(String) });
    else expect(logged.data.entries).toEqual(expect.any(Array));

    const slugs = (await admin.call('list-functions')).data.functions.map((f: { slug: string }) => f.slug);
    expect(slugs).toEqual(expect.arrayContaining([slug('esm'), slug('cjs'), slug('throws')]));
    expect(await admin.error('delete-function', { slug: slug('cjs') })).toMatchObject({ status: 428 });
    for (const fn of ['esm', 'cjs', 'throws']) await admin.call('delete-function', { slug: slug(fn), confirm: true });
  });

  it('secrets: set (write-only), a function reads it, listed without its value, replaced, deleted (asks first)', async () => {
    const name = `WALK_${s.toUpperCase()}_TOKEN`;
    const value = TEST_SECRET_VALUE;
    const set = await admin.call('set-secret', { key: name, value });
    expect(set.data).toEqual({ key: name, created: true });
    expect(set.text).not.toContain(value);
    await admin.call('deploy-function', { slug: slug('secret'), code: `module.exports = async function () { return new Response(String(Deno.env.get('${name}'))) }` });
    expect((await admin.call('invoke-function', { slug: slug('secret') })).data).toMatchObject({ status: 200, body: value });
    const listed = await admin.call('list-secrets');
    expect(listed.data.secrets).toEqual(expect.arrayContaining([expect.objectContaining({ key: name })]));
    expect(listed.text).not.toContain(value);
    expect((await admin.call('set-secret', { key: name, value: `${value}-2` })).data).toEqual({ key: name, created: false });
    expect((await admin.call('invoke-function', { slug: slug('secret') })).data.body).toBe(`${value}-2`);
    expect(await admin.error('delete-secret', { key: name })).toMatchObject({ status: 428 });
    expect((await admin.call('delete-secret', { key: name, confirm: true })).data).toEqual({ deleted: true });
    expect((await admin.call('list-secrets')).data.secrets.map((x: { key: string }) => x.key)).not.toContain(name);
    expect((await admin.call('invoke-function', { slug: slug('secret') })).data.body).toBe('undefined');
    await admin.call('delete-function', { slug: slug('secret'), confirm: true });
  });

  it("get-docs: the topics, and a guide; against InsForge its own guide where it answers, else ours, saying so", async () => {
    const { data } = await admin.call('get-docs');
    expect(data.topics.map((x: { topic: string }) => x.topic)).toEqual(expect.arrayContaining(['setup', 'database', 'rls']));
    const guide = (await admin.call('get-docs', { topic: 'database' })).data;
    if (guide.source === 'backend') expect(guide.text.length).toBeGreaterThan(100);
    else expect(guide).toEqual({ topic: 'database', source: 'insforge-mcp', text: expect.stringContaining(t.url), ...(t.dialect === 'insforge-v2' ? { note: expect.stringContaining('/api/docs/db-sdk') } : {}) });
    // the RLS recipes are this project's own, on every backend
    expect((await admin.call('get-docs', { topic: 'rls' })).data).toMatchObject({ source: 'insforge-mcp', text: expect.stringContaining('auth.uid()') });
  });

  it('schedules: create one for a function, listed with its next run, deleted (asks first)', async () => {
    await admin.call('deploy-function', { slug: slug('sched'), code: "module.exports = async function () { return new Response('scheduled') }" });
    // once a year: it must not fire during the walk
    const { data } = await admin.call('create-schedule', { functionSlug: slug('sched'), cron: '0 0 1 1 *', body: { from: 'walk' } });
    expect(data.schedule).toMatchObject({ id: expect.any(String), cronSchedule: '0 0 1 1 *', functionUrl: `${t.url}/functions/${slug('sched')}`, httpMethod: 'POST', isActive: true, nextRun: expect.stringMatching(/-01-01T/) });
    expect((await admin.call('list-schedules')).data.schedules).toEqual(expect.arrayContaining([expect.objectContaining({ id: data.schedule.id })]));
    expect(await admin.error('delete-schedule', { id: data.schedule.id })).toMatchObject({ status: 428 });
    expect((await admin.call('delete-schedule', { id: data.schedule.id, confirm: true })).data).toEqual({ deleted: true });
    expect((await admin.call('list-schedules')).data.schedules.map((x: { id: string }) => x.id)).not.toContain(data.schedule.id);
    await admin.call('delete-function', { slug: slug('sched'), confirm: true });
  });

  it('get-logs: every source answers entries in one shape, newest first', async () => {
    for (const source of ['api', 'functions', 'auth', 'database']) {
      const { data } = await admin.call('get-logs', { source, limit: 5 });
      expect(data, source).toMatchObject({ source, entries: expect.any(Array), truncated: false });
      for (const e of data.entries) expect(e, source).toMatchObject({ timestamp: expect.any(String), message: expect.any(String) });
      const times = data.entries.map((e: { timestamp: string }) => e.timestamp);
      expect(times, source).toEqual([...times].sort().reverse());
    }
    const since = new Date(Date.now() - 60_000).toISOString();
    for (const e of (await admin.call('get-logs', { source: 'api', since })).data.entries) expect(e.timestamp > since).toBe(true);
  });

  it('annotations: sign-out is not read-only, delete-file is destructive', async () => {
    const tools = (await admin.client.listTools()).tools;
    const annotations = (name: string) => tools.find((x) => x.name === name)?.annotations ?? {};
    expect(annotations('sign-out').readOnlyHint).not.toBe(true);
    expect(annotations('delete-file')).not.toHaveProperty('destructiveHint', false);
    expect(annotations('delete-file').readOnlyHint).not.toBe(true);
  });

  it('called every tool tools/list offers (a tool added later must join this walk)', async () => {
    expect(await admin.uncalled()).toEqual([]);
  });
}

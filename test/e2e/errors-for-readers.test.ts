import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { DB_KINDS, freshDataDir, sql, startTestBackend, type TestBackend } from '../support/backend.js';
import { call, stdioClient } from '../support/mcp.js';

const TOOL_NAMES = /\b(get-backend-metadata|describe-table|query-table|insert-records|run-sql|list-buckets|list-files|list-functions|deploy-function|sign-in|sign-up)\b/;
const REST_ROUTES = /\b(GET|POST|PUT|PATCH|DELETE) \/api\/|PostgREST grammar|\/api\/storage/;
const OWNED_NOTES = `create table owned_notes (id serial primary key, body text not null, user_id uuid not null default auth.uid())`;

/** REST answers speak to app code: routes, never MCP tool names. */
describe.each(DB_KINDS)('REST errors name routes, on %s', (kind) => {
  let b: TestBackend;
  beforeAll(async () => {
    b = await startTestBackend(kind);
    await sql(b, OWNED_NOTES);
  });
  afterAll(async () => {
    await b?.close();
  });

  it('an unknown table points to the metadata and table routes', async () => {
    const res = await b.api('/api/db/no_such_table');
    expect(res.status).toBe(404);
    expect(res.json.message).toContain('no_such_table');
    expect(res.json.nextActions).toMatch(/GET \/api\/metadata/);
    expect(res.json.nextActions).not.toMatch(TOOL_NAMES);
    const described = await b.api('/api/metadata/no_such_table');
    expect(described.json.nextActions).not.toMatch(TOOL_NAMES);
  });

  it('an unknown function is named, with the argument names given', async () => {
    const res = await b.api('/api/db/rpc/no_such_fn', { method: 'POST', json: { alpha: 1, beta: 2 } });
    expect(res.status).toBe(404);
    expect(res.json).toMatchObject({ code: 'PGRST202', message: 'Could not find the function public.no_such_fn(alpha, beta) in the schema cache' });
    expect(res.json.nextActions).not.toMatch(TOOL_NAMES);
  });

  it('auth.uid() null for a key: said as such, with the way out', async () => {
    const res = await b.api('/api/db/owned_notes', { method: 'POST', json: [{ body: 'x' }] });
    expect(res.status).toBe(400);
    expect(res.json.code).toBe('23502');
    expect(res.json.message).toBe('owned_notes.user_id defaults to auth.uid(), which is null: this request was made with the admin API key, not by a signed-in user');
    expect(res.json.nextActions).toMatch(/POST \/api\/auth\/sessions.*user_id/);
    // a NOT NULL column with no auth.uid() default keeps Postgres's own words
    const plain = await b.api('/api/db/owned_notes', { method: 'POST', json: [{ body: null, user_id: '00000000-0000-0000-0000-000000000000' }] });
    expect(plain.json.message).toMatch(/null value in column "body"/);
  });

  it('a table made through the REST API points to routes for its policies', async () => {
    const res = await b.api('/api/database/tables', { method: 'POST', json: { tableName: 'rest_made', columns: [{ columnName: 'title', type: 'string', isNullable: true, isUnique: false }] } });
    expect(res.json.nextActions).toMatch(/POST \/api\/database\/advance\/rawsql/);
    expect(res.status).toBe(201);
    expect(res.json.nextActions).not.toMatch(TOOL_NAMES);
  });
});

/** MCP results speak to the agent: tools and arguments, never REST routes. */
describe('MCP errors name tools', () => {
  let client: Client;
  beforeAll(async () => {
    ({ client } = await stdioClient(['--data-dir', await freshDataDir()]));
    await call(client, 'run-sql', { query: OWNED_NOTES });
    await call(client, 'create-bucket', { bucketName: 'docs' });
  });
  afterAll(async () => {
    await client?.close();
  });

  const failure = async (tool: string, args: Record<string, unknown>) => {
    const out = await call(client, tool, args, { allowError: true });
    expect(out.result.isError, out.text).toBe(true);
    const error = out.data.error as { code: string; message: string; nextActions: string };
    expect(error.nextActions, `${tool}: ${error.nextActions}`).not.toMatch(REST_ROUTES);
    return error;
  };

  it('an unknown table or column', async () => {
    expect((await failure('query-table', { table: 'no_such_table' })).nextActions).toMatch(/get-backend-metadata/);
    expect((await failure('describe-table', { table: 'no_such_table' })).nextActions).toMatch(/get-backend-metadata/);
    expect((await failure('query-table', { table: 'owned_notes', select: 'nope' })).nextActions).toMatch(/describe-table/);
  });

  it('an unknown function is named, and the way to list them given', async () => {
    const error = await failure('call-rpc', { function: 'no_such_fn', args: { alpha: 1 } });
    expect(error.message).toContain('public.no_such_fn(alpha)');
    expect(error.nextActions).toMatch(/get-backend-metadata/);
  });

  it('a malformed select points to the arguments, not to the PostgREST docs', async () => {
    const error = await failure('query-table', { table: 'owned_notes', select: 'body,,(' });
    expect(error.nextActions).toMatch(/select/);
  });

  it('a missing bucket or file points to list-buckets and list-files', async () => {
    expect((await failure('download-file', { bucket: 'no-such-bucket', key: 'a.txt' })).nextActions).toMatch(/list-buckets/);
    expect((await failure('download-file', { bucket: 'docs', key: 'missing.txt' })).nextActions).toMatch(/list-files/);
  });

  it('auth.uid() null with the admin key: sign in, or give the column', async () => {
    const error = await failure('insert-records', { table: 'owned_notes', records: [{ body: 'x' }] });
    expect(error.message).toContain('auth.uid(), which is null');
    expect(error.nextActions).toMatch(/sign-in/);
    expect(error.nextActions).toMatch(/give that column/);
    await call(client, 'sign-up', { email: 'reader@example.com', password: 'correct horse battery' });
    const inserted = await call(client, 'insert-records', { table: 'owned_notes', records: [{ body: 'mine' }] });
    expect(inserted.data.rows[0].user_id).toMatch(/^[0-9a-f-]{36}$/);
    await call(client, 'sign-out');
  });
});

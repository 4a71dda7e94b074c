import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { freshDataDir, TEST_ANON_KEY, TEST_API_KEY } from '../support/backend.js';
import { call, spawnHttpServer } from '../support/mcp.js';

const PASSWORD = 'pw-that-must-never-leak-7f3a';

/** Per-session sign-in over one Streamable HTTP server: sessions never see each other's user. */
describe('MCP sign-in and RLS over Streamable HTTP', () => {
  let server: Awaited<ReturnType<typeof spawnHttpServer>>;
  const clients: Client[] = [];
  const outputs: string[] = [];

  const connect = async (headers: Record<string, string> = {}, url = `${server.url}/mcp`) => {
    const client = new Client({ name: 'auth-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
    clients.push(client);
    return client;
  };
  const tool = async (client: Client, name: string, args: Record<string, unknown> = {}) => {
    const out = await call(client, name, args);
    outputs.push(out.text);
    return out.data;
  };
  const titles = (data: { rows: { title: string }[] }) => data.rows.map((r) => r.title).sort();

  beforeAll(async () => {
    server = await spawnHttpServer(['--data-dir', await freshDataDir()]);
    const admin = await connect();
    await tool(admin, 'run-sql', {
      query: `create table todos (id bigint generated always as identity primary key, user_id uuid default auth.uid(), title text not null);
              alter table todos enable row level security;
              create policy own_select on todos for select to authenticated using (user_id = auth.uid());
              create policy own_insert on todos for insert to authenticated with check (user_id = auth.uid());
              create policy own_update on todos for update to authenticated using (user_id = auth.uid());
              create policy own_delete on todos for delete to authenticated using (user_id = auth.uid());
              insert into todos (title) values ('admin row');`,
    });
  });
  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    await server?.stop();
    const everything = outputs.join('\n') + server.stderr();
    expect(everything).not.toContain(PASSWORD);
    expect(everything).not.toContain(TEST_API_KEY);
  });

  it('A signs in and sees only its rows; B, not signed in, keeps the configured key', async () => {
    const [a, b] = await Promise.all([connect(), connect()]);
    const signedUp = await tool(a, 'sign-up', { email: 'a@example.com', password: PASSWORD, name: 'A' });
    expect(signedUp).toMatchObject({ signedIn: true, user: { email: 'a@example.com' } });
    expect(JSON.stringify(signedUp)).not.toMatch(/eyJ/); // the token stays in the session
    await tool(a, 'insert-records', { table: 'todos', records: [{ title: 'a1' }, { title: 'a2' }] });

    expect(titles(await tool(a, 'query-table', { table: 'todos' }))).toEqual(['a1', 'a2']);
    expect(titles(await tool(b, 'query-table', { table: 'todos' }))).toEqual(['a1', 'a2', 'admin row']);
    expect(await tool(b, 'get-current-user')).toMatchObject({ signedIn: false });
    expect(await tool(a, 'get-current-user')).toMatchObject({ signedIn: true, user: { email: 'a@example.com', profile: { name: 'A' } } });

    // A cannot touch the admin's row; RLS makes it invisible
    expect(await tool(a, 'delete-records', { table: 'todos', where: [{ column: 'title', op: 'eq', value: 'admin row' }], confirm: true })).toMatchObject({ deleted: 0 });

    expect(await tool(a, 'sign-out')).toEqual({ signedOut: true });
    expect(titles(await tool(a, 'query-table', { table: 'todos' }))).toEqual(['a1', 'a2', 'admin row']);
  });

  it('20 sessions in parallel: each signed-in one sees exactly its own rows, the others all rows', async () => {
    const sessions = await Promise.all(Array.from({ length: 20 }, () => connect()));
    await Promise.all(
      sessions.map(async (s, i) => {
        if (i % 2) return;
        await tool(s, 'sign-up', { email: `user${i}@example.com`, password: PASSWORD });
        await tool(s, 'insert-records', { table: 'todos', records: [{ title: `u${i}-1` }, { title: `u${i}-2` }] });
      }),
    );
    const seen = await Promise.all(sessions.map(async (s) => titles(await tool(s, 'query-table', { table: 'todos', limit: 1000 }))));
    const all = seen[1]!;
    expect(all).toHaveLength(3 + 20); // a1, a2, admin row + 10 users × 2
    seen.forEach((rows, i) => expect(rows).toEqual(i % 2 ? all : [`u${i}-1`, `u${i}-2`]));
  });

  it('wrong password comes back as an isError result with next actions', async () => {
    const c = await connect();
    const res = await call(c, 'sign-in', { email: 'a@example.com', password: 'wrong-password' }, { allowError: true });
    expect(res.result.isError).toBe(true);
    expect(res.data.error).toMatchObject({ status: 401, code: 'INVALID_CREDENTIALS', nextActions: expect.any(String) });
    expect(await tool(c, 'get-current-user')).toMatchObject({ signedIn: false });
  });
});

describe('stateless MCP over HTTP: the caller brings its own credential', () => {
  let server: Awaited<ReturnType<typeof spawnHttpServer>>;
  let backendUrl: string;
  const clients: Client[] = [];

  const connect = async (token: string) => {
    const client = new Client({ name: 'stateless-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    server = await spawnHttpServer(['--data-dir', await freshDataDir(), '--stateless']);
    const admin = await connect(TEST_API_KEY);
    const meta = await call(admin, 'get-backend-metadata');
    backendUrl = meta.data.backend.url;
    await call(admin, 'run-sql', {
      query: `create table notes (id serial primary key, owner uuid default auth.uid(), body text);
              alter table notes enable row level security;
              create policy mine on notes for all to authenticated using (owner = auth.uid()) with check (owner = auth.uid());
              insert into notes (body) values ('admin note');`,
    });
  });
  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    await server?.stop();
  });

  it('acts with the bearer of each request: user token, anon key, admin key', async () => {
    const signUp = await fetch(`${backendUrl}/api/auth/signup`, { method: 'POST', headers: { 'content-type': 'application/json', apikey: TEST_ANON_KEY }, body: JSON.stringify({ email: 'solo@example.com', password: PASSWORD }) });
    const { accessToken } = (await signUp.json()) as { accessToken: string };
    const asUser = await connect(accessToken);
    await call(asUser, 'insert-records', { table: 'notes', records: [{ body: 'user note' }] });
    expect((await call(asUser, 'query-table', { table: 'notes', select: 'body' })).data.rows).toEqual([{ body: 'user note' }]);
    expect((await call(asUser, 'get-current-user')).data).toMatchObject({ signedIn: true, user: { email: 'solo@example.com' } });
    const adminOnly = await call(asUser, 'run-sql', { query: 'select 1' }, { allowError: true });
    expect(adminOnly.data.error.status).toBe(403);

    const asAnon = await connect(TEST_ANON_KEY);
    expect((await call(asAnon, 'query-table', { table: 'notes' })).data.rows).toEqual([]);

    const asAdmin = await connect(TEST_API_KEY);
    expect((await call(asAdmin, 'query-table', { table: 'notes', select: 'body', order: [{ column: 'id' }] })).data.rows).toEqual([{ body: 'admin note' }, { body: 'user note' }]);
  });
});

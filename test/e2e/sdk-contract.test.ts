/**
 * The contract with the official client: app code written with `@insforge/sdk` (the npm package,
 * unmodified) runs against the embedded backend. Every call goes through the SDK's own HTTP
 * client, PostgREST builder and response handling, so this fails if a route, a header, a body or
 * a response field differs from what the SDK expects.
 *
 * Under Node the SDK is used as server code uses it: `isServerMode: true` (the refresh token comes
 * back in the body, `?client_type=mobile`), or with an `accessToken` from a sign-in; the default
 * browser mode is checked for sign-in too (its refresh token would live in a cookie).
 *
 * The AI provider behind the backend is the suite's one fake, the local OpenAI-compatible stand-in
 * (test/support/ai-standin.ts): no model can be reached from the tests. Everything else is real.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { createClient, type InsForgeClient } from '@insforge/sdk';
import { DB_KINDS, sql, startTestBackend, TEST_ANON_KEY, type TestBackend } from '../support/backend.js';
import { startAiStandin, TINY_PNG_B64, type AiStandin } from '../support/ai-standin.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PASSWORD = 'secure_password123';

const ECHO_FUNCTION = `
module.exports = async function (request) {
  const body = request.method === 'GET' ? null : await request.json();
  return new Response(JSON.stringify({ method: request.method, body, signedIn: (request.headers.get('authorization') || '').startsWith('Bearer ey') }), {
    headers: { 'Content-Type': 'application/json' },
  });
};`;

interface Todo {
  id: string;
  title: string;
  done: boolean;
  priority: number;
  user_id: string;
}

describe.each(DB_KINDS)('@insforge/sdk against the embedded backend on %s', (kind) => {
  let b: TestBackend;
  let standin: AiStandin;
  /** Server mode, as under Node: signs up and in, then acts as that user. */
  let app: InsForgeClient;
  let refreshToken: string;
  let accessToken: string;

  const serverClient = (extra: Record<string, unknown> = {}) => createClient({ baseUrl: b.url, anonKey: TEST_ANON_KEY, isServerMode: true, ...extra });

  beforeAll(async () => {
    standin = await startAiStandin();
    b = await startTestBackend(kind, { backend: { aiBaseUrl: standin.baseUrl } });
    // the app's schema, made with the v2 admin routes and SQL, as a developer would
    const table = await b.api('/api/database/tables', {
      method: 'POST',
      json: {
        tableName: 'todos',
        columns: [
          { columnName: 'title', type: 'string', isNullable: false, isUnique: false },
          { columnName: 'done', type: 'boolean', isNullable: false, isUnique: false },
          { columnName: 'priority', type: 'integer', isNullable: false, isUnique: false, defaultValue: '0' },
          { columnName: 'user_id', type: 'uuid', isNullable: true, isUnique: false },
        ],
      },
    });
    expect(table.status, table.text).toBe(201);
    await sql(
      b,
      `alter table todos alter column user_id set default auth.uid();
       create policy own_todos on todos for all to authenticated using (user_id = auth.uid()) with check (user_id = auth.uid());
       create function add_nums(a int, b int) returns int language sql as 'select a + b';`,
    );
    expect((await b.api('/api/storage/buckets', { method: 'POST', json: { bucketName: 'docs', isPublic: false } })).status).toBe(201);
    expect((await b.api('/api/functions', { method: 'POST', json: { name: 'echo', slug: 'echo', code: ECHO_FUNCTION } })).status).toBe(201);
    app = serverClient();
  });
  afterAll(async () => {
    await b?.close();
    await standin?.close();
  });

  describe('auth', () => {
    it('signs up (server mode: refresh token in the body)', async () => {
      const { data, error } = await app.auth.signUp({ email: 'Alice@Example.com', password: PASSWORD, name: 'Alice' });
      expect(error).toBeNull();
      expect(data).toMatchObject({
        user: { id: expect.stringMatching(UUID), email: 'alice@example.com', emailVerified: false, profile: { name: 'Alice' }, providers: ['email'] },
        accessToken: expect.stringMatching(/^eyJ/),
        refreshToken: expect.any(String),
        requireEmailVerification: false,
      });
    });

    it('signs in', async () => {
      const { data, error } = await app.auth.signInWithPassword({ email: 'alice@example.com', password: PASSWORD });
      expect(error).toBeNull();
      expect(data).toMatchObject({ user: { email: 'alice@example.com' }, accessToken: expect.stringMatching(/^eyJ/), refreshToken: expect.any(String) });
      accessToken = data!.accessToken;
      refreshToken = data!.refreshToken!;
    });

    it('refuses a wrong password with the error the SDK reports', async () => {
      const { data, error } = await serverClient().auth.signInWithPassword({ email: 'alice@example.com', password: 'wrong-password' });
      expect(data).toBeNull();
      expect(error).toMatchObject({ statusCode: 401, error: 'AUTH_UNAUTHORIZED', message: 'Invalid credentials' });
    });

    it('gets the current user with the access token (server-side client)', async () => {
      const { data, error } = await serverClient({ accessToken }).auth.getCurrentUser();
      expect(error).toBeNull();
      expect(data.user).toMatchObject({ email: 'alice@example.com', profile: { name: 'Alice' } });
    });

    it('reads and updates the profile', async () => {
      const me = serverClient({ accessToken });
      const updated = await me.auth.setProfile({ avatar_url: 'https://example.com/a.png' });
      expect(updated.error).toBeNull();
      expect(updated.data).toMatchObject({ profile: { name: 'Alice', avatar_url: 'https://example.com/a.png' } });
      const { data: user } = await me.auth.getCurrentUser();
      const profile = await me.auth.getProfile(user.user!.id);
      expect(profile.error).toBeNull();
      expect(profile.data).toEqual({ id: user.user!.id, profile: { name: 'Alice', avatar_url: 'https://example.com/a.png' } });
    });

    it('refreshes the session, rotating the refresh token', async () => {
      const { data, error } = await serverClient().auth.refreshSession({ refreshToken });
      expect(error).toBeNull();
      expect(data).toMatchObject({ accessToken: expect.stringMatching(/^eyJ/), refreshToken: expect.any(String), user: { email: 'alice@example.com' } });
      expect(data!.refreshToken).not.toBe(refreshToken);
      refreshToken = data!.refreshToken!;
    });

    it('reads the public auth config', async () => {
      const { data, error } = await app.auth.getPublicAuthConfig();
      expect(error).toBeNull();
      expect(data).toMatchObject({ requireEmailVerification: false, passwordMinLength: 6, disableSignup: false, oAuthProviders: [] });
    });

    it('signs in from the default (browser) mode: CSRF token in the body, refresh token in a cookie', async () => {
      const browserLike = createClient({ baseUrl: b.url, anonKey: TEST_ANON_KEY });
      const { data, error } = await browserLike.auth.signInWithPassword({ email: 'alice@example.com', password: PASSWORD });
      expect(error).toBeNull();
      expect(data).toMatchObject({ user: { email: 'alice@example.com' }, accessToken: expect.stringMatching(/^eyJ/), csrfToken: expect.stringMatching(/^[0-9a-f]{64}$/) });
      expect(data).not.toHaveProperty('refreshToken');
      const rows = await browserLike.database.from('todos').select('*');
      expect(rows.error).toBeNull();
      expect(rows.data).toEqual([]);
    });
  });

  describe('database', () => {
    it('inserts one row and several, returning them with .select()', async () => {
      const one = await app.database.from('todos').insert({ title: 'buy milk', done: false, priority: 2 }).select();
      expect(one.error).toBeNull();
      expect(one.status).toBe(201);
      expect(one.data).toEqual([expect.objectContaining({ id: expect.stringMatching(UUID), title: 'buy milk', done: false, priority: 2, user_id: expect.stringMatching(UUID) })]);
      const many = await app.database
        .from('todos')
        .insert([
          { title: 'write tests', done: true, priority: 5 },
          { title: 'ship it', done: false, priority: 9 },
          { title: 'celebrate', done: false },
        ], { defaultToNull: false }) // Prefer: missing=default — a key left out takes the column default, not NULL
        .select('title, priority');
      expect(many.error).toBeNull();
      expect(many.data).toEqual([
        { title: 'write tests', priority: 5 },
        { title: 'ship it', priority: 9 },
        { title: 'celebrate', priority: 0 },
      ]);
    });

    it('inserts without asking for the rows back (data null)', async () => {
      const { data, error, status } = await app.database.from('todos').insert({ title: 'quiet', done: true, priority: 1 });
      expect(error).toBeNull();
      expect(status).toBe(201);
      expect(data).toBeNull();
    });

    it('select().eq().order().limit()', async () => {
      const { data, error } = await app.database.from('todos').select('title, priority').eq('done', false).order('priority', { ascending: false }).limit(2);
      expect(error).toBeNull();
      expect(data).toEqual([
        { title: 'ship it', priority: 9 },
        { title: 'buy milk', priority: 2 },
      ]);
    });

    it('.gte().lt() on one column (repeated query keys)', async () => {
      const { data, error } = await app.database.from('todos').select('title').gte('priority', 2).lt('priority', 9).order('title');
      expect(error).toBeNull();
      expect(data).toEqual([{ title: 'buy milk' }, { title: 'write tests' }]);
    });

    it('or(), in(), ilike() and an exact count with range()', async () => {
      const { data, error, count } = await app.database
        .from('todos')
        .select('title', { count: 'exact' })
        .or('priority.gte.5,title.ilike.*milk*')
        .in('done', [true, false])
        .order('title')
        .range(0, 1);
      expect(error).toBeNull();
      expect(count).toBe(3);
      expect(data).toEqual([{ title: 'buy milk' }, { title: 'ship it' }]);
    });

    it('counts without rows (head: true)', async () => {
      const { data, error, count } = await app.database.from('todos').select('*', { count: 'exact', head: true });
      expect(error).toBeNull();
      expect(data).toBeNull();
      expect(count).toBe(5);
    });

    it('single() and maybeSingle()', async () => {
      const one = await app.database.from('todos').select('title, done').eq('title', 'ship it').single();
      expect(one.error).toBeNull();
      expect(one.data).toEqual({ title: 'ship it', done: false });
      const none = await app.database.from('todos').select('title').eq('title', 'nothing like this').maybeSingle();
      expect(none.error).toBeNull();
      expect(none.data).toBeNull();
      const tooMany = await app.database.from('todos').select('title').single();
      expect(tooMany.data).toBeNull();
      expect(tooMany.status).toBe(406);
      expect(tooMany.error).toMatchObject({ code: 'PGRST116', message: expect.any(String) });
    });

    it('updates with a filter and gets the rows back', async () => {
      const { data, error } = await app.database.from('todos').update({ done: true }).eq('title', 'buy milk').select('title, done');
      expect(error).toBeNull();
      expect(data).toEqual([{ title: 'buy milk', done: true }]);
      const silent = await app.database.from('todos').update({ priority: 3 }).eq('title', 'buy milk');
      expect(silent.error).toBeNull();
      expect(silent.status).toBe(204);
    });

    it('upserts on a key', async () => {
      const { data: existing } = await app.database.from('todos').select('id').eq('title', 'celebrate').single();
      const { data, error } = await app.database.from('todos').upsert({ id: (existing as { id: string }).id, title: 'celebrate', done: true, priority: 1 }, { onConflict: 'id' }).select('title, done');
      expect(error).toBeNull();
      expect(data).toEqual([{ title: 'celebrate', done: true }]);
    });

    it('deletes with a filter', async () => {
      const { data, error } = await app.database.from('todos').delete().eq('title', 'quiet').select('title');
      expect(error).toBeNull();
      expect(data).toEqual([{ title: 'quiet' }]);
      const { count } = await app.database.from('todos').select('*', { count: 'exact', head: true });
      expect(count).toBe(4);
    });

    it('calls a database function (rpc)', async () => {
      const { data, error } = await app.database.rpc('add_nums', { a: 40, b: 2 });
      expect(error).toBeNull();
      expect(data).toBe(42);
    });

    it('row-level security: another user sees none of these rows', async () => {
      const bob = serverClient();
      expect((await bob.auth.signUp({ email: 'bob@example.com', password: PASSWORD })).error).toBeNull();
      const { data, error } = await bob.database.from('todos').select('*');
      expect(error).toBeNull();
      expect(data).toEqual([]);
    });

    it('reports errors with the fields postgrest-js exposes', async () => {
      const missing = await app.database.from('no_such_table').select('*');
      expect(missing.data).toBeNull();
      expect(missing.status).toBe(404);
      expect(missing.error).toMatchObject({ code: '42P01', message: 'relation "public.no_such_table" does not exist' });
      const badColumn = await app.database.from('todos').select('nope');
      expect(badColumn.status).toBe(400);
      expect(badColumn.error).toMatchObject({ code: '42703', message: expect.stringContaining('nope') });
      const typed = (await app.database.from('todos').select('*')).data as Todo[];
      expect(typed.every((t) => typeof t.title === 'string' && t.user_id === typed[0]!.user_id)).toBe(true);
    });
  });

  describe('storage', () => {
    const content = 'hello from the sdk\n';

    it('uploads to a key (upload strategy, then PUT)', async () => {
      const { data, error } = await app.storage.from('docs').upload('notes/hello.txt', new Blob([content], { type: 'text/plain' }));
      expect(error).toBeNull();
      expect(data).toMatchObject({ bucket: 'docs', key: 'notes/hello.txt', size: Buffer.byteLength(content), mimeType: 'text/plain', url: expect.stringContaining('/api/storage/buckets/docs/objects/notes%2Fhello.txt') });
    });

    it('uploads under a generated key (uploadAuto)', async () => {
      const { data, error } = await app.storage.from('docs').uploadAuto(new File(['{"a":1}'], 'data.json', { type: 'application/json' }));
      expect(error).toBeNull();
      expect(data).toMatchObject({ bucket: 'docs', key: expect.stringMatching(/^data-\d+-[a-z0-9]+\.json$/), mimeType: 'application/json' });
    });

    it('downloads (download strategy, then GET with the same credentials)', async () => {
      const { data, error } = await app.storage.from('docs').download('notes/hello.txt');
      expect(error).toBeNull();
      expect(await data!.text()).toBe(content);
    });

    it('creates a signed URL', async () => {
      const { data, error } = await app.storage.from('docs').createSignedUrl('notes/hello.txt', 600);
      expect(error).toBeNull();
      expect(data!.signedUrl).toContain('/api/storage/buckets/docs/objects/notes%2Fhello.txt');
    });

    it('lists', async () => {
      const { data, error } = await app.storage.from('docs').list({ prefix: 'notes/' });
      expect(error).toBeNull();
      expect(data).toMatchObject({ data: [{ key: 'notes/hello.txt', size: Buffer.byteLength(content) }], pagination: { offset: 0, total: 1 } });
    });

    it('removes one key, then several', async () => {
      const one = await app.storage.from('docs').remove('notes/hello.txt');
      expect(one.error).toBeNull();
      expect(one.data).toEqual({ message: 'Object deleted successfully' });
      const { data: listed } = await app.storage.from('docs').list();
      // the SDK's type says `objects`, but InsForge (and so this backend) answers `data`, which the SDK passes through
      const keys = (listed as unknown as { data: { key: string }[] }).data.map((o) => o.key);
      const many = await app.storage.from('docs').remove([...keys, 'never-there.txt']);
      expect(many.error).toBeNull();
      expect(many.data).toEqual({ results: [...keys.map((key) => ({ key, status: 'deleted' })), { key: 'never-there.txt', status: 'notFound' }] });
      const gone = await app.storage.from('docs').download('notes/hello.txt');
      expect(gone.data).toBeNull();
      expect(gone.error).toMatchObject({ statusCode: 404 });
    });
  });

  describe('AI (through the local stand-in provider)', () => {
    it('chat completion', async () => {
      const completion = await app.ai.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'ping' }] });
      expect(completion).toMatchObject({
        object: 'chat.completion',
        model: 'openai/gpt-4o-mini',
        choices: [{ index: 0, message: { role: 'assistant', content: 'echo: ping' }, finish_reason: 'stop' }],
        usage: { promptTokens: 3, completionTokens: 2, totalTokens: 5 },
      });
    });

    it('streamed chat completion', async () => {
      const stream = await app.ai.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'tell me more' }], stream: true });
      let text = '';
      for await (const chunk of stream) {
        expect(chunk).toMatchObject({ object: 'chat.completion.chunk', model: 'openai/gpt-4o-mini' });
        text += chunk.choices[0]?.delta?.content ?? '';
      }
      expect(text).toBe('echo: tell me more');
    });

    it('image generation', async () => {
      const images = await app.ai.images.generate({ model: 'gpt-image-1', prompt: 'a red dot' });
      expect(images.data).toEqual([expect.objectContaining({ b64_json: TINY_PNG_B64 })]);
    });
  });

  describe('functions', () => {
    it('invokes a function with a JSON body', async () => {
      const { data, error } = await app.functions.invoke('echo', { body: { hello: 'world' } });
      expect(error).toBeNull();
      expect(data).toEqual({ method: 'POST', body: { hello: 'world' }, signedIn: true });
    });

    it('reports an unknown function as an error', async () => {
      const { data, error } = await app.functions.invoke('no-such-function', { body: {} });
      expect(data).toBeNull();
      expect(error).toMatchObject({ statusCode: 404 });
    });
  });

  describe('sessions end', () => {
    it('refreshes an expired access token once and retries the request', async () => {
      // a browser-mode client holding a refresh token, as after a mobile-style sign-in
      const { data: signedIn } = await serverClient().auth.signInWithPassword({ email: 'alice@example.com', password: PASSWORD });
      const client = createClient({ baseUrl: b.url, anonKey: TEST_ANON_KEY });
      client.getHttpClient().setRefreshToken(signedIn!.refreshToken!);
      const now = Math.floor(Date.now() / 1000);
      const expired = await new SignJWT({ email: 'alice@example.com', role: 'authenticated' })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(signedIn!.user.id)
        .setIssuer('insforge-mcp')
        .setJti(crypto.randomUUID())
        .setIssuedAt(now - 7200)
        .setExpirationTime(now - 3600)
        .sign(new TextEncoder().encode(b.keys.jwtSecret));
      client.setAccessToken(expired);
      const rows = await client.database.from('todos').select('title').order('title').limit(1);
      expect(rows.error).toBeNull();
      expect(rows.data).toEqual([{ title: 'buy milk' }]);
      const listed = await client.storage.from('docs').list();
      expect(listed.error).toBeNull();
    });

    it('signs out: the access token and the refresh token of the session stop working', async () => {
      expect((await serverClient({ accessToken }).auth.getCurrentUser()).error).toBeNull();
      // app acts with the sign-in's access token; its session also holds the rotated refresh token
      const { error } = await app.auth.signOut();
      expect(error).toBeNull();
      const after = await serverClient({ accessToken }).auth.getCurrentUser();
      expect(after.data.user).toBeNull();
      expect(after.error).toMatchObject({ statusCode: 401, error: 'AUTH_UNAUTHORIZED' });
      const refresh = await serverClient().auth.refreshSession({ refreshToken });
      expect(refresh.data).toBeNull();
      expect(refresh.error).toMatchObject({ statusCode: 401, error: 'AUTH_UNAUTHORIZED' });
    });
  });
});

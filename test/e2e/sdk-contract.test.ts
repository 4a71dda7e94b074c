/**
 * The contract with the official client: app code written with `@insforge/sdk` (the npm package,
 * unmodified) runs against the embedded backend. Every call goes through the SDK's own HTTP
 * client, PostgREST builder and response handling, so this fails if a route, a header, a body or
 * a response field differs from what the SDK expects.
 *
 * With a real InsForge backend configured (INSFORGE_BASE_URL and its keys: npm run test:insforge),
 * the same calls run against it too, and the answers of the two backends are compared at the end:
 * status codes, error codes, and the shape of every answer (field names and value types; ids,
 * timestamps and tokens differ by nature, so only their types count). What differs on purpose is
 * listed in KNOWN_DIFFERENCES, with its reason (also in README, "Known differences from InsForge").
 *
 * Under Node the SDK is used as server code uses it: `isServerMode: true` (the refresh token comes
 * back in the body, `?client_type=mobile`), or with an `accessToken` from a sign-in; the default
 * browser mode is checked for sign-in too (its refresh token would live in a cookie).
 *
 * The AI provider behind the embedded backend is the suite's one fake, the local OpenAI-compatible
 * stand-in (test/support/ai-standin.ts): no model can be reached from the tests. The real backend
 * has its own stand-in (../shared/insforge/ai-standin.mjs). Everything else is real.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { createClient, type InsForgeClient } from '@insforge/sdk';
import { DB_KINDS, startTestBackend, TEST_ANON_KEY, type ApiResponse, type DbKind } from '../support/backend.js';
import { startAiStandin, type AiStandin } from '../support/ai-standin.js';
import { REAL, RUN, realApi } from '../insforge/support.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PASSWORD = 'secure_password123';
const PNG = /^iVBORw0KGgo/;

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

type Kind = DbKind | 'insforge';

/** A backend the SDK runs against, with an admin door for the app's schema. */
interface SdkTarget {
  url: string;
  anonKey: string;
  /** Admin request (the API key). */
  api(path: string, init?: { method?: string; json?: unknown }): Promise<Pick<ApiResponse, 'status' | 'text' | 'json'>>;
  /** Signs tokens as the backend does (the embedded backend's HS256 secret); the real one keeps its key. */
  jwtSecret?: string;
  close(): Promise<void>;
}

async function openTarget(kind: Kind): Promise<SdkTarget> {
  if (kind === 'insforge') return { url: REAL!.url, anonKey: REAL!.anonKey, api: realApi, close: async () => undefined };
  const standin: AiStandin = await startAiStandin();
  const b = await startTestBackend(kind, { backend: { aiBaseUrl: standin.baseUrl } });
  return {
    url: b.url,
    anonKey: TEST_ANON_KEY,
    api: (path, init = {}) => b.api(path, init),
    jwtSecret: b.keys.jwtSecret,
    close: async () => {
      await b.close();
      await standin.close();
    },
  };
}

// ---- the answers, as the comparison sees them ----------------------------------------------

/** The type structure of a value: field names and value types, no values. */
function shape(value: unknown): unknown {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return [...new Map(value.map((v) => [JSON.stringify(shape(v)), shape(v)])).values()];
  if (typeof value === 'object') return Object.fromEntries(Object.keys(value).sort().map((k) => [k, shape((value as Record<string, unknown>)[k])]));
  return typeof value;
}

interface SdkAnswer {
  data?: unknown;
  error?: unknown;
  status?: number;
  count?: number | null;
}

/** Status, error codes and shapes of every SDK answer, per backend and step. */
const answers = new Map<Kind, Map<string, unknown>>();

function seen<T extends SdkAnswer>(kind: Kind, step: string, answer: T): T {
  const error = answer.error as { statusCode?: number; error?: string; code?: string } | null | undefined;
  answers.get(kind)!.set(step, {
    ...(answer.status !== undefined ? { status: answer.status } : {}),
    error: error ? { statusCode: error.statusCode, error: error.error, code: error.code } : null,
    data: shape(answer.data),
    ...(answer.count !== undefined ? { count: typeof answer.count } : {}),
  });
  return answer;
}

const KINDS: Kind[] = [...DB_KINDS, ...(REAL ? (['insforge'] as const) : [])];

describe.each(KINDS)('@insforge/sdk against the %s backend', (kind) => {
  const real = kind === 'insforge';
  // the real backend keeps its data between runs: this run's names are its own
  const todos = `todos_${RUN}`;
  const docs = `docs-${RUN}`;
  const echo = `echo-${RUN}`;
  const alice = `alice-${RUN}@example.com`;
  const bob = `bob-${RUN}@example.com`;
  let t: SdkTarget;
  /** Server mode, as under Node: signs up and in, then acts as that user. */
  let app: InsForgeClient;
  let refreshToken: string;
  let accessToken: string;
  const note = <T extends SdkAnswer>(step: string, answer: T) => seen(kind, step, answer);

  const serverClient = (extra: Record<string, unknown> = {}) => createClient({ baseUrl: t.url, anonKey: t.anonKey, isServerMode: true, ...extra });
  const adminSql = async (query: string) => {
    const res = await t.api('/api/database/advance/rawsql', { method: 'POST', json: { query } });
    expect(res.status, res.text).toBe(200);
  };

  beforeAll(async () => {
    answers.set(kind, new Map());
    t = await openTarget(kind);
    // the app's schema, made with the v2 admin routes and SQL, as a developer would
    const table = await t.api('/api/database/tables', {
      method: 'POST',
      json: {
        tableName: todos,
        columns: [
          { columnName: 'title', type: 'string', isNullable: false, isUnique: false },
          { columnName: 'done', type: 'boolean', isNullable: false, isUnique: false },
          { columnName: 'priority', type: 'integer', isNullable: false, isUnique: false, defaultValue: '0' },
          { columnName: 'user_id', type: 'uuid', isNullable: true, isUnique: false },
        ],
      },
    });
    expect(table.status, table.text).toBe(201);
    await adminSql(
      `alter table ${todos} alter column user_id set default auth.uid();
       create policy own_todos on ${todos} for all to authenticated using (user_id = auth.uid()) with check (user_id = auth.uid());
       create or replace function add_nums_${RUN}(a int, b int) returns int language sql as 'select a + b';`,
    );
    expect((await t.api('/api/storage/buckets', { method: 'POST', json: { bucketName: docs, isPublic: false } })).status).toBe(201);
    expect((await t.api('/api/functions', { method: 'POST', json: { name: echo, slug: echo, code: ECHO_FUNCTION } })).status).toBe(201);
    app = serverClient();
  });
  afterAll(async () => {
    if (real && t) {
      await t.api(`/api/functions/${echo}`, { method: 'DELETE' });
      await t.api(`/api/storage/buckets/${docs}`, { method: 'DELETE' });
      await t.api('/api/database/advance/rawsql', { method: 'POST', json: { query: `drop table if exists ${todos}; drop function if exists add_nums_${RUN}(int, int)` } });
    }
    await t?.close();
  });

  describe('auth', () => {
    it('signs up (server mode: refresh token in the body)', async () => {
      const { data, error } = note('auth.signUp', await app.auth.signUp({ email: alice.replace('alice', 'Alice'), password: PASSWORD, name: 'Alice' }));
      expect(error).toBeNull();
      expect(data).toMatchObject({
        user: { id: expect.stringMatching(UUID), email: alice, emailVerified: false, profile: { name: 'Alice' }, providers: ['email'] },
        accessToken: expect.stringMatching(/^eyJ/),
        refreshToken: expect.any(String),
        requireEmailVerification: false,
      });
    });

    it('signs in', async () => {
      const { data, error } = note('auth.signInWithPassword', await app.auth.signInWithPassword({ email: alice, password: PASSWORD }));
      expect(error).toBeNull();
      expect(data).toMatchObject({ user: { email: alice }, accessToken: expect.stringMatching(/^eyJ/), refreshToken: expect.any(String) });
      accessToken = data!.accessToken;
      refreshToken = data!.refreshToken!;
    });

    it('refuses a wrong password with the error the SDK reports', async () => {
      const { data, error } = note('auth.signInWithPassword (wrong password)', await serverClient().auth.signInWithPassword({ email: alice, password: 'wrong-password' }));
      expect(data).toBeNull();
      expect(error).toMatchObject({ statusCode: 401, error: 'AUTH_UNAUTHORIZED', message: 'Invalid credentials' });
    });

    it('gets the current user with the access token (server-side client)', async () => {
      const { data, error } = note('auth.getCurrentUser', await serverClient({ accessToken }).auth.getCurrentUser());
      expect(error).toBeNull();
      expect(data.user).toMatchObject({ email: alice, profile: { name: 'Alice' } });
    });

    it('reads and updates the profile', async () => {
      const me = serverClient({ accessToken });
      const updated = note('auth.setProfile', await me.auth.setProfile({ avatar_url: 'https://example.com/a.png' }));
      expect(updated.error).toBeNull();
      expect(updated.data).toMatchObject({ profile: { name: 'Alice', avatar_url: 'https://example.com/a.png' } });
      const { data: user } = await me.auth.getCurrentUser();
      const profile = note('auth.getProfile', await me.auth.getProfile(user.user!.id));
      expect(profile.error).toBeNull();
      expect(profile.data).toEqual({ id: user.user!.id, profile: { name: 'Alice', avatar_url: 'https://example.com/a.png' } });
    });

    it('refreshes the session (the embedded backend rotates the refresh token)', async () => {
      const { data, error } = note('auth.refreshSession', await serverClient().auth.refreshSession({ refreshToken }));
      expect(error).toBeNull();
      expect(data).toMatchObject({ accessToken: expect.stringMatching(/^eyJ/), refreshToken: expect.any(String), user: { email: alice } });
      // the embedded backend rotates the refresh token; InsForge issues a new stateless JWT, which is the
      // same token when made within the second of the last one
      if (!real) expect(data!.refreshToken).not.toBe(refreshToken);
      refreshToken = data!.refreshToken!;
    });

    it('reads the public auth config', async () => {
      const { data, error } = note('auth.getPublicAuthConfig', await app.auth.getPublicAuthConfig());
      expect(error).toBeNull();
      expect(data).toMatchObject({ requireEmailVerification: false, passwordMinLength: 6, disableSignup: false, oAuthProviders: [] });
    });

    it('signs in from the default (browser) mode: CSRF token in the body, refresh token in a cookie', async () => {
      const browserLike = createClient({ baseUrl: t.url, anonKey: t.anonKey });
      const { data, error } = note('auth.signInWithPassword (browser mode)', await browserLike.auth.signInWithPassword({ email: alice, password: PASSWORD }));
      expect(error).toBeNull();
      expect(data).toMatchObject({ user: { email: alice }, accessToken: expect.stringMatching(/^eyJ/), csrfToken: expect.stringMatching(/^[0-9a-f]{64}$/) });
      expect(data).not.toHaveProperty('refreshToken');
      const rows = note('database.select (browser mode)', await browserLike.database.from(todos).select('*'));
      expect(rows.error).toBeNull();
      expect(rows.data).toEqual([]);
    });
  });

  describe('database', () => {
    it('inserts one row and several, returning them with .select()', async () => {
      const one = note('database.insert.select', await app.database.from(todos).insert({ title: 'buy milk', done: false, priority: 2 }).select());
      expect(one.error).toBeNull();
      expect(one.status).toBe(201);
      expect(one.data).toEqual([expect.objectContaining({ id: expect.stringMatching(UUID), title: 'buy milk', done: false, priority: 2, user_id: expect.stringMatching(UUID) })]);
      const many = note(
        'database.insert (missing=default).select',
        await app.database
          .from(todos)
          .insert([
            { title: 'write tests', done: true, priority: 5 },
            { title: 'ship it', done: false, priority: 9 },
            { title: 'celebrate', done: false, priority: 0 },
          ], { defaultToNull: false }) // Prefer: missing=default: a key left out takes the column default, not NULL
          .select('title, priority'),
      );
      expect(many.error).toBeNull();
      expect(many.data).toEqual([
        { title: 'write tests', priority: 5 },
        { title: 'ship it', priority: 9 },
        { title: 'celebrate', priority: 0 },
      ]);
    });

    it.skipIf(real)('takes the column default for a key a row leaves out (Prefer: missing=default)', async () => {
      // not against ../shared/insforge: its PostgREST stand-in ignores missing=default (PostgREST 12 applies it)
      const { data, error } = await app.database.from(todos).insert([{ title: 'default me', done: false }, { title: 'given', done: false, priority: 4 }], { defaultToNull: false }).select('title, priority');
      expect(error).toBeNull();
      expect(data).toEqual([{ title: 'default me', priority: 0 }, { title: 'given', priority: 4 }]);
      expect((await app.database.from(todos).delete().in('title', ['default me', 'given'])).error).toBeNull();
    });

    it('inserts without asking for the rows back (data [], as InsForge answers)', async () => {
      const { data, error, status } = note('database.insert', await app.database.from(todos).insert({ title: 'quiet', done: true, priority: 1 }));
      expect(error).toBeNull();
      expect(status).toBe(201);
      // PostgREST sends no body (data null); InsForge's proxy sends []
      expect(data).toEqual([]);
    });

    it('select().eq().order().limit()', async () => {
      const { data, error } = note('database.select.eq.order.limit', await app.database.from(todos).select('title, priority').eq('done', false).order('priority', { ascending: false }).limit(2));
      expect(error).toBeNull();
      expect(data).toEqual([
        { title: 'ship it', priority: 9 },
        { title: 'buy milk', priority: 2 },
      ]);
    });

    it('.gte().lt() on one column (repeated query keys)', async () => {
      const answer = note('database.select.gte.lt (one column)', await app.database.from(todos).select('title').gte('priority', 2).lt('priority', 9).order('title'));
      if (real) {
        // InsForge's proxy re-sends a repeated key as `priority[]` (the D1 of issue 12): the SDK cannot do this there
        expect(answer.error).toMatchObject({ code: '42703' });
        return;
      }
      expect(answer.error).toBeNull();
      expect(answer.data).toEqual([{ title: 'buy milk' }, { title: 'write tests' }]);
    });

    it('or(), in(), ilike() and an exact count with range()', async () => {
      const { data, error, count } = note(
        'database.select.or.in.range (count)',
        await app.database.from(todos).select('title', { count: 'exact' }).or('priority.gte.5,title.ilike.*milk*').in('done', [true, false]).order('title').range(0, 1),
      );
      expect(error).toBeNull();
      expect(count).toBe(3);
      expect(data).toEqual([{ title: 'buy milk' }, { title: 'ship it' }]);
    });

    it('counts without rows (head: true)', async () => {
      const { data, error, count } = note('database.select (head count)', await app.database.from(todos).select('*', { count: 'exact', head: true }));
      expect(error).toBeNull();
      expect(data).toBeNull();
      expect(count).toBe(5);
    });

    it('single() and maybeSingle()', async () => {
      const one = note('database.single', await app.database.from(todos).select('title, done').eq('title', 'ship it').single());
      expect(one.error).toBeNull();
      expect(one.data).toEqual({ title: 'ship it', done: false });
      const none = note('database.maybeSingle (none)', await app.database.from(todos).select('title').eq('title', 'nothing like this').maybeSingle());
      expect(none.error).toBeNull();
      expect(none.data).toBeNull();
      const tooMany = note('database.single (many)', await app.database.from(todos).select('title').single());
      expect(tooMany.data).toBeNull();
      expect(tooMany.status).toBe(406);
      expect(tooMany.error).toMatchObject({ code: 'PGRST116', message: expect.any(String) });
    });

    it('updates with a filter and gets the rows back', async () => {
      const { data, error } = note('database.update.eq.select', await app.database.from(todos).update({ done: true }).eq('title', 'buy milk').select('title, done'));
      expect(error).toBeNull();
      expect(data).toEqual([{ title: 'buy milk', done: true }]);
      const silent = note('database.update.eq', await app.database.from(todos).update({ priority: 3 }).eq('title', 'buy milk'));
      expect(silent.error).toBeNull();
      expect(silent.status).toBe(204);
    });

    it('upserts on a key', async () => {
      const { data: existing } = await app.database.from(todos).select('id').eq('title', 'celebrate').single();
      const { data, error } = note('database.upsert.select', await app.database.from(todos).upsert({ id: (existing as { id: string }).id, title: 'celebrate', done: true, priority: 1 }, { onConflict: 'id' }).select('title, done'));
      expect(error).toBeNull();
      expect(data).toEqual([{ title: 'celebrate', done: true }]);
    });

    it('deletes with a filter', async () => {
      const { data, error } = note('database.delete.eq.select', await app.database.from(todos).delete().eq('title', 'quiet').select('title'));
      expect(error).toBeNull();
      expect(data).toEqual([{ title: 'quiet' }]);
      const { count } = await app.database.from(todos).select('*', { count: 'exact', head: true });
      expect(count).toBe(4);
    });

    it('calls a database function (rpc)', async () => {
      const { data, error } = note('database.rpc', await app.database.rpc(`add_nums_${RUN}`, { a: 40, b: 2 }));
      expect(error).toBeNull();
      expect(data).toBe(42);
    });

    it('row-level security: another user sees none of these rows', async () => {
      const other = serverClient();
      expect(note('auth.signUp (second user)', await other.auth.signUp({ email: bob, password: PASSWORD })).error).toBeNull();
      const { data, error } = note('database.select (other user)', await other.database.from(todos).select('*'));
      expect(error).toBeNull();
      expect(data).toEqual([]);
    });

    it('reports errors with the fields postgrest-js exposes', async () => {
      const missing = note('database.select (unknown table)', await app.database.from(`no_such_table_${RUN}`).select('*'));
      expect(missing.data).toBeNull();
      expect(missing.status).toBe(404);
      expect(missing.error).toMatchObject({ code: '42P01', message: `relation "public.no_such_table_${RUN}" does not exist` });
      const badColumn = note('database.select (unknown column)', await app.database.from(todos).select('nope'));
      expect(badColumn.status).toBe(400);
      expect(badColumn.error).toMatchObject({ code: '42703', message: expect.stringContaining('nope') });
      const typed = (await app.database.from(todos).select('*')).data as Todo[];
      expect(typed.every((row) => typeof row.title === 'string' && row.user_id === typed[0]!.user_id)).toBe(true);
    });
  });

  describe('storage', () => {
    const content = 'hello from the sdk\n';

    it('uploads to a key (upload strategy, then PUT)', async () => {
      const { data, error } = note('storage.upload', await app.storage.from(docs).upload('notes/hello.txt', new Blob([content], { type: 'text/plain' })));
      expect(error).toBeNull();
      expect(data).toMatchObject({ bucket: docs, key: 'notes/hello.txt', size: Buffer.byteLength(content), mimeType: 'text/plain', url: expect.stringContaining(`/api/storage/buckets/${docs}/objects/notes%2Fhello.txt`) });
    });

    it('uploads under a generated key (uploadAuto)', async () => {
      const { data, error } = note('storage.uploadAuto', await app.storage.from(docs).uploadAuto(new File(['{"a":1}'], 'data.json', { type: 'application/json' })));
      expect(error).toBeNull();
      expect(data).toMatchObject({ bucket: docs, key: expect.stringMatching(/^data-\d+-[a-z0-9]+\.json$/), mimeType: 'application/json' });
    });

    it('downloads (download strategy, then GET with the same credentials)', async () => {
      const { data, error } = note('storage.download', await app.storage.from(docs).download('notes/hello.txt'));
      expect(error).toBeNull();
      expect(await data!.text()).toBe(content);
    });

    it('creates a signed URL', async () => {
      const { data, error } = note('storage.createSignedUrl', await app.storage.from(docs).createSignedUrl('notes/hello.txt', 600));
      expect(error).toBeNull();
      expect(data!.signedUrl).toContain(`/api/storage/buckets/${docs}/objects/notes%2Fhello.txt`);
      // the bucket is private: a signed URL works with no credentials (InsForge's local disk storage does not sign)
      const fetched = await fetch(data!.signedUrl);
      if (real) {
        expect(data!.expiresAt).toBeNull();
        expect(fetched.status).toBe(401);
      } else {
        expect(new Date(data!.expiresAt!).getTime()).toBeGreaterThan(Date.now() + 590_000);
        expect(await fetched.text()).toBe(content);
      }
    });

    it('lists', async () => {
      const { data, error } = note('storage.list', await app.storage.from(docs).list({ prefix: 'notes/' }));
      expect(error).toBeNull();
      expect(data).toMatchObject({ data: [{ key: 'notes/hello.txt', size: Buffer.byteLength(content) }], pagination: { offset: 0, total: 1 } });
    });

    it('removes one key, then several', async () => {
      const one = note('storage.remove (one)', await app.storage.from(docs).remove('notes/hello.txt'));
      expect(one.error).toBeNull();
      expect(one.data).toEqual({ message: 'Object deleted successfully' });
      const { data: listed } = await app.storage.from(docs).list();
      // the SDK's type says `objects`, but InsForge (and so this backend) answers `data`, which the SDK passes through
      const keys = (listed as unknown as { data: { key: string }[] }).data.map((o) => o.key);
      const many = note('storage.remove (several)', await app.storage.from(docs).remove([...keys, 'never-there.txt']));
      expect(many.error).toBeNull();
      expect(many.data).toEqual({ results: [...keys.map((key) => ({ key, status: 'deleted' })), { key: 'never-there.txt', status: 'notFound' }] });
      const gone = note('storage.download (gone)', await app.storage.from(docs).download('notes/hello.txt'));
      expect(gone.data).toBeNull();
      expect(gone.error).toMatchObject({ statusCode: 404 });
    });
  });

  describe('AI (through a stand-in provider)', () => {
    it('chat completion', async () => {
      const completion = await app.ai.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'ping' }] });
      note('ai.chat.completions.create', { data: completion, error: null });
      expect(completion).toMatchObject({
        object: 'chat.completion',
        model: 'openai/gpt-4o-mini',
        choices: [{ index: 0, message: { role: 'assistant', content: 'echo: ping' }, finish_reason: 'stop' }],
        usage: { promptTokens: expect.any(Number), completionTokens: expect.any(Number), totalTokens: expect.any(Number) },
      });
    });

    it('streamed chat completion', async () => {
      const stream = await app.ai.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'tell me more' }], stream: true });
      let text = '';
      const chunks: unknown[] = [];
      for await (const chunk of stream) {
        chunks.push(chunk);
        expect(chunk).toMatchObject({ object: 'chat.completion.chunk', model: 'openai/gpt-4o-mini' });
        text += chunk.choices[0]?.delta?.content ?? '';
      }
      note('ai.chat.completions.create (stream)', { data: chunks, error: null });
      expect(text).toBe('echo: tell me more');
    });

    it('image generation', async () => {
      const images = await app.ai.images.generate({ model: 'google/gemini-2.5-flash-image-preview', prompt: 'a red dot' });
      note('ai.images.generate', { data: images, error: null });
      expect(images.data).toEqual([expect.objectContaining({ b64_json: expect.stringMatching(PNG) })]);
    });
  });

  describe('functions', () => {
    it('invokes a function with a JSON body', async () => {
      const { data, error } = note('functions.invoke', await app.functions.invoke(echo, { body: { hello: 'world' } }));
      expect(error).toBeNull();
      expect(data).toEqual({ method: 'POST', body: { hello: 'world' }, signedIn: true });
    });

    it('reports an unknown function as an error', async () => {
      const { data, error } = note('functions.invoke (unknown)', await app.functions.invoke(`no-such-function-${RUN}`, { body: {} }));
      expect(data).toBeNull();
      expect(error).toMatchObject({ statusCode: 404 });
    });
  });

  describe('sessions end', () => {
    it.skipIf(real)('refreshes an expired access token once and retries the request', async () => {
      // needs the backend's signing key, to make an expired token: the real backend keeps its own
      const { data: signedIn } = await serverClient().auth.signInWithPassword({ email: alice, password: PASSWORD });
      const client = createClient({ baseUrl: t.url, anonKey: t.anonKey });
      client.getHttpClient().setRefreshToken(signedIn!.refreshToken!);
      const now = Math.floor(Date.now() / 1000);
      const expired = await new SignJWT({ email: alice, role: 'authenticated' })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(signedIn!.user.id)
        .setIssuer('insforge-mcp')
        .setJti(crypto.randomUUID())
        .setIssuedAt(now - 7200)
        .setExpirationTime(now - 3600)
        .sign(new TextEncoder().encode(t.jwtSecret!));
      client.setAccessToken(expired);
      const rows = await client.database.from(todos).select('title').order('title').limit(1);
      expect(rows.error).toBeNull();
      expect(rows.data).toEqual([{ title: 'buy milk' }]);
      const listed = await client.storage.from(docs).list();
      expect(listed.error).toBeNull();
    });

    it('signs out: the access token and the refresh token of the session stop working', async () => {
      expect((await serverClient({ accessToken }).auth.getCurrentUser()).error).toBeNull();
      // app acts with the sign-in's access token; its session also holds the rotated refresh token
      const { error } = note('auth.signOut', await app.auth.signOut());
      expect(error).toBeNull();
      const after = note('auth.getCurrentUser (signed out)', await serverClient({ accessToken }).auth.getCurrentUser());
      if (real) {
        // InsForge's access tokens are not revoked: they work until they expire (15 minutes)
        expect(after.error).toBeNull();
      } else {
        expect(after.data.user).toBeNull();
        expect(after.error).toMatchObject({ statusCode: 401, error: 'AUTH_UNAUTHORIZED' });
      }
      const refresh = note('auth.refreshSession (signed out)', await serverClient().auth.refreshSession({ refreshToken }));
      if (real) {
        // nor is a server-side client's refresh token: InsForge's logout only clears a browser's cookie
        expect(refresh.error).toBeNull();
        return;
      }
      expect(refresh.data).toBeNull();
      expect(refresh.error).toMatchObject({ statusCode: 401, error: 'AUTH_UNAUTHORIZED' });
    });
  });
});

/**
 * Steps where the embedded backend answers otherwise than InsForge 2.3.1, on purpose; each is
 * also in README ("Known differences from InsForge").
 */
const ENVELOPE = "the embedded backend wraps PostgREST's error {code, message, details, hint} in its error envelope (statusCode, error, nextActions beside them); InsForge passes PostgREST's body as it is";
const KNOWN_DIFFERENCES: Record<string, string> = {
  'database.single (many)': ENVELOPE,
  'database.select (unknown table)': ENVELOPE,
  'database.select (unknown column)': ENVELOPE,
  'storage.createSignedUrl': "the embedded backend signs a private bucket's URL (expiresAt is set); InsForge with local disk storage hands out its plain URL (expiresAt null), which needs credentials",
  'storage.list': "InsForge lists each object's database row too (mime_type, uploaded_at, uploaded_by, uploaded_via, etag, s3_access_key_id) and a nextActions hint; the embedded backend sends the fields the SDK's types name",
  'ai.images.generate': "the providers differ: InsForge makes images through OpenRouter's chat API (text and usage come back), the embedded backend through the provider's images API first (neither comes back)",
  'functions.invoke (unknown)': "the embedded backend answers its error envelope (error FUNCTION_NOT_FOUND); InsForge's Deno runtime answers {error: 'Function not found or not active'}",
  'auth.refreshSession (signed out)': "the embedded backend ends the session on sign-out; InsForge's logout keeps a server-side client's refresh token valid (it only clears a browser's cookie)",
  'auth.getCurrentUser (signed out)': "the embedded backend also refuses a signed-out session's access token; InsForge's stay valid until they expire",
  'database.select.gte.lt (one column)': "InsForge's proxy re-sends a repeated query key as key[] (400 42703); the embedded backend ANDs them, as PostgREST does",
};

describe.skipIf(!REAL)('the embedded backend answers the SDK as InsForge does', () => {
  it.each(DB_KINDS)('on %s: same status codes, error codes and shapes at every step, but for the known differences', (kind) => {
    const embedded = answers.get(kind)!;
    const insforge = answers.get('insforge')!;
    expect([...embedded.keys()].sort()).toEqual([...insforge.keys()].sort());
    const differing = [...insforge.keys()].filter((step) => JSON.stringify(embedded.get(step)) !== JSON.stringify(insforge.get(step)));
    const unexplained = Object.fromEntries(differing.filter((step) => !KNOWN_DIFFERENCES[step]).map((step) => [step, { embedded: embedded.get(step), insforge: insforge.get(step) }]));
    expect(unexplained, JSON.stringify(unexplained, null, 1)).toEqual({});
    // a difference that went away must leave the list (and README) too
    expect(Object.keys(KNOWN_DIFFERENCES).filter((step) => !differing.includes(step))).toEqual([]);
  });
});

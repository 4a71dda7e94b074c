/**
 * The InsForge v2 routes of the embedded backend at the HTTP level: the shapes the reference
 * (../shared/reference/insforge-v2-api.md) shows, the refresh-token rules, and the tables admin.
 * The SDK's view of the same routes is in sdk-contract.test.ts.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { DB_KINDS, sql, startTestBackend, TEST_ANON_KEY, TEST_API_KEY, type ApiResponse, type TestBackend } from '../support/backend.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const CSRF = /^[0-9a-f]{64}$/;
const PASSWORD = 'secure_password123';

const bearer = (token: string) => ({ key: 'none' as const, headers: { authorization: `Bearer ${token}` } });
const anon = bearer(TEST_ANON_KEY);
/** The refresh cookie's value from a response's Set-Cookie header. */
const refreshCookieOf = (res: ApiResponse) => /insforge_refresh_token=([^;]*)/.exec(res.headers.get('set-cookie') ?? '')?.[1];

describe.each(DB_KINDS)('InsForge v2 routes on %s', (kind) => {
  let b: TestBackend;

  const signUp = (email: string, clientType?: string, who = anon) =>
    b.api(`/api/auth/users${clientType ? `?client_type=${clientType}` : ''}`, { ...who, method: 'POST', json: { email, password: PASSWORD } });
  const signIn = (email: string, clientType?: string, password = PASSWORD) =>
    b.api(`/api/auth/sessions${clientType ? `?client_type=${clientType}` : ''}`, { key: 'none', method: 'POST', json: { email, password } });
  const refreshMobile = (json: unknown) => b.api('/api/auth/refresh?client_type=mobile', { key: 'none', method: 'POST', json });
  const current = (token: string) => b.api('/api/auth/sessions/current', bearer(token));
  const expiredToken = async (sub: string) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ email: 'x@example.com', role: 'authenticated' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(sub)
      .setIssuer('insforge-mcp')
      .setJti(crypto.randomUUID())
      .setIssuedAt(now - 7200)
      .setExpirationTime(now - 60)
      .sign(new TextEncoder().encode(b.keys.jwtSecret));
  };

  beforeAll(async () => {
    b = await startTestBackend(kind);
  });
  afterAll(async () => {
    await b?.close();
  });

  describe('sign-up and sign-in', () => {
    it('web sign-up: user, access token and CSRF token; the refresh token in an HttpOnly cookie', async () => {
      const res = await signUp('Web@Example.com');
      expect(res.status, res.text).toBe(200);
      expect(res.json).toEqual({
        user: { id: expect.stringMatching(UUID), email: 'web@example.com', emailVerified: false, createdAt: expect.any(String), updatedAt: expect.any(String), providers: ['email'], profile: {}, metadata: {} },
        accessToken: expect.stringMatching(/^eyJ/),
        requireEmailVerification: false,
        csrfToken: expect.stringMatching(CSRF),
      });
      const cookie = res.headers.get('set-cookie')!;
      expect(cookie).toMatch(/^insforge_refresh_token=[A-Za-z0-9_-]{43}; Max-Age=604800; Path=\/api\/auth; HttpOnly; SameSite=Lax$/);
    });

    it('mobile sign-up and sign-in: the refresh token in the body, no cookie', async () => {
      const up = await signUp('mobile@example.com', 'mobile');
      expect(up.status).toBe(200);
      expect(up.json).toMatchObject({ accessToken: expect.stringMatching(/^eyJ/), refreshToken: expect.any(String), requireEmailVerification: false });
      expect(up.json).not.toHaveProperty('csrfToken');
      expect(up.headers.get('set-cookie')).toBeNull();
      for (const type of ['mobile', 'desktop', 'server']) {
        const res = await signIn('mobile@example.com', type);
        expect(res.status).toBe(200);
        expect(Object.keys(res.json).sort()).toEqual(['accessToken', 'refreshToken', 'user']);
      }
    });

    it('sign-up needs a key; the admin key only creates the account (autoConfirm verifies it)', async () => {
      const none = await b.api('/api/auth/users', { key: 'none', method: 'POST', json: { email: 'nokey@example.com', password: PASSWORD } });
      expect(none.status).toBe(401);
      expect(none.json).toMatchObject({ error: 'AUTH_INVALID_CREDENTIALS', message: 'No token provided' });
      const admin = await b.api('/api/auth/users', { method: 'POST', json: { email: 'made@example.com', password: PASSWORD, autoConfirm: true } });
      expect(admin.status).toBe(200);
      expect(admin.json).toEqual({ user: expect.objectContaining({ email: 'made@example.com', emailVerified: true }), accessToken: null, requireEmailVerification: false });
      expect(admin.headers.get('set-cookie')).toBeNull();
      expect((await signIn('made@example.com')).status).toBe(200);
    });

    it('errors: duplicate 409, bad input 400, unknown client_type 400, one-time codes 400', async () => {
      await signUp('dup2@example.com');
      expect((await signUp('DUP2@example.com')).json).toMatchObject({ statusCode: 409, error: 'AUTH_EMAIL_EXISTS', message: 'User already exists' });
      expect((await b.api('/api/auth/users', { ...anon, method: 'POST', json: { email: 'not-an-email', password: PASSWORD } })).status).toBe(400);
      expect((await signUp('ct@example.com', 'fridge')).json).toMatchObject({ statusCode: 400, error: 'INVALID_INPUT' });
      const otp = await b.api('/api/auth/sessions', { key: 'none', method: 'POST', json: { method: 'otp', email: 'dup2@example.com', otp: '123456' } });
      expect(otp.status).toBe(400);
    });

    it('a wrong password and an unknown email: the same 401 AUTH_UNAUTHORIZED (the documented route keeps INVALID_CREDENTIALS)', async () => {
      await signUp('known2@example.com');
      const wrong = await signIn('known2@example.com', undefined, 'not-the-password');
      const unknown = await signIn('nobody2@example.com');
      expect(wrong.status).toBe(401);
      expect(wrong.json).toEqual(unknown.json);
      expect(wrong.json).toMatchObject({ statusCode: 401, error: 'AUTH_UNAUTHORIZED', message: 'Invalid credentials' });
      const documented = await b.api('/api/auth/signin', { key: 'none', method: 'POST', json: { email: 'known2@example.com', password: 'not-the-password' } });
      expect(documented.json).toMatchObject({ error: 'INVALID_CREDENTIALS' });
    });

    it('the open routes ignore a stale Authorization header (the SDK sends its last token everywhere)', async () => {
      const { json } = await signUp('stale@example.com', 'mobile');
      const stale = await expiredToken(json.user.id);
      const res = await b.api('/api/auth/sessions?client_type=mobile', { ...bearer(stale), method: 'POST', json: { email: 'stale@example.com', password: PASSWORD } });
      expect(res.status).toBe(200);
      expect((await b.api('/api/auth/refresh?client_type=mobile', { ...bearer(stale), method: 'POST', json: { refreshToken: res.json.refreshToken } })).status).toBe(200);
      expect((await b.api('/api/auth/public-config', bearer('garbage'))).status).toBe(200);
    });
  });

  describe('the current session', () => {
    it('GET /api/auth/sessions/current → {user} for a user token only', async () => {
      const { json } = await signUp('me@example.com', 'mobile');
      const res = await current(json.accessToken);
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ user: json.user });
      expect((await current(TEST_ANON_KEY)).status).toBe(401);
      expect((await current(TEST_API_KEY)).status).toBe(401);
    });

    it('an expired access token → 401 AUTH_UNAUTHORIZED on every route, which makes the SDK refresh', async () => {
      const { json } = await signUp('expired@example.com', 'mobile');
      const expired = await expiredToken(json.user.id);
      for (const path of ['/api/auth/sessions/current', '/api/database/records/anything', '/api/storage/buckets/any/objects', '/api/auth/user']) {
        const res = await b.api(path, bearer(expired));
        expect(res.status, path).toBe(401);
        expect(res.json, path).toMatchObject({ statusCode: 401, error: 'AUTH_UNAUTHORIZED' });
      }
    });

    it('profiles: read anyone\'s, merge into one\'s own', async () => {
      const { json } = await b.api('/api/auth/users?client_type=mobile', { ...anon, method: 'POST', json: { email: 'prof@example.com', password: PASSWORD, name: 'Prof' } });
      const patched = await b.api('/api/auth/profiles/current', { ...bearer(json.accessToken), method: 'PATCH', json: { profile: { bio: 'hi' } } });
      expect(patched.json).toEqual({ id: json.user.id, profile: { name: 'Prof', bio: 'hi' } });
      expect((await b.api(`/api/auth/profiles/${json.user.id}`, { key: 'none' })).json).toEqual({ id: json.user.id, profile: { name: 'Prof', bio: 'hi' } });
      expect((await b.api(`/api/auth/profiles/${crypto.randomUUID()}`, { key: 'none' })).status).toBe(404);
      expect((await b.api('/api/auth/profiles/not-a-uuid', { key: 'none' })).status).toBe(400);
      expect((await b.api('/api/auth/profiles/current', { ...anon, method: 'PATCH', json: { profile: {} } })).status).toBe(401);
    });

    it('public config', async () => {
      const res = await b.api('/api/auth/public-config', { key: 'none' });
      expect(res.json).toMatchObject({ requireEmailVerification: false, passwordMinLength: 6, disableSignup: false, oAuthProviders: [], verifyEmailMethod: 'code' });
    });
  });

  describe('refresh tokens', () => {
    it('mobile: rotated on each use; {refreshToken} or {refresh_token}; stored only as a hash', async () => {
      const { json } = await signUp('rot@example.com', 'mobile');
      const first = await refreshMobile({ refreshToken: json.refreshToken });
      expect(first.status).toBe(200);
      expect(first.json).toEqual({ accessToken: expect.stringMatching(/^eyJ/), user: json.user, refreshToken: expect.any(String) });
      expect(first.json.refreshToken).not.toBe(json.refreshToken);
      const second = await refreshMobile({ refresh_token: first.json.refreshToken });
      expect(second.status).toBe(200);
      expect((await current(second.json.accessToken)).status).toBe(200);
      const { rows } = await b.db.internal.query<{ token_hash: string }>('select token_hash from auth.refresh_tokens');
      const hashes = rows.map((r) => r.token_hash);
      expect(hashes).toContain(createHash('sha256').update(second.json.refreshToken).digest('hex'));
      expect(hashes).not.toContain(second.json.refreshToken);
      expect((await refreshMobile({})).json).toMatchObject({ statusCode: 400, error: 'INVALID_INPUT', message: 'refreshToken: Required' });
      expect((await refreshMobile({ refreshToken: 'not-a-token' })).json).toMatchObject({ statusCode: 401, error: 'AUTH_UNAUTHORIZED' });
    });

    it('reusing a rotated refresh token revokes the whole session', async () => {
      const { json } = await signUp('reuse@example.com', 'mobile');
      const rotated = await refreshMobile({ refreshToken: json.refreshToken });
      expect(rotated.status).toBe(200);
      const replay = await refreshMobile({ refreshToken: json.refreshToken });
      expect(replay.status).toBe(401);
      expect((await refreshMobile({ refreshToken: rotated.json.refreshToken })).status).toBe(401);
      expect((await current(rotated.json.accessToken)).status).toBe(401);
      expect((await current(json.accessToken)).status).toBe(401);
      // other sessions of the same user are not touched
      const other = await signIn('reuse@example.com', 'mobile');
      expect((await current(other.json.accessToken)).status).toBe(200);
    });

    it('web: the cookie and X-CSRF-Token; no cookie 401, a wrong CSRF token 403', async () => {
      const up = await signUp('cookie@example.com');
      const cookie = refreshCookieOf(up)!;
      const refresh = (headers: Record<string, string>) => b.api('/api/auth/refresh', { key: 'none', method: 'POST', headers });
      expect((await refresh({})).json).toMatchObject({ statusCode: 401, error: 'AUTH_UNAUTHORIZED', message: 'No refresh token provided' });
      expect((await refresh({ cookie: `insforge_refresh_token=${cookie}` })).json).toMatchObject({ statusCode: 403, error: 'FORBIDDEN', message: 'Invalid CSRF token' });
      expect((await refresh({ cookie: `insforge_refresh_token=${cookie}`, 'x-csrf-token': 'f'.repeat(64) })).status).toBe(403);
      const ok = await refresh({ cookie: `other=1; insforge_refresh_token=${cookie}`, 'x-csrf-token': up.json.csrfToken });
      expect(ok.status).toBe(200);
      expect(ok.json).toEqual({ accessToken: expect.stringMatching(/^eyJ/), user: up.json.user, csrfToken: expect.stringMatching(CSRF) });
      const next = refreshCookieOf(ok)!;
      expect(next).not.toBe(cookie);
      expect(ok.json.csrfToken).not.toBe(up.json.csrfToken);
      expect((await refresh({ cookie: `insforge_refresh_token=${next}`, 'x-csrf-token': ok.json.csrfToken })).status).toBe(200);
    });
  });

  describe('logout', () => {
    it('web: checks the CSRF token, ends the session and clears the cookie', async () => {
      const up = await signUp('bye@example.com');
      const cookie = `insforge_refresh_token=${refreshCookieOf(up)}`;
      const bad = await b.api('/api/auth/logout', { key: 'none', method: 'POST', headers: { cookie } });
      expect(bad.json).toMatchObject({ statusCode: 403, message: 'Invalid CSRF token' });
      const res = await b.api('/api/auth/logout', { key: 'none', method: 'POST', headers: { cookie, 'x-csrf-token': up.json.csrfToken } });
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ success: true, message: 'Logged out successfully' });
      expect(res.headers.get('set-cookie')).toMatch(/^insforge_refresh_token=; Max-Age=0; Path=\/api\/auth; HttpOnly/);
      expect((await current(up.json.accessToken)).status).toBe(401);
      expect((await b.api('/api/auth/refresh', { key: 'none', method: 'POST', headers: { cookie, 'x-csrf-token': up.json.csrfToken } })).status).toBe(401);
    });

    it('mobile: the access token (as the SDK sends it) or the refresh token in the body ends its session', async () => {
      const a = (await signUp('bye-a@example.com', 'mobile')).json;
      const res = await b.api('/api/auth/logout?client_type=mobile', { ...bearer(a.accessToken), method: 'POST' });
      expect(res.json).toEqual({ success: true, message: 'Logged out successfully' });
      expect((await current(a.accessToken)).status).toBe(401);
      expect((await refreshMobile({ refreshToken: a.refreshToken })).status).toBe(401);

      const c = (await signUp('bye-c@example.com', 'mobile')).json;
      expect((await b.api('/api/auth/logout?client_type=mobile', { key: 'none', method: 'POST', json: { refreshToken: c.refreshToken } })).status).toBe(200);
      expect((await current(c.accessToken)).status).toBe(401);
      // nothing to end is fine too
      expect((await b.api('/api/auth/logout', { key: 'none', method: 'POST' })).json).toEqual({ success: true, message: 'Logged out successfully' });
    });
  });

  describe('keys', () => {
    it('anon key and API key for admins; the deprecated anon token route', async () => {
      expect((await b.api('/api/metadata/anon-key')).json).toEqual({ anonKey: TEST_ANON_KEY });
      expect((await b.api('/api/metadata/api-key')).json).toEqual({ apiKey: TEST_API_KEY });
      expect((await b.api('/api/auth/tokens/anon', { method: 'POST' })).json).toEqual({ accessToken: TEST_ANON_KEY, message: expect.stringContaining('deprecated') });
      for (const path of ['/api/metadata/anon-key', '/api/metadata/api-key']) expect((await b.api(path, anon)).status).toBe(401);
      expect((await b.api('/api/auth/tokens/anon', { ...anon, method: 'POST' })).status).toBe(401);
    });
  });

  describe('tables admin', () => {
    const create = (json: unknown) => b.api('/api/database/tables', { method: 'POST', json });
    const col = (columnName: string, type: string, extra: Record<string, unknown> = {}) => ({ columnName, type, isNullable: true, isUnique: false, ...extra });

    it('creates a table: model types, auto columns, RLS on by default', async () => {
      const res = await create({
        tableName: 'posts',
        columns: [
          col('title', 'string', { isNullable: false }),
          col('views', 'integer', { defaultValue: '0' }),
          col('score', 'float'),
          col('published', 'boolean', { isNullable: false }),
          col('meta', 'json'),
          col('day', 'date'),
          col('at', 'datetime'),
          col('slug', 'varchar(40)', { isUnique: true }),
          col('id', 'uuid'),
        ],
      });
      expect(res.status, res.text).toBe(201);
      expect(res.json).toMatchObject({
        schemaName: 'public',
        message: 'table created successfully',
        tableName: 'posts',
        autoFields: ['id', 'created_at', 'updated_at'],
        nextActions: expect.any(String),
      });
      expect(res.json.columns.map((c: { columnName: string; sqlType: string }) => [c.columnName, c.sqlType])).toEqual([
        ['title', 'TEXT'],
        ['views', 'INTEGER'],
        ['score', 'DOUBLE PRECISION'],
        ['published', 'BOOLEAN'],
        ['meta', 'JSONB'],
        ['day', 'DATE'],
        ['at', 'TIMESTAMPTZ'],
        ['slug', 'varchar(40)'],
      ]);
      const schema = await b.api('/api/database/tables/posts/schema');
      expect(schema.status).toBe(200);
      expect(schema.json).toMatchObject({ schemaName: 'public', tableName: 'posts', foreignKeys: [], recordCount: 0 });
      const byName = Object.fromEntries(schema.json.columns.map((c: { columnName: string }) => [c.columnName, c]));
      expect(byName.id).toEqual({ columnName: 'id', type: 'uuid', isNullable: false, isPrimaryKey: true, isUnique: true, defaultValue: 'gen_random_uuid()' });
      expect(byName.title).toEqual({ columnName: 'title', type: 'string', isNullable: false, isPrimaryKey: false, isUnique: false });
      expect(byName.views).toMatchObject({ type: 'integer', defaultValue: '0' });
      expect(byName.published).toMatchObject({ type: 'boolean', defaultValue: 'false' }); // NOT NULL boolean: false by default
      expect(byName.slug).toMatchObject({ type: 'character varying(40)', isUnique: true });
      expect(byName.at).toMatchObject({ type: 'datetime' });
      expect(byName.created_at).toMatchObject({ type: 'datetime', defaultValue: 'now()' });
      // RLS is on and there is no policy: the anon key sees nothing and cannot write
      expect((await b.api('/api/database/records/posts', anon)).json).toEqual([]);
      expect((await b.api('/api/database/records/posts', { ...anon, method: 'POST', json: { title: 'x' } })).status).toBe(403);
      expect((await b.api('/api/database/tables')).json).toContain('posts');
    });

    it('updated_at follows updates (trigger); rlsEnabled: false opens the table to the anon key', async () => {
      expect((await create({ tableName: 'notes', rlsEnabled: false, columns: [col('body', 'string')] })).status).toBe(201);
      const made = await b.api('/api/database/records/notes', { key: 'anon', method: 'POST', headers: { prefer: 'return=representation' }, json: { body: 'a' } });
      expect(made.status).toBe(201);
      const [row] = made.json;
      expect(row).toMatchObject({ id: expect.stringMatching(UUID), body: 'a', created_at: expect.any(String), updated_at: row.created_at });
      await new Promise((r) => setTimeout(r, 20));
      const changed = await b.api(`/api/database/records/notes?id=eq.${row.id}`, { key: 'anon', method: 'PATCH', headers: { prefer: 'return=representation' }, json: { body: 'b' } });
      expect(new Date(changed.json[0].updated_at).getTime()).toBeGreaterThan(new Date(row.created_at).getTime());
    });

    it('foreign keys at table level', async () => {
      const res = await create({
        tableName: 'comments',
        columns: [col('post_id', 'uuid', { isNullable: false }), col('text', 'string')],
        foreignKeys: [{ referenceTable: 'posts', referenceColumns: [{ sourceColumn: 'post_id', referenceColumn: 'id' }], onDelete: 'CASCADE', onUpdate: 'NO ACTION' }],
      });
      expect(res.status, res.text).toBe(201);
      const schema = await b.api('/api/database/tables/comments/schema');
      expect(schema.json.foreignKeys).toEqual([
        { constraintName: 'comments_post_id_fkey', referenceTable: 'posts', referenceColumns: [{ sourceColumn: 'post_id', referenceColumn: 'id' }], onDelete: 'CASCADE', onUpdate: 'NO ACTION' },
      ]);
    });

    it('refuses bad input, and nothing sent reaches SQL as code', async () => {
      const cases: [unknown, number, string][] = [
        [{ tableName: 'posts', columns: [col('x', 'string')] }, 400, 'DATABASE_DUPLICATE'],
        [{ tableName: 'empty' }, 400, 'INVALID_INPUT'],
        [{ tableName: 'only_auto', columns: [col('id', 'uuid')] }, 400, 'DATABASE_VALIDATION_ERROR'],
        [{ tableName: 'bad_id', columns: [col('id', 'integer')] }, 400, 'DATABASE_VALIDATION_ERROR'],
        [{ tableName: 'x; drop table posts', columns: [col('a', 'string')] }, 400, 'INVALID_INPUT'],
        [{ tableName: 'bad_col', columns: [col('a"; drop table posts; --', 'string')] }, 400, 'INVALID_INPUT'],
        [{ tableName: 'bad_type', columns: [col('a', 'text; drop table posts')] }, 400, 'DATABASE_VALIDATION_ERROR'],
        [{ tableName: 'bad_type2', columns: [col('a', 'integer primary key')] }, 400, 'DATABASE_VALIDATION_ERROR'],
        [{ tableName: 'bad_type3', columns: [col('a', 'no_such_type')] }, 400, 'DATABASE_VALIDATION_ERROR'],
        [{ tableName: 'bad_default', columns: [col('n', 'integer', { defaultValue: '0); drop table posts; --' })] }, 400, 'INVALID_INPUT'],
        [{ tableName: 'bad_fk', columns: [col('a', 'uuid')], foreignKeys: [{ referenceTable: 'posts; drop', referenceColumns: [{ sourceColumn: 'a', referenceColumn: 'id' }] }] }, 400, 'INVALID_INPUT'],
      ];
      for (const [body, status, error] of cases) {
        const res = await create(body);
        expect(res.status, JSON.stringify(body)).toBe(status);
        expect(res.json.error, JSON.stringify(body)).toBe(error);
      }
      const quoted = await create({ tableName: 'literal_default', columns: [col('s', 'string', { defaultValue: "it's $v$ a'); drop table posts; --" })] });
      expect(quoted.status, quoted.text).toBe(201);
      const schema = await b.api('/api/database/tables/literal_default/schema');
      expect(schema.json.columns.find((c: { columnName: string }) => c.columnName === 's').defaultValue).toBe("it's $v$ a'); drop table posts; --");
      expect((await b.api('/api/database/tables')).json).toContain('posts');
      expect((await b.api('/api/database/tables', anon)).status).toBe(401);
      expect((await b.api('/api/database/tables?schema=auth')).status).toBe(400);
    });

    it('alters a table: columns, defaults, renames, foreign keys; reports each operation', async () => {
      await create({ tableName: 'items', rlsEnabled: false, columns: [col('name', 'string'), col('old', 'integer'), col('owner', 'uuid')] });
      const res = await b.api('/api/database/tables/items/schema', {
        method: 'PATCH',
        json: {
          addColumns: [col('tags', 'json'), col('qty', 'integer', { isNullable: false, defaultValue: '1' })],
          dropColumns: ['old'],
          updateColumns: [{ columnName: 'name', defaultValue: 'unnamed', newColumnName: 'title' }],
          addForeignKeys: [{ referenceTable: 'posts', referenceColumns: [{ sourceColumn: 'owner', referenceColumn: 'id' }], onDelete: 'SET NULL', onUpdate: 'NO ACTION' }],
        },
      });
      expect(res.status, res.text).toBe(200);
      expect(res.json).toEqual({
        schemaName: 'public',
        message: 'table schema updated successfully',
        tableName: 'items',
        operations: ['Dropped column: old', 'Updated column: name', 'Added column: tags', 'Added column: qty', 'Added foreign key: items_owner_fkey'],
      });
      const row = await b.api('/api/database/records/items', { key: 'anon', method: 'POST', headers: { prefer: 'return=representation' }, json: {} });
      expect(row.json[0]).toMatchObject({ title: 'unnamed', qty: 1, tags: null });
      const dropFk = await b.api('/api/database/tables/items/schema', { method: 'PATCH', json: { dropForeignKeys: ['items_owner_fkey'], renameTable: { newTableName: 'things' } } });
      expect(dropFk.json.operations).toEqual(['Dropped foreign key: items_owner_fkey', 'Renamed table from items to things']);
      expect((await b.api('/api/database/records/things', anon)).json).toHaveLength(1);
      expect((await b.api('/api/database/records/items', anon)).status).toBe(404);
      expect((await b.api('/api/database/tables/things/schema', { method: 'PATCH', json: { dropColumns: ['created_at'] } })).status).toBe(400);
      expect((await b.api('/api/database/tables/nope/schema', { method: 'PATCH', json: { dropColumns: ['a'] } })).json).toMatchObject({ statusCode: 404, error: 'DATABASE_NOT_FOUND', message: 'table not found' });
      expect((await b.api('/api/database/tables/nope/schema')).json).toMatchObject({ statusCode: 404, error: 'DATABASE_NOT_FOUND' });
    });

    it('deletes a table (200 even when it does not exist)', async () => {
      const res = await b.api('/api/database/tables/things', { method: 'DELETE' });
      expect(res.json).toEqual({ schemaName: 'public', message: 'table deleted successfully', tableName: 'things', nextActions: expect.any(String) });
      expect((await b.api('/api/database/records/things', anon)).status).toBe(404);
      expect((await b.api('/api/database/tables/things', { method: 'DELETE' })).status).toBe(200);
    });
  });

  describe('records', () => {
    it('a schema other than public, by parameter or profile header → PGRST106', async () => {
      await sql(b, 'create table if not exists open_rows (id int primary key)');
      expect((await b.api('/api/database/records/open_rows', { key: 'anon', headers: { 'accept-profile': 'public' } })).status).toBe(200);
      const other = await b.api('/api/database/records/open_rows', { key: 'anon', headers: { 'accept-profile': 'auth' } });
      expect(other.status).toBe(406);
      expect(other.json).toMatchObject({ code: 'PGRST106' });
      expect((await b.api('/api/database/records/open_rows', { key: 'anon', method: 'POST', headers: { 'content-profile': 'auth' }, json: { id: 1 } })).status).toBe(406);
    });
  });

  describe('storage strategies', () => {
    beforeAll(async () => {
      expect((await b.api('/api/storage/buckets', { method: 'POST', json: { bucketName: 'vault', isPublic: false } })).status).toBe(201);
      const fd = new FormData();
      fd.append('file', new Blob(['secret']), 'a.txt');
      const put = await fetch(`${b.url}/api/storage/buckets/vault/objects/dir%2Fa.txt`, { method: 'PUT', headers: { authorization: `Bearer ${TEST_API_KEY}` }, body: fd });
      expect(put.status).toBe(200);
    });

    it('upload strategy: a direct PUT URL of our own object route', async () => {
      const res = await b.api('/api/storage/buckets/vault/upload-strategy', { method: 'POST', json: { filename: 'dir/new file.txt', contentType: 'text/plain', size: 3 } });
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ method: 'direct', uploadUrl: `${b.url}/api/storage/buckets/vault/objects/dir%2Fnew%20file.txt`, key: 'dir/new file.txt', confirmRequired: false });
      expect((await b.api('/api/storage/buckets/vault/upload-strategy', { ...anon, method: 'POST', json: { filename: 'x.txt' } })).status).toBe(403);
      expect((await b.api('/api/storage/buckets/vault/upload-strategy', { method: 'POST', json: { filename: '../x.txt' } })).status).toBe(400);
      expect((await b.api('/api/storage/buckets/vault/upload-strategy', { method: 'POST', json: { filename: 'big.bin', size: 1e12 } })).status).toBe(413);
      expect((await b.api('/api/storage/buckets/nope/upload-strategy', { method: 'POST', json: { filename: 'x.txt' } })).status).toBe(404);
    });

    it('download strategy (GET, and the older POST): a private file as a signed URL, not cached; 404 for a missing object', async () => {
      const url = `${b.url}/api/storage/buckets/vault/objects/dir%2Fa.txt`;
      const signed = { method: 'presigned', url: expect.stringMatching(/\?expires=\d+&signature=[\w-]+$/), expiresAt: expect.any(String) };
      const get = await b.api('/api/storage/buckets/vault/download-strategy/objects/dir%2Fa.txt?expiresIn=600');
      expect(get.status).toBe(200);
      expect(get.json).toEqual(signed);
      expect((get.json as { url: string }).url.startsWith(`${url}?`)).toBe(true);
      const lifetime = Date.parse((get.json as { expiresAt: string }).expiresAt) - Date.now();
      expect(lifetime).toBeGreaterThan(500_000);
      expect(lifetime).toBeLessThanOrEqual(601_000);
      expect(get.headers.get('cache-control')).toBe('no-store');
      // the signed URL needs no credentials
      expect((await fetch((get.json as { url: string }).url)).status).toBe(200);
      expect((await b.api('/api/storage/buckets/vault/objects/dir%2Fa.txt/download-strategy', { method: 'POST', json: {} })).json).toEqual(signed);
      expect((await b.api('/api/storage/buckets/vault/download-strategy/objects/missing.txt')).json).toMatchObject({ statusCode: 404, error: 'STORAGE_NOT_FOUND' });
      expect((await b.api('/api/storage/buckets/vault/download-strategy/objects/dir%2Fa.txt', anon)).status).toBe(403);
      expect((await b.api('/api/storage/buckets/vault/objects/dir%2Fa.txt', { method: 'POST', json: {} })).status).toBe(404);
    });
  });
});

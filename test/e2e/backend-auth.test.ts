import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { DB_KINDS, sql, startTestBackend, type TestBackend } from '../support/backend.js';
import { TokenService } from '../../src/backend/auth/tokens.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe.each(DB_KINDS)('auth on %s', (kind) => {
  let b: TestBackend;
  const user = (token: string) => ({ key: 'none' as const, headers: { authorization: `Bearer ${token}` } });
  const signUp = (email: string, password = 'secure_password123', name?: string) => b.api('/api/auth/signup', { key: 'none', method: 'POST', json: { email, password, ...(name ? { name } : {}) } });
  const signIn = (email: string, password = 'secure_password123') => b.api('/api/auth/signin', { key: 'none', method: 'POST', json: { email, password } });

  beforeAll(async () => {
    b = await startTestBackend(kind);
  });
  afterAll(async () => {
    await b?.close();
  });

  describe('seed examples', () => {
    let token: string;

    it('signs up', async () => {
      const res = await signUp('User@Example.com', 'secure_password123', 'John Doe');
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({
        user: { id: expect.stringMatching(UUID), email: 'user@example.com', emailVerified: false, profile: { name: 'John Doe' } },
        accessToken: expect.stringMatching(/^eyJ/),
        requireEmailVerification: false,
      });
    });

    it('signs in with the password', async () => {
      const res = await signIn('user@example.com');
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ user: { email: 'user@example.com' }, accessToken: expect.stringMatching(/^eyJ/) });
      token = res.json.accessToken;
      const [, payload] = token.split('.');
      const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
      expect(claims).toMatchObject({ sub: res.json.user.id, email: 'user@example.com', role: 'authenticated', exp: expect.any(Number) });
    });

    it('gets the current user with profile', async () => {
      const res = await b.api('/api/auth/user', user(token));
      expect(res.status).toBe(200);
      expect(res.json.user).toMatchObject({ email: 'user@example.com', profile: { name: 'John Doe' } });
    });

    it('signs out, after which the token is refused', async () => {
      const res = await b.api('/api/auth/signout', { ...user(token), method: 'POST' });
      expect(res.status).toBe(200);
      const after = await b.api('/api/auth/user', user(token));
      expect(after.status).toBe(401);
      expect(after.json).toMatchObject({ statusCode: 401, nextActions: expect.any(String) });
      expect((await b.api('/api/db/nothing', user(token))).status).toBe(401);
    });
  });

  describe('errors', () => {
    it('duplicate email → 409', async () => {
      await signUp('dup@example.com');
      const res = await signUp('DUP@example.com');
      expect(res.status).toBe(409);
      expect(res.json).toMatchObject({ statusCode: 409, error: 'AUTH_EMAIL_EXISTS', nextActions: expect.any(String) });
    });

    it('wrong password and unknown email get the same 401 INVALID_CREDENTIALS', async () => {
      await signUp('known@example.com');
      const wrong = await signIn('known@example.com', 'not-the-password');
      const unknown = await signIn('nobody@example.com', 'whatever-password');
      expect(wrong.status).toBe(401);
      expect(wrong.json).toEqual(unknown.json);
      expect(wrong.json).toMatchObject({ statusCode: 401, error: 'INVALID_CREDENTIALS', nextActions: expect.any(String) });
    });

    it.each([
      [{ email: 'not-an-email', password: 'secure_password123' }, 'AUTH_INVALID_EMAIL'],
      [{ email: 'weak@example.com', password: '123' }, 'AUTH_WEAK_PASSWORD'],
      [{ email: 'x@example.com' }, 'AUTH_WEAK_PASSWORD'],
      [{ email: 'x@example.com', password: 'secure_password123', name: 42 }, 'INVALID_INPUT'],
    ])('malformed sign-up %j → 400', async (body, code) => {
      const res = await b.api('/api/auth/signup', { key: 'none', method: 'POST', json: body });
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({ error: code, nextActions: expect.any(String) });
    });

    it('forged and expired tokens → 401', async () => {
      const { json } = await signUp('tokens@example.com');
      const forged = await new SignJWT({ email: 'tokens@example.com', role: 'authenticated' })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(json.user.id)
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode('not-the-secret'));
      expect((await b.api('/api/auth/user', user(forged))).status).toBe(401);
      const expired = await new SignJWT({ email: 'tokens@example.com', role: 'authenticated' })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(json.user.id)
        .setIssuer('insforge-mcp')
        .setJti(crypto.randomUUID())
        .setIssuedAt(Math.floor(Date.now() / 1000) - 7200)
        .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
        .sign(new TextEncoder().encode(b.keys.jwtSecret));
      expect((await b.api('/api/auth/user', user(expired))).status).toBe(401);
      const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: json.user.id })).toString('base64url')}.`;
      expect((await b.api('/api/auth/user', user(none))).status).toBe(401);
    });

    it('rate limits failed sign-ins per email', async () => {
      await signUp('victim@example.com');
      const statuses: number[] = [];
      for (let i = 0; i < 11; i++) statuses.push((await signIn('victim@example.com', `guess-${i}-wrong`)).status);
      expect(statuses.slice(0, 10).every((s) => s === 401)).toBe(true);
      const limited = await signIn('victim@example.com');
      expect(limited.status).toBe(429);
      expect(limited.headers.get('retry-after')).not.toBeNull();
    });

    it('stores only a scrypt hash, which not even the admin key can read', async () => {
      await signUp('clear@example.com', 'a-very-distinct-password');
      const { rows } = await b.db.internal.query<{ password_hash: string }>('select password_hash from auth.users where email = $1', ['clear@example.com']);
      expect(rows[0]!.password_hash).toMatch(/^scrypt\$/);
      expect(rows[0]!.password_hash).not.toContain('a-very-distinct-password');
      const viaAdmin = await b.api('/api/database/advance/rawsql', { method: 'POST', json: { query: 'select password_hash from auth.users' } });
      expect(viaAdmin.status).toBe(403);
      const safe = await sql(b, "select email, profile from auth.users where email = 'clear@example.com'");
      expect(safe.rows).toEqual([{ email: 'clear@example.com', profile: {} }]);
    });
  });

  it('deletes sessions no token can use any more, and expired refresh tokens; live ones stay usable', async () => {
    const signedUp = await signUp('purge@example.com');
    const live = signedUp.json.accessToken as string;
    const userId = signedUp.json.user.id as string;
    const ids = { expired: crypto.randomUUID(), revoked: crypto.randomUUID(), current: crypto.randomUUID() };
    await b.db.internal.query("INSERT INTO auth.sessions (id, user_id, expires_at) VALUES ($1, $4, now() - interval '1 minute'), ($2, $4, now() + interval '1 hour'), ($3, $4, now() + interval '1 hour')", [ids.expired, ids.revoked, ids.current, userId]);
    await b.db.internal.query('UPDATE auth.sessions SET revoked_at = now() WHERE id = $1', [ids.revoked]);
    await b.db.internal.query("INSERT INTO auth.refresh_tokens (token_hash, session_id, expires_at) VALUES ('old', $1, now() - interval '1 minute'), ('fresh', $1, now() + interval '1 day'), ('of-revoked', $2, now() + interval '1 day')", [ids.current, ids.revoked]);

    expect(await new TokenService(b.keys.jwtSecret, b.db.internal).purgeUnusable()).toBeGreaterThanOrEqual(2);
    const left = await b.db.internal.query<{ id: string }>('SELECT id FROM auth.sessions WHERE id = ANY($1::uuid[])', [Object.values(ids)]);
    expect(left.rows.map((r) => r.id)).toEqual([ids.current]);
    const tokens = await b.db.internal.query<{ token_hash: string }>("SELECT token_hash FROM auth.refresh_tokens WHERE token_hash IN ('old', 'fresh', 'of-revoked')");
    expect(tokens.rows.map((r) => r.token_hash)).toEqual(['fresh']);
    expect((await b.api('/api/auth/user', user(live))).status).toBe(200);
  });

  describe('row-level security with auth.uid()', () => {
    let alice: string;
    let bob: string;

    beforeAll(async () => {
      await sql(
        b,
        `create table todos (
           id bigint generated always as identity primary key,
           user_id uuid not null default auth.uid() references auth.users(id),
           title text not null);
         alter table todos enable row level security;
         create policy todos_select on todos for select to authenticated using (user_id = auth.uid());
         create policy todos_insert on todos for insert to authenticated with check (user_id = auth.uid());
         create policy todos_update on todos for update to authenticated using (user_id = auth.uid());
         create policy todos_delete on todos for delete to authenticated using (user_id = auth.uid());`,
      );
      alice = (await signUp('alice@example.com')).json.accessToken;
      bob = (await signUp('bob@example.com')).json.accessToken;
    });

    it('user A inserts and reads its own rows, owned by auth.uid()', async () => {
      const me = (await b.api('/api/auth/user', user(alice))).json.user.id;
      const ins = await b.api('/api/db/todos', { ...user(alice), method: 'POST', headers: { ...user(alice).headers, Prefer: 'return=representation' }, json: [{ title: 'a1' }, { title: 'a2' }] });
      expect(ins.status, ins.text).toBe(201);
      expect(ins.json.every((t: { user_id: string }) => t.user_id === me)).toBe(true);
      const mine = await b.api('/api/db/todos?select=title&order=title', user(alice));
      expect(mine.json).toEqual([{ title: 'a1' }, { title: 'a2' }]);
    });

    it("user B sees none of A's rows and cannot change or delete them", async () => {
      expect((await b.api('/api/db/todos', user(bob))).json).toEqual([]);
      const upd = await b.api('/api/db/todos?title=eq.a1', { ...user(bob), method: 'PATCH', headers: { ...user(bob).headers, Prefer: 'return=representation' }, json: { title: 'hacked' } });
      expect(upd.json).toEqual([]);
      const del = await b.api('/api/db/todos?title=eq.a2', { ...user(bob), method: 'DELETE', headers: { ...user(bob).headers, Prefer: 'return=representation' } });
      expect(del.json).toEqual([]);
      const forged = await b.api('/api/db/todos', { ...user(bob), method: 'POST', json: { title: 'as alice', user_id: (await b.api('/api/auth/user', user(alice))).json.user.id } });
      expect(forged.status).toBe(403);
      const all = await sql(b, 'select title from todos order by title');
      expect(all.rows).toEqual([{ title: 'a1' }, { title: 'a2' }]);
    });

    it('the anon key sees nothing', async () => {
      expect((await b.api('/api/db/todos', { key: 'anon' })).json).toEqual([]);
    });
  });
});

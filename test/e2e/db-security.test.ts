/**
 * Database isolation (issue 13), on PGlite and on Postgres: no statement reaches the superuser, no
 * session state outlives a request, casts are types and nothing else, a statement past the timeout
 * ends without freezing anything, the data dir is private, deep JSON is refused.
 * Every attempt is counted; the suite prints `FIGURE db-security: attempts tried N, held N`.
 */
import { chmod, cp, mkdtemp, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { DB_KINDS, sql, startTestBackend, type ApiResponse, type TestBackend } from '../support/backend.js';

const tally = { tried: 0, held: 0 };

/** One attempt: it holds when the check passes; a failing check fails its test too. */
async function attempt(check: () => Promise<void>): Promise<void> {
  tally.tried++;
  await check();
  tally.held++;
}

afterAll(() => {
  process.stdout.write(`FIGURE db-security: attempts tried ${tally.tried}, held ${tally.held}\n`);
});

const rawsql = (b: TestBackend, query: string, opts: { readOnly?: boolean; params?: unknown[] } = {}) =>
  b.api('/api/database/advance/rawsql', { method: 'POST', json: { query, ...(opts.params ? { params: opts.params } : {}), ...(opts.readOnly ? { readOnly: true } : {}) } });

const anon = { key: 'anon' as const };

/** A refusal: an error status, and none of the secret text in the answer. */
function refused(res: ApiResponse, ...secrets: string[]) {
  expect(res.status, res.text).toBeGreaterThanOrEqual(400);
  for (const s of secrets) expect(res.text).not.toContain(s);
}

describe.each(DB_KINDS)('database isolation on %s', (kind) => {
  let b: TestBackend;
  let hash: string;

  beforeAll(async () => {
    b = await startTestBackend(kind);
    const signup = await b.api('/api/auth/signup', { method: 'POST', key: 'anon', json: { email: 'victim@example.com', password: 'correct horse battery' } });
    expect(signup.status, signup.text).toBeLessThan(300);
    // the hash as stored, read by the backend itself: the secret no request may see
    hash = (await b.db.internal.query<{ password_hash: string }>('SELECT password_hash FROM auth.users WHERE email = $1', ['victim@example.com'])).rows[0]!.password_hash;
    expect(hash.length).toBeGreaterThan(20);
    await sql(b, `create table open_t (name text);
                  insert into open_t values ('a');
                  create table loot (what text);`);
  });
  afterAll(() => b?.close());

  describe('no statement reaches the superuser', () => {
    const escapes: [string, string][] = [
      ['RESET ROLE', 'reset role; select current_user, email, password_hash from auth.users'],
      ['SET ROLE', 'set role postgres; select email, password_hash from auth.users'],
      ["set_config('role')", "select set_config('role', 'postgres', true), (select string_agg(password_hash, ',') from auth.users)"],
      ['SET SESSION AUTHORIZATION', 'set session authorization postgres; select password_hash from auth.users'],
      ['RESET SESSION AUTHORIZATION', 'reset session authorization; select password_hash from auth.users'],
      ['DO block', "do $$ begin execute 'reset role'; insert into loot select password_hash from auth.users; end $$"],
      ['function', "create function esc_f() returns text language plpgsql as $$ begin execute 'reset role'; return (select string_agg(password_hash, ',') from auth.users); end $$; select esc_f()"],
      ['SECURITY DEFINER function', "create function esc_d() returns text language plpgsql security definer as $$ begin perform set_config('role', 'postgres', true); return current_user; end $$; select esc_d()"],
      ['the password hashes directly', 'select password_hash from auth.users'],
      ['a server file', "select pg_read_file('/etc/passwd')"],
      ['the data directory', "select pg_ls_dir('.')"],
      ['a large-object import', "select lo_import('/etc/passwd')"],
      ['COPY to a file', "copy (select 1) to '/tmp/insforge-escape.txt'"],
      ['a superuser role', 'create role esc_super superuser'],
      ['own superuser', 'alter role project_admin superuser'],
      ['a built-in operator', "create or replace function pg_catalog.texteq(text, text) returns boolean language sql as $$ select true $$"],
      ['the boundary function', 'alter function insforge_boundary.run_project_admin(text[], text[], boolean) security invoker'],
      ['the backend settings', 'select * from insforge_internal.settings'],
    ];
    for (const [name, query] of escapes) {
      it(`run-sql refuses: ${name}`, () =>
        attempt(async () => {
          const res = await rawsql(b, query);
          refused(res, hash);
          expect(res.text).not.toMatch(/"current_user":"postgres"/);
        }));
    }

    it('run-sql in --read-only mode refuses the one-statement escape', () =>
      attempt(async () => {
        const res = await rawsql(b, "select set_config('role','postgres',true), query_to_xml('select email,password_hash from auth.users',true,false,'')", { readOnly: true });
        refused(res, hash);
      }));

    it('run-sql acts as project_admin, which is not a superuser', () =>
      attempt(async () => {
        const res = await sql(b, 'select current_user as who, (select rolsuper from pg_roles where rolname = current_user) as super, (select rolsuper from pg_roles where rolname = session_user) as session_super');
        expect(res.rows[0]).toMatchObject({ who: 'project_admin', super: false });
        // on Postgres the session itself is a login role without privileges of its own
        if (kind === 'postgres') {
          expect(res.rows[0]!.session_super).toBe(false);
          // …and a member of no role: it calls the boundary functions, nothing else
          const roles = await sql(b, 'select count(*)::int as n from pg_auth_members m join pg_roles r on r.oid = m.member where r.rolname = session_user');
          expect(roles.rows[0]!.n).toBe(0);
        }
      }));

    it('a function the admin planted does not lift an anon RPC to the superuser', () =>
      attempt(async () => {
        await sql(b, `create function public.escalate() returns text language plpgsql as $$
                        begin execute 'reset role'; insert into public.loot select password_hash from auth.users; return current_user; end $$;
                      grant execute on function public.escalate() to anon`);
        const res = await b.api('/api/db/rpc/escalate', { method: 'POST', ...anon, json: {} });
        refused(res, hash);
        expect((await sql(b, 'select count(*)::int as n from loot')).rows[0]!.n).toBe(0);
      }));

    it('a trigger the admin planted does not lift an anon insert', () =>
      attempt(async () => {
        await sql(b, `create function public.esc_trigger() returns trigger language plpgsql as $$
                        begin perform set_config('role', 'postgres', true); insert into public.loot select password_hash from auth.users; return new; end $$;
                      create table trapped (name text);
                      create trigger trap before insert on trapped for each row execute function public.esc_trigger()`);
        const res = await b.api('/api/db/trapped', { method: 'POST', ...anon, json: { name: 'x' } });
        refused(res, hash);
        expect((await sql(b, 'select (select count(*) from loot)::int as loot, (select count(*) from trapped)::int as rows')).rows[0]).toEqual({ loot: 0, rows: 0 });
      }));

    it('a deferred constraint trigger cannot wait for COMMIT, outside the boundary', () =>
      attempt(async () => {
        await sql(b, `create function public.esc_late() returns trigger language plpgsql as $$
                        begin execute 'reset role'; insert into public.loot select password_hash from auth.users; return null; end $$;
                      create table deferred_t (name text);
                      create constraint trigger late after insert on deferred_t deferrable initially deferred for each row execute function public.esc_late()`);
        const res = await b.api('/api/db/deferred_t', { method: 'POST', ...anon, json: { name: 'x' } });
        refused(res, hash);
        expect((await sql(b, 'select (select count(*) from loot)::int as loot, (select count(*) from deferred_t)::int as rows')).rows[0]).toEqual({ loot: 0, rows: 0 });
      }));
  });

  describe('nothing outlives a request', () => {
    const check = async (query: string) => (await sql(b, query)).rows[0] as Record<string, unknown>;

    it('a session default set to read-only does not stop the next insert or sign-up', () =>
      attempt(async () => {
        await sql(b, "select set_config('default_transaction_read_only', 'on', false)");
        const insert = await b.api('/api/db/open_t', { method: 'POST', ...anon, json: { name: 'after' } });
        expect(insert.status, insert.text).toBe(201);
        const signup = await b.api('/api/auth/signup', { method: 'POST', key: 'anon', json: { email: 'next@example.com', password: 'another good password' } });
        expect(signup.status, signup.text).toBeLessThan(300);
      }));

    it('in --read-only mode nothing is written and settings are rolled back', () =>
      attempt(async () => {
        const write = await rawsql(b, "insert into open_t values ('ro')", { readOnly: true });
        expect(write.json).toMatchObject({ code: '25006' });
        await rawsql(b, "select set_config('default_transaction_read_only', 'on', false), set_config('search_path', 'pg_temp', false)", { readOnly: true });
        expect((await b.api('/api/db/open_t', { method: 'POST', ...anon, json: { name: 'after-ro' } })).status).toBe(201);
        expect(await check("select count(*)::int as n from open_t where name = 'ro'")).toEqual({ n: 0 });
      }));

    const leftovers: [string, string, string, unknown][] = [
      ['search_path', "select set_config('search_path', 'pg_temp', false)", "select current_setting('search_path') as v", '"$user", public'],
      ['a setting', "select set_config('statement_timeout', '1', false)", "select current_setting('statement_timeout') <> '1' as v", true],
      ['a prepared statement', 'prepare leftover_p as select 1', "select count(*)::int as v from pg_prepared_statements where name = 'leftover_p'", 0],
      ['LISTEN', 'listen leftover_channel', "select count(*)::int as v from pg_listening_channels() c where c = 'leftover_channel'", 0],
      ['an advisory lock', 'select pg_advisory_lock(4242)', "select count(*)::int as v from pg_locks where locktype = 'advisory' and objid = 4242", 0],
      ['a temp table', 'create temp table leftover_t (x int)', "select to_regclass('pg_temp.leftover_t') is null as v", true],
    ];
    for (const [name, set, read, clean] of leftovers) {
      it(`${name} does not outlive its request`, () =>
        attempt(async () => {
          expect((await rawsql(b, set)).status).toBeLessThan(300);
          // several times: on Postgres each request may take another pooled connection
          for (let i = 0; i < 3; i++) expect((await check(read)).v).toEqual(clean);
        }));
    }

    it('a cursor WITH HOLD cannot be left open', () =>
      attempt(async () => {
        await rawsql(b, 'declare leftover_c cursor with hold for select 1');
        expect(await check("select count(*)::int as v from pg_cursors where name = 'leftover_c'")).toEqual({ v: 0 });
      }));
  });

  describe('casts are types, nothing else', () => {
    const injections = [
      'name::text from open_t _t union select session_user union select name',
      'name::text from pg_settings union select name',
      'name::text\nfrom open_t',
      'name::int4 --',
      'name::text)',
      'name::text/**/from open_t',
      'name::"text"',
      'name::text union select current_user',
      'name::double  precision',
      'name::varchar(3) x',
    ];
    for (const select of injections) {
      it(`GET with select=${JSON.stringify(select)} is a 400 PGRST100`, () =>
        attempt(async () => {
          const res = await b.api(`/api/db/open_t?select=${encodeURIComponent(select)}`, anon);
          expect(res.status, res.text).toBe(400);
          expect(res.json.code).toBe('PGRST100');
          expect(res.text).not.toContain('"name":"postgres"');
        }));
    }

    it('POST with return=representation refuses the same cast', () =>
      attempt(async () => {
        const res = await b.api(`/api/db/open_t?select=${encodeURIComponent(injections[0]!)}`, { method: 'POST', ...anon, headers: { prefer: 'return=representation' }, json: { name: 'c' } });
        expect(res.status).toBe(400);
        expect(res.json.code).toBe('PGRST100');
        expect(await sql(b, "select count(*)::int as n from open_t where name = 'c'")).toMatchObject({ rows: [{ n: 0 }] });
      }));

    it('type names a caller may use still work', async () => {
      await sql(b, "create table casts_t (n numeric, at timestamptz); insert into casts_t values (1.5, '2026-01-02T03:04:05Z')");
      const res = await b.api(`/api/db/casts_t?select=${encodeURIComponent('n::text,half:n::double precision,at::timestamp with time zone,whole:n::int4,qualified:n::pg_catalog.int4,total:n::pg_catalog.int4.sum()')}`, anon);
      expect(res.status, res.text).toBe(200);
      expect(res.json[0]).toMatchObject({ n: '1.5', half: 1.5, whole: 2, qualified: 2, total: 2 });
      const unknown = await b.api(`/api/db/casts_t?select=${encodeURIComponent('n::no_such_type')}`, anon);
      expect(unknown.status).toBe(400);
    });
  });

  it('a JSON body nested 5,000 deep is a 400, not a crash', () =>
    attempt(async () => {
      await sql(b, 'create table deep_t (data jsonb)');
      const arrays = `${'['.repeat(5000)}${']'.repeat(5000)}`;
      const objects = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
      for (const body of [`{"data": ${arrays}}`, `{"data": ${objects}}`, arrays]) {
        const res = await b.api('/api/db/deep_t', { method: 'POST', ...anon, headers: { 'content-type': 'application/json' }, body });
        expect(res.status, res.text).toBe(400);
        expect(res.json.error).toBe('INVALID_INPUT');
      }
      expect((await sql(b, 'select count(*)::int as n from deep_t')).rows[0]).toEqual({ n: 0 });
    }));
});

describe.each(DB_KINDS)('the statement timeout on %s', (kind) => {
  let b: TestBackend;
  beforeAll(async () => {
    b = await startTestBackend(kind, { backend: { statementTimeoutMs: 3000 } });
    await sql(b, `create table kept (n int); insert into kept values (1), (2);
                  create function public.slow() returns int language sql as $$ select 1 from pg_sleep(10) $$;
                  grant execute on function public.slow() to anon`);
  });
  afterAll(() => b?.close());

  it('ends a statement past it with 57014, while the backend keeps answering; committed data is intact', () =>
    attempt(async () => {
      const sleeping = rawsql(b, 'select pg_sleep(10)');
      let sleepDone = false;
      void sleeping.then(() => (sleepDone = true));
      await new Promise((r) => setTimeout(r, 300));
      const health = await b.api('/api/health');
      expect(health.status).toBe(200);
      expect(sleepDone, 'the health check waited for the statement').toBe(false);
      // a read waits at most for the timeout, not for the statement
      const read = await b.api('/api/db/kept?select=n&order=n', anon);
      expect(read.status, read.text).toBe(200);
      expect(read.json).toEqual([{ n: 1 }, { n: 2 }]);
      const res = await sleeping;
      expect(res.status, res.text).toBe(504);
      expect(res.json).toMatchObject({ code: '57014', nextActions: expect.any(String) });
    }));

  it('ends an anon RPC past it, and the next request works', () =>
    attempt(async () => {
      const res = await b.api('/api/db/rpc/slow', { method: 'POST', ...anon, json: {} });
      expect(res.status, res.text).toBe(504);
      expect(res.json.code).toBe('57014');
      const after = await b.api('/api/db/kept?select=n&order=n', anon);
      expect(after.json).toEqual([{ n: 1 }, { n: 2 }]);
    }));
});

describe('the data dir is private', () => {
  it('an existing 0755 data dir with 0666 files becomes 0700 / 0600 on start', () =>
    attempt(async () => {
      const dir = await mkdtemp(join(inject('testRoot'), 'modes-'));
      await cp(inject('templateDataDir'), dir, { recursive: true });
      const walk = async (path: string, fn: (p: string, isDir: boolean) => Promise<void>): Promise<void> => {
        for (const e of await readdir(path, { withFileTypes: true })) {
          const p = join(path, e.name);
          await fn(p, e.isDirectory());
          if (e.isDirectory()) await walk(p, fn);
        }
      };
      await chmod(dir, 0o755);
      await walk(dir, (p, isDir) => chmod(p, isDir ? 0o755 : 0o666));
      await writeFile(join(dir, 'pgdata', 'stray.txt'), 'x', { mode: 0o666 });
      await chmod(join(dir, 'pgdata', 'stray.txt'), 0o666);
      const b = await startTestBackend('pglite', { dataDir: dir });
      try {
        const open: string[] = [];
        expect((await stat(dir)).mode & 0o777).toBe(0o700);
        await walk(join(dir, 'pgdata'), async (p) => {
          if (((await stat(p)).mode & 0o077) !== 0) open.push(p);
        });
        expect(open).toEqual([]);
        expect((await stat(join(dir, 'keys.json'))).mode & 0o777).toBe(0o600);
      } finally {
        await b.close();
      }
    }));
});

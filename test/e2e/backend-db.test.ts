import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS, sql, startTestBackend, TEST_ANON_KEY, type TestBackend } from '../support/backend.js';

/** The seed's database curl examples, and the rest of the grammar, against the embedded backend. */
describe.each(DB_KINDS)('database REST API on %s', (kind) => {
  let b: TestBackend;

  beforeAll(async () => {
    b = await startTestBackend(kind);
    await sql(
      b,
      `create table posts (
         id text primary key default gen_random_uuid()::text,
         title text not null, content text, user_id text,
         created_at timestamptz not null default now(), updated_at timestamptz);
       create table products (id serial primary key, name text unique, price numeric, stock int, status text, priority int, deleted_at timestamptz);
       insert into posts (id, title, content, user_id, created_at) values
         ('123', 'Hello World', 'My first post', '123', '2024-01-15T10:00:00Z'),
         ('124', 'Second', 'More', '7', '2024-01-16T10:00:00Z'),
         ('125', 'Third', null, '123', '2024-01-17T10:00:00Z');
       insert into products (name, price, stock, status, priority, deleted_at) values
         ('Blue Widget', 150, 5, 'active', 1, null),
         ('Red widget', 99.5, 20, 'pending', 3, null),
         ('Gadget', 300, 0, 'banned', null, '2024-01-01'),
         ('Gizmo, deluxe', 100, 12, 'active', 2, null);
       create function get_user_stats(user_id text) returns json language sql stable as
         $$ select json_build_object('posts', count(*)) from posts p where p.user_id = get_user_stats.user_id $$;
       create function add_nums(a int, b int default 2) returns int language sql immutable as $$ select a + b $$;
       create function posts_by(uid text) returns setof posts language sql stable as $$ select * from posts where user_id = uid order by id $$;`,
    );
  });
  afterAll(async () => {
    await b?.close();
  });

  describe('seed examples', () => {
    it('gets all posts with the anon key', async () => {
      const res = await b.api('/api/db/posts?select=*', { key: 'anon' });
      expect(res.status).toBe(200);
      expect(res.json).toHaveLength(3);
      expect(res.json[0]).toMatchObject({ id: '123', title: 'Hello World', content: 'My first post' });
      expect(res.json[0].created_at).toMatch(/^2024-01-15T10:00:00/);
    });

    it('selects specific columns', async () => {
      const res = await b.api('/api/db/posts?select=id,title,content', { key: 'anon' });
      expect(Object.keys(res.json[0])).toEqual(['id', 'title', 'content']);
    });

    it('filters with eq and gt', async () => {
      const eq = await b.api('/api/db/posts?select=*&user_id=eq.123', { key: 'anon' });
      expect(eq.json.map((p: { id: string }) => p.id).sort()).toEqual(['123', '125']);
      const gt = await b.api('/api/db/products?select=*&price=gt.100', { key: 'anon' });
      expect(gt.json.map((p: { name: string }) => p.name).sort()).toEqual(['Blue Widget', 'Gadget']);
    });

    it('orders and limits', async () => {
      const res = await b.api('/api/db/posts?select=*&order=created_at.desc&limit=10', { key: 'anon' });
      expect(res.json.map((p: { id: string }) => p.id)).toEqual(['125', '124', '123']);
    });

    it('paginates with a Range header: 206 and Content-Range', async () => {
      const res = await b.api('/api/db/posts?select=*&order=id', { key: 'anon', headers: { Range: '0-1' } });
      expect(res.status).toBe(206);
      expect(res.headers.get('content-range')).toBe('0-1/*');
      expect(res.json.map((p: { id: string }) => p.id)).toEqual(['123', '124']);
      const counted = await b.api('/api/db/posts?select=id&order=id', { key: 'anon', headers: { Range: '1-1', Prefer: 'count=exact' } });
      expect(counted.status).toBe(206);
      expect(counted.headers.get('content-range')).toBe('1-1/3');
    });

    it('inserts with return=representation, and with no body without it', async () => {
      const rep = await b.api('/api/db/posts', {
        method: 'POST',
        key: 'anon',
        headers: { Prefer: 'return=representation' },
        json: { title: 'New Post', content: 'This is a new post', user_id: 'user-123' },
      });
      expect(rep.status).toBe(201);
      expect(rep.json).toHaveLength(1);
      expect(rep.json[0]).toMatchObject({ title: 'New Post', content: 'This is a new post', user_id: 'user-123' });
      expect(rep.json[0].id).toEqual(expect.any(String));
      expect(rep.json[0].created_at).toEqual(expect.any(String));

      const minimal = await b.api('/api/db/posts', { method: 'POST', key: 'anon', json: { id: '456', title: 'Quiet' } });
      expect(minimal.status).toBe(201);
      expect(minimal.text).toBe('');
    });

    it('updates with return=representation', async () => {
      const res = await b.api('/api/db/posts?id=eq.456', { method: 'PATCH', key: 'anon', headers: { Prefer: 'return=representation' }, json: { title: 'Updated Title' } });
      expect(res.status).toBe(200);
      expect(res.json).toEqual([expect.objectContaining({ id: '456', title: 'Updated Title' })]);
    });

    it('deletes with 204', async () => {
      const res = await b.api('/api/db/posts?id=eq.456', { method: 'DELETE', key: 'anon' });
      expect(res.status).toBe(204);
      expect(res.text).toBe('');
      const gone = await b.api('/api/db/posts?id=eq.456', { key: 'anon' });
      expect(gone.json).toEqual([]);
    });

    it('calls an RPC function with named arguments', async () => {
      const res = await b.api('/api/db/rpc/get_user_stats', { method: 'POST', key: 'anon', json: { user_id: '123' } });
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ posts: 2 });
    });
  });

  describe('operators', () => {
    const names = async (query: string) => {
      const res = await b.api(`/api/db/products?select=name&order=name&${query}`, { key: 'anon' });
      expect(res.status, res.text).toBe(200);
      return res.json.map((p: { name: string }) => p.name);
    };

    it.each([
      ['status=eq.active', ['Blue Widget', 'Gizmo, deluxe']],
      ['status=neq.banned', ['Blue Widget', 'Gizmo, deluxe', 'Red widget']],
      ['price=gte.100', ['Blue Widget', 'Gadget', 'Gizmo, deluxe']],
      ['stock=lt.10', ['Blue Widget', 'Gadget']],
      ['priority=lte.2', ['Blue Widget', 'Gizmo, deluxe']],
      ['name=like.*Widget*', ['Blue Widget']],
      ['name=ilike.*widget*', ['Blue Widget', 'Red widget']],
      ['status=in.(pending,active)', ['Blue Widget', 'Gizmo, deluxe', 'Red widget']],
      ['name=in.("Gizmo, deluxe",Gadget)', ['Gadget', 'Gizmo, deluxe']],
      ['deleted_at=is.null', ['Blue Widget', 'Gizmo, deluxe', 'Red widget']],
      ['deleted_at=not.is.null', ['Gadget']],
      ['status=not.eq.active', ['Gadget', 'Red widget']],
      ['status=not.in.(active,banned)', ['Red widget']],
      ['price=gte.100&price=lt.200', ['Blue Widget', 'Gizmo, deluxe']],
      ['or=(stock.eq.0,priority.eq.3)', ['Gadget', 'Red widget']],
      ['or=(status.eq.banned,and(price.lt.120,stock.gt.10))', ['Gadget', 'Gizmo, deluxe', 'Red widget']],
      ['and=(price.gte.100,price.lt.200)', ['Blue Widget', 'Gizmo, deluxe']],
      ['not.or=(status.eq.active,status.eq.banned)', ['Red widget']],
    ])('%s', async (query, expected) => {
      expect(await names(query)).toEqual(expected);
    });
  });

  it('orders by several columns with nulls first/last', async () => {
    const last = await b.api('/api/db/products?select=name&order=priority.desc.nullslast,name', { key: 'anon' });
    expect(last.json.map((p: { name: string }) => p.name)).toEqual(['Red widget', 'Gizmo, deluxe', 'Blue Widget', 'Gadget']);
    const first = await b.api('/api/db/products?select=name&order=priority.asc.nullsfirst', { key: 'anon' });
    expect(first.json[0].name).toBe('Gadget');
  });

  it('pages with limit and offset, and counts exactly', async () => {
    const res = await b.api('/api/db/products?select=name&order=id&limit=2&offset=1', { key: 'anon', headers: { Prefer: 'count=exact' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe('1-2/4');
    expect(res.json).toHaveLength(2);
    const all = await b.api('/api/db/products?select=name&limit=10', { key: 'anon', headers: { Prefer: 'count=exact' } });
    expect(all.status).toBe(200);
    expect(all.headers.get('content-range')).toBe('0-3/4');
  });

  it('aliases and casts in select', async () => {
    const res = await b.api('/api/db/products?select=label:name,price::text&name=eq.Gadget', { key: 'anon' });
    expect(res.json).toEqual([{ label: 'Gadget', price: '300' }]);
  });

  it('returns one object for Accept: application/vnd.pgrst.object+json, 406 otherwise', async () => {
    const one = await b.api('/api/db/posts?select=id,title&id=eq.123', { key: 'anon', headers: { Accept: 'application/vnd.pgrst.object+json' } });
    expect(one.status).toBe(200);
    expect(one.json).toEqual({ id: '123', title: 'Hello World' });
    const many = await b.api('/api/db/posts?select=id', { key: 'anon', headers: { Accept: 'application/vnd.pgrst.object+json' } });
    expect(many.status).toBe(406);
    expect(many.json).toMatchObject({ statusCode: 406, code: 'PGRST116' });
  });

  it('upserts with resolution=merge-duplicates and on_conflict', async () => {
    const res = await b.api('/api/db/products?on_conflict=name', {
      method: 'POST',
      key: 'anon',
      headers: { Prefer: 'resolution=merge-duplicates,return=representation' },
      json: [
        { name: 'Gadget', price: 250 },
        { name: 'Doohickey', price: 5 },
      ],
    });
    expect(res.status, res.text).toBe(201);
    expect(res.json).toHaveLength(2);
    const gadget = await b.api('/api/db/products?select=price,stock&name=eq.Gadget', { key: 'anon' });
    expect(gadget.json).toEqual([{ price: 250, stock: 0 }]);
    const ignore = await b.api('/api/db/products?on_conflict=name', {
      method: 'POST',
      key: 'anon',
      headers: { Prefer: 'resolution=ignore-duplicates,return=representation' },
      json: [{ name: 'Gadget', price: 1 }],
    });
    expect(ignore.status).toBe(201);
    expect(ignore.json).toEqual([]);
  });

  it('inserts many rows in one request, missing columns taking defaults', async () => {
    const rows = Array.from({ length: 500 }, (_, i) => (i % 2 ? { title: `bulk ${i}` } : { title: `bulk ${i}`, content: 'c' }));
    const res = await b.api('/api/db/posts', { method: 'POST', key: 'admin', json: rows, headers: { Prefer: 'return=representation' } });
    expect(res.status, res.text).toBe(201);
    expect(res.json).toHaveLength(500);
    expect(res.json.every((r: { created_at: string }) => typeof r.created_at === 'string')).toBe(true);
    await b.api('/api/db/posts?title=like.bulk*', { method: 'DELETE', key: 'admin' });
  });

  it('refuses unfiltered PATCH and DELETE with 400, changing nothing', async () => {
    const patch = await b.api('/api/db/posts', { method: 'PATCH', key: 'anon', json: { title: 'x' } });
    expect(patch.status).toBe(400);
    expect(patch.json).toMatchObject({ statusCode: 400, error: expect.any(String), message: expect.any(String), nextActions: expect.any(String) });
    const del = await b.api('/api/db/posts', { method: 'DELETE', key: 'anon' });
    expect(del.status).toBe(400);
    const still = await b.api('/api/db/posts?select=title&id=eq.123', { key: 'anon' });
    expect(still.json).toEqual([{ title: 'Hello World' }]);
  });

  it('calls RPC with defaults, set-returning functions, and GET', async () => {
    expect((await b.api('/api/db/rpc/add_nums', { method: 'POST', key: 'anon', json: { a: 40 } })).json).toBe(42);
    expect((await b.api('/api/db/rpc/add_nums?a=1&b=2', { key: 'anon' })).json).toBe(3);
    const set = await b.api('/api/db/rpc/posts_by', { method: 'POST', key: 'anon', json: { uid: '123' } });
    expect(set.json.map((p: { id: string }) => p.id)).toEqual(['123', '125']);
    const missing = await b.api('/api/db/rpc/nope', { method: 'POST', key: 'anon', json: {} });
    expect(missing.status).toBe(404);
  });

  describe('errors use the envelope and keep the Postgres code', () => {
    it('unknown table → 404', async () => {
      const res = await b.api('/api/db/nope', { key: 'anon' });
      expect(res.status).toBe(404);
      expect(res.json).toMatchObject({ statusCode: 404, error: 'DATABASE_NOT_FOUND', code: '42P01', nextActions: expect.any(String) });
    });
    it('unique violation → 409', async () => {
      const res = await b.api('/api/db/posts', { method: 'POST', key: 'anon', json: { id: '123', title: 'dup' } });
      expect(res.status).toBe(409);
      expect(res.json).toMatchObject({ statusCode: 409, code: '23505' });
    });
    it('bad filter syntax → 400', async () => {
      const res = await b.api('/api/db/posts?id=zz.1', { key: 'anon' });
      expect(res.status).toBe(400);
      expect(res.json.statusCode).toBe(400);
    });
    it('a value of the wrong type → 400 with 22P02, not a crash', async () => {
      const res = await b.api('/api/db/products?stock=eq.many', { key: 'anon' });
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({ statusCode: 400, code: '22P02' });
      await sql(b, 'create table if not exists flags (id int primary key, on_off boolean)');
      const bool = await b.api('/api/db/flags?on_off=eq.maybe', { key: 'anon' });
      expect(bool.status).toBe(400);
      expect(bool.json.code).toBe('22P02');
    });
    it('unknown column → 400', async () => {
      const res = await b.api('/api/db/posts?nope=eq.1', { key: 'anon' });
      expect(res.status).toBe(400);
      expect(res.json.code).toBe('42703');
    });
    it('malformed JSON → 400', async () => {
      const res = await b.api('/api/db/posts', { method: 'POST', key: 'anon', body: '{"title":', headers: { 'content-type': 'application/json' } });
      expect(res.status).toBe(400);
      expect(res.json.error).toBe('INVALID_INPUT');
    });
    it('no key → 401, wrong key → 401', async () => {
      expect((await b.api('/api/db/posts', { key: 'none' })).status).toBe(401);
      expect((await b.api('/api/db/posts', { key: 'none', headers: { apikey: 'anon_wrong' } })).status).toBe(401);
      const viaBearer = await b.api('/api/db/posts?select=id&limit=1', { key: 'none', headers: { authorization: `Bearer ${TEST_ANON_KEY}` } });
      expect(viaBearer.status).toBe(200);
    });
    it('unknown route → 404 envelope', async () => {
      const res = await b.api('/api/nothing-here');
      expect(res.json).toMatchObject({ statusCode: 404, error: 'NOT_FOUND' });
    });
  });

  it('serves the same handlers at the InsForge v2 paths', async () => {
    const res = await b.api('/api/database/records/posts?select=id&id=eq.123', { key: 'admin' });
    expect(res.json).toEqual([{ id: '123' }]);
    const rpc = await b.api('/api/database/rpc/add_nums', { method: 'POST', json: { a: 1, b: 1 } });
    expect(rpc.json).toBe(2);
  });

  it('sends CORS and rate-limit headers', async () => {
    const res = await b.api('/api/db/posts?select=id&limit=1', { key: 'anon', headers: { Origin: 'https://app.example' } });
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(Number(res.headers.get('x-ratelimit-limit'))).toBeGreaterThan(0);
    expect(res.headers.get('x-ratelimit-remaining')).not.toBeNull();
    expect(res.headers.get('x-ratelimit-reset')).not.toBeNull();
  });
});

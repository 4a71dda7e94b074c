/**
 * Runs a representative set of the statements built by postgrest.ts on a real (in-memory) PGlite,
 * with catalogue objects read from that database, including injection payloads.
 */
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  buildDelete,
  buildInsert,
  buildRpc,
  buildSelect,
  buildUpdate,
  parsePrefer,
  parseRange,
  type BuiltQuery,
} from '../../src/backend/db/postgrest.js';
import type { ColumnInfo, FunctionInfo, TableInfo } from '../../src/backend/db/types.js';

let db: PGlite;
let todos: TableInfo;
let tagTable: TableInfo;
let odd: TableInfo;

const SCHEMA = `
  CREATE TABLE todos (
    id serial PRIMARY KEY,
    title text NOT NULL DEFAULT 'untitled',
    done boolean NOT NULL DEFAULT false,
    score double precision,
    tags text[],
    data jsonb,
    status varchar(20),
    created_at timestamp(3) with time zone NOT NULL DEFAULT now(),
    "we""ird" text
  );
  CREATE TABLE tags (name text PRIMARY KEY, hits integer NOT NULL DEFAULT 0, note text);
  CREATE SCHEMA "odd schema";
  CREATE TABLE "odd schema"."Mixed ""Table""" (id integer PRIMARY KEY, "Val" text);

  CREATE FUNCTION add_nums(a integer, b integer) RETURNS integer LANGUAGE sql AS 'SELECT a + b';
  CREATE FUNCTION nop() RETURNS void LANGUAGE sql AS '';
  CREATE FUNCTION todos_by_done(flag boolean DEFAULT true) RETURNS SETOF todos LANGUAGE sql
    AS 'SELECT * FROM todos WHERE done = flag ORDER BY id';
  CREATE FUNCTION ints(arr integer[]) RETURNS SETOF integer LANGUAGE sql AS 'SELECT unnest(arr)';
  CREATE FUNCTION one_todo(tid integer) RETURNS todos LANGUAGE sql AS 'SELECT * FROM todos WHERE id = tid';
  CREATE FUNCTION echo_json(doc jsonb) RETURNS jsonb LANGUAGE sql AS 'SELECT doc';
  CREATE FUNCTION greet(name text DEFAULT 'world') RETURNS text LANGUAGE sql AS $$SELECT 'hello ' || name$$;
`;

const SEED = `
  TRUNCATE todos RESTART IDENTITY;
  TRUNCATE tags;
  TRUNCATE "odd schema"."Mixed ""Table""";
  INSERT INTO todos (title, done, score, tags, data, status) VALUES
    ('alpha', true, 1.5, '{x,y}', '{"k":"v","n":1,"list":[1,2]}', 'open'),
    ('b,c', false, NULL, '{}', NULL, 'closed'),
    ('d"e', false, 3, NULL, '{"k":"w"}', NULL),
    ('Zeta cats', true, 10, '{y}', '{"k":"v"}', 'open');
  INSERT INTO tags (name, hits) VALUES ('red', 1), ('blue', 2);
  INSERT INTO "odd schema"."Mixed ""Table""" VALUES (1, 'one');
`;

/** TableInfo as the catalogue module would build it: format_type() types, defaults, primary key. */
async function tableInfo(schema: string, name: string): Promise<TableInfo> {
  const rel = `"${schema.replaceAll('"', '""')}"."${name.replaceAll('"', '""')}"`;
  const cols = await db.query<{ name: string; type: string; nullable: boolean; default_value: string | null }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, NOT a.attnotnull AS nullable,
            pg_get_expr(d.adbin, d.adrelid) AS default_value
       FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [rel],
  );
  const pk = await db.query<{ name: string }>(
    `SELECT a.attname AS name FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
      WHERE i.indrelid = $1::regclass AND i.indisprimary`,
    [rel],
  );
  const columns = new Map<string, ColumnInfo>(
    cols.rows.map((c) => [c.name, { name: c.name, type: c.type, nullable: c.nullable, defaultValue: c.default_value }]),
  );
  return { schema, name, columns, primaryKey: pk.rows.map((r) => r.name) };
}

const fn = (name: string, args: FunctionInfo['args'], returns: FunctionInfo['returns'], returnsSet = false): FunctionInfo => ({
  schema: 'public',
  name,
  args,
  returns,
  returnsSet,
});
const FUNCTIONS = {
  add_nums: fn('add_nums', [{ name: 'a', type: 'integer', hasDefault: false }, { name: 'b', type: 'integer', hasDefault: false }], 'scalar'),
  nop: fn('nop', [], 'void'),
  todos_by_done: fn('todos_by_done', [{ name: 'flag', type: 'boolean', hasDefault: true }], 'composite', true),
  ints: fn('ints', [{ name: 'arr', type: 'integer[]', hasDefault: false }], 'scalar', true),
  one_todo: fn('one_todo', [{ name: 'tid', type: 'integer', hasDefault: false }], 'composite'),
  echo_json: fn('echo_json', [{ name: 'doc', type: 'jsonb', hasDefault: false }], 'scalar'),
  greet: fn('greet', [{ name: 'name', type: 'text', hasDefault: true }], 'scalar'),
};

interface Outcome {
  body: string | null;
  n: number;
  total: number | null;
  json: unknown;
}

async function run(built: BuiltQuery): Promise<Outcome> {
  const res = await db.query<{ body: string | null; n: number; total: number | string | null }>(built.text, built.values);
  expect(res.rows).toHaveLength(1);
  const row = res.rows[0] as { body: string | null; n: number; total: number | string | null };
  return {
    body: row.body,
    n: row.n,
    total: row.total === null ? null : Number(row.total),
    json: row.body === null ? null : JSON.parse(row.body),
  };
}

const q = (s: string) => new URLSearchParams(s);
const select = (s: string, opts: { range?: { offset: number; limit?: number }; count?: boolean } = {}) =>
  run(buildSelect(todos, q(s), { count: false, ...opts }));
const ids = async (s: string) => ((await select(`select=id&order=id&${s}`)).json as Array<{ id: number }>).map((r) => r.id);
const count = async (sql: string) => Number((await db.query<{ c: number }>(`SELECT count(*)::int AS c FROM ${sql}`)).rows[0]?.c);

beforeAll(async () => {
  db = new PGlite();
  await db.exec(SCHEMA);
  todos = await tableInfo('public', 'todos');
  tagTable = await tableInfo('public', 'tags');
  odd = await tableInfo('odd schema', 'Mixed "Table"');
}, 60_000);

afterAll(async () => {
  await db?.close();
});

beforeEach(async () => {
  await db.exec(SEED);
});

describe('SELECT on PGlite', () => {
  it('reads the catalogue types the builder relies on', () => {
    expect(todos.columns.get('status')?.type).toBe('character varying(20)');
    expect(todos.columns.get('created_at')?.type).toBe('timestamp(3) with time zone');
    expect(todos.primaryKey).toEqual(['id']);
  });

  it('projects, orders, limits and counts', async () => {
    const out = await select('select=id,title,done&done=eq.true&order=score.desc&limit=1', { count: true });
    expect(out.json).toEqual([{ id: 4, title: 'Zeta cats', done: true }]);
    expect(out.n).toBe(1);
    expect(out.total).toBe(2);
  });

  it('returns [] and n=0 for no rows; total is null unless counted', async () => {
    const out = await select('id=eq.999');
    expect(out).toMatchObject({ body: '[]', n: 0, total: null });
  });

  it('aliases, casts and JSON paths produce PostgREST-style keys', async () => {
    const out = await select('select=id,label:title,score::text,k:data->>k,n:data->n::int,data->list->0,first:tags::text&id=eq.1');
    expect(out.json).toEqual([{ id: 1, label: 'alpha', score: '1.5', k: 'v', n: 1, '0': 1, first: '{x,y}' }]);
  });

  it('applies Range and limit/offset together (intersection)', async () => {
    const range = parseRange('1-2');
    expect((await select('select=id&order=id', { range, count: true })).json).toEqual([{ id: 2 }, { id: 3 }]);
    // Both are windows of absolute row positions and the result is their intersection.
    expect((await select('select=id&order=id&limit=2', { range: parseRange('0-2') })).json).toEqual([{ id: 1 }, { id: 2 }]);
    expect((await select('select=id&order=id&offset=2', { range: parseRange('1-3') })).json).toEqual([{ id: 3 }, { id: 4 }]);
    expect((await select('select=id&order=id&limit=1', { range })).json).toEqual([]);
    expect((await select('select=id&order=id&offset=2', { range: parseRange('0-') })).json).toEqual([{ id: 3 }, { id: 4 }]);
    expect((await select('select=id&order=id&limit=0')).json).toEqual([]);
  });

  it('comparison filters infer the column type from untyped parameters', async () => {
    expect(await ids('id=eq.2')).toEqual([2]);
    expect(await ids('score=gte.1.5&score=lt.10')).toEqual([1, 3]);
    expect(await ids('done=neq.true')).toEqual([2, 3]);
    expect(await ids('created_at=lt.2999-01-01T00:00:00Z')).toEqual([1, 2, 3, 4]);
    expect(await ids('data->>k=eq.v')).toEqual([1, 4]);
    expect(await ids('data->n=eq.1')).toEqual([1]);
    expect(await ids('score=isdistinct.1.5')).toEqual([2, 3, 4]);
  });

  it('in / not.in with quoted elements on several column types', async () => {
    expect(await ids('id=in.(1,3)')).toEqual([1, 3]);
    expect(await ids('title=in.(alpha,"b,c","d\\"e")')).toEqual([1, 2, 3]);
    expect(await ids('status=in.(open)')).toEqual([1, 4]);
    expect(await ids('id=not.in.(1,3)')).toEqual([2, 4]);
    expect(await ids('id=in.()')).toEqual([]);
    expect(await ids('tags=in.("{x,y}","{}")')).toEqual([1, 2]);
    expect(await ids('data->>k=in.(w)')).toEqual([3]);
    expect(await ids('data->n=in.(1,2)')).toEqual([1]);
    expect(await ids('score=in.(1.5,3)')).toEqual([1, 3]);
  });

  it('is, like, ilike, match, cs, ov and full text search', async () => {
    expect(await ids('score=is.null')).toEqual([2]);
    expect(await ids('status=not.is.null')).toEqual([1, 2, 4]);
    expect(await ids('done=is.TRUE')).toEqual([1, 4]);
    expect(await ids('title=like.*a*')).toEqual([1, 4]);
    expect(await ids('title=ilike.z*')).toEqual([4]);
    expect(await ids('score=like.1*')).toEqual([1, 4]);
    expect(await ids('title=match.^[ab]')).toEqual([1, 2]);
    expect(await ids('tags=cs.{y}')).toEqual([1, 4]);
    expect(await ids('tags=ov.{x,z}')).toEqual([1]);
    expect(await ids('data=cs.{"k":"v"}')).toEqual([1, 4]);
    expect(await ids('title=fts(english).cat')).toEqual([4]);
    expect(await ids('title=wfts.zeta')).toEqual([4]);
  });

  it('logic trees', async () => {
    expect(await ids('or=(id.eq.1,and(done.is.false,title.eq."d\\"e"))')).toEqual([1, 3]);
    expect(await ids('or=(title.eq."b,c",id.in.(4,"1"))')).toEqual([1, 2, 4]);
    expect(await ids('not.or=(id.eq.1,id.eq.2)&done=is.false')).toEqual([3]);
    expect(await ids('and=(done.is.true,not.or(score.lt.2,data->>k.eq.x))')).toEqual([4]);
    expect(await ids('not.and=(done.is.true,score.gt.1)')).toEqual([2, 3]);
  });

  it('orders with nulls placement', async () => {
    const order = async (o: string) => ((await select(`select=id&order=${o}`)).json as Array<{ id: number }>).map((r) => r.id);
    expect(await order('score.desc.nullslast')).toEqual([4, 3, 1, 2]);
    expect(await order('score.asc.nullsfirst')).toEqual([2, 1, 3, 4]);
    expect(await order('done.desc,id.desc')).toEqual([4, 1, 3, 2]);
    expect(await order('data->>k.desc.nullslast,id')).toEqual([3, 1, 4, 2]);
  });

  it('handles schemas, tables and columns whose names need quoting', async () => {
    const out = await run(buildSelect(odd, q('select=id,Val&Val=eq.one'), { count: true }));
    expect(out.json).toEqual([{ id: 1, Val: 'one' }]);
    const weird = await select('select=id,we"ird&we"ird=is.null&id=eq.1');
    expect(weird.json).toEqual([{ id: 1, 'we"ird': null }]);
  });
});

describe('writes on PGlite', () => {
  it('inserts rows with different key sets, missing keys taking their DEFAULT', async () => {
    const out = await run(
      buildInsert(todos, q('select=id,title,done,score'), [{ title: 'n1' }, { title: 'n2', done: true, score: 2 }, {}, { title: 'n3' }], parsePrefer('return=representation,count=exact')),
    );
    expect(out.n).toBe(4);
    expect(out.total).toBe(4);
    // Grouped by key set: n1, n3 first, then n2, then the all-default row.
    expect(out.json).toEqual([
      { id: 5, title: 'n1', done: false, score: null },
      { id: 6, title: 'n3', done: false, score: null },
      { id: 7, title: 'n2', done: true, score: 2 },
      { id: 8, title: 'untitled', done: false, score: null },
    ]);
  });

  it('converts JSON arrays and objects to array / jsonb columns', async () => {
    const out = await run(buildInsert(todos, q('select=tags,data'), { title: 'j', tags: ['a', 'b"c'], data: { z: [1, { y: null }] } }, parsePrefer('return=representation')));
    expect(out.json).toEqual([{ tags: ['a', 'b"c'], data: { z: [1, { y: null }] } }]);
  });

  it('return=minimal gives a NULL body but the affected count', async () => {
    const out = await run(buildInsert(todos, q(''), [{ title: 'a' }, { title: 'b' }], parsePrefer('')));
    expect(out).toMatchObject({ body: null, n: 2 });
    expect(await count('todos')).toBe(6);
  });

  it('columns= inserts NULL for missing keys, or DEFAULT with missing=default', async () => {
    const nulls = await run(buildInsert(todos, q('columns=title,score&select=title,score'), [{ title: 'x', score: 1 }, { title: 'y' }], parsePrefer('return=representation')));
    expect(nulls.json).toEqual([{ title: 'x', score: 1 }, { title: 'y', score: null }]);
    await expect(run(buildInsert(todos, q('columns=title,done'), [{ title: 'x' }], parsePrefer('')))).rejects.toMatchObject({ code: '23502' });
    const defaults = await run(buildInsert(todos, q('columns=title,done&select=title,done'), [{ title: 'x' }, { title: 'y', done: true }], parsePrefer('return=representation,missing=default')));
    expect(defaults.json).toEqual([{ title: 'x', done: false }, { title: 'y', done: true }]);
  });

  it('upserts: merge-duplicates updates, ignore-duplicates skips', async () => {
    const merged = await run(
      buildInsert(tagTable, q('select=name,hits,note'), [{ name: 'red', hits: 10 }, { name: 'green', hits: 3 }], parsePrefer('return=representation,resolution=merge-duplicates')),
    );
    expect(merged.json).toEqual([{ name: 'red', hits: 10, note: null }, { name: 'green', hits: 3, note: null }]);
    const ignored = await run(buildInsert(tagTable, q('on_conflict=name'), [{ name: 'blue', hits: 99 }, { name: 'pink' }], parsePrefer('return=representation,resolution=ignore-duplicates')));
    expect(ignored.n).toBe(1);
    const rows = await db.query<{ name: string; hits: number }>('SELECT name, hits FROM tags ORDER BY name');
    expect(rows.rows).toEqual([
      { name: 'blue', hits: 2 },
      { name: 'green', hits: 3 },
      { name: 'pink', hits: 0 },
      { name: 'red', hits: 10 },
    ]);
    await expect(run(buildInsert(tagTable, q(''), { name: 'red' }, parsePrefer('')))).rejects.toMatchObject({ code: '23505' });
  });

  it('updates filtered rows only and returns the projection', async () => {
    const out = await run(buildUpdate(todos, q('or=(id.eq.2,id.eq.3)&select=id,done,score'), { done: true, score: 7 }, parsePrefer('return=representation')));
    expect((out.json as Array<{ id: number }>).sort((a, b) => a.id - b.id)).toEqual([
      { id: 2, done: true, score: 7 },
      { id: 3, done: true, score: 7 },
    ]);
    expect(await ids('done=is.true')).toEqual([1, 2, 3, 4]);
    const none = await run(buildUpdate(todos, q('id=eq.999'), { done: false }, parsePrefer('')));
    expect(none).toMatchObject({ body: null, n: 0 });
  });

  it('updates with JSON paths in filters and JSON values', async () => {
    const out = await run(buildUpdate(todos, q('data->>k=eq.w&select=id,data,tags'), { data: { k: 'new' }, tags: ['t'] }, parsePrefer('return=representation')));
    expect(out.json).toEqual([{ id: 3, data: { k: 'new' }, tags: ['t'] }]);
  });

  it('deletes filtered rows and counts them', async () => {
    const out = await run(buildDelete(todos, q('done=is.false'), parsePrefer('count=exact')));
    expect(out).toMatchObject({ body: null, n: 2, total: 2 });
    const rep = await run(buildDelete(todos, q('id=eq.1&select=title'), parsePrefer('return=representation')));
    expect(rep.json).toEqual([{ title: 'alpha' }]);
    expect(await count('todos')).toBe(1);
  });
});

describe('RPC on PGlite', () => {
  it('scalar functions, with string arguments converted to the declared type', async () => {
    expect((await run(buildRpc([FUNCTIONS.add_nums], { a: 40, b: '2' }))).body).toBe('42');
    expect((await run(buildRpc([FUNCTIONS.greet], {}))).json).toBe('hello world');
    expect((await run(buildRpc([FUNCTIONS.greet], { name: "O'Brien" }))).json).toBe("hello O'Brien");
    expect((await run(buildRpc([FUNCTIONS.echo_json], { doc: { a: [1, 'x'] } }))).json).toEqual({ a: [1, 'x'] });
    expect((await run(buildRpc([FUNCTIONS.add_nums], { a: null, b: 1 }))).body).toBe('null');
  });

  it('void, composite and set-returning functions', async () => {
    expect(await run(buildRpc([FUNCTIONS.nop], {}))).toMatchObject({ body: 'null', n: 1 });
    expect(((await run(buildRpc([FUNCTIONS.one_todo], { tid: 3 }))).json as { title: string }).title).toBe('d"e');
    const set = await run(buildRpc([FUNCTIONS.todos_by_done], {}));
    expect((set.json as Array<{ id: number }>).map((r) => r.id)).toEqual([1, 4]);
    expect(set.n).toBe(2);
    const paged = await run(buildRpc([FUNCTIONS.todos_by_done], { flag: false }, q('limit=1&offset=1')));
    expect((paged.json as Array<{ id: number }>).map((r) => r.id)).toEqual([3]);
    expect((await run(buildRpc([FUNCTIONS.ints], { arr: [3, 4] }))).json).toEqual([3, 4]);
    expect((await run(buildRpc([FUNCTIONS.ints], { arr: '{5,6}' }))).json).toEqual([5, 6]);
    expect((await run(buildRpc([FUNCTIONS.ints], { arr: [] }))).body).toBe('[]');
  });
});

describe('injection payloads on PGlite are data', () => {
  const payloads = [
    "'; DROP TABLE todos; --",
    'x"; DROP TABLE todos; --',
    "1' OR '1'='1",
    ')) OR ((1=1',
    "'||pg_sleep(5)||'",
    '$1',
  ];

  it('in filter values, lists and trees', async () => {
    for (const p of payloads) {
      expect(await ids(`title=eq.${encodeURIComponent(p)}`)).toEqual([]);
      expect(await ids(`title=like.${encodeURIComponent(p)}`)).toEqual([]);
      expect(await ids(`title=in.(${encodeURIComponent(JSON.stringify(p))})`)).toEqual([]);
      expect(await ids(`or=(title.eq.${encodeURIComponent(JSON.stringify(p))},id.eq.0)`)).toEqual([]);
      expect(await ids(`data->>${encodeURIComponent(p)}=eq.1`)).toEqual([]);
    }
    expect(await count('todos')).toBe(4);
  });

  it('in aliases and JSON keys of the select list', async () => {
    for (const p of payloads) {
      const alias = `"${p.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
      const out = await select(`select=${encodeURIComponent(`${alias}:id`)}&id=eq.1`);
      expect(out.json).toEqual([{ [p]: 1 }]);
    }
    expect(await count('todos')).toBe(4);
  });

  it('in written values and RPC arguments', async () => {
    for (const p of payloads) {
      const out = await run(buildInsert(todos, q('select=title'), { title: p }, parsePrefer('return=representation')));
      expect(out.json).toEqual([{ title: p }]);
      await run(buildUpdate(todos, q(`title=eq.${encodeURIComponent(p)}`), { status: p.slice(0, 20) }, parsePrefer('')));
      expect((await run(buildRpc([FUNCTIONS.greet], { name: p }))).json).toBe(`hello ${p}`);
    }
    expect(await count('todos')).toBe(4 + payloads.length);
    const stored = await db.query<{ title: string }>('SELECT title FROM todos WHERE id > 4 ORDER BY id');
    expect(stored.rows.map((r) => r.title)).toEqual(payloads);
  });
});

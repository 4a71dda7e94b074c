/**
 * Embeds and aggregates run on a real (in-memory) PGlite, with the catalogue read by the real
 * Catalog class from that database: tables with awkward names (quotes, spaces, dots), composite
 * foreign keys, RLS on an embedded table under a non-owner role, and injection payloads through
 * aliases and embedded filters — all data, nothing executed.
 */
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildInsert, buildRpc, buildSelect, parsePrefer, type BuiltQuery } from '../../src/backend/db/postgrest.js';
import { Catalog } from '../../src/backend/db/catalog.js';
import type { Queryable, TableInfo } from '../../src/backend/db/types.js';

let db: PGlite;
let catalog: Catalog;
let tables: ReadonlyMap<string, TableInfo>;

const SCHEMA = `
  CREATE SCHEMA emb;
  CREATE TABLE emb."Odd ""Parent""" (id int PRIMARY KEY, "the.name" text);
  CREATE TABLE emb."child table" (id int PRIMARY KEY, "parent id" int REFERENCES emb."Odd ""Parent"""(id), v int);
  CREATE TABLE emb.pairs (a int, b int, label text, PRIMARY KEY (a, b));
  CREATE TABLE emb.pair_refs (id int PRIMARY KEY, a int, b int, FOREIGN KEY (a, b) REFERENCES emb.pairs (a, b));
  CREATE TABLE emb.secrets (id int PRIMARY KEY, parent int REFERENCES emb."Odd ""Parent"""(id), owner text);
  ALTER TABLE emb.secrets ENABLE ROW LEVEL SECURITY;
  CREATE POLICY mine ON emb.secrets USING (owner = current_setting('app.who', true));
  CREATE ROLE reader NOLOGIN;
  GRANT USAGE ON SCHEMA emb TO reader;
  GRANT SELECT ON ALL TABLES IN SCHEMA emb TO reader;
  CREATE FUNCTION emb.children_over(x int) RETURNS SETOF emb."child table" LANGUAGE sql STABLE AS 'SELECT * FROM emb."child table" WHERE v > x';

  INSERT INTO emb."Odd ""Parent""" VALUES (1, 'one'), (2, 'two');
  INSERT INTO emb."child table" VALUES (10, 1, 5), (11, 1, 7), (12, 2, 1);
  INSERT INTO emb.pairs VALUES (1, 1, 'p11'), (1, 2, 'p12');
  INSERT INTO emb.pair_refs VALUES (100, 1, 2);
  INSERT INTO emb.secrets VALUES (1, 1, 'alice'), (2, 1, 'bob');
`;

async function run(built: BuiltQuery, as?: { role: string; who: string }): Promise<unknown> {
  const exec = async (tx: Pick<PGlite, 'query'>) => {
    const res = await tx.query<{ body: string | null }>(built.text, built.values);
    expect(res.rows).toHaveLength(1);
    const body = res.rows[0]?.body ?? null;
    return body === null ? null : JSON.parse(body);
  };
  if (!as) return exec(db);
  return db.transaction(async (tx) => {
    await tx.query("SELECT set_config('role', $1, true), set_config('app.who', $2, true)", [as.role, as.who]);
    return exec(tx);
  });
}
const q = (s: string) => new URLSearchParams(s);
const read = (t: string, s: string, as?: { role: string; who: string }) => run(buildSelect(tables.get(t)!, q(s), { count: false, tables }), as);

beforeAll(async () => {
  db = new PGlite();
  await db.exec(SCHEMA);
  catalog = new Catalog(db as unknown as Queryable, 'emb');
  tables = await catalog.allTables();
});
afterAll(async () => {
  await db.close();
});

describe('embeds on PGlite with the catalogue read from it', () => {
  it('follows foreign keys between tables with quotes, spaces and dots in their names', async () => {
    expect(await read('Odd "Parent"', `select=${encodeURIComponent('"the.name",kids:"child table"(id,v)')}&order=id&kids.order=id`)).toEqual([
      { 'the.name': 'one', kids: [{ id: 10, v: 5 }, { id: 11, v: 7 }] },
      { 'the.name': 'two', kids: [{ id: 12, v: 1 }] },
    ]);
    expect(await read('child table', `select=id,${encodeURIComponent('p:Odd "Parent"("the.name")')}&id=eq.12`)).toEqual([{ id: 12, p: { 'the.name': 'two' } }]);
  });

  it('follows a composite foreign key, both ways', async () => {
    expect(await read('pair_refs', 'select=id,pairs(label)')).toEqual([{ id: 100, pairs: { label: 'p12' } }]);
    expect(await read('pairs', 'select=label,pair_refs(id)&order=b')).toEqual([
      { label: 'p11', pair_refs: [] },
      { label: 'p12', pair_refs: [{ id: 100 }] },
    ]);
  });

  it('aggregates per group and per embed', async () => {
    expect(await read('child table', `select=${encodeURIComponent('"parent id",v.sum(),count()')}&order=${encodeURIComponent('"parent id"')}`)).toEqual([
      { 'parent id': 1, sum: 12, count: 2 },
      { 'parent id': 2, sum: 1, count: 1 },
    ]);
    expect(await read('Odd "Parent"', `select=id,${encodeURIComponent('"child table"(v.max())')}&order=id`)).toEqual([
      { id: 1, 'child table': [{ max: 7 }] },
      { id: 2, 'child table': [{ max: 1 }] },
    ]);
  });

  it('applies row-level security to the embedded table as the caller (one statement, one role)', async () => {
    expect(await read('Odd "Parent"', 'select=id,secrets(owner)&id=eq.1', { role: 'reader', who: 'alice' })).toEqual([{ id: 1, secrets: [{ owner: 'alice' }] }]);
    expect(await read('Odd "Parent"', 'select=id,secrets!inner(owner)', { role: 'reader', who: 'nobody' })).toEqual([]);
  });

  it('embeds from the rows of a function returning a table type', async () => {
    const [fn] = await catalog.functionsNamed('children_over');
    const built = buildRpc([fn!], { x: 4 }, q(`select=id,${encodeURIComponent('Odd "Parent"("the.name")')}&order=id.desc`), { tables });
    expect(await run(built)).toEqual([
      { id: 11, 'Odd "Parent"': { 'the.name': 'one' } },
      { id: 10, 'Odd "Parent"': { 'the.name': 'one' } },
    ]);
  });

  it('keeps injection payloads as data: aliases, embedded filters, written rows with an embedded representation', async () => {
    const payloads = ["'; DROP TABLE emb.pairs; --", 'x"); DROP TABLE emb.pairs; --', "1' OR '1'='1", '$1'];
    for (const p of payloads) {
      const alias = `"${p.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
      expect(await read('pair_refs', `select=${encodeURIComponent(`${alias}:pairs(label)`)}`)).toEqual([{ [p]: { label: 'p12' } }]);
      expect(await read('pairs', `select=label,pair_refs!inner(id)&pair_refs.id=eq.${encodeURIComponent(p)}`).catch((e: Error) => e.message)).toMatch(/invalid input syntax for type integer/);
      expect(await read('pairs', `select=label,pair_refs(id)&pair_refs.or=(id.eq.0,id.is.null)&label=eq.${encodeURIComponent(p)}`)).toEqual([]);
    }
    const inserted = await run(buildInsert(tables.get('child table')!, q(`select=id,${encodeURIComponent('Odd "Parent"("the.name")')}`), { id: 13, 'parent id': 2, v: 0 }, parsePrefer('return=representation'), { tables }));
    expect(inserted).toEqual([{ id: 13, 'Odd "Parent"': { 'the.name': 'two' } }]);
    expect((await db.query<{ c: number }>('SELECT count(*)::int AS c FROM emb.pairs')).rows[0]?.c).toBe(2);
  });
});

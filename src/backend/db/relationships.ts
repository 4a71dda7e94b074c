/**
 * Relationships between tables, derived from foreign keys in the catalogue, and the choice of one
 * for an embed (`select=*,clients(*)`), as PostgREST 12 makes it (SchemaCache.hs, Plan.hs findRel):
 *
 *  - many-to-one: a foreign key of the origin; one-to-one when its columns are also a unique key;
 *  - one-to-many (or one-to-one): the same key seen from the referenced table;
 *  - many-to-many: a junction table with foreign keys to both tables, all their columns in its primary key.
 *
 * An embed names the target table (or a foreign key's name, or a single FK column), optionally with
 * a hint after `!` (a constraint, a column of the key, or the junction table). No match is 400
 * PGRST200; several are 300 PGRST201 with PostgREST's details and hint.
 */
import { PostgrestError } from './postgrest-parse.js';
import type { ForeignKeyInfo, TableInfo } from './types.js';

export type Cardinality = 'many-to-one' | 'one-to-many' | 'one-to-one' | 'many-to-many';

export interface Junction {
  table: string;
  /** Foreign key of the junction to the origin, and its columns as [origin column, junction column]. */
  constraint1: string;
  sourceColumns: Array<[string, string]>;
  /** Foreign key of the junction to the target, and its columns as [target column, junction column]. */
  constraint2: string;
  targetColumns: Array<[string, string]>;
}

export interface Relationship {
  table: string;
  foreignTable: string;
  cardinality: Cardinality;
  /** The foreign key's name (for many-to-many: the junction's key to the origin). */
  constraint: string;
  /** Join columns as [column of table, column of foreignTable]; empty for many-to-many. */
  columns: Array<[string, string]>;
  isSelf: boolean;
  junction?: Junction;
}

export type TableLookup = ReadonlyMap<string, TableInfo>;

const zip = (a: string[], b: string[]): Array<[string, string]> => a.map((x, i) => [x, b[i] as string]);
const sameSet = (a: string[], b: string[]) => a.length === b.length && a.every((x) => b.includes(x));
const isUnique = (table: TableInfo | undefined, columns: string[]) =>
  !!table && (table.uniqueKeys ?? [table.primaryKey]).some((key) => sameSet(key, columns));

/** Every relationship whose origin is `origin`, in PostgREST's order: its own keys, many-to-many, then keys pointing at it. */
export function relationshipsOf(tables: TableLookup, origin: string): Relationship[] {
  const own: Relationship[] = [];
  const m2m: Relationship[] = [];
  const inverse: Relationship[] = [];
  const from = tables.get(origin);
  // a key's columns, when unique in the referencing table, make it one-to-one either way
  const byKey = (fk: ForeignKeyInfo, foreignTable: string, unique: boolean, many: Cardinality, columns: Array<[string, string]>): Relationship => ({
    table: origin,
    foreignTable,
    cardinality: unique ? 'one-to-one' : many,
    constraint: fk.name,
    columns,
    isSelf: foreignTable === origin,
  });
  for (const fk of from?.foreignKeys ?? []) {
    own.push(byKey(fk, fk.refTable, isUnique(from, fk.columns), 'many-to-one', zip(fk.columns, fk.refColumns)));
  }
  for (const other of tables.values()) {
    const keys = other.foreignKeys ?? [];
    for (const fk of keys) {
      if (fk.refTable !== origin) continue;
      inverse.push(byKey(fk, other.name, isUnique(other, fk.columns), 'one-to-many', zip(fk.refColumns, fk.columns)));
      for (const fk2 of keys) {
        if (fk2 === fk || !junctionKeys(other, fk, fk2)) continue;
        m2m.push({
          table: origin,
          foreignTable: fk2.refTable,
          cardinality: 'many-to-many',
          constraint: fk.name,
          columns: [],
          isSelf: fk2.refTable === origin,
          junction: {
            table: other.name,
            constraint1: fk.name,
            sourceColumns: zip(fk.refColumns, fk.columns),
            constraint2: fk2.name,
            targetColumns: zip(fk2.refColumns, fk2.columns),
          },
        });
      }
    }
  }
  return [...own, ...m2m, ...inverse];
}

/** A table is a junction for two of its keys when all their columns belong to its primary key. */
function junctionKeys(table: TableInfo, a: ForeignKeyInfo, b: ForeignKeyInfo): boolean {
  return [...a.columns, ...b.columns].every((c) => table.primaryKey.includes(c));
}

const singleColumn = (rel: Relationship, side: 0 | 1): string | undefined =>
  rel.cardinality !== 'many-to-many' && rel.columns.length === 1 ? rel.columns[0]?.[side] : undefined;

/** PostgREST's findRel: which relationships an embed `target!hint` can mean. */
function matches(rel: Relationship, target: string, hint: string | undefined): boolean {
  const isM2M = rel.cardinality === 'many-to-many';
  if (rel.isSelf) {
    if (hint === undefined) {
      // children:family_tree(*) is the one-to-many side; parent(*) (the FK column) the many-to-one side.
      return (target === rel.foreignTable && rel.cardinality === 'one-to-many') ||
        (singleColumn(rel, 0) === target && rel.cardinality === 'many-to-one');
    }
    return target === rel.foreignTable && rel.cardinality === 'one-to-many' && singleColumn(rel, 1) === hint;
  }
  if (hint === undefined) {
    return target === rel.foreignTable || (!isM2M && (rel.constraint === target || singleColumn(rel, 0) === target));
  }
  return (
    target === rel.foreignTable &&
    ((!isM2M && rel.constraint === hint) ||
      singleColumn(rel, 0) === hint ||
      singleColumn(rel, 1) === hint ||
      (isM2M && rel.junction?.table === hint))
  );
}

export function findRelationship(tables: TableLookup, origin: string, target: string, hint?: string): Relationship {
  const schema = tables.get(origin)?.schema ?? 'public';
  const found = relationshipsOf(tables, origin).filter((rel) => matches(rel, target, hint));
  const [first, ...rest] = found;
  if (first && rest.length === 0) return first;
  if (!first) {
    const using = hint === undefined ? '' : `' using the hint '${hint}`;
    return noRelationship(origin, target, schema, using);
  }
  const err = new PostgrestError(
    300,
    'PGRST201',
    `Could not embed because more than one relationship was found for '${origin}' and '${target}'`,
    `Try changing '${target}' to one of the following: ${found.map((r) => `'${r.foreignTable}!${r.junction?.table ?? r.constraint}'`).join(', ')}. Find the desired relationship in the 'details' key.`,
    found.map(describe),
  );
  err.nextActions = `Choose one relationship with a hint in select, e.g. ${target}!${first.junction?.table ?? first.constraint}(*).`;
  throw err;
}

function noRelationship(origin: string, target: string, schema: string, using: string): never {
  const err = new PostgrestError(
    400,
    'PGRST200',
    `Could not find a relationship between '${origin}' and '${target}' in the schema cache`,
    undefined,
    `Searched for a foreign key relationship between '${origin}' and '${target}${using}' in the schema '${schema}', but no matches were found.`,
  );
  err.nextActions = `Embedding follows foreign keys: add one between ${origin} and ${target} (e.g. with run-sql), or check the names with GET /api/metadata.`;
  throw err;
}

const cols = (pairs: Array<[string, string]>, side: 0 | 1) => `(${pairs.map((p) => p[side]).join(', ')})`;

/** One entry of PGRST201's details, worded as PostgREST's compressedRel. */
function describe(rel: Relationship): Record<string, string> {
  const embedding = `${rel.table} with ${rel.foreignTable}`;
  if (rel.junction) {
    const j = rel.junction;
    return {
      cardinality: rel.cardinality,
      embedding,
      relationship: `${j.table} using ${j.constraint1}${cols(j.sourceColumns, 1)} and ${j.constraint2}${cols(j.targetColumns, 1)}`,
    };
  }
  return {
    cardinality: rel.cardinality,
    embedding,
    relationship: `${rel.constraint} using ${rel.table}${cols(rel.columns, 0)} and ${rel.foreignTable}${cols(rel.columns, 1)}`,
  };
}

/** To-one relationships embed an object (or null); the others an array. */
export const isToOne = (rel: Relationship) => rel.cardinality === 'many-to-one' || rel.cardinality === 'one-to-one';

import type { ColumnInfo, ForeignKeyInfo, FunctionInfo, Queryable, TableInfo } from './types.js';

const TABLES_SQL = `
SELECT c.relname AS table_name, a.attname AS column_name,
       format_type(a.atttypid, a.atttypmod) AS type, NOT a.attnotnull AS nullable,
       pg_get_expr(d.adbin, d.adrelid) AS default_value,
       coalesce(a.attnum = ANY(pk.conkey), false) AS is_pk
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
LEFT JOIN pg_constraint pk ON pk.conrelid = c.oid AND pk.contype = 'p'
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
ORDER BY c.relname, a.attnum`;

/** Primary keys, unique constraints and foreign keys to the same schema (partition copies left out), in key order. */
const KEYS_SQL = `
SELECT c.relname AS table_name, k.conname AS name, k.contype AS kind,
       (SELECT array_agg(a.attname::text ORDER BY u.i) FROM unnest(k.conkey) WITH ORDINALITY AS u(n, i)
          JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n) AS columns,
       r.relname AS ref_table,
       (SELECT array_agg(a.attname::text ORDER BY u.i) FROM unnest(k.confkey) WITH ORDINALITY AS u(n, i)
          JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n) AS ref_columns
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class r ON r.oid = k.confrelid
LEFT JOIN pg_namespace rn ON rn.oid = r.relnamespace
WHERE n.nspname = $1 AND k.conparentid = 0
  AND (k.contype IN ('p', 'u') OR (k.contype = 'f' AND rn.nspname = $1))
ORDER BY c.relname, k.conname`;

const FUNCTIONS_SQL = `
SELECT p.proname AS name, p.proretset AS returns_set, p.pronargdefaults AS n_defaults,
       CASE WHEN p.prorettype = 'void'::regtype THEN 'void'
            WHEN t.typtype = 'c' OR p.prorettype = 'record'::regtype THEN 'composite'
            ELSE 'scalar' END AS returns,
       (SELECT coalesce(array_agg(format_type(x, NULL) ORDER BY i), '{}')
          FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY AS u(x, i)) AS arg_types,
       (SELECT coalesce(array_agg(coalesce(nm, '') ORDER BY i), '{}')
          FROM unnest(coalesce(p.proargnames, array_fill(''::text, ARRAY[coalesce(array_length(p.proallargtypes, 1), p.pronargs)])))
               WITH ORDINALITY AS u(nm, i)
         WHERE p.proargmodes IS NULL OR p.proargmodes[i] IN ('i', 'b', 'v')) AS arg_names,
       CASE WHEN t.typrelid <> 0 THEN
              (SELECT coalesce(array_agg(a.attname::text ORDER BY a.attnum), '{}') FROM pg_attribute a
                WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped)
            WHEN p.proargmodes IS NOT NULL THEN
              (SELECT coalesce(array_agg(coalesce(p.proargnames[i], '') ORDER BY i), '{}')
                 FROM generate_subscripts(p.proargmodes, 1) AS i WHERE p.proargmodes[i] IN ('o', 'b', 't'))
            ELSE '{}' END AS result_names,
       CASE WHEN t.typrelid <> 0 THEN
              (SELECT coalesce(array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum), '{}') FROM pg_attribute a
                WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped)
            WHEN p.proargmodes IS NOT NULL THEN
              (SELECT coalesce(array_agg(format_type(p.proallargtypes[i], NULL) ORDER BY i), '{}')
                 FROM generate_subscripts(p.proargmodes, 1) AS i WHERE p.proargmodes[i] IN ('o', 'b', 't'))
            ELSE '{}' END AS result_types,
       CASE WHEN rc.relkind IN ('r', 'p', 'v', 'm', 'f') AND rn.nspname = $1 THEN rc.relname::text END AS result_table
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_type t ON t.oid = p.prorettype
LEFT JOIN pg_class rc ON rc.oid = t.typrelid
LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
WHERE n.nspname = $1 AND p.prokind = 'f' AND p.prorettype <> 'trigger'::regtype`;

interface TableRow { table_name: string; column_name: string; type: string; nullable: boolean; default_value: string | null; is_pk: boolean }
interface KeyRow { table_name: string; name: string; kind: 'p' | 'u' | 'f'; columns: string[]; ref_table: string | null; ref_columns: string[] | null }
interface FunctionRow {
  name: string; returns_set: boolean; n_defaults: number; returns: FunctionInfo['returns']; arg_types: string[]; arg_names: string[];
  result_names: string[]; result_types: string[]; result_table: string | null;
}

/**
 * Names the PostgREST routes may use, read from pg_catalog and cached. Cleared after anything
 * that can change the schema (run-sql), and reloaded once on a miss, since another connection
 * may have created the table meanwhile.
 */
export class Catalog {
  private tables?: Promise<Map<string, TableInfo>>;
  private functions?: Promise<Map<string, FunctionInfo[]>>;

  constructor(private readonly db: Queryable, readonly schema = 'public') {}

  invalidate(): void {
    this.tables = undefined;
    this.functions = undefined;
  }

  async table(name: string): Promise<TableInfo | undefined> {
    const hit = (await this.loadTables()).get(name);
    if (hit) return hit;
    this.tables = undefined;
    return (await this.loadTables()).get(name);
  }

  async tableNames(): Promise<string[]> {
    return [...(await this.loadTables()).keys()];
  }

  /** Every table of the schema, as last loaded (embedding looks up the tables related to the one asked for). */
  async allTables(): Promise<ReadonlyMap<string, TableInfo>> {
    return this.loadTables();
  }

  async functionsNamed(name: string): Promise<FunctionInfo[]> {
    const hit = (await this.loadFunctions()).get(name);
    if (hit) return hit;
    this.functions = undefined;
    return (await this.loadFunctions()).get(name) ?? [];
  }

  private loadTables(): Promise<Map<string, TableInfo>> {
    const load = async () => {
      const { rows } = await this.db.query<TableRow>(TABLES_SQL, [this.schema]);
      const { rows: keys } = await this.db.query<KeyRow>(KEYS_SQL, [this.schema]);
      const map = new Map<string, TableInfo>();
      for (const r of rows) {
        let t = map.get(r.table_name);
        if (!t) map.set(r.table_name, (t = { schema: this.schema, name: r.table_name, columns: new Map<string, ColumnInfo>(), primaryKey: [], uniqueKeys: [], foreignKeys: [] }));
        t.columns.set(r.column_name, { name: r.column_name, type: r.type, nullable: r.nullable, defaultValue: r.default_value });
        if (r.is_pk) t.primaryKey.push(r.column_name);
      }
      for (const k of keys) {
        const t = map.get(k.table_name);
        if (!t) continue;
        if (k.kind === 'f') {
          if (k.ref_table === null || !map.has(k.ref_table)) continue;
          const fk: ForeignKeyInfo = { name: k.name, columns: k.columns, refTable: k.ref_table, refColumns: k.ref_columns ?? [] };
          t.foreignKeys!.push(fk);
        } else {
          t.uniqueKeys!.push(k.columns);
        }
      }
      return map;
    };
    this.tables ??= load();
    this.tables.catch(() => (this.tables = undefined));
    return this.tables;
  }

  private loadFunctions(): Promise<Map<string, FunctionInfo[]>> {
    this.functions ??= this.db.query<FunctionRow>(FUNCTIONS_SQL, [this.schema]).then(({ rows }) => {
      const map = new Map<string, FunctionInfo[]>();
      for (const r of rows) {
        const firstDefault = r.arg_types.length - r.n_defaults;
        const info: FunctionInfo = {
          schema: this.schema,
          name: r.name,
          returnsSet: r.returns_set,
          returns: r.returns,
          args: r.arg_types.map((type, i) => ({ name: r.arg_names[i] ?? '', type, hasDefault: i >= firstDefault })),
          resultColumns: r.returns === 'composite' ? r.result_names.map((name, i) => ({ name, type: r.result_types[i] ?? 'unknown' })) : [],
          ...(r.result_table ? { resultTable: r.result_table } : {}),
        };
        map.set(r.name, [...(map.get(r.name) ?? []), info]);
      }
      return map;
    });
    this.functions.catch(() => (this.functions = undefined));
    return this.functions;
  }
}

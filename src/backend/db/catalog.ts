import type { ColumnInfo, FunctionInfo, Queryable, TableInfo } from './types.js';

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
         WHERE p.proargmodes IS NULL OR p.proargmodes[i] IN ('i', 'b', 'v')) AS arg_names
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_type t ON t.oid = p.prorettype
WHERE n.nspname = $1 AND p.prokind = 'f' AND p.prorettype <> 'trigger'::regtype`;

interface TableRow { table_name: string; column_name: string; type: string; nullable: boolean; default_value: string | null; is_pk: boolean }
interface FunctionRow { name: string; returns_set: boolean; n_defaults: number; returns: FunctionInfo['returns']; arg_types: string[]; arg_names: string[] }

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

  async functionsNamed(name: string): Promise<FunctionInfo[]> {
    const hit = (await this.loadFunctions()).get(name);
    if (hit) return hit;
    this.functions = undefined;
    return (await this.loadFunctions()).get(name) ?? [];
  }

  private loadTables(): Promise<Map<string, TableInfo>> {
    this.tables ??= this.db.query<TableRow>(TABLES_SQL, [this.schema]).then(({ rows }) => {
      const map = new Map<string, TableInfo>();
      for (const r of rows) {
        let t = map.get(r.table_name);
        if (!t) map.set(r.table_name, (t = { schema: this.schema, name: r.table_name, columns: new Map<string, ColumnInfo>(), primaryKey: [] }));
        t.columns.set(r.column_name, { name: r.column_name, type: r.type, nullable: r.nullable, defaultValue: r.default_value });
        if (r.is_pk) t.primaryKey.push(r.column_name);
      }
      return map;
    });
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
        };
        map.set(r.name, [...(map.get(r.name) ?? []), info]);
      }
      return map;
    });
    this.functions.catch(() => (this.functions = undefined));
    return this.functions;
  }
}

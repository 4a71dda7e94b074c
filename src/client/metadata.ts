/**
 * Metadata in one shape, whichever backend answered. The embedded backend lists its tables with
 * columns, keys, RLS and policies, and the SQL functions, in GET /api/metadata. InsForge v2 lists
 * table names and row counts there, and describes tables in its export's shape
 * (`{[table]: {schema: [{columnName, dataType, isNullable: 'YES'|'NO', columnDefault}], indexes,
 * foreignKeys, rlsEnabled, policies, triggers}}`), for all tables at once from
 * POST /api/database/advance/export and for one from GET /api/metadata/{table}.
 */

export interface ColumnMeta {
  columnName: string;
  type: string;
  isNullable: boolean;
  defaultValue: string | null;
  isPrimaryKey: boolean;
}

export interface PolicyMeta {
  policyName: string;
  command: string;
  roles: string[];
  using: string | null;
  withCheck: string | null;
  permissive?: string;
}

export interface ForeignKeyMeta {
  constraintName: string;
  columns: string[];
  referenceTable: string;
  referenceColumns: string[];
  onDelete?: string;
  onUpdate?: string;
}

export interface IndexMeta {
  indexName: string;
  definition: string;
  isUnique: boolean;
  isPrimary: boolean;
}

/** A table as get-backend-metadata (verbose) lists it; describe-table adds indexes, triggers and the row count. */
export interface TableMeta {
  tableName: string;
  columns: ColumnMeta[];
  primaryKey: string[];
  foreignKeys: ForeignKeyMeta[];
  rlsEnabled: boolean;
  policies: PolicyMeta[];
}

export interface TableDetail extends TableMeta {
  indexes: IndexMeta[];
  triggers?: unknown[];
  recordCount?: number;
}

export interface SqlFunctionMeta {
  name: string;
  arguments: string;
  returns: string;
}

export interface BackendMetadata {
  tables: TableMeta[];
  sqlFunctions: SqlFunctionMeta[];
  buckets: { name: string; public: boolean }[];
  /** Deployed serverless functions. */
  functions: { slug: string; name?: string; status?: string }[];
}

type Raw = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const list = (v: unknown): Raw[] => (Array.isArray(v) ? v : []);
const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** Postgres arrays reach v2's JSON as text when the driver does not know the type: `{anon,authenticated}`. */
const names = (v: unknown): string[] =>
  Array.isArray(v) ? v.map(String) : typeof v === 'string' ? v.replace(/^\{|\}$/g, '').split(',').filter(Boolean).map((n) => n.replace(/^"|"$/g, '')) : [];

/** The columns of an index definition: `CREATE UNIQUE INDEX t_pkey ON public.t USING btree (a, "b c")`. */
function indexColumns(definition: string): string[] {
  const inner = /USING \w+ \((.*)\)\s*$/.exec(definition)?.[1];
  return inner ? inner.split(/,\s*/).map((c) => c.replace(/^"(.*)"$/, '$1').replace(/""/g, '"')) : [];
}

function policy(p: Raw): PolicyMeta {
  return {
    policyName: String(p.policyName ?? p.policyname),
    command: String(p.command ?? p.cmd),
    roles: names(p.roles),
    using: text(p.using ?? p.qual),
    withCheck: text(p.withCheck ?? p.with_check),
    ...(typeof p.permissive === 'string' ? { permissive: p.permissive } : {}),
  };
}

function foreignKey(f: Raw): ForeignKeyMeta {
  // v2 pairs the columns: referenceColumns [{sourceColumn, referenceColumn}]
  const pairs = list(f.referenceColumns).filter((c) => c && typeof c === 'object');
  return {
    constraintName: String(f.constraintName),
    columns: pairs.length ? pairs.map((c) => String(c.sourceColumn)) : names(f.columns),
    referenceTable: String(f.referenceTable),
    referenceColumns: pairs.length ? pairs.map((c) => String(c.referenceColumn)) : names(f.referenceColumns),
    ...(f.onDelete ? { onDelete: String(f.onDelete) } : {}),
    ...(f.onUpdate ? { onUpdate: String(f.onUpdate) } : {}),
  };
}

const index = (i: Raw): IndexMeta => ({
  indexName: String(i.indexName ?? i.indexname),
  definition: String(i.definition ?? i.indexdef),
  isUnique: i.isUnique === true,
  isPrimary: i.isPrimary === true,
});

/** A table in the embedded backend's shape, or in v2's export shape (`{schema, indexes, …}`). */
function tableDetail(tableName: string, t: Raw): TableDetail {
  const indexes = list(t.indexes).map(index);
  if (!Array.isArray(t.schema)) {
    return {
      tableName,
      columns: list(t.columns).map((c) => ({ columnName: String(c.columnName), type: String(c.type), isNullable: c.isNullable !== false, defaultValue: text(c.defaultValue), isPrimaryKey: c.isPrimaryKey === true })),
      primaryKey: names(t.primaryKey),
      foreignKeys: list(t.foreignKeys).map(foreignKey),
      rlsEnabled: t.rlsEnabled === true,
      policies: list(t.policies).map(policy),
      indexes,
      ...(typeof t.recordCount === 'number' ? { recordCount: t.recordCount } : {}),
    };
  }
  const primaryKey = indexColumns(indexes.find((i) => i.isPrimary)?.definition ?? '');
  return {
    tableName,
    columns: list(t.schema).map((c) => ({
      columnName: String(c.columnName),
      // information_schema's data type, with the length format_type() would show
      type: `${c.dataType}${typeof c.characterMaximumLength === 'number' ? `(${c.characterMaximumLength})` : ''}`,
      isNullable: c.isNullable !== 'NO',
      defaultValue: text(c.columnDefault),
      isPrimaryKey: primaryKey.includes(String(c.columnName)),
    })),
    primaryKey,
    foreignKeys: list(t.foreignKeys).map(foreignKey),
    rlsEnabled: t.rlsEnabled === true,
    policies: list(t.policies).map(policy),
    indexes,
    ...(Array.isArray(t.triggers) ? { triggers: t.triggers } : {}),
  };
}

const summary = ({ indexes: _i, triggers: _t, recordCount: _r, ...table }: TableDetail): TableMeta => table;

/** v2's export names each function and gives its definition: `CREATE OR REPLACE FUNCTION public.f(a integer)\n RETURNS integer\n…`. */
function sqlFunction(f: Raw): SqlFunctionMeta | undefined {
  if (typeof f.name === 'string') return { name: f.name, arguments: String(f.arguments ?? ''), returns: String(f.returns ?? '') };
  if (f.kind !== undefined && f.kind !== 'f') return undefined; // procedures and window functions: the embedded backend lists neither
  const definition = String(f.functionDef ?? '');
  const head = definition.split('\n')[0] ?? '';
  return {
    name: String(f.functionName),
    arguments: head.slice(head.indexOf('(') + 1, head.lastIndexOf(')')),
    returns: /^\s*RETURNS (.+)$/m.exec(definition)?.[1]?.trim() ?? '',
  };
}

const bucket = (b: Raw) => ({ name: String(b.name), public: b.public === true });
const deployed = (f: Raw) => ({ slug: String(f.slug), ...(f.name ? { name: String(f.name) } : {}), ...(f.status ? { status: String(f.status) } : {}) });

/**
 * GET /api/metadata in one shape. `exported` fetches v2's export, for backends that list tables
 * without their columns; it is called once, whatever the number of tables.
 */
export async function backendMetadata(metadata: Raw, exported: () => Promise<Raw>): Promise<BackendMetadata> {
  const listed = list(metadata.database?.tables);
  const common = { buckets: list(metadata.storage?.buckets).map(bucket), functions: list(metadata.functions).map(deployed) };
  if (listed.every((t) => Array.isArray(t.columns))) {
    const tables = listed.map((t) => summary(tableDetail(String(t.tableName), t)));
    return { tables, sqlFunctions: list(metadata.database?.functions).flatMap((f) => sqlFunction(f) ?? []), ...common };
  }
  const data = ((await exported())?.data ?? {}) as Raw;
  const described = (data.tables ?? {}) as Record<string, Raw>;
  const tables = Object.entries(described).map(([name, t]) => summary(tableDetail(name, t)));
  return { tables, sqlFunctions: list(data.functions).flatMap((f) => sqlFunction(f) ?? []), ...common };
}

/** One table, from either shape; undefined when the backend describes no such table. */
export function tableFrom(table: string, body: Raw): TableDetail | undefined {
  if (Array.isArray(body.columns)) return tableDetail(table, body);
  const wrapped = body[table] as Raw | undefined;
  if (!wrapped || !Array.isArray(wrapped.schema) || wrapped.schema.length === 0) return undefined;
  return tableDetail(table, wrapped);
}

/**
 * Metadata in one shape, whichever backend answered. The embedded backend lists tables with
 * their columns; InsForge v2 lists names and counts only, and describes a table as
 * `{[name]: {schema: [{columnName, dataType, isNullable: 'YES'|'NO', columnDefault}], …}}`.
 */

export interface ColumnMeta {
  columnName: string;
  type: string;
  isNullable?: boolean;
  defaultValue?: string | null;
  isPrimaryKey?: boolean;
}

export interface TableMeta {
  tableName: string;
  columns?: ColumnMeta[];
  [more: string]: unknown;
}

interface V2Column {
  columnName: string;
  dataType?: string;
  type?: string;
  isNullable?: string | boolean;
  columnDefault?: string | null;
  defaultValue?: string | null;
  isPrimaryKey?: boolean;
}

const column = (c: V2Column): ColumnMeta => ({
  columnName: c.columnName,
  type: c.type ?? c.dataType ?? 'unknown',
  isNullable: typeof c.isNullable === 'string' ? c.isNullable === 'YES' : c.isNullable,
  defaultValue: c.defaultValue ?? c.columnDefault ?? null,
  ...(c.isPrimaryKey !== undefined ? { isPrimaryKey: c.isPrimaryKey } : {}),
});

/** Tables listed without columns (v2) get them from each table's schema route. */
export async function withColumns(metadata: Record<string, unknown>, fetchSchema: (table: string) => Promise<Record<string, unknown>>): Promise<Record<string, unknown>> {
  const database = (metadata.database ?? {}) as { tables?: TableMeta[] };
  const tables = database.tables ?? [];
  if (tables.every((t) => Array.isArray(t.columns))) return metadata;
  const described = await Promise.all(
    tables.map(async (t) => {
      const schema = await fetchSchema(t.tableName).catch(() => undefined);
      const columns = ((schema?.columns ?? []) as V2Column[]).map(column);
      return { ...t, columns, ...(schema?.foreignKeys ? { foreignKeys: schema.foreignKeys } : {}) };
    }),
  );
  return { ...metadata, database: { ...database, tables: described } };
}

/** One table, from either shape; undefined when the backend describes no such table. */
export function tableFrom(table: string, body: Record<string, unknown>): Record<string, unknown> | undefined {
  if (Array.isArray(body.columns)) return body;
  const wrapped = body[table] as { schema?: V2Column[] } & Record<string, unknown> | undefined;
  if (!wrapped || !Array.isArray(wrapped.schema) || wrapped.schema.length === 0) return undefined;
  const { schema, ...rest } = wrapped;
  return { tableName: table, columns: schema.map(column), ...rest };
}

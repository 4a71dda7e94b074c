/** What the backend needs from a database: the same small surface for PGlite and node-postgres. */

export interface QueryField {
  name: string;
  dataTypeID: number;
}

export interface QueryResult<R = Record<string, unknown>> {
  rows: R[];
  fields: QueryField[];
  /** Rows affected (INSERT/UPDATE/DELETE) or returned (SELECT). */
  rowCount: number;
}

export interface Queryable {
  /** One statement, extended protocol, `$1…$n` parameters. */
  query<R = Record<string, unknown>>(text: string, values?: unknown[]): Promise<QueryResult<R>>;
  /** Several statements, simple protocol, no parameters; returns the last statement's result. */
  exec<R = Record<string, unknown>>(text: string): Promise<QueryResult<R>>;
}

export interface Database extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  /** Runs fn in BEGIN … COMMIT, rolling back if it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** A Postgres error as both drivers report it: SQLSTATE in `code`. */
export interface PgErrorLike {
  code?: string;
  message: string;
  detail?: string;
  hint?: string;
}

// ---- Catalogue: what the PostgREST translator may name. Identifiers not found here are refused. ----

export interface ColumnInfo {
  name: string;
  /** format_type(), e.g. 'integer', 'text', 'timestamp with time zone', 'jsonb', 'text[]'. */
  type: string;
  nullable: boolean;
  /** SQL default expression, or null. */
  defaultValue: string | null;
}

export interface TableInfo {
  schema: string;
  name: string;
  /** Keyed by column name, in ordinal order. */
  columns: Map<string, ColumnInfo>;
  /** Primary-key column names (may be empty). */
  primaryKey: string[];
  /** Column sets of the primary key and each unique constraint (to tell one-to-one from many-to-one). */
  uniqueKeys?: string[][];
  /** Foreign keys of this table to tables of the same schema (embedding follows them). */
  foreignKeys?: ForeignKeyInfo[];
}

export interface ForeignKeyInfo {
  /** Constraint name, e.g. `todos_owner_fkey` (a hint in `profiles!todos_owner_fkey(*)`). */
  name: string;
  /** Referencing columns of this table, in key order. */
  columns: string[];
  /** The referenced table (same schema). */
  refTable: string;
  /** Referenced columns, in the same order as `columns`. */
  refColumns: string[];
}

export interface FunctionArg {
  /** Empty string for an unnamed argument. */
  name: string;
  type: string;
  hasDefault: boolean;
}

export interface FunctionInfo {
  schema: string;
  name: string;
  /** IN / INOUT / VARIADIC arguments only, in order. */
  args: FunctionArg[];
  returnsSet: boolean;
  /** 'composite' for a row/table type (or RETURNS TABLE), 'void' for void, else 'scalar'. */
  returns: 'scalar' | 'composite' | 'void';
  /** Columns of a composite result (a table's row type, RETURNS TABLE or OUT arguments); empty otherwise. */
  resultColumns?: Array<{ name: string; type: string }>;
  /** The table of the same schema whose row type the function returns, so its results can embed along its foreign keys. */
  resultTable?: string;
}

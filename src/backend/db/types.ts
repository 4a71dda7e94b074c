/** What the backend needs from a database: the same small surface for PGlite and node-postgres. */
import type { CallerIdentity, CallerTxOptions } from './boundary.js';

export interface QueryField {
  name: string;
  dataTypeID?: number;
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

/**
 * A transaction as a caller (anon, a user, the admin key). Every statement runs inside the caller
 * role's security boundary (boundary.ts); rows come back as JSON values (numbers, strings, nested
 * objects; timestamps as ISO text).
 */
export interface CallerTx {
  /** One statement with `$1…$n` parameters: its rows, or for DDL and DML without RETURNING its row count. */
  query<R = Record<string, unknown>>(text: string, values?: unknown[]): Promise<QueryResult<R>>;
  /** One statement known to return rows (a SELECT, DML with RETURNING): as query, a little cheaper. */
  rows<R = Record<string, unknown>>(text: string, values?: unknown[]): Promise<QueryResult<R>>;
  /** A script of statements in order (run-sql); the last one's rows, or its row count. */
  script<R = Record<string, unknown>>(statements: string[], values?: unknown[]): Promise<QueryResult<R>>;
}

/** What code that only reads or writes with single statements needs: a caller's transaction or the backend's own access. */
export type QueryRunner = Pick<Queryable, 'query'>;

/** The backend's own access: privileged, so it never touches what users define (see Database.internal). */
export interface InternalDb extends Queryable {
  /** Runs fn in BEGIN … COMMIT, rolling back if it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
}

export interface Database {
  readonly kind: 'pglite' | 'postgres';
  /**
   * The backend itself (auth internals, sessions, function definitions, the catalogue, migrations):
   * PGlite's superuser session, or the database URL's own user on Postgres. Only for the backend's
   * own schemas and pg_catalog — never for user tables, views or functions, whose code must run
   * inside a caller's boundary.
   */
  internal: InternalDb;
  /** One transaction as a caller; nothing it changes in the session outlives it. */
  asCaller<T>(who: CallerIdentity, fn: (tx: CallerTx) => Promise<T>, opts?: CallerTxOptions): Promise<T>;
  /** A transaction of one statement that returns rows (a PostgREST request): as asCaller, in one round trip. */
  asCallerOnce<R = Record<string, unknown>>(who: CallerIdentity, text: string, values: unknown[], opts?: CallerTxOptions): Promise<QueryResult<R>>;
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

/**
 * The InsForge v2 table model (§4 of the v2 reference) → DDL text. Pure functions: tables.ts runs
 * what they build. Nothing a client sends reaches SQL unchecked: names must be plain identifiers
 * and are double-quoted as well; column types are one of the eight model types or a type name
 * that Postgres itself has parsed (see tables.ts); default values are literals, except now() and
 * gen_random_uuid(), as in InsForge.
 */
import { z } from 'zod';
import { ApiError } from '../errors.js';
import { quoteIdent } from './postgrest.js';

/** The model's column types and their SQL; some get a default when NOT NULL and given none. */
const COLUMN_TYPES: Record<string, { sql: string; systemDefault?: string }> = {
  string: { sql: 'TEXT' },
  integer: { sql: 'INTEGER' },
  float: { sql: 'DOUBLE PRECISION' },
  boolean: { sql: 'BOOLEAN', systemDefault: 'false' },
  uuid: { sql: 'UUID', systemDefault: 'gen_random_uuid()' },
  json: { sql: 'JSONB' },
  date: { sql: 'DATE', systemDefault: 'now()' },
  datetime: { sql: 'TIMESTAMPTZ', systemDefault: 'now()' },
};

/** format_type() names back to model types, for reading a table's schema. */
const MODEL_TYPE_OF_SQL: Record<string, string> = {
  text: 'string',
  integer: 'integer',
  'double precision': 'float',
  boolean: 'boolean',
  uuid: 'uuid',
  jsonb: 'json',
  date: 'date',
  'timestamp with time zone': 'datetime',
};

/** Columns every table gets, with the only type each may be declared with. */
export const AUTO_COLUMNS: Record<string, string> = { id: 'uuid', created_at: 'datetime', updated_at: 'datetime' };

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** A raw SQL type: words, an optional (n) or (n,m) modifier, an optional []. Postgres checks the rest. */
const RAW_TYPE = /^[A-Za-z_][A-Za-z0-9_]*(?: [A-Za-z_][A-Za-z0-9_]*){0,3}(?:\(\d{1,5}(?:, ?\d{1,5})?\))?(?:\[\])?$/;
const SAFE_DEFAULT_FUNCTIONS = new Set(['now()', 'gen_random_uuid()']);

const identifier = (what: string) =>
  z.string().max(63, `${what} must be at most 63 characters`).regex(IDENTIFIER, `${what} must be letters, digits and "_", not starting with a digit`);

const referentialAction = z.enum(['CASCADE', 'SET NULL', 'SET DEFAULT', 'RESTRICT', 'NO ACTION']).default('NO ACTION');

export const ColumnSpec = z.object({
  columnName: identifier('columnName'),
  type: z.string().min(1),
  defaultValue: z.string().optional(),
  isPrimaryKey: z.boolean().optional(),
  isNullable: z.boolean(),
  isUnique: z.boolean(),
});
export type ColumnSpec = z.infer<typeof ColumnSpec>;

export const ForeignKeySpec = z.object({
  constraintName: identifier('constraintName').optional(),
  /** `table` in public, or `schema.table` (e.g. `auth.users`). */
  referenceTable: z.string().regex(/^(?:[A-Za-z_][A-Za-z0-9_]*\.)?[A-Za-z_][A-Za-z0-9_]*$/, 'referenceTable must be "table" or "schema.table"'),
  referenceColumns: z.array(z.object({ sourceColumn: identifier('sourceColumn'), referenceColumn: identifier('referenceColumn') })).min(1),
  onDelete: referentialAction,
  onUpdate: referentialAction,
});
export type ForeignKeySpec = z.infer<typeof ForeignKeySpec>;

export const CreateTableBody = z.object({
  tableName: identifier('tableName'),
  columns: z.array(ColumnSpec).min(1),
  foreignKeys: z.array(ForeignKeySpec).optional(),
  rlsEnabled: z.boolean().default(true),
});

export const UpdateTableBody = z.object({
  addColumns: z.array(ColumnSpec).optional(),
  dropColumns: z.array(z.string().min(1)).optional(),
  updateColumns: z.array(z.object({ columnName: z.string().min(1), defaultValue: z.string().optional(), newColumnName: identifier('newColumnName').optional() })).optional(),
  addForeignKeys: z.array(ForeignKeySpec).optional(),
  dropForeignKeys: z.array(z.string().min(1)).optional(),
  renameTable: z.object({ newTableName: identifier('newTableName') }).optional(),
});

const invalid = (message: string, nextActions: string) => new ApiError(400, 'DATABASE_VALIDATION_ERROR', message, nextActions);

/** The SQL type of a column: a model type's, or the raw type name (to be confirmed by Postgres). */
export function sqlTypeOf(type: string): string {
  const known = COLUMN_TYPES[type];
  if (known) return known.sql;
  if (!RAW_TYPE.test(type)) throw invalid(`Unknown column type "${type}"`, `Use one of ${Object.keys(COLUMN_TYPES).join(', ')}, or a Postgres type name such as "bigint" or "varchar(255)".`);
  return type;
}

/** Raw type names that Postgres must confirm are types, since they are written into DDL as given. */
export const rawTypesOf = (columns: ColumnSpec[]) => [...new Set(columns.filter((c) => !COLUMN_TYPES[c.type]).map((c) => sqlTypeOf(c.type)))];

/** Drops the auto columns when declared with their own type, and refuses them with any other. */
export function userColumns(columns: ColumnSpec[]): ColumnSpec[] {
  return columns.filter((c) => {
    const autoType = AUTO_COLUMNS[c.columnName];
    if (autoType === undefined) return true;
    if (c.type === autoType) return false;
    throw invalid(`Column '${c.columnName}' is a reserved field that requires type '${autoType}', but got '${c.type}'`, 'id, created_at and updated_at are added to every table; leave them out.');
  });
}

/** A string literal no content can end: dollar-quoted with a tag the content does not contain. */
export function quoteLiteral(value: string): string {
  if (value.includes('\u0000')) throw invalid('A default value cannot contain NUL', 'Remove the NUL character.');
  let tag = 'v';
  while (value.includes(`$${tag}$`)) tag += '_';
  return `$${tag}$${value}$${tag}$`;
}

/** `DEFAULT …` for a column: the given value as a literal, or the type's default for NOT NULL columns. */
export function defaultClause(column: Pick<ColumnSpec, 'defaultValue' | 'type' | 'isNullable'>): string {
  const given = column.defaultValue?.trim();
  const value = given || (column.isNullable ? undefined : COLUMN_TYPES[column.type]?.systemDefault);
  if (!value) return '';
  return `DEFAULT ${defaultExpression(value)}`;
}

export const defaultExpression = (value: string) => (SAFE_DEFAULT_FUNCTIONS.has(value.toLowerCase()) ? value.toLowerCase() : quoteLiteral(value));

export function columnDefinition(column: ColumnSpec): string {
  return [quoteIdent(column.columnName), sqlTypeOf(column.type), column.isNullable ? '' : 'NOT NULL', column.isUnique ? 'UNIQUE' : '', defaultClause(column)].filter(Boolean).join(' ');
}

/** A table of the public schema, whatever its name: tables made with run-sql need not be identifiers. */
export const publicRelation = (table: string) => `public.${quoteIdent(table)}`;

/** A referenced table: `name` (public) or `schema.name`, both already checked as identifiers. */
const referencedRelation = (table: string) => {
  const [schema, name] = table.includes('.') ? table.split('.') : ['public', table];
  return `${quoteIdent(schema!)}.${quoteIdent(name!)}`;
};

export const constraintNameOf = (table: string, fk: ForeignKeySpec) => fk.constraintName ?? `${table}_${fk.referenceColumns.map((r) => r.sourceColumn).join('_')}_fkey`.slice(0, 63);

export function foreignKeyConstraint(table: string, fk: ForeignKeySpec): string {
  const source = fk.referenceColumns.map((r) => quoteIdent(r.sourceColumn)).join(', ');
  const target = fk.referenceColumns.map((r) => quoteIdent(r.referenceColumn)).join(', ');
  return `CONSTRAINT ${quoteIdent(constraintNameOf(table, fk))} FOREIGN KEY (${source}) REFERENCES ${referencedRelation(fk.referenceTable)} (${target}) ON DELETE ${fk.onDelete} ON UPDATE ${fk.onUpdate}`;
}

/** CREATE TABLE with the auto columns, then RLS and the trigger that keeps updated_at current. */
export function createTableStatements(table: string, columns: ColumnSpec[], foreignKeys: ForeignKeySpec[], rlsEnabled: boolean): string[] {
  const relation = publicRelation(table);
  const parts = [
    '"id" UUID PRIMARY KEY DEFAULT gen_random_uuid()',
    ...columns.map(columnDefinition),
    '"created_at" TIMESTAMPTZ DEFAULT now()',
    '"updated_at" TIMESTAMPTZ DEFAULT now()',
    ...foreignKeys.map((fk) => foreignKeyConstraint(table, fk)),
  ];
  return [
    `CREATE TABLE ${relation} (${parts.join(', ')})`,
    ...(rlsEnabled ? [`ALTER TABLE ${relation} ENABLE ROW LEVEL SECURITY`] : []),
    `CREATE TRIGGER ${quoteIdent(`${table}_update_timestamp`.slice(0, 63))} BEFORE UPDATE ON ${relation} FOR EACH ROW EXECUTE FUNCTION system.update_updated_at()`,
  ];
}

export const modelTypeOf = (sqlType: string) => MODEL_TYPE_OF_SQL[sqlType] ?? sqlType;

/** A column default as InsForge shows it: `'abc'::text` → abc, `0::integer` → 0, `now()` as is. */
export function shownDefault(expression: string | null): string | undefined {
  if (!expression) return undefined;
  const literal = /^'((?:[^']|'')*)'::[\w\s]+$/.exec(expression);
  if (literal) return literal[1]!.replaceAll("''", "'");
  const cast = /^(.+?)::[\w\s]+$/.exec(expression);
  return cast ? cast[1] : expression;
}

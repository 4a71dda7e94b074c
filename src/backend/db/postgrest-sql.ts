/**
 * SQL fragments of the PostgREST translation: quoted identifiers, catalogue-checked types, `$n`
 * parameters, column expressions and filters. Every identifier comes from a catalogue object and is
 * quoted; every value is a parameter; only whitelisted operators and keywords are written.
 */
import type { ColumnInfo, TableInfo } from './types.js';
import { PostgrestError, grammarError, type ConditionNode, type FieldRef, type FilterNode } from './postgrest-parse.js';

// ---------------------------------------------------------------- identifiers, types, params

/** `"name"` with `"` doubled. Refuses names Postgres cannot represent (empty, NUL). */
export function quoteIdent(name: string): string {
  if (name.length === 0 || name.includes('\u0000')) {
    throw grammarError(`invalid identifier ${JSON.stringify(name)}`);
  }
  return `"${name.replaceAll('"', '""')}"`;
}

export function quoteRelation(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

/**
 * Types as `format_type()` prints them: `integer`, `character varying(255)`, `numeric(10,2)`,
 * `timestamp(3) with time zone`, `"char"`, `public.mood`, `"My Enum"`, `text[]`.
 * They come from the catalogue (trusted), but are still checked before being written into SQL.
 */
const TYPE_IDENT = String.raw`(?:[a-z_][a-z0-9_$]*|"(?:[^"\u0000]|"")+")`;
const TYPE_MOD = String.raw`(?:\(\d+(?:, ?\d+)*\))?`;
const CATALOG_TYPE_RE = new RegExp(
  String.raw`^${TYPE_IDENT}(?:\.${TYPE_IDENT})?${TYPE_MOD}(?: [a-z_][a-z0-9_]*${TYPE_MOD})*(?:\[\])?$`,
  'i',
);

/** The catalogue type if it is safe to write after `::`, else undefined. */
export function catalogType(type: string): string | undefined {
  const t = type.trim();
  return CATALOG_TYPE_RE.test(t) ? t : undefined;
}

const TEXT_TYPE_RE = /^(text|citext|name|character varying|varchar|character|char|bpchar)(\(\d+\))?$/i;

export class Params {
  readonly values: unknown[] = [];
  /** Adds a value and returns its placeholder. */
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** What expressions are built against: the table (for column checks), the params, the row alias. */
export interface Ctx {
  table: TableInfo;
  params: Params;
  /** Alias of the row source in the statement (`_t` for the root, `_t1`… for embedded tables). */
  qual: string;
  /**
   * For `embed=is.null` / `embed=not.is.null` (and the same inside or/and): the SQL that is NULL when
   * the embedded resource of that name has no row, if there is one.
   */
  embedPresence?: (name: string) => string | undefined;
}

export function newCtx(table: TableInfo, params = new Params(), qual = '_t'): Ctx {
  return { table, params, qual };
}

function unknownColumn(table: TableInfo, name: string): PostgrestError {
  const names = [...table.columns.keys()];
  const shown = names.slice(0, 20).join(', ') + (names.length > 20 ? `, … (${names.length - 20} more)` : '');
  return new PostgrestError(
    400,
    '42703',
    `column ${table.name}.${name} does not exist`,
    names.length ? `Valid columns of ${table.schema}.${table.name}: ${shown}` : `${table.schema}.${table.name} has no columns`,
  );
}

export function checkColumn(table: TableInfo, name: string): ColumnInfo {
  const col = table.columns.get(name);
  if (!col) throw unknownColumn(table, name);
  return col;
}

// ---------------------------------------------------------------- expressions

export interface Expr {
  sql: string;
  column: ColumnInfo;
  field: FieldRef;
  /** The expression is text (a text column or a `->>` path), so LIKE needs no cast. */
  isText: boolean;
}

/** `_t."col"` or `(_t."data"->$1::text)`; JSON keys are parameters, array indexes cast to integer. */
export function fieldExpr(ctx: Ctx, field: FieldRef): Expr {
  const column = checkColumn(ctx.table, field.column);
  let sql = `${ctx.qual}.${quoteIdent(column.name)}`;
  for (const step of field.path) {
    const isIndex = /^-?\d+$/.test(step.key);
    sql = `(${sql}${step.op}${ctx.params.add(step.key)}::${isIndex ? 'integer' : 'text'})`;
  }
  const last = field.path.at(-1);
  const isText = last ? last.op === '->>' : TEXT_TYPE_RE.test(column.type.trim());
  return { sql, column, field, isText };
}

function asText(e: Expr): string {
  return e.isText ? e.sql : `(${e.sql})::text`;
}

const COMPARE_SQL = {
  eq: '=', neq: '<>', gt: '>', gte: '>=', lt: '<', lte: '<=', cs: '@>', cd: '<@', ov: '&&',
  sl: '<<', sr: '>>', nxr: '&<', nxl: '&>', adj: '-|-',
} as const;
const PATTERN_SQL = { like: 'LIKE', ilike: 'ILIKE', match: '~', imatch: '~*' } as const;
const IS_SQL = { null: 'NULL', not_null: 'NOT NULL', true: 'TRUE', false: 'FALSE', unknown: 'UNKNOWN' } as const;
const FTS_SQL = { fts: 'to_tsquery', plfts: 'plainto_tsquery', phfts: 'phraseto_tsquery', wfts: 'websearch_to_tsquery' } as const;

export function renderFilter(ctx: Ctx, node: FilterNode): string {
  const presence = node.op === 'is' && node.value === 'null' && node.field.path.length === 0 ? ctx.embedPresence?.(node.field.column) : undefined;
  if (presence !== undefined) return node.negate ? `${presence} IS NOT NULL` : `${presence} IS NULL`;
  const e = fieldExpr(ctx, node.field);
  const p = ctx.params;
  if (node.op !== 'in' && node.op !== 'is' && node.quantifier) {
    const sql = renderQuantified(e, node.op as keyof typeof COMPARE_SQL, node.quantifier, node.value, p);
    return node.negate ? `NOT (${sql})` : sql;
  }
  let sql: string;
  switch (node.op) {
    case 'in':
      sql = renderIn(e, p.add(node.value));
      break;
    case 'is':
      sql = `${e.sql} IS ${IS_SQL[node.value]}`;
      break;
    case 'isdistinct':
      sql = `${e.sql} IS DISTINCT FROM ${p.add(node.value)}`;
      break;
    case 'like':
    case 'ilike':
      // PostgREST uses `*` as the wildcard because `%` is awkward in URLs.
      sql = `${asText(e)} ${PATTERN_SQL[node.op]} ${p.add(node.value.replaceAll('*', '%'))}`;
      break;
    case 'match':
    case 'imatch':
      sql = `${asText(e)} ${PATTERN_SQL[node.op]} ${p.add(node.value)}`;
      break;
    case 'fts':
    case 'plfts':
    case 'phfts':
    case 'wfts': {
      const lang = node.language === undefined ? '' : `${p.add(node.language)}::regconfig, `;
      sql = `${e.sql} @@ ${FTS_SQL[node.op]}(${lang}${p.add(node.value)})`;
      break;
    }
    default:
      // Untyped parameter: Postgres infers the column's type from the other operand.
      sql = `${e.sql} ${COMPARE_SQL[node.op]} ${p.add(node.value)}`;
  }
  return node.negate ? `NOT (${sql})` : sql;
}

/**
 * `= ANY($n::<type>[])`: an untyped array parameter would be text[], so it is cast to the column's
 * array type. Array, json and unrecognised column types compare as text / jsonb instead.
 */
function renderIn(e: Expr, placeholder: string): string {
  const { lhs, array } = arrayOperands(e, placeholder);
  return `${lhs} = ANY(${array})`;
}

/** The left side and the typed array parameter for `= ANY(…)` / `op ALL(…)`. */
function arrayOperands(e: Expr, placeholder: string): { lhs: string; array: string } {
  const last = e.field.path.at(-1);
  if (last) {
    return last.op === '->>' ? { lhs: e.sql, array: `${placeholder}::text[]` } : { lhs: `(${e.sql})::jsonb`, array: `${placeholder}::jsonb[]` };
  }
  const type = catalogType(e.column.type);
  if (type === undefined || type.endsWith('[]')) return { lhs: `(${e.sql})::text`, array: `${placeholder}::text[]` };
  if (type.toLowerCase() === 'json') return { lhs: `(${e.sql})::jsonb`, array: `${placeholder}::jsonb[]` };
  return { lhs: e.sql, array: `${placeholder}::${type}[]` };
}

/** `like(any).{a*,b*}`, `eq(all).{1,2}`: the value is a Postgres array literal, compared element-wise. */
function renderQuantified(e: Expr, op: keyof typeof COMPARE_SQL | keyof typeof PATTERN_SQL, quantifier: 'any' | 'all', value: string, p: Params): string {
  const q = quantifier.toUpperCase();
  if (op in PATTERN_SQL) {
    const pattern = op === 'like' || op === 'ilike' ? value.replaceAll('*', '%') : value;
    return `${asText(e)} ${PATTERN_SQL[op as keyof typeof PATTERN_SQL]} ${q}(${p.add(pattern)}::text[])`;
  }
  const { lhs, array } = arrayOperands(e, p.add(value));
  return `${lhs} ${COMPARE_SQL[op as keyof typeof COMPARE_SQL]} ${q}(${array})`;
}

/** A condition ready to be ANDed with others: parenthesised once. */
export function andOperand(ctx: Ctx, node: ConditionNode): string {
  const sql = renderCondition(ctx, node);
  return node.kind === 'logic' && !node.negate ? sql : `(${sql})`;
}

export function renderCondition(ctx: Ctx, node: ConditionNode): string {
  if (node.kind === 'filter') return renderFilter(ctx, node);
  const joined = node.children.map((child) => `(${renderCondition(ctx, child)})`).join(node.op === 'and' ? ' AND ' : ' OR ');
  return node.negate ? `NOT (${joined})` : `(${joined})`;
}


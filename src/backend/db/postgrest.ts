/**
 * PostgREST request → ONE parameterised Postgres statement.
 *
 * Security model:
 *  - every identifier (table, column, function, argument) is looked up in the catalogue objects passed
 *    in (TableInfo / FunctionInfo) and then double-quoted by `quoteIdent`;
 *  - every value (filter values, JSON keys, bodies, limits) is a `$n` parameter in `values`;
 *  - only whitelisted operators and keywords are emitted; casts must match a plain type-name regex.
 *
 * Every statement returns exactly one row `{ body text, n int, total bigint }`:
 *  - body:  JSON array text of the projected rows ('[]' when none); NULL for writes without
 *           return=representation; for RPC the function's JSON result;
 *  - n:     rows returned / affected;
 *  - total: exact count of rows matching the filters (ignoring limit/offset) when count was requested.
 */
import type { ColumnInfo, FunctionArg, FunctionInfo, TableInfo } from './types.js';
import {
  CAST_TYPE_RE,
  LOGIC_KEYS,
  PostgrestError,
  grammarError,
  parseColumnList,
  parseFilterKey,
  parseFilterValue,
  parseLogicTree,
  parseNonNegativeInt,
  parseOrder,
  parseSelect,
  type ConditionNode,
  type FieldRef,
  type FilterNode,
  type OrderTerm,
  type Prefer,
  type SelectItem,
} from './postgrest-parse.js';

export { PostgrestError, parsePrefer, parseRange, wantsSingleObject } from './postgrest-parse.js';
export type { HeaderValue, Prefer } from './postgrest-parse.js';

export interface BuiltQuery {
  text: string;
  values: unknown[];
}

export interface Paging {
  offset: number;
  limit?: number;
}

/** Query keys that are not column filters. */
export const RESERVED_KEYS: ReadonlySet<string> = new Set([
  'select', 'order', 'limit', 'offset', 'on_conflict', 'columns', 'or', 'and', 'not.or', 'not.and',
]);

// ---------------------------------------------------------------- identifiers, types, params

/** `"name"` with `"` doubled. Refuses names Postgres cannot represent (empty, NUL). */
export function quoteIdent(name: string): string {
  if (name.length === 0 || name.includes('\u0000')) {
    throw grammarError(`invalid identifier ${JSON.stringify(name)}`);
  }
  return `"${name.replaceAll('"', '""')}"`;
}

function quoteRelation(schema: string, name: string): string {
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

class Params {
  readonly values: unknown[] = [];
  /** Adds a value and returns its placeholder. */
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** What expressions are built against: the table (for column checks), the params, the row alias. */
interface Ctx {
  table: TableInfo;
  params: Params;
  /** Alias of the row source in the statement, always `_t`; columns are written `_t."col"`. */
  qual: string;
}

function newCtx(table: TableInfo): Ctx {
  return { table, params: new Params(), qual: '_t' };
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

function checkColumn(table: TableInfo, name: string): ColumnInfo {
  const col = table.columns.get(name);
  if (!col) throw unknownColumn(table, name);
  return col;
}

// ---------------------------------------------------------------- expressions

interface Expr {
  sql: string;
  column: ColumnInfo;
  field: FieldRef;
  /** The expression is text (a text column or a `->>` path), so LIKE needs no cast. */
  isText: boolean;
}

/** `_t."col"` or `(_t."data"->$1::text)`; JSON keys are parameters, array indexes cast to integer. */
function fieldExpr(ctx: Ctx, field: FieldRef): Expr {
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

const COMPARE_SQL = { eq: '=', neq: '<>', gt: '>', gte: '>=', lt: '<', lte: '<=', cs: '@>', cd: '<@', ov: '&&' } as const;
const PATTERN_SQL = { like: 'LIKE', ilike: 'ILIKE', match: '~', imatch: '~*' } as const;
const IS_SQL = { null: 'NULL', not_null: 'NOT NULL', true: 'TRUE', false: 'FALSE', unknown: 'UNKNOWN' } as const;
const FTS_SQL = { fts: 'to_tsquery', plfts: 'plainto_tsquery', phfts: 'phraseto_tsquery', wfts: 'websearch_to_tsquery' } as const;

function renderFilter(ctx: Ctx, node: FilterNode): string {
  const e = fieldExpr(ctx, node.field);
  const p = ctx.params;
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
  const last = e.field.path.at(-1);
  if (last) {
    return last.op === '->>'
      ? `${e.sql} = ANY(${placeholder}::text[])`
      : `(${e.sql})::jsonb = ANY(${placeholder}::jsonb[])`;
  }
  const type = catalogType(e.column.type);
  if (type === undefined || type.endsWith('[]')) return `(${e.sql})::text = ANY(${placeholder}::text[])`;
  if (type.toLowerCase() === 'json') return `(${e.sql})::jsonb = ANY(${placeholder}::jsonb[])`;
  return `${e.sql} = ANY(${placeholder}::${type}[])`;
}

function renderCondition(ctx: Ctx, node: ConditionNode): string {
  if (node.kind === 'filter') return renderFilter(ctx, node);
  const joined = node.children.map((child) => `(${renderCondition(ctx, child)})`).join(node.op === 'and' ? ' AND ' : ' OR ');
  return node.negate ? `NOT (${joined})` : `(${joined})`;
}

/** All filters of the query string (repeated keys included), ANDed by the caller. */
function renderWhere(ctx: Ctx, query: URLSearchParams): string[] {
  const conditions: string[] = [];
  for (const [key, value] of query) {
    if (LOGIC_KEYS.has(key)) {
      const tree = parseLogicTree(key, value);
      const sql = renderCondition(ctx, tree); // "(…)" or "NOT (…)"
      conditions.push(tree.negate ? `(${sql})` : sql);
    } else if (!RESERVED_KEYS.has(key)) {
      conditions.push(`(${renderFilter(ctx, parseFilterValue(parseFilterKey(key), key, value))})`);
    }
  }
  return conditions;
}

function whereClause(conditions: string[]): string {
  return conditions.length ? ` WHERE ${conditions.join(' AND ')}` : '';
}

function renderProjection(ctx: Ctx, items: SelectItem[]): string {
  return items
    .map((item) => {
      if (item.kind === 'star') return `${ctx.qual}.*`;
      const e = fieldExpr(ctx, item.field);
      let sql = e.sql;
      if (item.cast !== undefined) {
        if (!CAST_TYPE_RE.test(item.cast)) throw grammarError(`invalid cast type "${item.cast}"`);
        sql = `(${sql})::${item.cast}`;
      }
      // PostgREST names a JSON path after its last key.
      const name = item.alias ?? item.field.path.at(-1)?.key ?? item.field.column;
      return `${sql} AS ${quoteIdent(name)}`;
    })
    .join(', ');
}

function renderOrder(ctx: Ctx, terms: OrderTerm[]): string {
  if (terms.length === 0) return '';
  const parts = terms.map((t) => {
    const dir = t.direction ? ` ${t.direction.toUpperCase()}` : '';
    const nulls = t.nulls ? ` NULLS ${t.nulls.toUpperCase()}` : '';
    return `${fieldExpr(ctx, t.field).sql}${dir}${nulls}`;
  });
  return ` ORDER BY ${parts.join(', ')}`;
}

/** Last occurrence of a query key wins. */
function lastParam(query: URLSearchParams, key: string): string | undefined {
  return query.getAll(key).at(-1);
}

/**
 * Combines `limit`/`offset` with a Range header. Both describe a window of row positions; the result
 * is their intersection (what PostgREST does), so whichever is stricter wins on each side.
 */
export function resolvePaging(query: URLSearchParams, range?: Paging): Paging {
  const limitText = lastParam(query, 'limit');
  const offsetText = lastParam(query, 'offset');
  const offsetParam = offsetText === undefined ? 0 : parseNonNegativeInt('offset', offsetText);
  const limitParam = limitText === undefined ? undefined : parseNonNegativeInt('limit', limitText);
  if (!range) return limitParam === undefined ? { offset: offsetParam } : { offset: offsetParam, limit: limitParam };

  const start = Math.max(offsetParam, range.offset);
  const ends = [
    limitParam === undefined ? Infinity : offsetParam + limitParam,
    range.limit === undefined ? Infinity : range.offset + range.limit,
  ];
  const end = Math.min(...ends); // exclusive
  return end === Infinity ? { offset: start } : { offset: start, limit: Math.max(0, end - start) };
}

function pagingClause(p: Params, paging: Paging): string {
  const limit = paging.limit === undefined ? '' : ` LIMIT ${p.add(paging.limit)}`;
  const offset = paging.offset > 0 ? ` OFFSET ${p.add(paging.offset)}` : '';
  return limit + offset;
}

const AGG_BODY = `coalesce(json_agg(_q.*), '[]')::text AS body, count(*)::int AS n`;

// ---------------------------------------------------------------- SELECT

export function buildSelect(
  table: TableInfo,
  query: URLSearchParams,
  opts: { range?: Paging; count: boolean },
): BuiltQuery {
  const ctx = newCtx(table);
  const rel = quoteRelation(table.schema, table.name);
  const where = whereClause(renderWhere(ctx, query));
  const projection = renderProjection(ctx, parseSelect(lastParam(query, 'select') ?? '*'));
  const order = renderOrder(ctx, parseOrder(lastParam(query, 'order') ?? ''));
  const paging = pagingClause(ctx.params, resolvePaging(query, opts.range));
  // The count subquery reuses the same WHERE text, hence the same $n.
  const total = opts.count ? `(SELECT count(*) FROM ${rel} AS _t${where})` : 'NULL';
  const text =
    `WITH _q AS (SELECT ${projection} FROM ${rel} AS _t${where}${order}${paging}) ` +
    `SELECT ${AGG_BODY}, ${total}::bigint AS total FROM _q`;
  return { text, values: ctx.params.values };
}

// ---------------------------------------------------------------- writes

type Row = Record<string, unknown>;

function isPlainObject(value: unknown): value is Row {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalidBody(expected: string): PostgrestError {
  return grammarError(`Empty or invalid JSON body: expected ${expected}`);
}

/** `WITH <writes>` ending in a CTE `_w` holding the written rows, then the common one-row result. */
function finishWrite(ctx: Ctx, ctes: string[], query: URLSearchParams, prefer: Prefer): BuiltQuery {
  // Checked even for return=minimal so a bad select is reported the same way every time
  // (but only rendered when used: an unused $n would make Postgres fail to infer its type).
  const items = parseSelect(lastParam(query, 'select') ?? '*');
  for (const item of items) if (item.kind === 'field') checkColumn(ctx.table, item.field.column);
  const total = prefer.count ? 'count(*)' : 'NULL';
  let text: string;
  if (prefer.return === 'representation') {
    const projection = renderProjection(ctx, items);
    text =
      `WITH ${ctes.join(', ')}, _q AS (SELECT ${projection} FROM _w AS _t) ` +
      `SELECT ${AGG_BODY}, ${total}::bigint AS total FROM _q`;
  } else {
    text = `WITH ${ctes.join(', ')} SELECT NULL::text AS body, count(*)::int AS n, ${total}::bigint AS total FROM _w`;
  }
  return { text, values: ctx.params.values };
}

/**
 * INSERT (and upsert with Prefer resolution=…).
 *
 * The body is an object or a non-empty array of objects. Rows are grouped by the set of columns they
 * name; each group is one `INSERT … SELECT cols FROM json_populate_recordset(NULL::t, $n::json)` so
 * columns a row does not name take their DEFAULT. Groups are chained as data-modifying CTEs of one
 * statement. With `columns=a,b`, exactly those columns are inserted (other keys ignored) and a
 * missing key is NULL, or DEFAULT with Prefer missing=default.
 */
export function buildInsert(table: TableInfo, query: URLSearchParams, body: unknown, prefer: Prefer): BuiltQuery {
  const rows = Array.isArray(body) ? body : [body];
  if (rows.length === 0 || !rows.every(isPlainObject)) {
    throw invalidBody('an object or a non-empty array of objects');
  }
  const ctx = newCtx(table);
  const rel = quoteRelation(table.schema, table.name);
  const ordinal = new Map([...table.columns.keys()].map((name, i) => [name, i]));
  const byOrdinal = (a: string, b: string) => (ordinal.get(a) ?? 0) - (ordinal.get(b) ?? 0);

  const columnsText = lastParam(query, 'columns');
  const explicit =
    columnsText === undefined
      ? undefined
      : [...new Set(parseColumnList('columns', columnsText).map((c) => checkColumn(table, c).name))];

  // Group rows by the columns they insert, keeping the order in which groups first appear.
  const groups = new Map<string, { columns: string[]; rows: Row[] }>();
  for (const row of rows as Row[]) {
    let columns: string[];
    if (explicit === undefined) columns = Object.keys(row).map((k) => checkColumn(table, k).name).sort(byOrdinal);
    else if (prefer.missingDefault) columns = explicit.filter((c) => Object.hasOwn(row, c));
    else columns = explicit;
    const key = JSON.stringify(columns);
    const group = groups.get(key) ?? { columns, rows: [] };
    group.rows.push(row);
    groups.set(key, group);
  }

  const conflictTarget = resolveConflictTarget(table, query, prefer);
  const inserts = [...groups.values()].map(({ columns, rows: groupRows }) => {
    const target = columns.length ? ` (${columns.map(quoteIdent).join(', ')})` : '';
    const selected = columns.map((c) => `_j.${quoteIdent(c)}`).join(', ');
    const source = `json_populate_recordset(NULL::${rel}, ${ctx.params.add(JSON.stringify(groupRows))}::json) AS _j`;
    const conflict = conflictTarget ? conflictClause(conflictTarget, prefer, columns) : '';
    return `INSERT INTO ${rel} AS _t${target} SELECT ${selected} FROM ${source}${conflict} RETURNING _t.*`;
  });

  const ctes =
    inserts.length === 1
      ? [`_w AS (${inserts[0]})`]
      : [
          ...inserts.map((sql, i) => `_i${i + 1} AS (${sql})`),
          `_w AS (${inserts.map((_, i) => `SELECT * FROM _i${i + 1}`).join(' UNION ALL ')})`,
        ];
  return finishWrite(ctx, ctes, query, prefer);
}

/** The ON CONFLICT target: `on_conflict=a,b` (checked) or the primary key; [] means "any constraint". */
function resolveConflictTarget(table: TableInfo, query: URLSearchParams, prefer: Prefer): string[] | undefined {
  const text = lastParam(query, 'on_conflict');
  const named = text === undefined ? undefined : parseColumnList('on_conflict', text).map((c) => checkColumn(table, c).name);
  if (!prefer.resolution) return undefined; // on_conflict alone does not make an upsert (as in PostgREST)
  const target = named ?? table.primaryKey;
  if (target.length === 0 && prefer.resolution === 'merge-duplicates') {
    throw new PostgrestError(
      400,
      '42P10',
      `${table.schema}.${table.name} has no primary key to merge duplicates on`,
      'Pass on_conflict=<columns of a unique constraint>',
    );
  }
  return target;
}

function conflictClause(target: string[], prefer: Prefer, columns: string[]): string {
  if (target.length === 0) return ' ON CONFLICT DO NOTHING';
  const head = ` ON CONFLICT (${target.map(quoteIdent).join(', ')})`;
  const updates = columns.filter((c) => !target.includes(c));
  if (prefer.resolution === 'ignore-duplicates' || updates.length === 0) return `${head} DO NOTHING`;
  return `${head} DO UPDATE SET ${updates.map((c) => `${quoteIdent(c)} = EXCLUDED.${quoteIdent(c)}`).join(', ')}`;
}

function unfilteredWrite(method: 'PATCH' | 'DELETE'): PostgrestError {
  // 21000 is what pg-safeupdate (used with PostgREST/Supabase) raises for an unfiltered UPDATE/DELETE.
  return new PostgrestError(
    400,
    '21000',
    `${method} requires at least one filter, e.g. ?id=eq.1`,
    'Add a filter on a column; to touch every row use one that is always true, e.g. ?id=not.is.null',
  );
}

/** limit/offset on writes would be silently ignored (touching more rows than asked), so they are refused. */
function rejectWritePaging(query: URLSearchParams, method: 'PATCH' | 'DELETE'): void {
  for (const key of ['limit', 'offset']) {
    if (query.has(key)) throw grammarError(`"${key}" on ${method} is not supported by this backend yet`);
  }
}

/** UPDATE … SET col = _r.col FROM json_populate_record(NULL::t, $n::json) AS _r WHERE <filters>. */
export function buildUpdate(table: TableInfo, query: URLSearchParams, body: unknown, prefer: Prefer): BuiltQuery {
  if (!isPlainObject(body) || Object.keys(body).length === 0) {
    throw invalidBody('a non-empty object of column values');
  }
  const ctx = newCtx(table);
  const rel = quoteRelation(table.schema, table.name);
  const columns = Object.keys(body).map((k) => checkColumn(table, k).name);
  const conditions = renderWhere(ctx, query);
  if (conditions.length === 0) throw unfilteredWrite('PATCH');
  rejectWritePaging(query, 'PATCH');
  const set = columns.map((c) => `${quoteIdent(c)} = _r.${quoteIdent(c)}`).join(', ');
  const source = `json_populate_record(NULL::${rel}, ${ctx.params.add(JSON.stringify(body))}::json) AS _r`;
  const update = `UPDATE ${rel} AS _t SET ${set} FROM ${source}${whereClause(conditions)} RETURNING _t.*`;
  return finishWrite(ctx, [`_w AS (${update})`], query, prefer);
}

export function buildDelete(table: TableInfo, query: URLSearchParams, prefer: Prefer): BuiltQuery {
  const ctx = newCtx(table);
  const rel = quoteRelation(table.schema, table.name);
  const conditions = renderWhere(ctx, query);
  if (conditions.length === 0) throw unfilteredWrite('DELETE');
  rejectWritePaging(query, 'DELETE');
  const del = `DELETE FROM ${rel} AS _t${whereClause(conditions)} RETURNING _t.*`;
  return finishWrite(ctx, [`_w AS (${del})`], query, prefer);
}

// ---------------------------------------------------------------- RPC

function signature(fn: FunctionInfo, names: string[]): string {
  return `${fn.schema}.${fn.name}(${names.join(', ')})`;
}

/** 404 PGRST202, worded like PostgREST. Exported so callers can use it when no overload exists at all. */
export function functionNotFound(schema: string, name: string, argNames: string[], hint?: string): PostgrestError {
  const what = argNames.length ? `${schema}.${name}(${[...argNames].sort().join(', ')})` : `${schema}.${name} without parameters`;
  return new PostgrestError(404, 'PGRST202', `Could not find the function ${what} in the schema cache`, hint);
}

/**
 * The overload whose named arguments cover the given keys and whose arguments without defaults are all
 * given; among several, the one with the fewest unused (defaulted) arguments.
 */
function pickFunction(candidates: FunctionInfo[], given: string[]): FunctionInfo {
  const fits = candidates.filter((fn) => {
    const named = new Set(fn.args.map((a) => a.name).filter((n) => n !== ''));
    return given.every((k) => named.has(k)) && fn.args.every((a) => a.hasDefault || (a.name !== '' && given.includes(a.name)));
  });
  if (fits.length === 0) {
    const first = candidates[0];
    if (!first) throw new PostgrestError(404, 'PGRST202', 'Could not find the function in the schema cache');
    const hint = `Perhaps you meant to call the function ${candidates
      .map((fn) => signature(fn, fn.args.map((a) => a.name || '<unnamed>')))
      .join(' or ')}`;
    throw functionNotFound(first.schema, first.name, given, hint);
  }
  const unused = (fn: FunctionInfo) => fn.args.length - given.length;
  const best = Math.min(...fits.map(unused));
  const tied = fits.filter((fn) => unused(fn) === best);
  const chosen = tied[0] as FunctionInfo;
  if (tied.length > 1) {
    throw new PostgrestError(
      300,
      'PGRST203',
      `Could not choose the best candidate function between: ${tied.map((fn) => signature(fn, fn.args.map((a) => `${a.name} => ${a.type}`))).join(', ')}`,
      'Try renaming the parameters or the function itself in the database so function overloading can be resolved',
    );
  }
  return chosen;
}

function argType(fn: FunctionInfo, arg: FunctionArg): string {
  const type = catalogType(arg.type);
  if (type === undefined) {
    throw new PostgrestError(500, 'XX000', `unsupported type "${arg.type}" of argument ${arg.name} of ${fn.schema}.${fn.name}`);
  }
  return type;
}

/**
 * `SELECT … FROM json_to_record($1::json) AS _a("x" integer, …) CROSS JOIN LATERAL "s"."fn"("x" => _a."x") AS _r`.
 * All arguments travel as ONE JSON parameter and Postgres converts each to the declared type, so JSON
 * arrays become SQL arrays, objects become json/jsonb, and overloads resolve on exact types.
 *
 * From `query` only `limit`/`offset` (set-returning functions) and `select=*` are understood; other keys
 * are ignored, since for GET they are the arguments themselves.
 */
export function buildRpc(candidates: FunctionInfo[], args: Record<string, unknown>, query?: URLSearchParams): BuiltQuery {
  if (!isPlainObject(args)) throw invalidBody('a JSON object of named arguments');
  const q = query ?? new URLSearchParams();
  const given = Object.keys(args).filter((k) => args[k] !== undefined);
  const fn = pickFunction(candidates, given);
  const params = new Params();

  const used = fn.args.filter((a) => a.name !== '' && given.includes(a.name));
  const call = `${quoteRelation(fn.schema, fn.name)}(${used
    .map((a) => `${quoteIdent(a.name)} => _a.${quoteIdent(a.name)}`)
    .join(', ')})`;
  let from: string;
  if (used.length === 0) {
    from = call;
  } else {
    const argValues = Object.fromEntries(used.map((a) => [a.name, args[a.name]]));
    const columns = used.map((a) => `${quoteIdent(a.name)} ${argType(fn, a)}`).join(', ');
    from = `json_to_record(${params.add(JSON.stringify(argValues))}::json) AS _a(${columns}) CROSS JOIN LATERAL ${call}`;
  }

  const select = lastParam(q, 'select');
  if (select !== undefined && select.trim() !== '*' && select.trim() !== '') {
    throw grammarError('select on function results is not supported by this backend yet (use select=* or omit it)');
  }
  if (q.has('order')) throw grammarError('order on function results is not supported by this backend yet');

  const scalar = fn.returns === 'scalar';
  const source = `${from} AS _r${scalar ? '(v)' : ''}`;
  let text: string;
  if (fn.returns === 'void') {
    text = `SELECT 'null'::text AS body, count(*)::int AS n, NULL::bigint AS total FROM ${source}`;
  } else if (!fn.returnsSet) {
    const body = scalar ? `coalesce(to_json(_r.v)::text, 'null')` : `to_json(_r.*)::text`;
    text = `SELECT ${body} AS body, 1 AS n, NULL::bigint AS total FROM ${source}`;
  } else {
    const paging = pagingClause(params, resolvePaging(q));
    const item = scalar ? '_q.v' : '_q.*';
    text =
      `WITH _q AS (SELECT _r.${scalar ? 'v' : '*'} FROM ${source}${paging}) ` +
      `SELECT coalesce(json_agg(${item}), '[]')::text AS body, count(*)::int AS n, NULL::bigint AS total FROM _q`;
  }
  return { text, values: params.values };
}

// ---------------------------------------------------------------- Accept: single object

/**
 * For `Accept: application/vnd.pgrst.object+json`: the single row of a result, or 406 PGRST116 when the
 * result does not hold exactly one row. A NULL body (return=minimal) stays NULL.
 */
export function toSingleObject(result: { body: string | null; n: number }): string | null {
  if (result.n !== 1) {
    throw new PostgrestError(
      406,
      'PGRST116',
      'JSON object requested, multiple (or no) rows returned',
      undefined,
      `The result contains ${result.n} rows`,
    );
  }
  if (result.body === null) return null;
  const parsed: unknown = JSON.parse(result.body);
  return JSON.stringify(Array.isArray(parsed) ? parsed[0] : parsed);
}

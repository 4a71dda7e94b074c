/**
 * PostgREST request → ONE parameterised Postgres statement.
 *
 * Security model:
 *  - every identifier (table, column, function, argument, relationship) is looked up in the catalogue
 *    objects passed in (TableInfo / FunctionInfo) and then double-quoted by `quoteIdent`;
 *  - every value (filter values, JSON keys, bodies, limits) is a `$n` parameter in `values`;
 *  - only whitelisted operators and keywords are emitted; casts must match a plain type-name regex.
 *
 * Every statement returns exactly one row `{ body text, n int, total bigint }`:
 *  - body:  the projected rows in the negotiated media type (a JSON array, '[]' when none, or CSV);
 *           NULL for writes without return=representation; for a function returning one value, that value;
 *  - n:     rows returned (reads, RPC) or affected (writes);
 *  - total: exact count of rows matching the filters (ignoring limit/offset) when count was requested.
 *
 * The read side (select tree, embedded resources, aggregates, per-level filters) is postgrest-read.ts;
 * the SQL fragments (identifiers, parameters, filters) are postgrest-sql.ts.
 */
import type { FunctionArg, FunctionInfo, TableInfo } from './types.js';
import {
  PostgrestError,
  grammarError,
  notImplemented,
  parseColumnList,
  parseNonNegativeInt,
  parseOrder,
  parseFilterValue,
  parseLogicTree,
  parseSelect,
  classifyKey,
  type Media,
  type Prefer,
} from './postgrest-parse.js';
import { Params, andOperand, catalogType, checkColumn, fieldExpr, newCtx, quoteIdent, quoteRelation, type Ctx } from './postgrest-sql.js';
import { applyQuery, assemble, bodyColumn, planRead, renderNode, windowClause, type ReadPlan } from './postgrest-read.js';
import type { TableLookup } from './relationships.js';

export { PostgrestError, checkStrictPreferences, negotiateMedia, parsePrefer, parseRange, wantsSingleObject } from './postgrest-parse.js';
export type { HeaderValue, Media, Prefer } from './postgrest-parse.js';
export { catalogType, quoteIdent } from './postgrest-sql.js';

export interface BuiltQuery {
  text: string;
  values: unknown[];
}

export interface Paging {
  offset: number;
  limit?: number;
}

/** How the body is written, and the other tables embeds may reach (default: only the table itself). */
export interface OutputOptions {
  media?: Media;
  tables?: TableLookup;
}

const JSON_MEDIA: Media = { kind: 'json', stripNulls: false };

const lookupWith = (table: TableInfo, tables?: TableLookup): TableLookup => tables ?? new Map([[table.name, table]]);

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

// ---------------------------------------------------------------- SELECT

/**
 * `WITH _q AS (<the read>) SELECT <body>, n, total FROM _q`. The count is the same read without its
 * window and without the embeds that filter nothing (the same text, so the same $n), over `SELECT 1`.
 */
function finishRead(plan: ReadPlan, source: string, opts: { count: boolean; media?: Media; single?: boolean }): BuiltQuery {
  const r = renderNode(plan.root, plan.params, source);
  const total = opts.count ? `(SELECT count(*) FROM (${assemble({ ...r, select: '1', from: r.countFrom }, false)}) AS _c)` : 'NULL';
  const text =
    `WITH _q AS (${assemble(r)}) ` +
    `SELECT ${bodyColumn(opts.media ?? JSON_MEDIA, opts.single)}, count(*)::int AS n, ${total}::bigint AS total FROM _q`;
  return { text, values: plan.params.values };
}

export function buildSelect(
  table: TableInfo,
  query: URLSearchParams,
  opts: { range?: Paging; count: boolean } & OutputOptions,
): BuiltQuery {
  const plan = planRead(table, parseSelect(lastParam(query, 'select') ?? '*'), lookupWith(table, opts.tables));
  applyQuery(plan, query, { rootKeys: true });
  Object.assign(plan.root, resolvePaging(query, opts.range));
  return finishRead(plan, quoteRelation(table.schema, table.name), opts);
}

// ---------------------------------------------------------------- writes

type Row = Record<string, unknown>;

function isPlainObject(value: unknown): value is Row {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalidBody(expected: string): PostgrestError {
  return grammarError(`Empty or invalid JSON body: expected ${expected}`);
}

/**
 * `WITH <writes>` ending in a CTE `_w` holding the written rows, then the one-row result: n and total
 * count the written rows; with return=representation the body is the `select` read over `_w`
 * (embeds included; filters on embedded resources apply to them, the root's were the write's own).
 */
function finishWrite(ctx: Ctx, ctes: string[], query: URLSearchParams, prefer: Prefer, opts: OutputOptions): BuiltQuery {
  const plan = planRead(ctx.table, parseSelect(lastParam(query, 'select') ?? '*'), lookupWith(ctx.table, opts.tables), ctx.params);
  applyQuery(plan, query, { rootKeys: false });
  const total = prefer.count ? '(SELECT count(*) FROM _w)' : 'NULL';
  let text: string;
  if (prefer.return === 'representation') {
    const r = renderNode(plan.root, ctx.params, '_w');
    text =
      `WITH ${ctes.join(', ')}, _q AS (${assemble(r)}) ` +
      `SELECT ${bodyColumn(opts.media ?? JSON_MEDIA)}, (SELECT count(*) FROM _w)::int AS n, ${total}::bigint AS total FROM _q`;
  } else {
    // Checked even for return=minimal so a bad select is reported the same way every time (rendered
    // with throwaway parameters: an unused $n would make Postgres fail to infer its type).
    renderNode(plan.root, new Params(), '_w');
    text = `WITH ${ctes.join(', ')} SELECT NULL::text AS body, count(*)::int AS n, ${prefer.count ? 'count(*)' : 'NULL'}::bigint AS total FROM _w`;
  }
  return { text, values: ctx.params.values };
}

/** The root's filters and logic trees (embedded ones belong to the representation), ANDed by the caller. */
function rootConditions(ctx: Ctx, query: URLSearchParams): string[] {
  const conditions: string[] = [];
  for (const [key, value] of query) {
    const k = classifyKey(key);
    if (k.kind === 'filter' && k.key.path.length === 0) {
      conditions.push(andOperand(ctx, parseFilterValue(k.key.field, key, value)));
    } else if (k.kind === 'logic' && k.path.length === 0) {
      conditions.push(andOperand(ctx, parseLogicTree(key, value)));
    }
  }
  return conditions;
}

function whereClause(conditions: string[]): string {
  return conditions.length ? ` WHERE ${conditions.join(' AND ')}` : '';
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
export function buildInsert(table: TableInfo, query: URLSearchParams, body: unknown, prefer: Prefer, opts: OutputOptions = {}): BuiltQuery {
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
  return finishWrite(ctx, ctes, query, prefer, opts);
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

/**
 * `?limit=n&offset=m&order=…` on PATCH/DELETE (PostgREST 12): only those rows of the matching ones, in
 * that order. They are picked in a CTE `_a` of the same statement, by row address (tableoid, ctid), so
 * exactly that many are touched even when the order is not unique. A limit without an order would
 * pick arbitrary rows: 400 PGRST109, as PostgREST.
 */
function limitedRows(ctx: Ctx, rel: string, query: URLSearchParams, conditions: string[]): string | undefined {
  const { offset, limit } = resolvePaging(query);
  if (limit === undefined && offset === 0) return undefined;
  const terms = parseOrder(lastParam(query, 'order') ?? '');
  if (terms.length === 0) {
    throw new PostgrestError(400, 'PGRST109', "A 'limit' was applied without an explicit 'order'", "Apply an 'order' using unique column(s)");
  }
  const order = terms.map((t) => {
    if (t.relation !== undefined) throw grammarError(`order=${t.relation}(…) cannot order the rows of a PATCH or DELETE`);
    return `${fieldExpr(ctx, t.field).sql}${t.direction ? ` ${t.direction.toUpperCase()}` : ''}${t.nulls ? ` NULLS ${t.nulls.toUpperCase()}` : ''}`;
  });
  return `_a AS (SELECT _t.tableoid, _t.ctid FROM ${rel} AS _t${whereClause(conditions)} ORDER BY ${order.join(', ')}${windowClause(ctx.params, limit, offset)})`;
}

const LIMITED = '_t.tableoid = _a.tableoid AND _t.ctid = _a.ctid';

/** UPDATE … SET col = _r.col FROM json_populate_record(NULL::t, $n::json) AS _r WHERE <filters>. */
export function buildUpdate(table: TableInfo, query: URLSearchParams, body: unknown, prefer: Prefer, opts: OutputOptions = {}): BuiltQuery {
  if (!isPlainObject(body) || Object.keys(body).length === 0) {
    throw invalidBody('a non-empty object of column values');
  }
  const ctx = newCtx(table);
  const rel = quoteRelation(table.schema, table.name);
  const columns = Object.keys(body).map((k) => checkColumn(table, k).name);
  const conditions = rootConditions(ctx, query);
  if (conditions.length === 0) throw unfilteredWrite('PATCH');
  const limited = limitedRows(ctx, rel, query, conditions);
  const set = columns.map((c) => `${quoteIdent(c)} = _r.${quoteIdent(c)}`).join(', ');
  const source = `json_populate_record(NULL::${rel}, ${ctx.params.add(JSON.stringify(body))}::json) AS _r`;
  const update = limited
    ? `UPDATE ${rel} AS _t SET ${set} FROM ${source}, _a WHERE ${LIMITED} RETURNING _t.*`
    : `UPDATE ${rel} AS _t SET ${set} FROM ${source}${whereClause(conditions)} RETURNING _t.*`;
  return finishWrite(ctx, [...(limited ? [limited] : []), `_w AS (${update})`], query, prefer, opts);
}

export function buildDelete(table: TableInfo, query: URLSearchParams, prefer: Prefer, opts: OutputOptions = {}): BuiltQuery {
  const ctx = newCtx(table);
  const rel = quoteRelation(table.schema, table.name);
  const conditions = rootConditions(ctx, query);
  if (conditions.length === 0) throw unfilteredWrite('DELETE');
  const limited = limitedRows(ctx, rel, query, conditions);
  const del = limited ? `DELETE FROM ${rel} AS _t USING _a WHERE ${LIMITED} RETURNING _t.*` : `DELETE FROM ${rel} AS _t${whereClause(conditions)} RETURNING _t.*`;
  return finishWrite(ctx, [...(limited ? [limited] : []), `_w AS (${del})`], query, prefer, opts);
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
 * `… FROM json_to_record($1::json) AS _a("x" integer, …) CROSS JOIN LATERAL "s"."fn"("x" => _a."x") AS _r`.
 * All arguments travel as ONE JSON parameter and Postgres converts each to the declared type, so JSON
 * arrays become SQL arrays, objects become json/jsonb, and overloads resolve on exact types.
 *
 * `query` holds what applies to the result (for GET, the caller has taken the arguments out): a
 * function returning rows (a table type, RETURNS TABLE, OUT arguments) is read like a table — select
 * with embeds along its table's foreign keys, filters, order, limit/offset, count. A function returning
 * scalars takes only limit/offset (for SETOF); anything else on it is refused, as PostgREST cannot do it either.
 */
export interface RpcQuery extends BuiltQuery {
  /** The overload chosen: whether it returns a set decides Content-Range and max-affected. */
  fn: FunctionInfo;
}

export function buildRpc(
  candidates: FunctionInfo[],
  args: Record<string, unknown>,
  query?: URLSearchParams,
  opts: { range?: Paging; count?: boolean } & OutputOptions = {},
): RpcQuery {
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

  if (fn.returns === 'composite') return { ...readFunctionRows(fn, from, q, params, opts), fn };

  const scalarOnly = [...q.keys()].filter((k) => !(fn.returnsSet && (k === 'limit' || k === 'offset')) && !(k === 'select' && ['', '*'].includes((q.get(k) ?? '').trim())));
  if (scalarOnly.length > 0) {
    throw notImplemented(
      `"${scalarOnly[0]}" on the result of ${fn.schema}.${fn.name}`,
      `${fn.schema}.${fn.name} returns ${fn.returns === 'void' ? 'nothing' : fn.returnsSet ? 'a set of scalars' : 'a scalar'}; select, filters and order apply only to functions returning rows (a table type or RETURNS TABLE)${fn.returnsSet ? '; limit and offset work' : ''}.`,
    );
  }
  if ((opts.media ?? JSON_MEDIA).kind === 'csv') {
    throw notImplemented('text/csv for a function returning scalars', `${fn.schema}.${fn.name} does not return rows; ask for application/json.`);
  }
  const source = `${from} AS _r(v)`;
  let text: string;
  if (fn.returns === 'void') {
    text = `SELECT 'null'::text AS body, count(*)::int AS n, NULL::bigint AS total FROM ${from} AS _r`;
  } else if (!fn.returnsSet) {
    text = `SELECT coalesce(to_json(_r.v)::text, 'null') AS body, 1 AS n, NULL::bigint AS total FROM ${source}`;
  } else {
    const { offset, limit } = resolvePaging(q, opts.range);
    const total = opts.count ? `(SELECT count(*) FROM ${source})` : 'NULL';
    text =
      `WITH _q AS (SELECT _r.v FROM ${source}${windowClause(params, limit, offset)}) ` +
      `SELECT coalesce(json_agg(_q.v), '[]')::text AS body, count(*)::int AS n, ${total}::bigint AS total FROM _q`;
  }
  return { text, values: params.values, fn };
}

/** A function returning rows, read like a table; one that returns one row answers that row as an object. */
function readFunctionRows(fn: FunctionInfo, from: string, q: URLSearchParams, params: Params, opts: { range?: Paging; count?: boolean } & OutputOptions): BuiltQuery {
  const known = fn.resultTable ? opts.tables?.get(fn.resultTable) : undefined;
  const table: TableInfo = known ?? {
    schema: fn.schema,
    name: fn.name,
    columns: new Map((fn.resultColumns ?? []).map((c) => [c.name, { name: c.name, type: c.type, nullable: true, defaultValue: null }])),
    primaryKey: [],
  };
  const plan = planRead(table, parseSelect(lastParam(q, 'select') ?? '*'), opts.tables ?? new Map([[table.name, table]]), params);
  applyQuery(plan, q, { rootKeys: true });
  Object.assign(plan.root, resolvePaging(q, opts.range));
  // A function returning one row answers that row as an object (null when filtered away), as PostgREST does.
  return finishRead(plan, `(SELECT _r.* FROM ${from} AS _r)`, { count: opts.count ?? false, media: opts.media, single: !fn.returnsSet });
}
// ---------------------------------------------------------------- Accept: single object

/**
 * For `Accept: application/vnd.pgrst.object+json`: the single row of a result, or 406 PGRST116 when the
 * result does not hold exactly one row. A NULL body (return=minimal) stays NULL.
 */
export function toSingleObject(result: { body: string | null; n: number }): string | null {
  const parsed: unknown = result.body === null ? null : JSON.parse(result.body);
  const rows = Array.isArray(parsed) ? parsed.length : result.n;
  if (rows !== 1) {
    throw new PostgrestError(
      406,
      'PGRST116',
      'JSON object requested, multiple (or no) rows returned',
      undefined,
      `The result contains ${rows} rows`,
    );
  }
  if (result.body === null) return null;
  return JSON.stringify(Array.isArray(parsed) ? parsed[0] : parsed);
}

/**
 * The read part of a PostgREST request as SQL: the `select` tree with embedded resources and
 * aggregates, and the filters, logic trees, orders and limits of every level (`projects.name=eq.x`,
 * `projects.order=…`, `projects.limit=…`).
 *
 * Each level is one SELECT over its table; an embedded resource is a LATERAL subquery of its parent,
 * so it is part of the same statement and runs as the same role: row-level security applies to every
 * embedded table as it does to the root. To-one embeds are `row_to_json(…)`, to-many `json_agg(…)`
 * (as PostgREST's QueryBuilder does), `!inner` makes the join drop parents without a match.
 */
import {
  MAX_EMBED_DEPTH,
  PostgrestError,
  classifyKey,
  grammarError,
  notImplemented,
  parseFilterValue,
  parseLogicTree,
  parseNonNegativeInt,
  parseOrder,
  type ConditionNode,
  type CountItem,
  type EmbedItem,
  type FieldItem,
  type Media,
  type OrderTerm,
  type SelectItem,
  CAST_TYPE_RE,
} from './postgrest-parse.js';
import { Params, andOperand, checkColumn, fieldExpr, newCtx, quoteIdent, quoteRelation, type Ctx } from './postgrest-sql.js';
import { findRelationship, isToOne, type Relationship, type TableLookup } from './relationships.js';
import type { TableInfo } from './types.js';

type Item = { kind: 'star' } | FieldItem | CountItem;

/** One level of the read: a table, what it selects, and the conditions, order and window of its rows. */
interface ReadNode {
  table: TableInfo;
  /** SQL alias of its rows: `_t` for the root, `_t1`, `_t2`… below. */
  alias: string;
  items: Item[];
  embeds: Embed[];
  conditions: ConditionNode[];
  order: OrderTerm[];
  limit?: number;
  offset?: number;
  depth: number;
}

interface Embed {
  item: EmbedItem;
  rel: Relationship;
  node: ReadNode;
  /** SQL alias of the lateral subquery, `_e1`, `_e2`… */
  lateral: string;
  /** The key in the parent object (alias, else the name), and what filters and orders call it. */
  name: string;
}

export interface ReadPlan {
  root: ReadNode;
  params: Params;
}

// ---------------------------------------------------------------- planning

/** The `select` tree with every embed resolved to a relationship of the catalogue. */
export function planRead(table: TableInfo, select: SelectItem[], tables: TableLookup, params = new Params()): ReadPlan {
  let counter = 0;
  const build = (t: TableInfo, items: SelectItem[], alias: string, depth: number): ReadNode => {
    const node: ReadNode = { table: t, alias, items: [], embeds: [], conditions: [], order: [], depth };
    for (const item of items) {
      if (item.kind !== 'embed') {
        node.items.push(item);
        continue;
      }
      if (depth + 1 > MAX_EMBED_DEPTH) throw grammarError(`embedded resources nest deeper than ${MAX_EMBED_DEPTH} levels`);
      const rel = findRelationship(tables, t.name, item.name, item.hint);
      const target = tables.get(rel.foreignTable);
      if (!target) throw new PostgrestError(400, 'PGRST200', `Could not find a relationship between '${t.name}' and '${item.name}' in the schema cache`);
      if (item.spread && !isToOne(rel)) throw notToOne('PGRST119', `A spread operation on '${item.name}' is not possible`, t.name, item.name);
      counter++;
      const child = build(target, item.select, `_t${counter}`, depth + 1);
      if (item.spread && hasAggregate(child)) {
        throw notImplemented('An aggregate inside a spread embed', `"...${item.name}(…)" holds an aggregate; PostgREST would compute it over the parent's groups. Put the aggregate in a non-spread embed, or aggregate the parent.`);
      }
      node.embeds.push({ item, rel, node: child, lateral: `_e${counter}`, name: item.alias ?? item.name });
    }
    return node;
  };
  return { root: build(table, select, '_t', 0), params };
}

/**
 * Distributes the query string over the levels: filters, logic trees, `order`, `limit` and `offset`,
 * each on the level its key names (`projects.name=eq.x`). The root's limit/offset are the caller's
 * (`resolvePaging`, with the Range header); `rootKeys: false` leaves all the root's keys to it (a write
 * puts its filters and order on the UPDATE/DELETE itself).
 */
export function applyQuery(plan: ReadPlan, query: URLSearchParams, opts: { rootKeys: boolean }): void {
  for (const [key, value] of query) {
    const k = classifyKey(key);
    if (k.kind === 'reserved') continue;
    const path = k.kind === 'filter' ? k.key.path : k.path;
    if (path.length === 0 && (!opts.rootKeys || k.kind === 'limit' || k.kind === 'offset')) continue;
    const node = nodeAt(plan.root, path);
    switch (k.kind) {
      case 'order':
        node.order = parseOrder(value);
        break;
      case 'limit':
        node.limit = parseNonNegativeInt(key, value);
        break;
      case 'offset':
        node.offset = parseNonNegativeInt(key, value);
        break;
      case 'logic':
        node.conditions.push(parseLogicTree(key, value));
        break;
      case 'filter':
        node.conditions.push(parseFilterValue(k.key.field, key, value));
        break;
    }
  }
}

/** The level an embed path names, by alias or name (PGRST108 if it is not in `select`). */
function nodeAt(root: ReadNode, path: string[]): ReadNode {
  let node = root;
  for (const name of path) {
    const next = node.embeds.find((e) => e.item.name === name || e.item.alias === name);
    if (!next) throw notEmbedded(name);
    node = next.node;
  }
  return node;
}

const notEmbedded = (name: string) =>
  new PostgrestError(400, 'PGRST108', `'${name}' is not an embedded resource in this request`, `Verify that '${name}' is included in the 'select' query parameter.`);

/** PGRST118 (related order) / PGRST119 (spread): what needs a to-one relationship, worded as PostgREST. */
const notToOne = (code: string, message: string, origin: string, target: string) =>
  new PostgrestError(400, code, message, undefined, `'${origin}' and '${target}' do not form a many-to-one or one-to-one relationship`);

function hasAggregate(node: ReadNode): boolean {
  return node.items.some((i) => i.kind === 'count' || (i.kind === 'field' && i.aggregate !== undefined));
}

// ---------------------------------------------------------------- rendering

/** The clauses of one level, so the root can use them twice (rows, and the count without the window). */
export interface RenderedNode {
  select: string;
  /** `FROM … AS alias` and the lateral joins. */
  from: string;
  /** The same with only the joins that can change the number of rows (for the count). */
  countFrom: string;
  where: string[];
  group: string;
  order: string;
  window: string;
}

/**
 * One level as SQL. `source` is what its rows come from (`"public"."todos"`, a CTE, a function
 * call); `joinConditions` tie it to its parent row (none for the root).
 */
export function renderNode(node: ReadNode, params: Params, source: string, joinConditions: string[] = [], extraFrom = ''): RenderedNode {
  const ctx: Ctx = newCtx(node.table, params, node.alias);
  const grouped = hasAggregate(node);
  const columns: Array<{ sql: string; name: string; aggregated: boolean }> = [];

  for (const item of node.items) {
    if (item.kind === 'star') {
      if (!grouped) {
        columns.push({ sql: `${node.alias}.*`, name: '*', aggregated: false });
        continue;
      }
      // GROUP BY needs each column by name, as PostgREST expands `*` next to an aggregate.
      for (const col of node.table.columns.keys()) {
        columns.push({ sql: `${node.alias}.${quoteIdent(col)}`, name: col, aggregated: false });
      }
    } else if (item.kind === 'count') {
      columns.push({ sql: withCast('count(*)', item.aggregateCast), name: item.alias ?? 'count', aggregated: true });
    } else {
      const e = fieldExpr(ctx, item.field);
      let sql = withCast(e.sql, item.cast);
      if (item.aggregate) sql = withCast(`${item.aggregate}(${sql})`, item.aggregateCast);
      // PostgREST names a JSON path after its last key, an aggregate after its function.
      const name = item.alias ?? item.aggregate ?? item.field.path.at(-1)?.key ?? item.field.column;
      columns.push({ sql, name, aggregated: item.aggregate !== undefined });
    }
  }

  const joins: Array<{ sql: string; embed: Embed }> = [];
  for (const embed of node.embeds) {
    const { sql, outputs } = renderEmbed(node, embed, params);
    joins.push({ sql, embed });
    columns.push(...outputs.map((o) => ({ ...o, aggregated: false })));
  }

  const filtering = new Set<Embed>(node.embeds.filter((e) => e.item.join === 'inner'));
  ctx.embedPresence = (name) => {
    const embed = node.embeds.find((e) => e.name === name);
    if (!embed) return undefined;
    filtering.add(embed);
    return isToOne(embed.rel) ? `row_to_json(${embed.lateral}.*)` : `${embed.lateral}.agg`;
  };
  const where = [...node.conditions.map((c) => andOperand(ctx, c)), ...joinConditions];
  // A related order (`order=clients(name)`) reads the embed's column, which its object determines:
  // grouping by it as well changes no group and lets Postgres order by it.
  const relatedOrder = node.order.filter((t) => t.relation !== undefined).map((t) => orderExpr(ctx, node, t));
  const group = grouped ? [...columns.filter((c) => !c.aggregated).map((c) => c.sql), ...relatedOrder] : [];

  return {
    select: columns.length ? columns.map((c) => (c.name === '*' ? c.sql : `${c.sql} AS ${quoteIdent(c.name)}`)).join(', ') : `1 AS "_"`,
    from: `FROM ${source} AS ${node.alias}${extraFrom}${joins.map((j) => ` ${j.sql}`).join('')}`,
    // A LEFT JOIN LATERAL adds exactly one row (an aggregate, or at most one parent), so counting can
    // leave out every embed that filters nothing (and grouping needs them all).
    countFrom: `FROM ${source} AS ${node.alias}${extraFrom}${joins.filter((j) => grouped || filtering.has(j.embed)).map((j) => ` ${j.sql}`).join('')}`,
    where,
    group: group.length ? ` GROUP BY ${group.join(', ')}` : '',
    order: renderOrder(ctx, node),
    window: windowClause(params, node.limit, node.offset),
  };
}

export function assemble(r: RenderedNode, withWindow = true): string {
  const where = r.where.length ? ` WHERE ${r.where.join(' AND ')}` : '';
  return `SELECT ${r.select} ${r.from}${where}${r.group}${withWindow ? r.order + r.window : ''}`;
}

function withCast(sql: string, cast: string | undefined): string {
  if (cast === undefined) return sql;
  if (!CAST_TYPE_RE.test(cast)) throw grammarError(`invalid cast type "${cast}"`);
  return `(${sql})::${cast}`;
}

export function windowClause(p: Params, limit?: number, offset?: number): string {
  return (limit === undefined ? '' : ` LIMIT ${p.add(limit)}`) + (offset ? ` OFFSET ${p.add(offset)}` : '');
}

/** The lateral join of one embed, and the columns it adds to its parent. */
function renderEmbed(parent: ReadNode, embed: Embed, params: Params): { sql: string; outputs: Array<{ sql: string; name: string }> } {
  const child = embed.node;
  const { rel, lateral } = embed;
  const quote = (alias: string, col: string) => `${alias}.${quoteIdent(col)}`;
  let conditions: string[];
  let extraFrom = '';
  if (rel.junction) {
    // JOIN, not a comma: the lateral joins that follow must still see the target's alias.
    const j = `_j${lateral.slice(2)}`;
    const on = rel.junction.targetColumns.map(([targetCol, jCol]) => `${quote(j, jCol)} = ${quote(child.alias, targetCol)}`);
    extraFrom = ` INNER JOIN ${quoteRelation(parent.table.schema, rel.junction.table)} AS ${j} ON ${on.join(' AND ')}`;
    conditions = rel.junction.sourceColumns.map(([originCol, jCol]) => `${quote(j, jCol)} = ${quote(parent.alias, originCol)}`);
  } else {
    conditions = rel.columns.map(([parentCol, childCol]) => `${quote(child.alias, childCol)} = ${quote(parent.alias, parentCol)}`);
  }
  const r = renderNode(child, params, quoteRelation(child.table.schema, child.table.name), conditions, extraFrom);
  const inner = embed.item.join === 'inner';
  const shown = hasOutput(child);
  if (isToOne(rel)) {
    const sql = `${inner ? 'INNER' : 'LEFT'} JOIN LATERAL (${assemble(r)}) AS ${lateral} ON TRUE`;
    if (!shown) return { sql, outputs: [] };
    if (embed.item.spread) return { sql, outputs: outputNames(child).map((name) => ({ sql: quote(lateral, name), name })) };
    return { sql, outputs: [{ sql: `row_to_json(${lateral}.*)::jsonb`, name: embed.name }] };
  }
  const sql =
    `${inner ? 'INNER' : 'LEFT'} JOIN LATERAL (SELECT json_agg(_s)::jsonb AS agg FROM (${assemble(r)}) AS _s) AS ${lateral}` +
    ` ON ${inner ? `${lateral}.agg IS NOT NULL` : 'TRUE'}`;
  return { sql, outputs: shown ? [{ sql: `coalesce(${lateral}.agg, '[]'::jsonb)`, name: embed.name }] : [] };
}

/** An embed with nothing selected (`projects()`, used to filter with !inner) adds no key to its parent. */
function hasOutput(node: ReadNode): boolean {
  return node.items.length > 0 || node.embeds.some((e) => hasOutput(e.node));
}

/** The keys one level produces, in order (a spread's keys are its child's). */
function outputNames(node: ReadNode): string[] {
  const names: string[] = [];
  for (const item of node.items) {
    if (item.kind === 'star') names.push(...node.table.columns.keys());
    else if (item.kind === 'count') names.push(item.alias ?? 'count');
    else names.push(item.alias ?? item.aggregate ?? item.field.path.at(-1)?.key ?? item.field.column);
  }
  for (const e of node.embeds) {
    if (!hasOutput(e.node)) continue;
    if (e.item.spread) names.push(...outputNames(e.node));
    else names.push(e.name);
  }
  return names;
}

function renderOrder(ctx: Ctx, node: ReadNode): string {
  if (node.order.length === 0) return '';
  const parts = node.order.map((t) => {
    const dir = t.direction ? ` ${t.direction.toUpperCase()}` : '';
    const nulls = t.nulls ? ` NULLS ${t.nulls.toUpperCase()}` : '';
    return `${orderExpr(ctx, node, t)}${dir}${nulls}`;
  });
  return ` ORDER BY ${parts.join(', ')}`;
}

/** A column of this level, or (`clients(name)`) of a to-one embed, read from its lateral subquery. */
function orderExpr(ctx: Ctx, node: ReadNode, t: OrderTerm): string {
  if (t.relation === undefined) return fieldExpr(ctx, t.field).sql;
  const embed = node.embeds.find((e) => e.name === t.relation);
  if (!embed) throw notEmbedded(t.relation);
  if (!isToOne(embed.rel)) throw notToOne('PGRST118', `A related order on '${t.relation}' is not possible`, node.table.name, t.relation);
  checkColumn(embed.node.table, t.field.column);
  if (!outputNames(embed.node).includes(t.field.column)) {
    throw grammarError(`cannot order by ${t.relation}(${t.field.column}): add "${t.field.column}" to the select of "${t.relation}"`);
  }
  return fieldExpr({ ...ctx, table: embed.node.table, qual: embed.lateral }, t.field).sql;
}

// ---------------------------------------------------------------- the response body

/**
 * The `body` of the one-row result over the CTE `_q` holding the rows, in the negotiated media type:
 * a JSON array (nulls stripped or not; `single`: its one element, or null), or CSV with a header line
 * and each row as Postgres writes a record, as PostgREST does.
 */
export function bodyColumn(media: Media, single = false): string {
  if (media.kind === 'csv') {
    const header = `(SELECT coalesce(string_agg(_k, ','), '') FROM json_object_keys((SELECT row_to_json(_h) FROM _q AS _h LIMIT 1)) AS _k)`;
    const rows = `coalesce(string_agg(substring(_q::text, 2, length(_q::text) - 2), E'\\n'), '')`;
    return `${header} || E'\\n' || ${rows} AS body`;
  }
  const row = media.stripNulls ? 'json_strip_nulls(row_to_json(_q.*))' : '_q.*';
  return single ? `coalesce((json_agg(${row})->0)::text, 'null') AS body` : `coalesce(json_agg(${row}), '[]')::text AS body`;
}

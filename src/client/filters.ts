/** Typed filters, as tools take them, turned into PostgREST query parameters. */

export const FILTER_OPS = ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'like', 'ilike', 'in', 'is'] as const;
export type FilterOp = (typeof FILTER_OPS)[number];
export type Scalar = string | number | boolean | null;

export interface Filter {
  column: string;
  op: FilterOp;
  value: Scalar | Scalar[];
  not?: boolean;
}

export interface OrderBy {
  column: string;
  ascending?: boolean;
  nulls?: 'first' | 'last';
}

export interface ReadQuery {
  select?: string;
  where?: Filter[];
  or?: Filter[];
  order?: OrderBy[];
  limit?: number;
  offset?: number;
}

const scalarText = (v: Scalar) => (v === null ? 'null' : String(v));

/** PostgREST quotes list items and tree values that hold its delimiters. */
const quoted = (s: string) => (/[,()"\\:\s]/.test(s) || s === '' ? `"${s.replace(/["\\]/g, (c) => `\\${c}`)}"` : s);

function valueText(f: Filter, inTree: boolean): string {
  if (f.op === 'in') {
    const items = Array.isArray(f.value) ? f.value : [f.value];
    return `(${items.map((v) => quoted(scalarText(v))).join(',')})`;
  }
  if (Array.isArray(f.value)) throw new TypeError(`filter on "${f.column}": only the "in" operator takes a list`);
  if (f.op === 'is') return scalarText(f.value);
  // `*` is PostgREST's wildcard; % is accepted by the backend too
  const text = scalarText(f.value);
  return inTree ? quoted(text) : text;
}

const opText = (f: Filter, inTree: boolean) => `${f.not ? 'not.' : ''}${f.op}.${valueText(f, inTree)}`;

/** PostgREST's `columns=` for rows that do not all name the same columns: every key any row has. */
export function columnsOf(rows: Record<string, unknown>[]): string | undefined {
  const first = Object.keys(rows[0] ?? {}).sort().join('\0');
  if (rows.every((r) => Object.keys(r).sort().join('\0') === first)) return undefined;
  return [...new Set(rows.flatMap((r) => Object.keys(r)))].map(quoted).join(',');
}

const treeItem = (f: Filter) => `${f.column}.${opText(f, true)}`;

export function toSearchParams(q: ReadQuery): URLSearchParams {
  const params = new URLSearchParams();
  if (q.select) params.set('select', q.select);
  // A column with several conditions goes into one and=(…): a repeated query key is lost behind
  // proxies that collapse it (InsForge re-sends `qty=…&qty=…` as `qty[]=…`).
  const where = q.where ?? [];
  const perColumn = new Map<string, number>();
  for (const f of where) perColumn.set(f.column, (perColumn.get(f.column) ?? 0) + 1);
  const together = where.filter((f) => perColumn.get(f.column)! > 1);
  for (const f of where) if (perColumn.get(f.column) === 1) params.append(f.column, opText(f, false));
  if (together.length) params.append('and', `(${together.map(treeItem).join(',')})`);
  if (q.or?.length) params.append('or', `(${q.or.map(treeItem).join(',')})`);
  if (q.order?.length) {
    params.set(
      'order',
      q.order.map((o) => [o.column, o.ascending === false ? 'desc' : 'asc', o.nulls ? `nulls${o.nulls}` : ''].filter(Boolean).join('.')).join(','),
    );
  }
  if (q.limit !== undefined) params.set('limit', String(q.limit));
  if (q.offset) params.set('offset', String(q.offset));
  return params;
}

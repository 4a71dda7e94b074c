/**
 * Parsers for the PostgREST request grammar: query-string values (select, filters, logic trees,
 * order, column lists) and the Prefer / Range headers.
 *
 * Everything here is catalogue-agnostic: it only turns text into small ASTs. Checking identifiers
 * against the catalogue and turning the ASTs into SQL is done in `postgrest.ts`.
 * Every grammar problem throws `PostgrestError` 400 `PGRST100` saying what was wrong and where.
 */

export class PostgrestError extends Error {
  /** What to do next, when PostgREST's hint does not say it (the envelope's nextActions). */
  nextActions?: string;

  constructor(
    public status: number,
    public code: string,
    message: string,
    public hint?: string,
    /** A sentence, or (PGRST201) PostgREST's list of candidate relationships. */
    public details?: string | Array<Record<string, string>>,
  ) {
    super(message);
    this.name = 'PostgrestError';
  }

  /** The body PostgREST sends for an error. */
  toJSON(): { code: string; details: PostgrestError['details'] | null; hint: string | null; message: string } {
    return { code: this.code, details: this.details ?? null, hint: this.hint ?? null, message: this.message };
  }
}

/** 400 PGRST127 (PostgREST's "Feature not implemented"): a request feature this backend refuses rather than ignores. */
export function notImplemented(feature: string, details: string): PostgrestError {
  return new PostgrestError(400, 'PGRST127', `${feature} is not supported by this backend`, undefined, details);
}

export function grammarError(message: string, details?: string): PostgrestError {
  return new PostgrestError(400, 'PGRST100', message, undefined, details);
}

// ---------------------------------------------------------------- ASTs

export interface JsonStep {
  op: '->' | '->>';
  key: string;
}

/** A column, optionally followed by a JSON path: `data->a->>b`. */
export interface FieldRef {
  column: string;
  path: JsonStep[];
}

export const AGGREGATES = ['count', 'sum', 'avg', 'min', 'max'] as const;
export type AggregateFn = (typeof AGGREGATES)[number];

/** `col`, `alias:col->>k::text`, or an aggregate `amount.sum()`, `total:amount::int.sum()::text`. */
export interface FieldItem {
  kind: 'field';
  field: FieldRef;
  alias?: string;
  cast?: string;
  aggregate?: AggregateFn;
  aggregateCast?: string;
}

/** `count()`, `alias:count()::text`: the number of rows of each group. */
export interface CountItem {
  kind: 'count';
  alias?: string;
  aggregateCast?: string;
}

/** `alias:target!hint!inner(items)` or `...target(items)` (spread: its columns join the parent's). */
export interface EmbedItem {
  kind: 'embed';
  name: string;
  alias?: string;
  hint?: string;
  join?: 'inner' | 'left';
  spread: boolean;
  select: SelectItem[];
}

export type SelectItem = { kind: 'star' } | FieldItem | CountItem | EmbedItem;

export const FILTER_OPS = [
  'eq', 'neq', 'gt', 'gte', 'lt', 'lte',
  'like', 'ilike', 'match', 'imatch',
  'in', 'is', 'isdistinct',
  'cs', 'cd', 'ov',
  'sl', 'sr', 'nxr', 'nxl', 'adj',
  'fts', 'plfts', 'phfts', 'wfts',
] as const;
export type FilterOp = (typeof FILTER_OPS)[number];
const FILTER_OP_SET: ReadonlySet<string> = new Set(FILTER_OPS);
const FTS_OPS: ReadonlySet<string> = new Set(['fts', 'plfts', 'phfts', 'wfts']);
/** Operators that take `(any)` / `(all)` and a `{a,b}` array: `like(any).{a*,b*}`. */
const QUANTIFIABLE_OPS: ReadonlySet<string> = new Set(['eq', 'gt', 'gte', 'lt', 'lte', 'like', 'ilike', 'match', 'imatch']);

export const IS_VALUES = ['null', 'not_null', 'true', 'false', 'unknown'] as const;
export type IsValue = (typeof IS_VALUES)[number];

export type FilterNode =
  | { kind: 'filter'; field: FieldRef; negate: boolean; op: 'in'; value: string[] }
  | { kind: 'filter'; field: FieldRef; negate: boolean; op: 'is'; value: IsValue }
  | {
      kind: 'filter';
      field: FieldRef;
      negate: boolean;
      op: Exclude<FilterOp, 'in' | 'is'>;
      value: string;
      /** Text-search configuration of `fts(english).term`. */
      language?: string;
      /** `eq(any).{1,2}`: compare with ANY / ALL elements of the array value. */
      quantifier?: 'any' | 'all';
    };

export interface LogicNode {
  kind: 'logic';
  op: 'and' | 'or';
  negate: boolean;
  children: ConditionNode[];
}

export type ConditionNode = FilterNode | LogicNode;

export interface OrderTerm {
  field: FieldRef;
  /** `order=clients(name)`: a column of a to-one embedded resource. */
  relation?: string;
  direction?: 'asc' | 'desc';
  nulls?: 'first' | 'last';
}

// ---------------------------------------------------------------- cursor

/** A position in one query-string value; errors name the value and the position. */
class Cursor {
  pos = 0;
  constructor(
    readonly src: string,
    /** How to name the input in errors, e.g. `select=a,b`. */
    readonly context: string,
  ) {}

  get done(): boolean {
    return this.pos >= this.src.length;
  }
  peek(offset = 0): string | undefined {
    return this.src[this.pos + offset];
  }
  startsWith(s: string): boolean {
    return this.src.startsWith(s, this.pos);
  }
  eat(s: string): boolean {
    if (!this.startsWith(s)) return false;
    this.pos += s.length;
    return true;
  }
  skipSpaces(): void {
    while (this.peek() === ' ') this.pos++;
  }
  expect(s: string, what?: string): void {
    if (!this.eat(s)) this.fail(`expected ${what ?? `"${s}"`}`);
  }
  fail(message: string): never {
    const found = this.done ? 'end of input' : `"${this.src.slice(this.pos, this.pos + 12)}"`;
    throw grammarError(
      `${message} at position ${this.pos + 1} (found ${found}) in ${this.context}`,
    );
  }
}

/** `"…"` with backslash escapes (`\"`, `\\`, `\x` → x). The cursor must be on the opening quote. */
function readQuoted(c: Cursor): string {
  c.expect('"');
  let out = '';
  for (;;) {
    const ch = c.peek();
    if (ch === undefined) c.fail('unterminated double-quoted string');
    c.pos++;
    if (ch === '"') return out;
    if (ch === '\\') {
      const next = c.peek();
      if (next === undefined) c.fail('unterminated escape in double-quoted string');
      out += next;
      c.pos++;
    } else {
      out += ch;
    }
  }
}

/** Raw characters up to (not including) one of `stops`, or a `->` when `stopAtArrow`. */
function readRaw(c: Cursor, stops: string, stopAtArrow: boolean): string {
  const start = c.pos;
  while (!c.done) {
    const ch = c.peek() as string;
    if (stops.includes(ch)) break;
    if (stopAtArrow && c.startsWith('->')) break;
    c.pos++;
  }
  return c.src.slice(start, c.pos);
}

/** A name (column or JSON key): double-quoted, or raw up to a stop character / `->`. */
function readName(c: Cursor, stops: string, what: string): string {
  c.skipSpaces();
  const name = c.peek() === '"' ? readQuoted(c) : readRaw(c, stops, true).trim();
  if (name === '') c.fail(`expected ${what}`);
  return name;
}

/** `col`, `col->key`, `col->>key`, `col->0->>key`, names optionally double-quoted. */
function readField(c: Cursor, stops: string): FieldRef {
  const column = readName(c, stops, 'a column name');
  const path: JsonStep[] = [];
  while (c.startsWith('->')) {
    const op = c.startsWith('->>') ? '->>' : '->';
    c.pos += op.length;
    path.push({ op, key: readName(c, stops, `a JSON key after "${op}"`) });
  }
  c.skipSpaces();
  return { column, path };
}

// ---------------------------------------------------------------- select

/**
 * User-supplied casts are written into SQL after `::`, so they must be a type name and nothing else:
 * one identifier, optionally schema-qualified (`text`, `public.mood`), or one of the built-in names
 * of several words; then an optional modifier (`numeric(10,2)`) and `[]`. Postgres resolves the
 * name (an unknown type is its 42704). Nothing with other spaces, quotes or punctuation passes.
 */
const MULTI_WORD_TYPES = ['double precision', 'character varying', 'bit varying', 'timestamp with time zone', 'timestamp without time zone', 'time with time zone', 'time without time zone'];
export const CAST_TYPE_RE = new RegExp(
  String.raw`^(?:[a-z_][a-z0-9_]{0,62}(?:\.[a-z_][a-z0-9_]{0,62})?|${MULTI_WORD_TYPES.join('|')})(?:\(\d{1,4}(?:,\d{1,4})?\))?(?:\[\])?$`,
  'i',
);

/** Embeds nest at most this deep: deeper is refused before any recursion can exhaust the stack. */
export const MAX_EMBED_DEPTH = 16;

const SELECT_STOPS = ',:()!.';

/**
 * `select=*`, `a,b`, `alias:col`, `col::text`, `alias:col->>k::int`, aggregates (`count()`,
 * `amount.sum()`, `amount::int.avg()::text`) and embedded resources (`alias:target!hint!inner(…)`,
 * `...target(…)`), nested. Empty means `*`.
 */
export function parseSelect(value: string): SelectItem[] {
  if (value.trim() === '') return [{ kind: 'star' }];
  const c = new Cursor(value, `select=${value}`);
  const items = readSelectList(c, 0);
  if (!c.done) c.fail('unexpected ")"');
  return items;
}

function readSelectList(c: Cursor, depth: number): SelectItem[] {
  const items: SelectItem[] = [];
  for (;;) {
    c.skipSpaces();
    items.push(readSelectItem(c, depth));
    c.skipSpaces();
    if (c.done || c.peek() === ')') return items;
    if (!c.eat(',')) c.fail('expected "," between select items');
  }
}

function readSelectItem(c: Cursor, depth: number): SelectItem {
  if (c.eat('*')) return { kind: 'star' };
  if (c.eat('...')) return readEmbed(c, readName(c, SELECT_STOPS, 'an embedded resource after "..."'), undefined, true, depth);
  let field = readField(c, SELECT_STOPS);
  let alias: string | undefined;
  if (c.peek() === ':' && c.peek(1) !== ':') {
    if (field.path.length > 0) c.fail('an alias must be a plain name');
    alias = field.column;
    c.pos++;
    c.skipSpaces();
    if (c.peek() === '*') c.fail('"*" cannot have an alias');
    if (c.startsWith('...')) c.fail('a spread ("...") cannot have an alias');
    field = readField(c, SELECT_STOPS);
  }
  const plain = field.path.length === 0;
  if (plain && field.column === 'count' && c.eat('()')) {
    const aggregateCast = c.eat('::') ? readCast(c) : undefined;
    return { kind: 'count', ...(alias !== undefined ? { alias } : {}), ...(aggregateCast ? { aggregateCast } : {}) };
  }
  if (c.peek() === '(' || c.peek() === '!') {
    if (!plain) c.fail('an embedded resource cannot have a JSON path');
    if (field.column === 'count') c.fail('expected "count()"');
    return readEmbed(c, field.column, alias, false, depth);
  }
  const cast = c.eat('::') ? readCast(c) : undefined;
  let aggregate: AggregateFn | undefined;
  let aggregateCast: string | undefined;
  if (c.eat('.')) {
    const start = c.pos;
    const word = readRaw(c, '(),', false);
    if (!(AGGREGATES as readonly string[]).includes(word)) {
      c.pos = start;
      c.fail(`unknown aggregate "${word}"; expected one of ${AGGREGATES.map((a) => `${a}()`).join(', ')}`);
    }
    c.expect('()', `"()" after the aggregate "${word}"`);
    aggregate = word as AggregateFn;
    if (c.eat('::')) aggregateCast = readCast(c);
  }
  const item: FieldItem = { kind: 'field', field };
  if (alias !== undefined) item.alias = alias;
  if (cast) item.cast = cast;
  if (aggregate) item.aggregate = aggregate;
  if (aggregateCast) item.aggregateCast = aggregateCast;
  return item;
}

/**
 * A cast type after `::`: letters, digits, `_`, spaces and a trailing `[]` (PostgREST's pIdentifier),
 * optionally schema-qualified (`pg_catalog.int4`); a `.name()` after it is an aggregate, not a schema.
 */
function readCast(c: Cursor): string {
  const start = c.pos;
  const readWord = () => {
    while (!c.done && /[a-z0-9_ [\]]/i.test(c.peek() as string)) c.pos++;
  };
  readWord();
  if (c.peek() === '.') {
    const dot = c.pos++;
    const nameStart = c.pos;
    readWord();
    if (c.pos === nameStart || c.peek() === '(') c.pos = dot;
  }
  const cast = c.src.slice(start, c.pos).trim();
  if (!CAST_TYPE_RE.test(cast)) {
    c.pos = start;
    c.fail(`invalid cast type "${cast}"`);
  }
  return cast;
}

/** After the name: up to two `!hint` / `!inner` / `!left`, then `(items)` (possibly empty). */
function readEmbed(c: Cursor, name: string, alias: string | undefined, spread: boolean, depth: number): EmbedItem {
  const item: EmbedItem = { kind: 'embed', name, spread, select: [] };
  if (alias !== undefined) item.alias = alias;
  while (c.eat('!')) {
    const word = c.peek() === '"' ? readQuoted(c) : readRaw(c, '!(),', false).trim();
    if (word === '') c.fail('expected a hint (a foreign key or column name), "inner" or "left" after "!"');
    if (word === 'inner' || word === 'left') {
      if (item.join) c.fail(`"${name}" has two join types`);
      item.join = word;
    } else {
      if (item.hint !== undefined) c.fail(`"${name}" has two hints`);
      item.hint = word;
    }
  }
  c.expect('(', `"(" and the columns of the embedded resource "${name}"`);
  if (depth + 1 > MAX_EMBED_DEPTH) c.fail(`embedded resources nest deeper than ${MAX_EMBED_DEPTH} levels`);
  c.skipSpaces();
  if (c.peek() !== ')') item.select = readSelectList(c, depth + 1);
  c.expect(')', `")" to close "${name}("`);
  return item;
}

// ---------------------------------------------------------------- filters

/** A filter key: `col`, `data->>k`, or on an embedded resource `projects.name`, `clients.projects.id`. */
export interface FilterKey {
  /** Embedded resources (names or aliases) leading to the column; empty for the root table. */
  path: string[];
  field: FieldRef;
}

export function parseFilterKey(key: string): FilterKey {
  const c = new Cursor(key, `filter key "${key}"`);
  const path: string[] = [];
  for (;;) {
    const field = readField(c, '.');
    if (c.done) return { path, field };
    if (!c.eat('.') || field.path.length > 0) c.fail('unexpected characters after the column');
    path.push(field.column);
  }
}

/** The query keys PostgREST reserves; `order`, `limit`, `offset`, `and`, `or` also as `embed.order` etc. */
export type QueryKey =
  | { kind: 'reserved'; name: 'select' | 'columns' | 'on_conflict' }
  | { kind: 'order' | 'limit' | 'offset'; path: string[] }
  | { kind: 'logic'; path: string[]; op: 'and' | 'or'; negate: boolean }
  | { kind: 'filter'; key: FilterKey };

/** What a query key is, by its last dot-separated word (names may be double-quoted). */
export function classifyKey(key: string): QueryKey {
  if (key === 'select' || key === 'columns' || key === 'on_conflict') return { kind: 'reserved', name: key };
  const words = splitKeyPath(key);
  const last = words?.at(-1);
  if (words && (last === 'order' || last === 'limit' || last === 'offset')) return { kind: last, path: words.slice(0, -1) };
  if (words && (last === 'and' || last === 'or')) {
    const negate = words.at(-2) === 'not';
    return { kind: 'logic', path: words.slice(0, negate ? -2 : -1), op: last, negate };
  }
  return { kind: 'filter', key: parseFilterKey(key) };
}

/**
 * On GET /rpc/fn, whether a key applies to the result rather than being an argument: the reserved
 * keys do, and (as PostgREST decides) a key whose value is an operator expression such as `eq.5`.
 */
export function isRpcFilter(key: string, value: string): boolean {
  try {
    const k = classifyKey(key);
    if (k.kind !== 'filter') return true;
    parseFilterValue(k.key.field, key, value);
    return true;
  } catch {
    return false;
  }
}

/** `a."b.c".d` → ['a', 'b.c', 'd']; undefined when a part is not a plain name (e.g. a JSON path). */
function splitKeyPath(key: string): string[] | undefined {
  const c = new Cursor(key, `key "${key}"`);
  const words: string[] = [];
  for (;;) {
    if (c.peek() === '"') words.push(readQuoted(c));
    else words.push(readRaw(c, '.', false));
    if (c.done) return words;
    if (!c.eat('.')) return undefined;
  }
}

/** The value of a top-level filter, `[not.]op.value`; the value is literal (no unquoting). */
export function parseFilterValue(field: FieldRef, key: string, value: string): FilterNode {
  const c = new Cursor(value, `filter ${key}=${value}`);
  const node = readOperation(c, field, 'top');
  if (!c.done) c.fail('unexpected characters after the value');
  return node;
}

type ValueMode = 'top' | 'tree';

function readOperation(c: Cursor, field: FieldRef, mode: ValueMode): FilterNode {
  const negate = c.eat('not.');
  const start = c.pos;
  while (!c.done && /[a-z]/i.test(c.peek() as string)) c.pos++;
  const op = c.src.slice(start, c.pos);
  if (op === '') c.fail('expected an operator (eq, neq, gt, gte, lt, lte, like, ilike, in, is, …)');
  if (!FILTER_OP_SET.has(op)) {
    c.pos = start;
    c.fail(`unknown operator "${op}"; expected one of ${FILTER_OPS.join(', ')}`);
  }
  let language: string | undefined;
  let quantifier: 'any' | 'all' | undefined;
  if (FTS_OPS.has(op) && c.eat('(')) {
    language = readRaw(c, ')', false);
    if (!/^[a-z_][a-z0-9_]*$/i.test(language)) c.fail(`invalid text search configuration "${language}"`);
    c.expect(')');
  } else if (QUANTIFIABLE_OPS.has(op) && c.peek() === '(') {
    if (c.eat('(any)')) quantifier = 'any';
    else if (c.eat('(all)')) quantifier = 'all';
    else c.fail(`expected "(any)" or "(all)" after operator "${op}"`);
  }
  if (!c.eat('.')) c.fail(`expected "." and a value after operator "${op}"`);

  if (op === 'in') return { kind: 'filter', field, negate, op, value: readList(c) };
  const raw = mode === 'top' ? readRest(c) : readTreeValue(c);
  if (op === 'is') {
    const v = raw.toLowerCase();
    if (!(IS_VALUES as readonly string[]).includes(v)) {
      throw grammarError(`invalid value "${raw}" for operator "is" in ${c.context}; expected one of ${IS_VALUES.join(', ')}`);
    }
    return { kind: 'filter', field, negate, op, value: v as IsValue };
  }
  const node: FilterNode = { kind: 'filter', field, negate, op: op as Exclude<FilterOp, 'in' | 'is'>, value: raw };
  if (language !== undefined) node.language = language;
  if (quantifier !== undefined) node.quantifier = quantifier;
  return node;
}

function readRest(c: Cursor): string {
  const rest = c.src.slice(c.pos);
  c.pos = c.src.length;
  return rest;
}

/** `(a,b,"c,d","e\"f")` → ['a','b','c,d','e"f']; `()` → []. Unquoted elements are kept verbatim. */
function readList(c: Cursor): string[] {
  c.expect('(', '"(" to open the list of "in"');
  const items: string[] = [];
  if (c.eat(')')) return items;
  for (;;) {
    if (c.peek() === '"') {
      items.push(readQuoted(c));
      if (c.peek() !== ',' && c.peek() !== ')') c.fail('expected "," or ")" after a quoted list element');
    } else {
      items.push(readRaw(c, ',)', false));
    }
    if (c.eat(',')) continue;
    c.expect(')', '")" to close the list');
    return items;
  }
}

/** A value inside a logic tree: `"quoted"`, `{array,literal}` or raw up to `,` / `)`. */
function readTreeValue(c: Cursor): string {
  let value: string;
  if (c.peek() === '"') {
    value = readQuoted(c);
  } else if (c.peek() === '{') {
    const end = c.src.indexOf('}', c.pos);
    if (end < 0) c.fail('unterminated "{" in value');
    value = c.src.slice(c.pos, end + 1);
    c.pos = end + 1;
  } else {
    return readRaw(c, ',)', false);
  }
  if (!c.done && c.peek() !== ',' && c.peek() !== ')') c.fail('expected "," or ")" after the value');
  return value;
}

// ---------------------------------------------------------------- logic trees

/** `or=(a.eq.1,and(b.gt.2,c.not.is.null))`; the key may name an embedded resource (`projects.not.or`). */
export function parseLogicTree(key: string, value: string): LogicNode {
  const k = classifyKey(key);
  if (k.kind !== 'logic') throw grammarError(`"${key}" is not a logic key (and, or, not.and, not.or)`);
  const { op, negate } = k;
  const c = new Cursor(value, `${key}=${value}`);
  const children = readTreeGroup(c);
  if (!c.done) c.fail('unexpected characters after the closing ")"');
  return { kind: 'logic', op, negate, children };
}

function readTreeGroup(c: Cursor): ConditionNode[] {
  c.expect('(', '"(" to open the condition list');
  if (c.peek() === ')') c.fail('empty condition list');
  const children: ConditionNode[] = [];
  for (;;) {
    c.skipSpaces();
    children.push(readTreeItem(c));
    if (c.eat(',')) continue;
    c.expect(')', '"," or ")"');
    return children;
  }
}

function readTreeItem(c: Cursor): ConditionNode {
  for (const prefix of ['not.and(', 'not.or(', 'and(', 'or(']) {
    if (c.startsWith(prefix)) {
      const negate = prefix.startsWith('not.');
      c.pos += prefix.length - 1; // stay on "("
      return { kind: 'logic', op: prefix.includes('and') ? 'and' : 'or', negate, children: readTreeGroup(c) };
    }
  }
  const field = readField(c, '.,()');
  if (!c.eat('.')) c.fail('expected "." and an operator after the column');
  return readOperation(c, field, 'tree');
}

// ---------------------------------------------------------------- order, column lists, integers

/** `order=a.desc.nullslast,b,c.asc.nullsfirst`. Empty → []. */
export function parseOrder(value: string): OrderTerm[] {
  if (value.trim() === '') return [];
  const c = new Cursor(value, `order=${value}`);
  const terms: OrderTerm[] = [];
  for (;;) {
    let term: OrderTerm = { field: readField(c, '.,(') };
    if (c.eat('(')) {
      // order=clients(name).desc: a column of a to-one embedded resource
      if (term.field.path.length > 0) c.fail('an embedded resource cannot have a JSON path');
      term = { relation: term.field.column, field: readField(c, '.,()') };
      c.expect(')', `")" to close "${term.relation}("`);
    }
    while (c.eat('.')) {
      const start = c.pos;
      const word = readRaw(c, '.,', false);
      if ((word === 'asc' || word === 'desc') && !term.direction && !term.nulls) term.direction = word;
      else if ((word === 'nullsfirst' || word === 'nullslast') && !term.nulls) term.nulls = word === 'nullsfirst' ? 'first' : 'last';
      else {
        c.pos = start;
        c.fail(`unexpected order modifier "${word}"; expected asc|desc then nullsfirst|nullslast`);
      }
    }
    terms.push(term);
    c.skipSpaces();
    if (c.done) return terms;
    if (!c.eat(',')) c.fail('expected "," between order terms');
  }
}

/** `columns=a,b` / `on_conflict=a,b`; names may be double-quoted (supabase-js quotes them). */
export function parseColumnList(key: string, value: string): string[] {
  const c = new Cursor(value, `${key}=${value}`);
  const names: string[] = [];
  for (;;) {
    names.push(readName(c, ',', 'a column name'));
    c.skipSpaces();
    if (c.done) return names;
    if (!c.eat(',')) c.fail('expected "," between column names');
  }
}

/** `limit` / `offset`: a non-negative safe integer. */
export function parseNonNegativeInt(key: string, value: string): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!Number.isSafeInteger(n)) {
    throw grammarError(`"${key}" must be a non-negative integer, got "${value}"`);
  }
  return n;
}

// ---------------------------------------------------------------- headers

export interface Prefer {
  return: 'representation' | 'minimal' | 'headers-only';
  /** count=exact|planned|estimated are all answered with an exact count. */
  count: boolean;
  resolution?: 'merge-duplicates' | 'ignore-duplicates';
  missingDefault: boolean;
  /** handling=strict: unknown preferences are an error, and max-affected applies. */
  strict: boolean;
  maxAffected?: number;
  tx?: 'commit' | 'rollback';
  /** Recognised, but refused by the routes (they cannot be honoured in one statement). */
  timezone?: string;
  singleObjectParams: boolean;
  /** Preferences PostgREST does not know, as written. */
  invalid: string[];
}

/** A header as Node gives it: repeated headers may arrive as an array. */
export type HeaderValue = string | string[] | undefined;

const PREFER_TOKENS: Record<string, (p: Prefer) => void> = {
  'return=representation': (p) => (p.return = 'representation'),
  'return=minimal': (p) => (p.return = 'minimal'),
  'return=headers-only': (p) => (p.return = 'headers-only'),
  'count=exact': (p) => (p.count = true),
  'count=planned': (p) => (p.count = true),
  'count=estimated': (p) => (p.count = true),
  'resolution=merge-duplicates': (p) => (p.resolution = 'merge-duplicates'),
  'resolution=ignore-duplicates': (p) => (p.resolution = 'ignore-duplicates'),
  'missing=default': (p) => (p.missingDefault = true),
  'missing=null': (p) => (p.missingDefault = false),
  'handling=strict': (p) => (p.strict = true),
  'handling=lenient': (p) => (p.strict = false),
  'tx=commit': (p) => (p.tx = 'commit'),
  'tx=rollback': (p) => (p.tx = 'rollback'),
  'params=single-object': (p) => (p.singleObjectParams = true),
};

/**
 * Comma-separated preferences, several Prefer headers combined (RFC 7240, as PostgREST reads them):
 * the first of each kind wins; unknown ones are collected in `invalid` (an error with handling=strict).
 * Defaults: return=minimal, no count, handling=lenient.
 */
export function parsePrefer(header: HeaderValue): Prefer {
  const prefer: Prefer = { return: 'minimal', count: false, missingDefault: false, strict: false, singleObjectParams: false, invalid: [] };
  const text = Array.isArray(header) ? header.join(',') : (header ?? '');
  const seen = new Set<string>();
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const kind = part.split('=', 1)[0] as string;
    const apply = PREFER_TOKENS[part];
    if (apply) {
      if (!seen.has(kind)) apply(prefer);
    } else if (kind === 'max-affected') {
      const n = /^max-affected=(\d+)$/.exec(part);
      if (n && !seen.has(kind)) prefer.maxAffected = Number(n[1]);
    } else if (kind === 'timezone' && part.length > 'timezone='.length) {
      if (!seen.has(kind)) prefer.timezone = part.slice('timezone='.length);
    } else {
      prefer.invalid.push(part);
      continue;
    }
    seen.add(kind);
  }
  return prefer;
}

/** 400 PGRST122 for unknown preferences under handling=strict, worded as PostgREST. */
export function checkStrictPreferences(prefer: Prefer): void {
  if (prefer.strict && prefer.invalid.length > 0) {
    const err = new PostgrestError(400, 'PGRST122', 'Invalid preferences given with handling=strict', undefined, `Invalid preferences: ${prefer.invalid.join(', ')}`);
    err.nextActions = 'Drop the unknown preferences from the Prefer header, or send handling=lenient to have them ignored.';
    throw err;
  }
}

/**
 * `Range: 0-9`, `items=0-9`, `5-` → { offset, limit? }. A header that does not parse is ignored
 * (undefined), like PostgREST; `9-0` or numbers beyond 2^53 → 416 PGRST103.
 */
export function parseRange(headerValue: HeaderValue): { offset: number; limit?: number } | undefined {
  const header = Array.isArray(headerValue) ? headerValue[0] : headerValue;
  if (header === undefined) return undefined;
  const m = /^\s*(?:items=)?(\d+)-(\d*)\s*$/i.exec(header);
  if (!m) return undefined;
  const from = Number(m[1]);
  const to = m[2] === '' ? undefined : Number(m[2]);
  if (!Number.isSafeInteger(from) || (to !== undefined && (!Number.isSafeInteger(to) || to < from))) {
    throw new PostgrestError(416, 'PGRST103', 'Requested range not satisfiable', undefined, `Invalid Range header "${header}"`);
  }
  return to === undefined ? { offset: from } : { offset: from, limit: to - from + 1 };
}

/** What a response body is: a JSON array, one JSON object (vnd.pgrst.object), or CSV; nulls stripped or not. */
export interface Media {
  kind: 'json' | 'object' | 'csv';
  stripNulls: boolean;
}

/**
 * Content negotiation on Accept, as PostgREST does it with its built-in handlers: the first acceptable
 * media range by quality wins. Others (GeoJSON without PostGIS, the EXPLAIN plan media type, which is
 * off as with PostgREST's default db-plan-enabled=false) are 406 PGRST107.
 */
export function negotiateMedia(accept: HeaderValue): Media {
  const text = (Array.isArray(accept) ? accept.join(',') : (accept ?? '')).trim();
  if (text === '') return { kind: 'json', stripNulls: false };
  const ranges = text
    .split(/,(?=(?:[^"]*"[^"]*")*[^"]*$)/) // commas outside quoted parameter values (plan's for="…")
    .map((raw, i) => {
      const [type = '', ...params] = raw.split(';').map((p) => p.trim());
      const q = params.find((p) => /^q=/i.test(p));
      return { raw: raw.trim(), type: type.toLowerCase(), params: params.map((p) => p.toLowerCase()), q: q ? Number(q.slice(2)) : 1, i };
    })
    .filter((r) => r.type !== '' && !(r.q <= 0))
    .sort((a, b) => b.q - a.q || a.i - b.i);
  for (const r of ranges) {
    const stripNulls = r.params.includes('nulls=stripped');
    switch (r.type) {
      case '*/*':
      case 'application/*':
      case 'application/json':
      case 'application/vnd.pgrst.array+json':
      case 'application/vnd.pgrst.array':
        return { kind: 'json', stripNulls };
      case 'application/vnd.pgrst.object+json':
      case 'application/vnd.pgrst.object':
        return { kind: 'object', stripNulls };
      case 'text/csv':
        return { kind: 'csv', stripNulls: false };
    }
  }
  const err = new PostgrestError(406, 'PGRST107', `None of these media types are available: ${ranges.map((r) => r.raw).join(', ')}`);
  err.nextActions = 'Accept application/json, application/vnd.pgrst.object+json or text/csv. EXPLAIN plans (application/vnd.pgrst.plan) are off, as with PostgREST\'s default db-plan-enabled=false; GeoJSON needs PostGIS, which this backend does not have.';
  throw err;
}

/** `Accept: application/vnd.pgrst.object+json` asks for a single object instead of an array. */
export function wantsSingleObject(accept: HeaderValue): boolean {
  return negotiateMedia(accept).kind === 'object';
}

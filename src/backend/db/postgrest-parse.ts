/**
 * Parsers for the PostgREST request grammar: query-string values (select, filters, logic trees,
 * order, column lists) and the Prefer / Range headers.
 *
 * Everything here is catalogue-agnostic: it only turns text into small ASTs. Checking identifiers
 * against the catalogue and turning the ASTs into SQL is done in `postgrest.ts`.
 * Every grammar problem throws `PostgrestError` 400 `PGRST100` saying what was wrong and where.
 */

export class PostgrestError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public hint?: string,
    public details?: string,
  ) {
    super(message);
    this.name = 'PostgrestError';
  }

  /** The body PostgREST sends for an error. */
  toJSON(): { code: string; details: string | null; hint: string | null; message: string } {
    return { code: this.code, details: this.details ?? null, hint: this.hint ?? null, message: this.message };
  }
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

export type SelectItem =
  | { kind: 'star' }
  | { kind: 'field'; field: FieldRef; alias?: string; cast?: string };

export const FILTER_OPS = [
  'eq', 'neq', 'gt', 'gte', 'lt', 'lte',
  'like', 'ilike', 'match', 'imatch',
  'in', 'is', 'isdistinct',
  'cs', 'cd', 'ov',
  'fts', 'plfts', 'phfts', 'wfts',
] as const;
export type FilterOp = (typeof FILTER_OPS)[number];
const FILTER_OP_SET: ReadonlySet<string> = new Set(FILTER_OPS);
const FTS_OPS: ReadonlySet<string> = new Set(['fts', 'plfts', 'phfts', 'wfts']);

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

const EMBED_MESSAGE = 'embedded resources (rel(...)) are not supported by this backend yet';

/** `select=*`, `a,b`, `alias:col`, `col::text`, `alias:col->>k::int`. Empty means `*`. */
export function parseSelect(value: string): SelectItem[] {
  if (value.trim() === '') return [{ kind: 'star' }];
  const c = new Cursor(value, `select=${value}`);
  const items: SelectItem[] = [];
  for (;;) {
    c.skipSpaces();
    items.push(readSelectItem(c));
    c.skipSpaces();
    if (c.done) return items;
    if (!c.eat(',')) c.fail('expected "," between select items');
  }
}

function readSelectItem(c: Cursor): SelectItem {
  if (c.eat('*')) return { kind: 'star' };
  if (c.startsWith('...')) throw grammarError(`${EMBED_MESSAGE} (spread "..." in ${c.context})`);
  const stops = ',:()!.';
  let field = readField(c, stops);
  let alias: string | undefined;
  if (c.peek() === ':' && c.peek(1) !== ':') {
    if (field.path.length > 0) c.fail('an alias must be a plain name');
    alias = field.column;
    c.pos++;
    c.skipSpaces();
    if (c.peek() === '*') c.fail('"*" cannot have an alias');
    field = readField(c, stops);
  }
  rejectUnsupportedSelect(c, field);
  let cast: string | undefined;
  if (c.eat('::')) {
    cast = readRaw(c, ',', false).trim();
    if (!CAST_TYPE_RE.test(cast)) c.fail(`invalid cast type "${cast}"`);
  }
  return alias === undefined
    ? { kind: 'field', field, ...(cast ? { cast } : {}) }
    : { kind: 'field', field, alias, ...(cast ? { cast } : {}) };
}

/** Embedded resources and aggregates need relationship/grouping support we do not have. */
function rejectUnsupportedSelect(c: Cursor, field: FieldRef): void {
  const ch = c.peek();
  if (ch === '(' && field.column === 'count' && field.path.length === 0 && c.startsWith('()')) {
    throw grammarError(`aggregate functions (count()) are not supported by this backend yet (in ${c.context})`);
  }
  if (ch === '(' || ch === '!') {
    throw grammarError(`${EMBED_MESSAGE} (found "${field.column}${ch}" in ${c.context})`);
  }
  if (ch === '.') {
    throw grammarError(`aggregate functions (col.fn()) are not supported by this backend yet (in ${c.context})`);
  }
}

// ---------------------------------------------------------------- filters

/** The key of a filter: `col` or a JSON path `data->>k`. Nothing may follow. */
export function parseFilterKey(key: string): FieldRef {
  const c = new Cursor(key, `filter key "${key}"`);
  const field = readField(c, '');
  if (!c.done) c.fail('unexpected characters after the column');
  return field;
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
  if (FTS_OPS.has(op) && c.eat('(')) {
    language = readRaw(c, ')', false);
    if (!/^[a-z_][a-z0-9_]*$/i.test(language)) c.fail(`invalid text search configuration "${language}"`);
    c.expect(')');
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

export const LOGIC_KEYS: ReadonlySet<string> = new Set(['or', 'and', 'not.or', 'not.and']);

/** `or=(a.eq.1,and(b.gt.2,c.not.is.null))` — key is one of LOGIC_KEYS. */
export function parseLogicTree(key: string, value: string): LogicNode {
  const negate = key.startsWith('not.');
  const op = (negate ? key.slice(4) : key) as 'and' | 'or';
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
    const term: OrderTerm = { field: readField(c, '.,') };
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
}

/** A header as Node gives it: repeated headers may arrive as an array. */
export type HeaderValue = string | string[] | undefined;

/**
 * Comma-separated `key=value` preferences; several Prefer headers (an array) are combined.
 * Unknown preferences are ignored; defaults are return=minimal, no count.
 */
export function parsePrefer(header: HeaderValue): Prefer {
  const prefer: Prefer = { return: 'minimal', count: false, missingDefault: false };
  const text = Array.isArray(header) ? header.join(',') : (header ?? '');
  for (const part of text.split(',')) {
    const [rawKey = '', rawValue = ''] = part.split('=', 2);
    const key = rawKey.trim().toLowerCase();
    const value = rawValue.trim().toLowerCase();
    if (key === 'return' && (value === 'representation' || value === 'minimal' || value === 'headers-only')) {
      prefer.return = value;
    } else if (key === 'count' && (value === 'exact' || value === 'planned' || value === 'estimated')) {
      prefer.count = true;
    } else if (key === 'resolution' && (value === 'merge-duplicates' || value === 'ignore-duplicates')) {
      prefer.resolution = value;
    } else if (key === 'missing' && value === 'default') {
      prefer.missingDefault = true;
    }
  }
  return prefer;
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

/** `Accept: application/vnd.pgrst.object+json` asks for a single object instead of an array. */
export function wantsSingleObject(accept: HeaderValue): boolean {
  const text = Array.isArray(accept) ? accept.join(',') : (accept ?? '');
  return /application\/vnd\.pgrst\.object(\+json)?/i.test(text);
}

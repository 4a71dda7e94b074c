/**
 * Splits a SQL script into its statements, following PostgreSQL's lexical rules for what can hide a
 * semicolon: '…' strings ('' inside), E'…' strings (backslash escapes), $tag$…$tag$ bodies,
 * "…" identifiers, -- comments and nested /* … *\/ comments. Statements come back trimmed, without
 * their semicolon; empty ones (";;", a trailing ";", comments alone) are dropped.
 *
 * A mistake here can only break a statement in two, which Postgres then refuses as a syntax error:
 * it never joins or changes what runs.
 */
export function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  let start = 0;
  let i = 0;
  let meaningful = false; // the current statement has more than whitespace and comments
  const n = sql.length;
  const push = (end: number) => {
    if (meaningful) statements.push(sql.slice(start, end).trim());
    start = end + 1;
    meaningful = false;
  };
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const eol = sql.indexOf('\n', i + 2);
      i = eol < 0 ? n : eol + 1;
      continue;
    }
    if (c === '/' && next === '*') {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] === '/' && sql[i + 1] === '*') (depth++, (i += 2));
        else if (sql[i] === '*' && sql[i + 1] === '/') (depth--, (i += 2));
        else i++;
      }
      continue;
    }
    if (c === ';') {
      push(i);
      i++;
      continue;
    }
    if (!/\s/.test(c)) meaningful = true;
    if (c === "'") {
      // E'…' (or e'…') takes backslash escapes; a plain '…' does not (standard_conforming_strings)
      const escapes = i > 0 && /[eE]/.test(sql[i - 1]!) && (i < 2 || !/[\w$]/.test(sql[i - 2]!));
      i = endOfQuoted(sql, i + 1, "'", escapes);
      continue;
    }
    if (c === '"') {
      i = endOfQuoted(sql, i + 1, '"', false);
      continue;
    }
    if (c === '$') {
      const tag = /^\$([A-Za-z_\u0080-\uffff][\w\u0080-\uffff]*)?\$/.exec(sql.slice(i));
      // $1 is a parameter, and `a$b$` is part of an identifier: neither opens a body
      if (tag && !(i > 0 && /[\w$]/.test(sql[i - 1]!))) {
        const close = sql.indexOf(tag[0], i + tag[0].length);
        i = close < 0 ? n : close + tag[0].length;
        continue;
      }
    }
    i++;
  }
  push(n);
  return statements;
}

/** Index just past the closing quote (a doubled quote is part of the text), or the end of the text. */
function endOfQuoted(sql: string, from: number, quote: string, backslashEscapes: boolean): number {
  let i = from;
  while (i < sql.length) {
    const c = sql[i];
    if (backslashEscapes && c === '\\') i += 2;
    else if (c === quote) {
      if (sql[i + 1] === quote) i += 2;
      else return i + 1;
    } else i++;
  }
  return sql.length;
}

const TRANSACTION_START = /^(begin|start\s+transaction)(\s+(work|transaction))?(\s+isolation\s+level\s+[a-z ]+?)?(\s+read\s+(write|only))?$/i;
const TRANSACTION_END = /^(commit|end)(\s+(work|transaction))?$/i;
const TRANSACTION_CONTROL = /^(begin|start|commit|end|rollback|abort|savepoint|release|prepare\s+transaction|commit\s+prepared|rollback\s+prepared)\b/i;

/**
 * run-sql runs a whole script in one transaction of its own, so a script wrapped in BEGIN … COMMIT
 * (as scripts often are) means what it says without them. Other transaction control cannot be
 * honoured inside that transaction: it is named back to the caller instead.
 */
export function withoutOuterTransaction(statements: string[]): { statements: string[]; refused?: string } {
  let list = statements;
  if (list.length && TRANSACTION_START.test(list[0]!)) list = list.slice(1);
  if (list.length && TRANSACTION_END.test(list[list.length - 1]!)) list = list.slice(0, -1);
  const refused = list.find((s) => TRANSACTION_CONTROL.test(s));
  return refused ? { statements: list, refused } : { statements: list };
}

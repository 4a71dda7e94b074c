/**
 * Whether a SQL text destroys data, and how: DROP, TRUNCATE, DELETE, or UPDATE without WHERE.
 * String literals, quoted identifiers, comments and dollar-quoted bodies (function code, which
 * runs only when called) are blanked out first, so their words do not count.
 */
export function destructiveSql(sql: string): string | undefined {
  const code = sql
    .replace(/\$([A-Za-z_][A-Za-z0-9_]*)?\$[\s\S]*?\$\1\$/g, ' ')
    .replace(/--[^\n]*/g, ' ')
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/'(?:[^']|'')*'/g, "''")
    .replace(/"(?:[^"]|"")*"/g, '""')
    .toLowerCase();
  const found = new Set<string>();
  for (const raw of code.split(';')) {
    const statement = raw.trim();
    // by the statement's verb, so that "for delete" in a policy or "on delete cascade" do not count
    const verb = /^(drop|truncate|delete)\b/.exec(statement)?.[1];
    if (verb) found.add(verb.toUpperCase());
    if (/\bdelete\s+from\b/.test(statement)) found.add('DELETE');
    if (/^alter\b[\s\S]*\bdrop\b/.test(statement)) found.add('ALTER … DROP');
    if (/\bupdate\s+[^\s(]+(\s+(as\s+)?[^\s(]+)?\s+set\b/.test(statement) && !/\bwhere\b/.test(statement)) found.add('UPDATE without WHERE');
  }
  return found.size ? [...found].join(', ') : undefined;
}

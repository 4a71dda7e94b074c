import { describe, expect, it } from 'vitest';
import { splitStatements, withoutOuterTransaction } from '../../src/backend/db/sql-split.js';
import { asText, fromBoundaryRows } from '../../src/backend/db/boundary.js';

describe('splitStatements', () => {
  it('splits on top-level semicolons and drops empty statements', () => {
    expect(splitStatements('select 1; select 2;;\n  ;select 3')).toEqual(['select 1', 'select 2', 'select 3']);
    expect(splitStatements('select 1')).toEqual(['select 1']);
    expect(splitStatements('  ;  -- only a comment\n /* and another */ ')).toEqual([]);
  });

  it('keeps semicolons inside strings, identifiers, comments and dollar-quoted bodies', () => {
    const fn = `create function f() returns int language plpgsql as $$ begin perform 1; return 2; end $$`;
    const tagged = `do $body$ begin raise notice 'a;b'; end $body$`;
    expect(splitStatements(`${fn}; ${tagged}; select 'x;y', "we;ird", E'it\\'s;', 'it''s;' -- c;omment\n; /* a; /* nested; */ b; */ select 4`)).toEqual([
      fn,
      tagged,
      `select 'x;y', "we;ird", E'it\\'s;', 'it''s;' -- c;omment`,
      '/* a; /* nested; */ b; */ select 4',
    ]);
  });

  it('does not take $1 or identifiers with $ for a dollar quote', () => {
    expect(splitStatements('select $1::int; select a$b$ from t; select 2')).toEqual(['select $1::int', 'select a$b$ from t', 'select 2']);
  });

  it('a plain string does not take backslash escapes, an E string does', () => {
    expect(splitStatements("select 'a\\'; select 2")).toEqual(["select 'a\\'", 'select 2']);
    expect(splitStatements("select E'a\\'; select 2'; select 3")).toEqual(["select E'a\\'; select 2'", 'select 3']);
  });

  it('an unterminated string or body runs to the end (Postgres then refuses it)', () => {
    expect(splitStatements("select 'open; select 2")).toEqual(["select 'open; select 2"]);
    expect(splitStatements('select $$ open; select 2')).toEqual(['select $$ open; select 2']);
  });
});

describe('withoutOuterTransaction', () => {
  it('drops an outer BEGIN … COMMIT and refuses other transaction control', () => {
    expect(withoutOuterTransaction(['begin', 'create table t (x int)', 'commit'])).toEqual({ statements: ['create table t (x int)'] });
    expect(withoutOuterTransaction(['START TRANSACTION ISOLATION LEVEL SERIALIZABLE', 'select 1', 'END'])).toEqual({ statements: ['select 1'] });
    expect(withoutOuterTransaction(['select 1', 'rollback']).refused).toBe('rollback');
    expect(withoutOuterTransaction(['savepoint a', 'select 1']).refused).toBe('savepoint a');
    expect(withoutOuterTransaction(['prepare p as select 1']).refused).toBeUndefined();
    expect(withoutOuterTransaction(['do $$ begin end $$']).refused).toBeUndefined();
  });
});

describe('boundary values', () => {
  it('sends parameters as the text drivers would send', () => {
    expect(asText(null)).toBeNull();
    expect(asText(true)).toBe('t');
    expect(asText(12.5)).toBe('12.5');
    expect(asText({ a: 1 })).toBe('{"a":1}');
    expect(asText(['a', null, 'b"c\\d', ['x']])).toBe('{"a",NULL,"b\\"c\\\\d",{"x"}}');
    expect(asText(new Uint8Array([1, 255]))).toBe('\\x01ff');
  });

  it('reads rows, or the count of a statement without rows', () => {
    expect(fromBoundaryRows([{ r: { a: 1, b: 'x' }, affected: null }])).toEqual({ rows: [{ a: 1, b: 'x' }], rowCount: 1, fields: [{ name: 'a' }, { name: 'b' }] });
    expect(fromBoundaryRows([{ r: null, affected: '3' }])).toEqual({ rows: [], rowCount: 3, fields: [] });
    expect(fromBoundaryRows([])).toEqual({ rows: [], rowCount: 0, fields: [] });
  });
});

import { describe, expect, it } from 'vitest';
import { columnDefinition, createTableStatements, defaultClause, foreignKeyConstraint, quoteLiteral, shownDefault, sqlTypeOf, userColumns } from '../../src/backend/db/table-ddl.js';

const col = (columnName: string, type: string, extra: Partial<{ isNullable: boolean; isUnique: boolean; defaultValue: string }> = {}) => ({ columnName, type, isNullable: true, isUnique: false, ...extra });

describe('table DDL', () => {
  it('maps the model types and passes plain Postgres type names through', () => {
    expect(['string', 'integer', 'float', 'boolean', 'uuid', 'json', 'date', 'datetime'].map(sqlTypeOf)).toEqual(['TEXT', 'INTEGER', 'DOUBLE PRECISION', 'BOOLEAN', 'UUID', 'JSONB', 'DATE', 'TIMESTAMPTZ']);
    expect(sqlTypeOf('varchar(255)')).toBe('varchar(255)');
    expect(sqlTypeOf('numeric(10, 2)')).toBe('numeric(10, 2)');
    expect(sqlTypeOf('text[]')).toBe('text[]');
    expect(sqlTypeOf('timestamp with time zone')).toBe('timestamp with time zone');
    for (const bad of ['text; drop table x', 'text)', '"text"', 'int -- x', 'a b c d e', "text default 'x'"]) expect(() => sqlTypeOf(bad), bad).toThrow(/Unknown column type/);
  });

  it('quotes literals so that no content can end them', () => {
    expect(quoteLiteral("it's")).toBe("$v$it's$v$");
    expect(quoteLiteral('a $v$ b')).toBe('$v_$a $v$ b$v_$');
    expect(quoteLiteral('$v$$v_$')).toBe('$v__$$v$$v_$$v__$');
    expect(() => quoteLiteral('a\u0000b')).toThrow(/NUL/);
  });

  it('defaults: literals, two known functions, and the type default for NOT NULL columns', () => {
    expect(defaultClause(col('n', 'integer', { defaultValue: '0' }))).toBe('DEFAULT $v$0$v$');
    expect(defaultClause(col('t', 'datetime', { defaultValue: 'NOW()' }))).toBe('DEFAULT now()');
    expect(defaultClause(col('t', 'string', { defaultValue: 'now() + 1' }))).toBe('DEFAULT $v$now() + 1$v$');
    expect(defaultClause(col('b', 'boolean', { isNullable: false }))).toBe('DEFAULT $v$false$v$');
    expect(defaultClause(col('b', 'boolean'))).toBe('');
    expect(defaultClause(col('s', 'string', { isNullable: false }))).toBe('');
  });

  it('column definitions and foreign keys quote every name', () => {
    expect(columnDefinition(col('Title', 'string', { isNullable: false, isUnique: true }))).toBe('"Title" TEXT NOT NULL UNIQUE');
    expect(foreignKeyConstraint('comments', { referenceTable: 'auth.users', referenceColumns: [{ sourceColumn: 'user_id', referenceColumn: 'id' }], onDelete: 'CASCADE', onUpdate: 'NO ACTION' })).toBe(
      'CONSTRAINT "comments_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "auth"."users" ("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
  });

  it('CREATE TABLE with the auto columns, RLS and the updated_at trigger', () => {
    expect(createTableStatements('posts', [col('title', 'string')], [], true)).toEqual([
      'CREATE TABLE public."posts" ("id" UUID PRIMARY KEY DEFAULT gen_random_uuid(), "title" TEXT, "created_at" TIMESTAMPTZ DEFAULT now(), "updated_at" TIMESTAMPTZ DEFAULT now())',
      'ALTER TABLE public."posts" ENABLE ROW LEVEL SECURITY',
      'CREATE TRIGGER "posts_update_timestamp" BEFORE UPDATE ON public."posts" FOR EACH ROW EXECUTE FUNCTION system.update_updated_at()',
    ]);
    expect(createTableStatements('posts', [col('title', 'string')], [], false)).toHaveLength(2);
  });

  it('auto columns: dropped when declared with their type, refused with another', () => {
    expect(userColumns([col('id', 'uuid'), col('created_at', 'datetime'), col('title', 'string')]).map((c) => c.columnName)).toEqual(['title']);
    expect(() => userColumns([col('updated_at', 'string')])).toThrow(/reserved/);
  });

  it('shows defaults as InsForge does', () => {
    expect(shownDefault("'abc'::text")).toBe('abc');
    expect(shownDefault("'it''s'::text")).toBe("it's");
    expect(shownDefault('0')).toBe('0');
    expect(shownDefault("'0'::integer")).toBe('0');
    expect(shownDefault('now()')).toBe('now()');
    expect(shownDefault(null)).toBeUndefined();
  });
});

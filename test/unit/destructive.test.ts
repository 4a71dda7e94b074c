import { describe, expect, it } from 'vitest';
import { destructiveSql } from '../../src/mcp/destructive.js';

describe('destructiveSql', () => {
  it.each([
    ['drop table x', 'DROP'],
    ['TRUNCATE x', 'TRUNCATE'],
    ['delete from x where id = 1', 'DELETE'],
    ['update x set a = 1', 'UPDATE without WHERE'],
    ['update x set a = 1 where id = 2; drop index i', 'DROP'],
    ['select 1; Delete From t', 'DELETE'],
    ['with d as (delete from t returning *) select * from d', 'DELETE'],
    ['alter table t drop column c', 'ALTER … DROP'],
    ['update public.t as x set a = 1', 'UPDATE without WHERE'],
  ])('%s → %s', (sql, reason) => {
    expect(destructiveSql(sql)).toContain(reason);
  });

  it.each([
    'select * from x',
    "insert into notes (body) values ('drop table x; delete everything')",
    'update x set a = 1 where id = 2',
    'create function f() returns void language sql as $$ delete from t $$',
    'create function g() returns void language plpgsql as $body$ begin drop table t; end $body$',
    '-- drop table x\nselect 1',
    '/* truncate */ select 1',
    'select "delete" from t',
    'create table t (id int); alter table t enable row level security',
    'create policy own_delete on todos for delete to authenticated using (user_id = auth.uid())',
    'create table c (id int references p(id) on delete cascade on update cascade)',
    'grant select, insert, update, delete on t to anon',
    'select * from t for update',
  ])('%s is not destructive', (sql) => {
    expect(destructiveSql(sql)).toBeUndefined();
  });
});

/**
 * The embed and aggregate grammar, relationship resolution and the SQL they build (pure: no
 * database), including injection attempts through every part of the embed grammar: names, hints,
 * aliases, nested filters, related orders and aggregate names.
 */
import { describe, expect, it } from 'vitest';
import { expectError } from '../support/postgrest-errors.js';
import { buildSelect, checkStrictPreferences, negotiateMedia, parsePrefer } from '../../src/backend/db/postgrest.js';
import { classifyKey, isRpcFilter, parseFilterKey, parseFilterValue, parseOrder, parseSelect } from '../../src/backend/db/postgrest-parse.js';
import { findRelationship, relationshipsOf } from '../../src/backend/db/relationships.js';
import type { ColumnInfo, ForeignKeyInfo, TableInfo } from '../../src/backend/db/types.js';

function table(name: string, cols: string[], opts: { pk?: string[]; unique?: string[][]; fks?: ForeignKeyInfo[] } = {}): TableInfo {
  const columns = new Map<string, ColumnInfo>(cols.map((c) => [c, { name: c, type: c === 'name' || c === 'city' ? 'text' : 'integer', nullable: true, defaultValue: null }]));
  const primaryKey = opts.pk ?? ['id'];
  return { schema: 'public', name, columns, primaryKey, uniqueKeys: [primaryKey, ...(opts.unique ?? [])], foreignKeys: opts.fks ?? [] };
}
const fk = (name: string, columns: string[], refTable: string, refColumns = ['id']): ForeignKeyInfo => ({ name, columns, refTable, refColumns });

const TABLES = new Map<string, TableInfo>(
  [
    table('clients', ['id', 'name']),
    table('projects', ['id', 'name', 'client_id'], { fks: [fk('projects_client_id_fkey', ['client_id'], 'clients')] }),
    table('tasks', ['id', 'name', 'project_id', 'hours'], { fks: [fk('tasks_project_id_fkey', ['project_id'], 'projects')] }),
    table('users', ['id', 'name']),
    table('users_tasks', ['user_id', 'task_id'], { pk: ['user_id', 'task_id'], fks: [fk('users_tasks_task_id_fkey', ['task_id'], 'tasks'), fk('users_tasks_user_id_fkey', ['user_id'], 'users')] }),
    table('passports', ['id', 'user_id'], { unique: [['user_id']], fks: [fk('passports_user_id_fkey', ['user_id'], 'users')] }),
    table('addresses', ['id', 'city']),
    table('orders', ['id', 'billing_address_id', 'shipping_address_id'], {
      fks: [fk('orders_billing_address_id_fkey', ['billing_address_id'], 'addresses'), fk('orders_shipping_address_id_fkey', ['shipping_address_id'], 'addresses')],
    }),
    table('employees', ['id', 'name', 'manager_id'], { fks: [fk('employees_manager_id_fkey', ['manager_id'], 'employees')] }),
  ].map((t) => [t.name, t]),
);
const q = (s: string) => new URLSearchParams(s);
const sel = (t: string, s: string, opts: { count?: boolean } = {}) => buildSelect(TABLES.get(t)!, q(s), { count: opts.count ?? false, tables: TABLES });


describe('select grammar: embeds and aggregates', () => {
  it('parses aliases, hints, join types, spreads, nesting and empty embeds', () => {
    expect(parseSelect('id,owner:clients!projects_client_id_fkey!inner(name,tasks!left(*)),...users(),t()')).toEqual([
      { kind: 'field', field: { column: 'id', path: [] } },
      {
        kind: 'embed', name: 'clients', alias: 'owner', hint: 'projects_client_id_fkey', join: 'inner', spread: false,
        select: [{ kind: 'field', field: { column: 'name', path: [] } }, { kind: 'embed', name: 'tasks', join: 'left', spread: false, select: [{ kind: 'star' }] }],
      },
      { kind: 'embed', name: 'users', spread: true, select: [] },
      { kind: 'embed', name: 't', spread: false, select: [] },
    ]);
    expect(parseSelect('x:"odd.name"!"odd hint"(*)')).toEqual([{ kind: 'embed', name: 'odd.name', alias: 'x', hint: 'odd hint', spread: false, select: [{ kind: 'star' }] }]);
  });

  it('parses count(), col.agg(), casts before and after the aggregate, and aliases', () => {
    expect(parseSelect('count(),n:count()::text,hours.sum(),total:hours::bigint.avg()::int,data->>k.max()')).toEqual([
      { kind: 'count' },
      { kind: 'count', alias: 'n', aggregateCast: 'text' },
      { kind: 'field', field: { column: 'hours', path: [] }, aggregate: 'sum' },
      { kind: 'field', field: { column: 'hours', path: [] }, alias: 'total', cast: 'bigint', aggregate: 'avg', aggregateCast: 'int' },
      { kind: 'field', field: { column: 'data', path: [{ op: '->>', key: 'k' }] }, aggregate: 'max' },
    ]);
  });

  it('refuses malformed embeds and aggregates with the position', () => {
    for (const [s, msg] of [
      ['clients(name', /"\)" to close "clients\("/],
      ['clients!(name)', /expected a hint/],
      ['clients!a!b(name)', /two hints/],
      ['clients!inner!left(name)', /two join types/],
      ['count(*)', /expected "count\(\)"/],
      ['hours.median()', /unknown aggregate "median"/],
      ['hours.sum', /"\(\)" after the aggregate "sum"/],
      ['data->>k(*)', /cannot have a JSON path/],
      ['a:...clients(*)', /spread/],
      ['clients(name))', /unexpected "\)"/],
    ] as const) {
      expectError(() => parseSelect(s), 400, 'PGRST100', msg);
    }
  });

  it('refuses nesting deeper than 16 levels before recursing further', () => {
    const deep = `${'a('.repeat(40)}*${')'.repeat(40)}`;
    expectError(() => parseSelect(deep), 400, 'PGRST100', /deeper than 16 levels/);
  });
});

describe('query keys on embedded resources', () => {
  it('classifies filters, logic trees, order, limit and offset by their last word, with an embed path', () => {
    expect(classifyKey('projects.name')).toEqual({ kind: 'filter', key: { path: ['projects'], field: { column: 'name', path: [] } } });
    expect(classifyKey('clients.projects.data->>k')).toEqual({ kind: 'filter', key: { path: ['clients', 'projects'], field: { column: 'data', path: [{ op: '->>', key: 'k' }] } } });
    expect(classifyKey('"a.b".c')).toEqual({ kind: 'filter', key: { path: ['a.b'], field: { column: 'c', path: [] } } });
    expect(classifyKey('projects.not.or')).toEqual({ kind: 'logic', path: ['projects'], op: 'or', negate: true });
    expect(classifyKey('and')).toEqual({ kind: 'logic', path: [], op: 'and', negate: false });
    expect(classifyKey('projects.order')).toEqual({ kind: 'order', path: ['projects'] });
    expect(classifyKey('a.b.limit')).toEqual({ kind: 'limit', path: ['a', 'b'] });
    expect(classifyKey('select')).toEqual({ kind: 'reserved', name: 'select' });
  });

  it('parses related orders and quantified operators', () => {
    expect(parseOrder('clients(name).desc.nullslast,id')).toEqual([
      { relation: 'clients', field: { column: 'name', path: [] }, direction: 'desc', nulls: 'last' },
      { field: { column: 'id', path: [] } },
    ]);
    const field = parseFilterKey('name').field;
    expect(parseFilterValue(field, 'name', 'like(all).{a*,*b}')).toMatchObject({ op: 'like', quantifier: 'all', value: '{a*,*b}' });
    expect(parseFilterValue(field, 'name', 'not.eq(any).{1,2}')).toMatchObject({ op: 'eq', quantifier: 'any', negate: true });
    expectError(() => parseFilterValue(field, 'name', 'like(some).{a}'), 400, 'PGRST100', /"\(any\)" or "\(all\)"/);
    expectError(() => parseFilterValue(field, 'name', 'neq(any).{a}'), 400, 'PGRST100');
  });

  it('tells rpc arguments from result filters as PostgREST does (by the value)', () => {
    expect(isRpcFilter('max_price', '10')).toBe(false);
    expect(isRpcFilter('name', 'eq.x')).toBe(true);
    expect(isRpcFilter('order', 'id')).toBe(true);
    expect(isRpcFilter('x->', '1')).toBe(false);
  });
});

describe('relationships from foreign keys', () => {
  it('finds many-to-one, one-to-many, one-to-one and many-to-many, in PostgREST order', () => {
    const rels = relationshipsOf(TABLES, 'tasks').map((r) => `${r.cardinality} ${r.foreignTable} ${r.junction?.table ?? r.constraint}`);
    expect(rels).toEqual(['many-to-one projects tasks_project_id_fkey', 'many-to-many users users_tasks', 'one-to-many users_tasks users_tasks_task_id_fkey']);
    expect(findRelationship(TABLES, 'users', 'passports').cardinality).toBe('one-to-one');
    expect(findRelationship(TABLES, 'passports', 'users').cardinality).toBe('one-to-one');
    expect(findRelationship(TABLES, 'clients', 'projects')).toMatchObject({ cardinality: 'one-to-many', columns: [['id', 'client_id']] });
  });

  it('chooses with a hint: constraint, FK column, referenced column, junction; FK name or column as the target', () => {
    expect(findRelationship(TABLES, 'orders', 'addresses', 'orders_billing_address_id_fkey').columns).toEqual([['billing_address_id', 'id']]);
    expect(findRelationship(TABLES, 'orders', 'addresses', 'shipping_address_id').columns).toEqual([['shipping_address_id', 'id']]);
    expect(findRelationship(TABLES, 'users', 'tasks', 'users_tasks').cardinality).toBe('many-to-many');
    expect(findRelationship(TABLES, 'projects', 'client_id').foreignTable).toBe('clients');
    expect(findRelationship(TABLES, 'projects', 'projects_client_id_fkey').foreignTable).toBe('clients');
  });

  it('self-references: the FK column is the parent, the table name the children', () => {
    expect(findRelationship(TABLES, 'employees', 'manager_id').cardinality).toBe('many-to-one');
    expect(findRelationship(TABLES, 'employees', 'employees').cardinality).toBe('one-to-many');
  });

  it('300 PGRST201 with PostgREST details and hint when ambiguous', () => {
    const e = expectError(() => findRelationship(TABLES, 'orders', 'addresses'), 300, 'PGRST201', "Could not embed because more than one relationship was found for 'orders' and 'addresses'");
    expect(e.hint).toBe("Try changing 'addresses' to one of the following: 'addresses!orders_billing_address_id_fkey', 'addresses!orders_shipping_address_id_fkey'. Find the desired relationship in the 'details' key.");
    expect(e.details).toEqual([
      { cardinality: 'many-to-one', embedding: 'orders with addresses', relationship: 'orders_billing_address_id_fkey using orders(billing_address_id) and addresses(id)' },
      { cardinality: 'many-to-one', embedding: 'orders with addresses', relationship: 'orders_shipping_address_id_fkey using orders(shipping_address_id) and addresses(id)' },
    ]);
    expect(e.nextActions).toMatch(/addresses!orders_billing_address_id_fkey\(\*\)/);
  });

  it('400 PGRST200 naming the hint when nothing matches', () => {
    const e = expectError(() => findRelationship(TABLES, 'clients', 'projects', 'nope'), 400, 'PGRST200', "Could not find a relationship between 'clients' and 'projects' in the schema cache");
    expect(e.details).toBe("Searched for a foreign key relationship between 'clients' and 'projects' using the hint 'nope' in the schema 'public', but no matches were found.");
  });
});

describe('SQL of embeds and aggregates', () => {
  it('a to-one embed is a LEFT JOIN LATERAL read as row_to_json, in the one statement', () => {
    expect(sel('projects', 'select=name,clients(name)').text).toBe(
      'WITH _q AS (SELECT _t."name" AS "name", row_to_json(_e1.*)::jsonb AS "clients" FROM "public"."projects" AS _t ' +
        'LEFT JOIN LATERAL (SELECT _t1."name" AS "name" FROM "public"."clients" AS _t1 WHERE _t1."id" = _t."client_id") AS _e1 ON TRUE) ' +
        "SELECT coalesce(json_agg(_q.*), '[]')::text AS body, count(*)::int AS n, NULL::bigint AS total FROM _q",
    );
  });

  it('a to-many embed is json_agg of its own filtered, ordered, limited subquery; !inner needs a row', () => {
    const built = sel('clients', 'select=id,projects!inner(id)&projects.name=eq.x&projects.order=id.desc&projects.limit=2&projects.offset=1');
    expect(built.text).toContain(
      'INNER JOIN LATERAL (SELECT json_agg(_s)::jsonb AS agg FROM (SELECT _t1."id" AS "id" FROM "public"."projects" AS _t1 ' +
        'WHERE (_t1."name" = $1) AND _t1."client_id" = _t."id" ORDER BY _t1."id" DESC LIMIT $2 OFFSET $3) AS _s) AS _e1 ON _e1.agg IS NOT NULL',
    );
    expect(built.values).toEqual(['x', 2, 1]);
  });

  it('many-to-many joins the junction inside the lateral subquery', () => {
    expect(sel('users', 'select=tasks(name)').text).toContain(
      'FROM "public"."tasks" AS _t1 INNER JOIN "public"."users_tasks" AS _j1 ON _j1."task_id" = _t1."id" WHERE _j1."user_id" = _t."id"',
    );
  });

  it('counts without the embeds that filter nothing', () => {
    const built = sel('projects', 'select=id,clients(id),tasks(id)&tasks=not.is.null&id=gt.0', { count: true });
    const count = built.text.slice(built.text.indexOf('(SELECT count(*)'));
    expect(count).toContain('_e2');
    expect(count).not.toContain('_e1');
  });

  it('counts with the joins that filter (the same text, the same $n)', () => {
    const built = sel('projects', 'select=id,clients!inner(id)&clients.id=eq.1&limit=1', { count: true });
    expect(built.text).toContain('(SELECT count(*) FROM (SELECT 1 FROM "public"."projects" AS _t INNER JOIN LATERAL (SELECT _t1."id" AS "id" FROM "public"."clients" AS _t1 WHERE (_t1."id" = $1)');
    expect(built.values).toEqual(['1', 1]);
  });

  it('groups by the non-aggregated columns, embeds and related orders', () => {
    expect(sel('tasks', 'select=project_id,total:hours.sum()::int,count()').text).toContain(
      'SELECT _t."project_id" AS "project_id", (sum(_t."hours"))::int AS "total", count(*) AS "count" FROM "public"."tasks" AS _t GROUP BY _t."project_id"',
    );
    expect(sel('projects', 'select=*,count()').text).toContain('GROUP BY _t."id", _t."name", _t."client_id"');
    expect(sel('projects', 'select=count(),clients(name)&order=clients(name)').text).toContain('GROUP BY row_to_json(_e1.*)::jsonb, _e1."name" ORDER BY _e1."name"');
  });

  it('null filters on an embed test its presence, also inside or=()', () => {
    expect(sel('clients', 'select=id,projects(id)&projects=not.is.null').text).toContain('WHERE (_e1.agg IS NOT NULL)');
    expect(sel('projects', 'select=id,clients(id)&or=(clients.is.null,id.eq.1)').text).toContain('WHERE ((row_to_json(_e1.*) IS NULL) OR (_t."id" = $1))');
  });

  it('refuses related orders on to-many embeds (PGRST118), spreads of to-many (PGRST119), unknown embed paths (PGRST108)', () => {
    expectError(() => sel('clients', 'select=id,projects(name)&order=projects(name)'), 400, 'PGRST118', "A related order on 'projects' is not possible");
    expectError(() => sel('clients', 'select=...projects(name)'), 400, 'PGRST119', "A spread operation on 'projects' is not possible");
    const e = expectError(() => sel('clients', 'select=id&projects.id=eq.1'), 400, 'PGRST108', "'projects' is not an embedded resource in this request");
    expect(e.hint).toBe("Verify that 'projects' is included in the 'select' query parameter.");
    expectError(() => sel('projects', 'select=id,...clients(count())'), 400, 'PGRST127', /aggregate inside a spread/);
  });
});

describe('injection attempts through the embed grammar', () => {
  /** Nothing from the query string reaches the SQL text except catalogue names and quoted aliases. */
  const clean = (text: string) => expect(text).not.toMatch(/drop|pg_sleep|;/i);

  it('through embed names and hints: only catalogue relationships are followed', () => {
    expectError(() => sel('projects', `select=${encodeURIComponent('clients; DROP TABLE clients(*)')}`), 400, 'PGRST200');
    expectError(() => sel('projects', `select=${encodeURIComponent('"clients\\" ; drop table x; --"(*)')}`), 400, 'PGRST200');
    expectError(() => sel('projects', `select=${encodeURIComponent('clients!"x\\"); drop table clients; --"(name)')}`), 400, 'PGRST200');
    expectError(() => sel('projects', `select=${encodeURIComponent('pg_sleep!inner(10)')}`), 400, 'PGRST200');
  });

  it('through aliases: written only as quoted identifiers', () => {
    const built = sel('projects', `select=${encodeURIComponent('"x\\"; DROP TABLE clients; --":clients(n:name)')}`);
    expect(built.text).toContain('AS "x""; DROP TABLE clients; --"');
    expect(built.text.replace('"x""; DROP TABLE clients; --"', '')).not.toMatch(/drop/i);
  });

  it('through nested filters and logic trees: values are parameters, names are checked', () => {
    const built = sel('clients', `select=id,projects(id)&projects.name=eq.${encodeURIComponent("x'); DROP TABLE clients; --")}&projects.or=(id.eq.1,name.like.*;drop*)`);
    clean(built.text);
    expect(built.values).toContain("x'); DROP TABLE clients; --");
    expectError(() => sel('clients', `select=id,projects(id)&${encodeURIComponent('projects.name;drop')}=eq.1`), 400, '42703');
    expectError(() => sel('clients', `select=id,projects(id)&${encodeURIComponent('projects;drop.name')}=eq.1`), 400, 'PGRST108');
    expectError(() => sel('clients', `select=id,projects(id)&projects.limit=${encodeURIComponent('1; drop')}`), 400, 'PGRST100');
  });

  it('through related orders: the column must be in the catalogue and in the embed', () => {
    expectError(() => sel('projects', `select=id,clients(name)&order=${encodeURIComponent('clients(name; DROP TABLE x)')}`), 400, '42703');
    expectError(() => sel('projects', 'select=id,clients(name)&order=clients(id)'), 400, 'PGRST100', /add "id" to the select of "clients"/);
  });

  it('through aggregate names and casts: a closed list of functions, plain type names', () => {
    expectError(() => sel('tasks', `select=${encodeURIComponent('hours.pg_sleep()')}`), 400, 'PGRST100', /unknown aggregate/);
    expectError(() => sel('tasks', `select=${encodeURIComponent('hours.sum();drop()')}`), 400, 'PGRST100');
    expectError(() => sel('tasks', `select=${encodeURIComponent('hours.sum()::int; drop table x')}`), 400, 'PGRST100');
    expectError(() => sel('tasks', `select=${encodeURIComponent('x:count()::text)--')}`), 400, 'PGRST100');
    expectError(() => sel('tasks', `select=${encodeURIComponent('nope.sum()')}`), 400, '42703');
  });
});

describe('Prefer and Accept as PostgREST reads them', () => {
  it('handling=strict refuses unknown preferences with PGRST122; lenient ignores them', () => {
    const e = expectError(() => checkStrictPreferences(parsePrefer('handling=strict, count=exact, a=b, c')), 400, 'PGRST122', 'Invalid preferences given with handling=strict');
    expect(e.details).toBe('Invalid preferences: a=b, c');
    expect(() => checkStrictPreferences(parsePrefer('a=b'))).not.toThrow();
    expect(parsePrefer('max-affected=5, handling=strict')).toMatchObject({ maxAffected: 5, strict: true, invalid: [] });
  });

  it('negotiates JSON, the single object, stripped nulls and CSV; 406 PGRST107 for the rest', () => {
    expect(negotiateMedia(undefined)).toEqual({ kind: 'json', stripNulls: false });
    expect(negotiateMedia('text/html, */*;q=0.8')).toEqual({ kind: 'json', stripNulls: false });
    expect(negotiateMedia('application/vnd.pgrst.object+json;nulls=stripped')).toEqual({ kind: 'object', stripNulls: true });
    expect(negotiateMedia('application/vnd.pgrst.array+json;nulls=stripped')).toEqual({ kind: 'json', stripNulls: true });
    expect(negotiateMedia('text/csv;q=0.5, application/json;q=0.9')).toEqual({ kind: 'json', stripNulls: false });
    expect(negotiateMedia('text/csv')).toEqual({ kind: 'csv', stripNulls: false });
    expectError(() => negotiateMedia('application/geo+json'), 406, 'PGRST107', 'None of these media types are available: application/geo+json');
    expectError(() => negotiateMedia('application/vnd.pgrst.plan+json; for="application/json"; options=analyze|verbose;'), 406, 'PGRST107', /vnd\.pgrst\.plan\+json; for="application\/json"/);
  });
});

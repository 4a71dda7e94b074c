/**
 * Two PostgREST clients this project did not write drive the embedded backend, and each answer is
 * checked against what PostgREST documents (docs.postgrest.org, v12: resource embedding, aggregate
 * functions, preferences, media types, functions):
 *
 *  - `@supabase/postgrest-js`: every builder method it has, one test (or more) each;
 *  - `@insforge/sdk`: its database calls with embedded selects.
 *
 * Both on PGlite and (with TEST_DATABASE_URL) on Postgres. Nothing is mocked: the real backend, the
 * real clients and their own HTTP handling.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgrestClient } from '@supabase/postgrest-js';
import { createClient } from '@insforge/sdk';
import { DB_KINDS, sql, startTestBackend, TEST_ANON_KEY, TEST_API_KEY, type TestBackend } from '../support/backend.js';

const SCHEMA = `
  create table clients (id int primary key, name text not null);
  create table projects (
    id int primary key, name text not null, client_id int references clients(id),
    budget numeric, tags text[], meta jsonb, period int4range, note text,
    search tsvector generated always as (to_tsvector('simple', name)) stored
  );
  create table tasks (id int primary key, project_id int references projects(id), title text not null, done boolean not null default false, hours int);
  create table users (id int primary key, name text not null);
  create table users_tasks (user_id int references users(id), task_id int references tasks(id), primary key (user_id, task_id));
  create table addresses (id int primary key, city text not null);
  create table orders (id int primary key, billing_address_id int references addresses(id), shipping_address_id int references addresses(id));
  create table employees (id int primary key, name text not null, manager_id int references employees(id));
  create table passports (id int primary key, user_id int unique references users(id), number text);
  create table notes (id serial primary key, project_id int references projects(id), body text, owner uuid default auth.uid());
  alter table notes enable row level security;
  create policy own_notes on notes for all to authenticated using (owner = auth.uid()) with check (owner = auth.uid());
  create table scratch (id serial primary key, label text, n int);

  insert into clients values (1, 'Microsoft'), (2, 'Apple');
  insert into projects values
    (1, 'Windows 7', 1, 100, '{os,old}', '{"lang":"c","stars":3}', '[1,10)', null),
    (2, 'Windows 10', 1, 200, '{os}', '{"lang":"c++","stars":5}', '[10,20)', 'latest'),
    (3, 'IOS', 2, 300, '{os,mobile}', '{"lang":"swift","stars":4}', '[20,30)', null),
    (4, 'OSX', 2, 400, '{os,desktop}', '{"lang":"objc","stars":4}', '[30,40)', null),
    (5, 'Orphan', null, null, '{}', null, null, null);
  insert into tasks values
    (1, 1, 'Design w7', true, 3), (2, 1, 'Code w7', false, 5), (3, 2, 'Design w10', false, 8),
    (4, 3, 'Code iOS', true, 13), (5, 3, 'Test iOS', true, 2);
  insert into users values (1, 'Angela'), (2, 'Michael'), (3, 'Dwight');
  insert into users_tasks values (1, 1), (1, 2), (2, 3), (3, 4);
  insert into addresses values (1, 'Paris'), (2, 'Lyon');
  insert into orders values (1, 1, 2), (2, 2, 2);
  insert into employees values (1, 'Boss', null), (2, 'Mid', 1), (3, 'Low', 2);
  insert into passports values (1, 1, 'P-1');
  insert into scratch (label, n) values ('a', 1), ('b', 2), ('c', 3), ('d', 4);

  create function projects_of(cid int) returns setof projects language sql stable as 'select * from projects where client_id = cid';
  create function task_stats() returns table (project_id int, total int) language sql stable
    as 'select project_id, sum(hours)::int from tasks group by project_id';
  create function add_them(a int, b int) returns int language sql immutable as 'select a + b';
  create function numbers() returns setof int language sql immutable as 'select generate_series(1, 5)';
  create function first_project() returns projects language sql stable as 'select * from projects order by id limit 1';
`;

describe.each(DB_KINDS)('@supabase/postgrest-js against the embedded backend on %s', (kind) => {
  let b: TestBackend;
  /** The admin key: bypasses RLS, for everything that is not about RLS. */
  // PostgREST 13 semantics for max-affected (and its types in postgrest-js)
  let db: PostgrestClient<any, { PostgrestVersion: '13' }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  let userToken: string;
  let otherToken: string;

  const client = (headers: Record<string, string>) => new PostgrestClient<any, { PostgrestVersion: '13' }>(`${b.url}/api/db`, { headers }); // eslint-disable-line @typescript-eslint/no-explicit-any

  beforeAll(async () => {
    b = await startTestBackend(kind);
    await sql(b, SCHEMA);
    db = client({ Authorization: `Bearer ${TEST_API_KEY}` });
    const signUp = async (email: string) => {
      const res = await b.api('/api/auth/signup', { key: 'none', method: 'POST', json: { email, password: 'secure_password123' } });
      expect(res.status, res.text).toBe(200);
      return res.json.accessToken as string;
    };
    userToken = await signUp('pam@example.com');
    otherToken = await signUp('jim@example.com');
  });
  afterAll(async () => {
    await b?.close();
  });

  describe('embedded resources (resource_embedding)', () => {
    it('many-to-one: an object, null when there is no parent', async () => {
      const { data, error } = await db.from('projects').select('id, clients(name)').order('id');
      expect(error).toBeNull();
      expect(data).toEqual([
        { id: 1, clients: { name: 'Microsoft' } },
        { id: 2, clients: { name: 'Microsoft' } },
        { id: 3, clients: { name: 'Apple' } },
        { id: 4, clients: { name: 'Apple' } },
        { id: 5, clients: null },
      ]);
    });

    it('one-to-many: an array, empty when there are no children; nested embeds', async () => {
      const { data, error } = await db.from('clients').select('name, projects(name, tasks(title))').order('id').order('id', { referencedTable: 'projects' });
      expect(error).toBeNull();
      expect(data).toEqual([
        { name: 'Microsoft', projects: [{ name: 'Windows 7', tasks: [{ title: 'Design w7' }, { title: 'Code w7' }] }, { name: 'Windows 10', tasks: [{ title: 'Design w10' }] }] },
        { name: 'Apple', projects: [{ name: 'IOS', tasks: [{ title: 'Code iOS' }, { title: 'Test iOS' }] }, { name: 'OSX', tasks: [] }] },
      ]);
    });

    it('many-to-many through a junction table whose primary key holds both keys', async () => {
      const { data, error } = await db.from('users').select('name, tasks(title)').order('id');
      expect(error).toBeNull();
      expect(data).toEqual([
        { name: 'Angela', tasks: [{ title: 'Design w7' }, { title: 'Code w7' }] },
        { name: 'Michael', tasks: [{ title: 'Design w10' }] },
        { name: 'Dwight', tasks: [{ title: 'Code iOS' }] },
      ]);
    });

    it('one-to-one (a unique foreign key): an object from both sides', async () => {
      const { data } = await db.from('users').select('name, passports(number)').order('id').limit(2);
      expect(data).toEqual([{ name: 'Angela', passports: { number: 'P-1' } }, { name: 'Michael', passports: null }]);
      const { data: back } = await db.from('passports').select('number, users(name)');
      expect(back).toEqual([{ number: 'P-1', users: { name: 'Angela' } }]);
    });

    it('aliases, and the foreign key column as the embed name', async () => {
      const { data } = await db.from('projects').select('name, owner:clients(name), client_id(id)').eq('id', 3);
      expect(data).toEqual([{ name: 'IOS', owner: { name: 'Apple' }, client_id: { id: 2 } }]);
    });

    it('!inner drops rows whose embed has no match; filters on the embed apply to it', async () => {
      const { data } = await db.from('projects').select('name, clients!inner(name)').eq('clients.name', 'Apple').order('id');
      expect(data).toEqual([{ name: 'IOS', clients: { name: 'Apple' } }, { name: 'OSX', clients: { name: 'Apple' } }]);
      // without !inner the filter only empties the embed
      const { data: left } = await db.from('projects').select('name, clients(name)').eq('clients.name', 'Apple').order('id').limit(2);
      expect(left).toEqual([{ name: 'Windows 7', clients: null }, { name: 'Windows 10', clients: null }]);
    });

    it('filters, order and limit on an embedded resource (referencedTable)', async () => {
      const { data } = await db
        .from('clients')
        .select('name, projects(name)')
        .gt('projects.budget', 100)
        .order('name', { referencedTable: 'projects', ascending: false })
        .limit(1, { referencedTable: 'projects' })
        .order('id');
      expect(data).toEqual([{ name: 'Microsoft', projects: [{ name: 'Windows 10' }] }, { name: 'Apple', projects: [{ name: 'OSX' }] }]);
    });

    it('range and or on an embedded resource (referencedTable)', async () => {
      const { data } = await db.from('clients').select('name, projects(id)').order('id').order('id', { referencedTable: 'projects' }).range(1, 1, { referencedTable: 'projects' });
      expect(data).toEqual([{ name: 'Microsoft', projects: [{ id: 2 }] }, { name: 'Apple', projects: [{ id: 4 }] }]);
      const { data: ors } = await db.from('clients').select('name, projects(id)').or('id.eq.1,id.eq.4', { referencedTable: 'projects' }).order('id');
      expect(ors).toEqual([{ name: 'Microsoft', projects: [{ id: 1 }] }, { name: 'Apple', projects: [{ id: 4 }] }]);
    });

    it('orders the parent by a to-one embed: order=clients(name)', async () => {
      const { data } = await db.from('projects').select('id, clients(name)').not('client_id', 'is', null).order('clients(name)').order('id');
      expect(data?.map((p) => p.id)).toEqual([3, 4, 1, 2]);
      const { error } = await db.from('clients').select('id, projects(name)').order('projects(name)');
      expect(error).toMatchObject({ code: 'PGRST118', message: "A related order on 'projects' is not possible" });
    });

    it('embed=not.is.null / is.null filter the parents (null filtering on embedded resources)', async () => {
      const { data } = await db.from('projects').select('name, tasks()').eq('tasks.done', true).not('tasks', 'is', null).order('id');
      expect(data).toEqual([{ name: 'Windows 7' }, { name: 'IOS' }]);
      const { data: none } = await db.from('projects').select('name, tasks(id)').is('tasks', null);
      expect(none?.map((p) => p.name).sort()).toEqual(['OSX', 'Orphan']);
    });

    it('spread of a to-one embed: its columns join the parent object', async () => {
      const { data } = await db.from('projects').select('name, ...clients(client_name:name)').eq('id', 1);
      expect(data).toEqual([{ name: 'Windows 7', client_name: 'Microsoft' }]);
      const { error } = await db.from('clients').select('name, ...projects(name)');
      expect(error).toMatchObject({ code: 'PGRST119', message: "A spread operation on 'projects' is not possible" });
    });

    it('self-reference: the FK column names the parent, the table name the children', async () => {
      const { data } = await db.from('employees').select('name, manager_id(name), employees(name)').eq('id', 2);
      expect(data).toEqual([{ name: 'Mid', manager_id: { name: 'Boss' }, employees: [{ name: 'Low' }] }]);
    });

    it('300 PGRST201 when two foreign keys relate the tables; a hint picks one', async () => {
      const ambiguous = await db.from('orders').select('id, addresses(city)');
      expect(ambiguous.status).toBe(300);
      expect(ambiguous.error).toMatchObject({
        code: 'PGRST201',
        message: "Could not embed because more than one relationship was found for 'orders' and 'addresses'",
        hint: "Try changing 'addresses' to one of the following: 'addresses!orders_billing_address_id_fkey', 'addresses!orders_shipping_address_id_fkey'. Find the desired relationship in the 'details' key.",
        details: [
          { cardinality: 'many-to-one', embedding: 'orders with addresses', relationship: 'orders_billing_address_id_fkey using orders(billing_address_id) and addresses(id)' },
          { cardinality: 'many-to-one', embedding: 'orders with addresses', relationship: 'orders_shipping_address_id_fkey using orders(shipping_address_id) and addresses(id)' },
        ],
      });
      const { data, error } = await db
        .from('orders')
        .select('id, billing:addresses!orders_billing_address_id_fkey(city), shipping:addresses!shipping_address_id(city)')
        .order('id');
      expect(error).toBeNull();
      expect(data).toEqual([
        { id: 1, billing: { city: 'Paris' }, shipping: { city: 'Lyon' } },
        { id: 2, billing: { city: 'Lyon' }, shipping: { city: 'Lyon' } },
      ]);
    });

    it('400 PGRST200 when no foreign key relates the tables, with PostgREST\'s details', async () => {
      const { error, status } = await db.from('clients').select('name, users(name)');
      expect(status).toBe(400);
      expect(error).toMatchObject({
        code: 'PGRST200',
        message: "Could not find a relationship between 'clients' and 'users' in the schema cache",
        details: "Searched for a foreign key relationship between 'clients' and 'users' in the schema 'public', but no matches were found.",
      });
      const hinted = await db.from('projects').select('name, clients!nope(name)');
      expect(hinted.error).toMatchObject({ code: 'PGRST200', details: expect.stringContaining("using the hint 'nope'") });
    });

    it('400 PGRST108 for a filter on a resource that is not embedded', async () => {
      const { error } = await db.from('clients').select('name').eq('projects.name', 'x');
      expect(error).toMatchObject({ code: 'PGRST108', message: "'projects' is not an embedded resource in this request", hint: "Verify that 'projects' is included in the 'select' query parameter." });
    });

    it('row-level security applies to every embedded table as the caller', async () => {
      const pam = client({ apikey: TEST_ANON_KEY, Authorization: `Bearer ${userToken}` });
      const jim = client({ apikey: TEST_ANON_KEY, Authorization: `Bearer ${otherToken}` });
      expect((await pam.from('notes').insert({ project_id: 1, body: 'pam on w7' })).error).toBeNull();
      expect((await jim.from('notes').insert({ project_id: 1, body: 'jim on w7' })).error).toBeNull();
      const mine = await pam.from('projects').select('name, notes(body)').eq('id', 1);
      expect(mine.data).toEqual([{ name: 'Windows 7', notes: [{ body: 'pam on w7' }] }]);
      const anon = await client({ apikey: TEST_ANON_KEY }).from('projects').select('name, notes!inner(body)').eq('id', 1);
      expect(anon.data).toEqual([]);
    });

    it('embeds in the representation of a write', async () => {
      const { data, error } = await db.from('tasks').insert({ id: 100, project_id: 4, title: 'Port OSX' }).select('title, projects(name, clients(name))');
      expect(error).toBeNull();
      expect(data).toEqual([{ title: 'Port OSX', projects: { name: 'OSX', clients: { name: 'Apple' } } }]);
      const del = await db.from('tasks').delete().eq('id', 100).select('id, projects(name)').single();
      expect(del.data).toEqual({ id: 100, projects: { name: 'OSX' } });
    });
  });

  describe('aggregate functions', () => {
    it('count() alone, and grouped by the other selected columns', async () => {
      expect((await db.from('tasks').select('count()')).data).toEqual([{ count: 5 }]);
      const { data } = await db.from('tasks').select('done, count()').order('done');
      expect(data).toEqual([{ done: false, count: 2 }, { done: true, count: 3 }]);
    });

    it('sum, avg, min, max with aliases and casts', async () => {
      const { data, error } = await db.from('tasks').select('project_id, total:hours.sum(), hours.max(), hours.min(), avg:hours.avg()::int').eq('project_id', 1);
      expect(error).toBeNull();
      expect(data).toEqual([{ project_id: 1, total: 8, max: 5, min: 3, avg: 4 }]);
    });

    it('aggregates inside an embedded resource are per parent row', async () => {
      const { data } = await db.from('projects').select('name, tasks(count())').in('id', [1, 4]).order('id');
      // no tasks: one group of zero rows, as PostgREST answers (an aggregate without GROUP BY has one row)
      expect(data).toEqual([{ name: 'Windows 7', tasks: [{ count: 2 }] }, { name: 'OSX', tasks: [{ count: 0 }] }]);
    });

    it('grouping by an embedded resource', async () => {
      const { data } = await db.from('projects').select('budget.sum(), clients(name)').not('client_id', 'is', null).order('clients(name)');
      expect(data).toEqual([
        { sum: 700, clients: { name: 'Apple' } },
        { sum: 300, clients: { name: 'Microsoft' } },
      ]);
    });
  });

  describe('filters', () => {
    const names = async (q: PromiseLike<{ data: { name: string }[] | null; error: unknown }>) => {
      const { data, error } = await q;
      expect(error).toBeNull();
      return data!.map((r) => r.name);
    };
    const p = () => db.from('projects').select('name').order('id');

    it('eq, neq, gt, gte, lt, lte', async () => {
      expect(await names(p().eq('id', 2))).toEqual(['Windows 10']);
      expect(await names(p().neq('client_id', 1))).toEqual(['IOS', 'OSX']);
      expect(await names(p().gt('budget', 300))).toEqual(['OSX']);
      expect(await names(p().gte('budget', 300))).toEqual(['IOS', 'OSX']);
      expect(await names(p().lt('budget', 200))).toEqual(['Windows 7']);
      expect(await names(p().lte('budget', 200))).toEqual(['Windows 7', 'Windows 10']);
    });

    it('like, ilike, and their allOf / anyOf forms (like(all), ilike(any))', async () => {
      expect(await names(p().like('name', 'Win%'))).toEqual(['Windows 7', 'Windows 10']);
      expect(await names(p().ilike('name', '%os%'))).toEqual(['IOS', 'OSX']);
      expect(await names(p().likeAllOf('name', ['Win%', '%0']))).toEqual(['Windows 10']);
      expect(await names(p().likeAnyOf('name', ['%7', 'OS%']))).toEqual(['Windows 7', 'OSX']);
      expect(await names(p().ilikeAllOf('name', ['%o%', '%s%']))).toEqual(['Windows 7', 'Windows 10', 'IOS', 'OSX']);
      expect(await names(p().ilikeAnyOf('name', ['ios', 'osx']))).toEqual(['IOS', 'OSX']);
    });

    it('regexMatch, regexIMatch', async () => {
      expect(await names(p().regexMatch('name', '^W.*0$'))).toEqual(['Windows 10']);
      expect(await names(p().regexIMatch('name', '^o'))).toEqual(['OSX', 'Orphan']);
    });

    it('is, isDistinct, in, notIn', async () => {
      expect(await names(p().is('client_id', null))).toEqual(['Orphan']);
      expect(await names(p().isDistinct('client_id', 1))).toEqual(['IOS', 'OSX', 'Orphan']);
      expect(await names(p().in('id', [1, 3]))).toEqual(['Windows 7', 'IOS']);
      expect(await names(p().notIn('id', [1, 2, 3]))).toEqual(['OSX', 'Orphan']);
    });

    it('contains, containedBy, overlaps on arrays and jsonb', async () => {
      expect(await names(p().contains('tags', ['mobile']))).toEqual(['IOS']);
      expect(await names(p().containedBy('tags', ['os', 'old']))).toEqual(['Windows 7', 'Windows 10', 'Orphan']);
      expect(await names(p().overlaps('tags', ['desktop', 'mobile']))).toEqual(['IOS', 'OSX']);
      expect(await names(p().contains('meta', { lang: 'swift' }))).toEqual(['IOS']);
    });

    it('rangeGt, rangeGte, rangeLt, rangeLte, rangeAdjacent, overlaps on ranges (sr, nxl, sl, nxr, adj)', async () => {
      expect(await names(p().rangeGt('period', '[15,19)'))).toEqual(['IOS', 'OSX']);
      expect(await names(p().rangeGte('period', '[10,19)'))).toEqual(['Windows 10', 'IOS', 'OSX']);
      expect(await names(p().rangeLt('period', '[15,19)'))).toEqual(['Windows 7']);
      expect(await names(p().rangeLte('period', '[15,20)'))).toEqual(['Windows 7', 'Windows 10']);
      expect(await names(p().rangeAdjacent('period', '[40,50)'))).toEqual(['OSX']);
      expect(await names(p().overlaps('period', '[5,11)'))).toEqual(['Windows 7', 'Windows 10']);
    });

    it('textSearch: fts, plfts, phfts, wfts with a configuration', async () => {
      expect(await names(p().textSearch('search', "'windows' & '10'", { config: 'simple' }))).toEqual(['Windows 10']);
      expect(await names(p().textSearch('search', 'windows 7', { type: 'plain', config: 'simple' }))).toEqual(['Windows 7']);
      expect(await names(p().textSearch('search', 'windows 10', { type: 'phrase', config: 'simple' }))).toEqual(['Windows 10']);
      expect(await names(p().textSearch('search', 'windows -7', { type: 'websearch', config: 'simple' }))).toEqual(['Windows 10']);
    });

    it('match, not, or, filter', async () => {
      expect(await names(p().match({ client_id: 2, budget: 400 }))).toEqual(['OSX']);
      expect(await names(p().not('client_id', 'eq', 1))).toEqual(['IOS', 'OSX']);
      expect(await names(p().or('id.eq.1,and(client_id.eq.2,budget.gt.300)'))).toEqual(['Windows 7', 'OSX']);
      expect(await names(p().filter('id', 'in', '(2,4)'))).toEqual(['Windows 10', 'OSX']);
      expect(await names(p().filter('meta->>lang', 'eq', 'c'))).toEqual(['Windows 7']);
    });
  });

  describe('transforms and modifiers', () => {
    it('order with nullsFirst, limit, range; count and head', async () => {
      const { data } = await db.from('projects').select('name').order('note', { nullsFirst: false }).order('id', { ascending: false }).limit(2);
      expect(data).toEqual([{ name: 'Windows 10' }, { name: 'Orphan' }]);
      const page = await db.from('projects').select('id', { count: 'exact' }).order('id').range(1, 2);
      expect(page).toMatchObject({ status: 206, count: 5, data: [{ id: 2 }, { id: 3 }] });
      const head = await db.from('projects').select('*', { count: 'exact', head: true });
      expect(head).toMatchObject({ status: 200, count: 5, data: null });
    });

    it('single, maybeSingle', async () => {
      expect((await db.from('projects').select('name').eq('id', 1).single()).data).toEqual({ name: 'Windows 7' });
      const many = await db.from('projects').select('name').single();
      expect(many).toMatchObject({ status: 406, error: { code: 'PGRST116' } });
      expect((await db.from('projects').select('name').eq('id', 99).maybeSingle())).toMatchObject({ data: null, error: null });
    });

    it('csv: text/csv with a header line, as PostgREST writes it', async () => {
      const { data, error } = await db.from('projects').select('id, name, tags').in('id', [1, 2]).order('id').csv();
      expect(error).toBeNull();
      expect(data).toBe('id,name,tags\n1,"Windows 7","{os,old}"\n2,"Windows 10",{os}');
    });

    it('stripNulls: nulls=stripped drops null keys', async () => {
      const { data } = await db.from('projects').select('name, note').in('id', [1, 2]).order('id').stripNulls();
      expect(data).toEqual([{ name: 'Windows 7' }, { name: 'Windows 10', note: 'latest' }]);
    });

    it('geojson and explain are refused with 406 PGRST107 (no PostGIS; db-plan-enabled is off, as by default)', async () => {
      const geo = await db.from('projects').select('name').geojson();
      expect(geo).toMatchObject({ status: 406, error: { code: 'PGRST107', message: 'None of these media types are available: application/geo+json' } });
      const plan = await db.from('projects').select('name').explain({ analyze: true });
      expect(plan.status).toBe(406);
      expect(plan.error).toMatchObject({ code: 'PGRST107', message: expect.stringContaining('application/vnd.pgrst.plan+text') });
    });

    it('rollback: the write is answered, then undone (Prefer tx=rollback)', async () => {
      const { data, error } = await db.from('scratch').insert({ label: 'gone' }).select('label').rollback();
      expect(error).toBeNull();
      expect(data).toEqual([{ label: 'gone' }]);
      expect((await db.from('scratch').select('id').eq('label', 'gone')).data).toEqual([]);
    });

    it('maxAffected: more rows than allowed is 400 PGRST124 and nothing changes', async () => {
      const { error, status } = await db.from('scratch').delete().gt('n', 0).maxAffected(1);
      expect(status).toBe(400);
      expect(error).toMatchObject({ code: 'PGRST124', message: 'Query result exceeds max-affected preference constraint', details: 'The query affects 4 rows' });
      expect((await db.from('scratch').select('id', { count: 'exact', head: true })).count).toBe(4);
      const ok = await db.from('scratch').update({ n: 10 }).eq('label', 'a').maxAffected(1).select('n');
      expect(ok).toMatchObject({ error: null, data: [{ n: 10 }] });
    });

    it('throwOnError, abortSignal, setHeader, returns, overrideTypes, retry', async () => {
      await expect(db.from('nope').select().throwOnError()).rejects.toMatchObject({ code: '42P01' });
      const controller = new AbortController();
      controller.abort();
      const aborted = await db.from('projects').select().abortSignal(controller.signal);
      expect(aborted.error).toMatchObject({ message: expect.stringMatching(/abort/i) });
      const withHeader = await client({}).from('projects').select('id').eq('id', 1).setHeader('Authorization', `Bearer ${TEST_API_KEY}`);
      expect(withHeader.data).toEqual([{ id: 1 }]);
      // returns/overrideTypes only change TypeScript types; retry only changes what the client does
      const typed = await db.from('projects').select('id').eq('id', 1).returns<{ id: number }[]>().overrideTypes<{ id: number }[]>().retry(false);
      expect(typed.data).toEqual([{ id: 1 }]);
    });
  });

  describe('writes', () => {
    it('insert (defaultToNull false → missing=default), with count; Content-Range */n', async () => {
      const res = await db.from('scratch').insert([{ label: 'x', n: 1 }, { label: 'y' }], { count: 'exact', defaultToNull: false }).select('label, n');
      expect(res).toMatchObject({ error: null, status: 201, count: 2, data: [{ label: 'x', n: 1 }, { label: 'y', n: null }] });
    });

    it('return=headers-only: 201 with the Location of the new row, no body', async () => {
      const res = await b.api('/api/db/scratch', { method: 'POST', json: { label: 'located' }, headers: { prefer: 'return=headers-only' } });
      expect(res.status).toBe(201);
      expect(res.text).toBe('');
      const location = res.headers.get('location');
      expect(location).toMatch(/^\/api\/db\/scratch\?id=eq\.\d+$/);
      expect((await b.api(location!)).json).toMatchObject([{ label: 'located' }]);
      await db.from('scratch').delete().eq('label', 'located');
    });

    it('upsert with onConflict and ignoreDuplicates', async () => {
      const merged = await db.from('clients').upsert({ id: 2, name: 'Apple Inc.' }).select();
      expect(merged.data).toEqual([{ id: 2, name: 'Apple Inc.' }]);
      const ignored = await db.from('clients').upsert({ id: 2, name: 'ignored' }, { onConflict: 'id', ignoreDuplicates: true }).select();
      expect(ignored.data).toEqual([]);
      await db.from('clients').update({ name: 'Apple' }).eq('id', 2);
    });

    it('update and delete limited to the first rows of an order (PGRST109 without one)', async () => {
      // a=10 (maxAffected above), b=2, c=3, d=4, x=1: the two largest are a and d
      const upd = await db.from('scratch').update({ n: 20 }).gt('n', 0).order('n', { ascending: false }).limit(2).select('label');
      expect(upd.error).toBeNull();
      expect(upd.data?.map((r) => r.label).sort()).toEqual(['a', 'd']);
      const noOrder = await db.from('scratch').delete().gt('n', 0).limit(1);
      expect(noOrder.error).toMatchObject({ code: 'PGRST109', message: "A 'limit' was applied without an explicit 'order'" });
      const del = await db.from('scratch').delete().eq('n', 20).order('label').range(1, 1).select('label');
      expect(del).toMatchObject({ error: null, data: [{ label: 'd' }] });
      expect((await db.from('scratch').select('label').order('label')).data?.map((r) => r.label)).toEqual(['a', 'b', 'c', 'x', 'y']);
    });

    it('update and delete with count: Content-Range 0-(n-1)/n', async () => {
      const upd = await db.from('scratch').update({ n: 7 }, { count: 'exact' }).in('label', ['x', 'y']);
      expect(upd).toMatchObject({ error: null, status: 204, count: 2 });
      const del = await db.from('scratch').delete({ count: 'exact' }).eq('n', 7);
      expect(del).toMatchObject({ error: null, status: 204, count: 2 });
    });
  });

  describe('rpc', () => {
    it('a scalar function, by POST and by GET', async () => {
      expect((await db.rpc('add_them', { a: 1, b: 2 })).data).toBe(3);
      expect((await db.rpc('add_them', { a: 1, b: 2 }, { get: true })).data).toBe(3);
    });

    it('filters, select, order, range and count on a set-returning function (POST and GET)', async () => {
      const post = await db.rpc('projects_of', { cid: 1 }, { count: 'exact' }).select('name').gt('budget', 100).order('id');
      expect(post).toMatchObject({ error: null, count: 1, data: [{ name: 'Windows 10' }] });
      const get = await db.rpc('projects_of', { cid: 2 }, { get: true }).select('id').order('id', { ascending: false }).range(0, 0);
      expect(get).toMatchObject({ error: null, data: [{ id: 4 }] });
      const head = await db.rpc('projects_of', { cid: 2 }, { head: true, count: 'exact' });
      expect(head).toMatchObject({ error: null, count: 2, data: null });
    });

    it('embeds from the rows of a function returning a table type', async () => {
      const { data, error } = await db.rpc('projects_of', { cid: 2 }).select('name, clients(name), tasks(count())').order('id');
      expect(error).toBeNull();
      expect(data).toEqual([
        { name: 'IOS', clients: { name: 'Apple' }, tasks: [{ count: 2 }] },
        { name: 'OSX', clients: { name: 'Apple' }, tasks: [{ count: 0 }] },
      ]);
    });

    it('RETURNS TABLE results filter and order like a table; a one-row function answers an object', async () => {
      const { data } = await db.rpc('task_stats').gte('total', 8).order('project_id');
      expect(data).toEqual([{ project_id: 1, total: 8 }, { project_id: 2, total: 8 }, { project_id: 3, total: 15 }]);
      expect((await db.rpc('first_project').select('id, name')).data).toEqual({ id: 1, name: 'Windows 7' });
    });

    it('limit on a set of scalars; filters on scalars are refused with the feature named', async () => {
      expect((await db.rpc('numbers').limit(2)).data).toEqual([1, 2]);
      const { error } = await db.rpc('numbers').gt('numbers', 2);
      expect(error).toMatchObject({ code: 'PGRST127', message: expect.stringContaining('on the result of public.numbers') });
    });

    it('maxAffected on a function: PGRST128 unless it returns a set', async () => {
      const one = await db.rpc('add_them', { a: 1, b: 2 }).maxAffected(1);
      expect(one.error).toMatchObject({ code: 'PGRST128' });
      const many = await db.rpc('numbers').maxAffected(2);
      expect(many.error).toMatchObject({ code: 'PGRST124', details: 'The query affects 5 rows' });
    });
  });

  describe('preferences, schemas and headers', () => {
    it('handling=strict with an unknown preference is 400 PGRST122', async () => {
      const res = await b.api('/api/db/projects', { headers: { prefer: 'handling=strict, count=exact, frobnicate=yes' } });
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({ code: 'PGRST122', message: 'Invalid preferences given with handling=strict', details: 'Invalid preferences: frobnicate=yes' });
      const lenient = await b.api('/api/db/projects?select=id&limit=1', { headers: { prefer: 'frobnicate=yes' } });
      expect(lenient.status).toBe(200);
    });

    it('schema(): a schema that is not exposed is 406 PGRST106', async () => {
      const { error, status } = await db.schema('auth').from('users').select();
      expect(status).toBe(406);
      expect(error).toMatchObject({ code: 'PGRST106', message: 'Invalid schema: auth', hint: 'Only the following schemas are exposed: public' });
      const write = await db.schema('auth').from('users').insert({ id: 1 });
      expect(write.error).toMatchObject({ code: 'PGRST106' });
      expect((await db.schema('public').from('clients').select('id').eq('id', 1)).data).toEqual([{ id: 1 }]);
    });

    it('refuses what it cannot honour instead of ignoring it: timezone, params=single-object', async () => {
      const tz = await b.api('/api/db/projects', { headers: { prefer: 'timezone=America/Los_Angeles' } });
      expect(tz.json).toMatchObject({ statusCode: 400, code: 'PGRST127', message: 'Prefer: timezone is not supported by this backend' });
      const single = await b.api('/api/db/rpc/add_them', { method: 'POST', json: { a: 1, b: 2 }, headers: { prefer: 'params=single-object' } });
      expect(single.json).toMatchObject({ statusCode: 400, code: 'PGRST127' });
    });
  });
});

describe.each(DB_KINDS)('@insforge/sdk database calls with embedded selects on %s', (kind) => {
  let b: TestBackend;
  beforeAll(async () => {
    b = await startTestBackend(kind);
    await sql(b, SCHEMA);
  });
  afterAll(async () => {
    await b?.close();
  });
  const app = () => createClient({ baseUrl: b.url, anonKey: TEST_ANON_KEY, isServerMode: true });

  it('select with many-to-one, one-to-many and nested embeds', async () => {
    const { data, error } = await app().database.from('projects').select('name, client:clients(name), tasks(title, users(name))').eq('id', 1);
    expect(error).toBeNull();
    expect(data).toEqual([{ name: 'Windows 7', client: { name: 'Microsoft' }, tasks: [{ title: 'Design w7', users: [{ name: 'Angela' }] }, { title: 'Code w7', users: [{ name: 'Angela' }] }] }]);
  });

  it('!inner with a filter on the embed, and order on it', async () => {
    const { data, error } = await app().database.from('clients').select('name, projects!inner(name)').eq('projects.name', 'IOS');
    expect(error).toBeNull();
    expect(data).toEqual([{ name: 'Apple', projects: [{ name: 'IOS' }] }]);
  });

  it('aggregates and the ambiguity error reach the SDK as PostgREST sends them', async () => {
    const { data } = await app().database.from('tasks').select('done, hours.sum()').order('done');
    expect(data).toEqual([{ done: false, sum: 13 }, { done: true, sum: 18 }]);
    const { error } = await app().database.from('orders').select('*, addresses(*)');
    expect(error).toMatchObject({ code: 'PGRST201' });
  });

  it('rpc with a filter and an embed on its rows', async () => {
    const { data, error } = await app().database.rpc('projects_of', { cid: 1 }).eq('name', 'Windows 10').select('name, tasks(count())');
    expect(error).toBeNull();
    expect(data).toEqual([{ name: 'Windows 10', tasks: [{ count: 1 }] }]);
  });
});

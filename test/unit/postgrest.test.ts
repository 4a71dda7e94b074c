import { describe, expect, it } from 'vitest';
import { error, expectError } from '../support/postgrest-errors.js';
import {
  buildDelete,
  buildInsert,
  buildRpc,
  buildSelect,
  buildUpdate,
  catalogType,
  functionNotFound,
  parsePrefer,
  parseRange,
  quoteIdent,
  resolvePaging,
  toSingleObject,
  wantsSingleObject,
  type BuiltQuery,
} from '../../src/backend/db/postgrest.js';
import { parseLogicTree, parseSelect } from '../../src/backend/db/postgrest-parse.js';
import type { ColumnInfo, FunctionInfo, TableInfo } from '../../src/backend/db/types.js';

// ---------------------------------------------------------------- fixtures

function table(name: string, cols: Array<[string, string]>, primaryKey: string[] = ['id'], schema = 'public'): TableInfo {
  const columns = new Map<string, ColumnInfo>(
    cols.map(([n, type]) => [n, { name: n, type, nullable: true, defaultValue: null }]),
  );
  return { schema, name, columns, primaryKey };
}

const todos = table('todos', [
  ['id', 'integer'],
  ['title', 'text'],
  ['done', 'boolean'],
  ['score', 'double precision'],
  ['tags', 'text[]'],
  ['data', 'jsonb'],
  ['status', 'character varying(20)'],
  ['created_at', 'timestamp with time zone'],
  ['we"ird', 'text'],
]);
const noPk = table('logs', [['msg', 'text'], ['level', 'integer']], []);

const q = (s: string) => new URLSearchParams(s);
const sel = (s: string, opts: { range?: { offset: number; limit?: number }; count?: boolean } = {}) =>
  buildSelect(todos, q(s), { count: false, ...opts });
const prefer = (s = '') => parsePrefer(s);


/** SQL text with every double-quoted identifier removed (a broken escape leaves the payload behind). */
function outsideIdentifiers(text: string): string {
  return text.replace(/"(?:[^"]|"")*"/g, '""');
}

/**
 * The SQL is safe w.r.t. a payload: the payload is nowhere in the text outside quoted identifiers,
 * no string literal other than our own constants appears, and the placeholders match `values`.
 */
function expectSafe(built: BuiltQuery, payload: string): void {
  const bare = outsideIdentifiers(built.text);
  expect(bare.toLowerCase()).not.toContain(payload.toLowerCase());
  expect(bare.replaceAll("'[]'", '').replaceAll("'null'", '')).not.toContain("'");
  expect(bare).not.toMatch(/--|\/\*|;/);
  const max = Math.max(0, ...[...built.text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
  expect(max).toBe(built.values.length);
}

/** The payload is carried as data: present in some value. */
function expectInValues(built: BuiltQuery, payload: string): void {
  expect(built.values.some((v) => (Array.isArray(v) ? v.join('\u0001') : String(v)).includes(payload))).toBe(true);
}

// ---------------------------------------------------------------- helpers

describe('quoteIdent', () => {
  it('double-quotes and doubles embedded quotes', () => {
    expect(quoteIdent('title')).toBe('"title"');
    expect(quoteIdent('we"ird')).toBe('"we""ird"');
    expect(quoteIdent('a"; drop table x; --')).toBe('"a""; drop table x; --"');
  });
  it('refuses empty names and NUL', () => {
    expectError(() => quoteIdent(''), 400, 'PGRST100');
    expectError(() => quoteIdent('a\u0000b'), 400, 'PGRST100');
  });
});

describe('catalogType', () => {
  it.each([
    'integer', 'text[]', 'double precision', 'character varying(255)', 'numeric(10,2)', 'numeric(10, 2)',
    'timestamp(3) with time zone', '"char"', 'public.mood', '"My Enum"', 'myschema."Odd""Type"[]',
  ])('accepts %s', (t) => expect(catalogType(t)).toBe(t));
  it.each(['int; drop table x', "text'", 'integer "x"', 'int)--', '"unterminated', 'a"b'])('refuses %s', (t) =>
    expect(catalogType(t)).toBeUndefined(),
  );
});

describe('parsePrefer', () => {
  it('has PostgREST defaults', () => {
    expect(parsePrefer(undefined)).toEqual({ return: 'minimal', count: false, missingDefault: false, strict: false, singleObjectParams: false, invalid: [] });
  });
  it('parses every supported preference, comma separated, collecting unknown ones', () => {
    expect(parsePrefer('return=representation, count=exact,resolution=merge-duplicates , missing=default, tx=rollback, x, handling=strict, max-affected=3')).toEqual({
      return: 'representation',
      count: true,
      resolution: 'merge-duplicates',
      missingDefault: true,
      tx: 'rollback',
      strict: true,
      maxAffected: 3,
      singleObjectParams: false,
      invalid: ['x'],
    });
    expect(parsePrefer('return=headers-only,resolution=ignore-duplicates').resolution).toBe('ignore-duplicates');
    expect(parsePrefer('return=headers-only').return).toBe('headers-only');
  });
  it('answers planned and estimated counts exactly', () => {
    expect(parsePrefer('count=planned').count).toBe(true);
    expect(parsePrefer('count=estimated').count).toBe(true);
    expect(parsePrefer('count=bogus').count).toBe(false);
  });
  it('keeps the first of each kind, as PostgREST (RFC 7240)', () => {
    expect(parsePrefer('return=representation, return=minimal').return).toBe('representation');
    expect(parsePrefer(['tx=commit', 'tx=rollback']).tx).toBe('commit');
  });
  it('collects invalid values and combines repeated headers', () => {
    expect(parsePrefer('return=everything')).toMatchObject({ return: 'minimal', invalid: ['return=everything'] });
    expect(parsePrefer(['return=representation', 'count=exact'])).toMatchObject({ return: 'representation', count: true });
  });
});

describe('parseRange', () => {
  it('parses closed, items= and open ranges', () => {
    expect(parseRange('0-9')).toEqual({ offset: 0, limit: 10 });
    expect(parseRange('items=10-19')).toEqual({ offset: 10, limit: 10 });
    expect(parseRange(' 5- ')).toEqual({ offset: 5 });
    expect(parseRange('3-3')).toEqual({ offset: 3, limit: 1 });
  });
  it('ignores absent or malformed headers', () => {
    expect(parseRange(undefined)).toBeUndefined();
    expect(parseRange('bytes=0-9')).toBeUndefined();
    expect(parseRange('-5')).toBeUndefined();
    expect(parseRange('a-b')).toBeUndefined();
  });
  it('refuses inverted ranges with 416', () => {
    expectError(() => parseRange('9-0'), 416, 'PGRST103');
    expectError(() => parseRange('0-99999999999999999999'), 416, 'PGRST103');
  });
});

describe('resolvePaging (limit/offset params intersected with Range)', () => {
  it('uses the params alone', () => {
    expect(resolvePaging(q('limit=5&offset=10'))).toEqual({ offset: 10, limit: 5 });
    expect(resolvePaging(q(''))).toEqual({ offset: 0 });
  });
  it('uses the header alone', () => {
    expect(resolvePaging(q(''), { offset: 20, limit: 10 })).toEqual({ offset: 20, limit: 10 });
  });
  it('keeps the stricter side of both', () => {
    expect(resolvePaging(q('limit=5'), { offset: 0, limit: 10 })).toEqual({ offset: 0, limit: 5 });
    expect(resolvePaging(q('limit=50'), { offset: 0, limit: 10 })).toEqual({ offset: 0, limit: 10 });
    expect(resolvePaging(q('offset=5&limit=10'), { offset: 0, limit: 10 })).toEqual({ offset: 5, limit: 5 });
    expect(resolvePaging(q('offset=20'), { offset: 0, limit: 10 })).toEqual({ offset: 20, limit: 0 });
    expect(resolvePaging(q('offset=2'), { offset: 5 })).toEqual({ offset: 5 });
  });
  it('refuses non-integers', () => {
    for (const bad of ['limit=-1', 'limit=1.5', 'limit=abc', 'offset=-3', 'limit=', 'limit=1e3', 'limit=99999999999999999999']) {
      expectError(() => resolvePaging(q(bad)), 400, 'PGRST100', /non-negative integer/);
    }
  });
});

// ---------------------------------------------------------------- SELECT

describe('buildSelect', () => {
  it('builds the documented statement shape', () => {
    const built = sel('select=id,title&done=eq.true&order=title.desc&limit=2');
    expect(built.text).toBe(
      'WITH _q AS (SELECT _t."id" AS "id", _t."title" AS "title" FROM "public"."todos" AS _t WHERE (_t."done" = $1) ' +
        'ORDER BY _t."title" DESC LIMIT $2) ' +
        "SELECT coalesce(json_agg(_q.*), '[]')::text AS body, count(*)::int AS n, NULL::bigint AS total FROM _q",
    );
    expect(built.values).toEqual(['true', 2]);
  });

  it('selects * by default and for an empty select', () => {
    expect(sel('').text).toContain('SELECT _t.* FROM "public"."todos" AS _t)');
    expect(sel('select=').text).toContain('SELECT _t.* FROM');
    expect(sel('select=*').values).toEqual([]);
  });

  it('counts with the same WHERE and the same parameters', () => {
    const built = sel('title=eq.a&score=gt.1&limit=1&offset=3', { count: true });
    expect(built.text).toContain(
      '(SELECT count(*) FROM (SELECT 1 FROM "public"."todos" AS _t WHERE (_t."title" = $1) AND (_t."score" > $2)) AS _c)::bigint AS total',
    );
    expect(built.text).toContain('LIMIT $3 OFFSET $4');
    expect(built.values).toEqual(['a', '1', 1, 3]);
  });

  it('applies the Range header', () => {
    const built = sel('', { range: { offset: 10, limit: 5 } });
    expect(built.text).toContain('LIMIT $1 OFFSET $2');
    expect(built.values).toEqual([5, 10]);
  });

  describe('select list', () => {
    it('supports aliases, casts, alias+cast and trims spaces', () => {
      const built = sel('select= id , label : title , score::text, s:score::double precision, t:tags::text[]');
      expect(built.text).toContain(
        'SELECT _t."id" AS "id", _t."title" AS "label", (_t."score")::text AS "score", (_t."score")::double precision AS "s", (_t."tags")::text[] AS "t" FROM',
      );
    });
    it('supports JSON paths with keys as parameters', () => {
      const built = sel('select=data->a->>b,x:data->0,data->>k::int');
      expect(built.text).toContain(
        'SELECT ((_t."data"->$1::text)->>$2::text) AS "b", (_t."data"->$3::integer) AS "x", ((_t."data"->>$4::text))::int AS "k" FROM',
      );
      expect(built.values).toEqual(['a', 'b', '0', 'k']);
    });
    it('supports * next to other items and double-quoted column names', () => {
      expect(sel('select=*,w:"we\\"ird"').text).toContain('SELECT _t.*, _t."we""ird" AS "w" FROM');
    });
    it('refuses embeds of tables it has no relationship with (PGRST200, worded as PostgREST)', () => {
      for (const s of ['select=*,comments(*)', 'select=id,author:users(name)', 'select=users!inner(id)', 'select=...users(name)']) {
        expectError(() => sel(s), 400, 'PGRST200', /^Could not find a relationship between 'todos' and '(comments|users)' in the schema cache$/);
      }
    });
    it('groups by the other columns when the select has aggregates', () => {
      expect(sel('select=count()').text).toContain('SELECT count(*) AS "count" FROM "public"."todos" AS _t)');
      expect(sel('select=done,score.sum()').text).toContain('SELECT _t."done" AS "done", sum(_t."score") AS "sum" FROM "public"."todos" AS _t GROUP BY _t."done"');
    });
    it('refuses unknown columns with 42703 and lists valid ones', () => {
      const e = expectError(() => sel('select=id,nope'), 400, '42703', /todos\.nope/);
      expect(e.hint).toContain('id, title, done, score');
    });
    it('limits the hint to 20 columns', () => {
      const wide = table('wide', Array.from({ length: 30 }, (_, i) => [`c${i}`, 'text'] as [string, string]));
      const e = expectError(() => buildSelect(wide, q('select=zz'), { count: false }), 400, '42703');
      expect(e.hint).toContain('c19, … (10 more)');
      expect(e.hint).not.toContain('c20');
    });
    it('refuses grammar errors', () => {
      expectError(() => sel('select=id,,title'), 400, 'PGRST100', /column name/);
      expectError(() => sel('select=a:*'), 400, 'PGRST100');
      expectError(() => sel('select=data->'), 400, 'PGRST100', /JSON key/);
      expectError(() => sel('select="id'), 400, 'PGRST100', /unterminated/);
    });
  });

  describe('filters', () => {
    it.each([
      ['eq', '='], ['neq', '<>'], ['gt', '>'], ['gte', '>='], ['lt', '<'], ['lte', '<='],
      ['cs', '@>'], ['cd', '<@'], ['ov', '&&'], ['isdistinct', 'IS DISTINCT FROM'],
    ])('%s → %s with an untyped parameter', (op, sqlOp) => {
      const built = sel(`score=${op}.5`);
      expect(built.text).toContain(`WHERE (_t."score" ${sqlOp} $1)`);
      expect(built.values).toEqual(['5']);
    });

    it('keeps dots and everything after the operator in the value', () => {
      expect(sel('title=eq.a.b.c').values).toEqual(['a.b.c']);
      expect(sel('title=eq.').values).toEqual(['']);
      expect(sel('title=eq."quoted"').values).toEqual(['"quoted"']);
    });

    it('like/ilike turn * into % and cast non-text columns', () => {
      const built = sel('title=like.*Widget*&score=ilike.1*&status=like.op*');
      expect(built.text).toContain('(_t."title" LIKE $1) AND ((_t."score")::text ILIKE $2) AND (_t."status" LIKE $3)');
      expect(built.values).toEqual(['%Widget%', '1%', 'op%']);
    });

    it('match/imatch are regex operators', () => {
      expect(sel('title=match.^a').text).toContain('(_t."title" ~ $1)');
      expect(sel('title=imatch.^a').text).toContain('(_t."title" ~* $1)');
    });

    it('full text search with and without a configuration', () => {
      expect(sel('title=fts.cat').text).toContain('(_t."title" @@ to_tsquery($1))');
      const built = sel('title=wfts(english).fat cats');
      expect(built.text).toContain('(_t."title" @@ websearch_to_tsquery($1::regconfig, $2))');
      expect(built.values).toEqual(['english', 'fat cats']);
      expect(sel('title=plfts.a').text).toContain('plainto_tsquery($1)');
      expect(sel('title=phfts.a').text).toContain('phraseto_tsquery($1)');
    });

    it('in passes ONE array parameter cast to the column array type', () => {
      const built = sel('id=in.(1,2,3)');
      expect(built.text).toContain('(_t."id" = ANY($1::integer[]))');
      expect(built.values).toEqual([['1', '2', '3']]);
      expect(sel('status=in.(a)').text).toContain('(_t."status" = ANY($1::character varying(20)[]))');
      expect(sel('created_at=in.(2024-01-01)').text).toContain('ANY($1::timestamp with time zone[])');
    });

    it('in parses quoted elements with backslash escapes', () => {
      const built = sel('title=in.(a,"b,c","e\\"f","g)h",,"")');
      expect(built.values).toEqual([['a', 'b,c', 'e"f', 'g)h', '', '']]);
      expect(sel('title=in.()').values).toEqual([[]]);
      expect(sel('title=in.( a )').values).toEqual([[' a ']]);
    });

    it('in falls back to text for array columns and jsonb for json paths', () => {
      expect(sel('tags=in.("{a,b}")').text).toContain('((_t."tags")::text = ANY($1::text[]))');
      expect(sel('data->>k=in.(a)').text).toContain('((_t."data"->>$1::text) = ANY($2::text[]))');
      expect(sel('data->k=in.(1)').text).toContain('((_t."data"->$1::text))::jsonb = ANY($2::jsonb[])');
      const jsonTable = table('j', [['id', 'integer'], ['doc', 'json'], ['odd', 'my type; drop']]);
      expect(buildSelect(jsonTable, q('doc=in.(1)'), { count: false }).text).toContain('(_t."doc")::jsonb = ANY($1::jsonb[])');
      expect(buildSelect(jsonTable, q('odd=in.(1)'), { count: false }).text).toContain('(_t."odd")::text = ANY($1::text[])');
    });

    it('not.in wraps the whole comparison', () => {
      expect(sel('id=not.in.(1,2)').text).toContain('(NOT (_t."id" = ANY($1::integer[])))');
    });

    it('is takes keywords only, case-insensitive, without parameters', () => {
      expect(sel('done=is.null').text).toContain('(_t."done" IS NULL)');
      expect(sel('done=is.NULL').text).toContain('(_t."done" IS NULL)');
      expect(sel('done=is.not_null').text).toContain('(_t."done" IS NOT NULL)');
      expect(sel('done=is.True').text).toContain('(_t."done" IS TRUE)');
      expect(sel('done=is.false').text).toContain('(_t."done" IS FALSE)');
      expect(sel('done=is.unknown').text).toContain('(_t."done" IS UNKNOWN)');
      expect(sel('done=not.is.null').text).toContain('(NOT (_t."done" IS NULL))');
      expect(sel('done=is.null').values).toEqual([]);
      expectError(() => sel('done=is.maybe'), 400, 'PGRST100', /invalid value "maybe" for operator "is"/);
    });

    it('not. negates any operator', () => {
      expect(sel('score=not.eq.5').text).toContain('(NOT (_t."score" = $1))');
      expect(sel('title=not.like.a*').text).toContain('(NOT (_t."title" LIKE $1))');
    });

    it('repeats conditions on the same column (the SDK sends ?a=gte.1&a=lt.5)', () => {
      const built = sel('score=gte.1&score=lt.5');
      expect(built.text).toContain('WHERE (_t."score" >= $1) AND (_t."score" < $2)');
      expect(built.values).toEqual(['1', '5']);
    });

    it('filters on JSON paths, keys as parameters', () => {
      const built = sel('data->>name=eq.bob&data->tags->0=eq."x"');
      expect(built.text).toContain('((_t."data"->>$1::text) = $2) AND (((_t."data"->$3::text)->$4::integer) = $5)');
      expect(built.values).toEqual(['name', 'bob', 'tags', '0', '"x"']);
    });

    it('does not treat reserved keys as filters', () => {
      const built = sel('select=id&order=id&limit=1&offset=0&on_conflict=id&columns=id');
      expect(built.text).not.toContain('WHERE');
    });

    it('refuses unknown columns and bad operator syntax', () => {
      expectError(() => sel('nope=eq.1'), 400, '42703', /todos\.nope/);
      expectError(() => sel('id=5'), 400, 'PGRST100', /expected an operator/);
      expectError(() => sel('id=eq'), 400, 'PGRST100', /expected "\." and a value after operator "eq"/);
      expectError(() => sel('id=foo.1'), 400, 'PGRST100', /unknown operator "foo"/);
      expectError(() => sel('id=not.5'), 400, 'PGRST100', /expected an operator/);
      expectError(() => sel('id=in.1,2'), 400, 'PGRST100', /"\(" to open the list/);
      expectError(() => sel('id=in.(1,2'), 400, 'PGRST100', /"\)" to close the list/);
      expectError(() => sel('id=in.(1)x'), 400, 'PGRST100', /unexpected characters/);
      expectError(() => sel('id=in.("a"b)'), 400, 'PGRST100', /after a quoted list element/);
      expectError(() => sel('title=fts(bad lang).x'), 400, 'PGRST100', /text search configuration/);
    });
    it('names the filter and the position in grammar errors', () => {
      const e = error(() => sel('id=in.(1,2'));
      expect(e.message).toContain('in filter id=in.(1,2');
      expect(e.message).toMatch(/at position \d+/);
    });
  });

  describe('logic trees', () => {
    it('or/and with nesting, not, quoted values and in-lists', () => {
      const built = sel('or=(id.eq.1,score.gt.2,and(title.eq."a,b(c)",done.not.is.null),tags.cs.{x,y},id.in.(4,"5"))');
      expect(built.text).toContain(
        'WHERE ((_t."id" = $1) OR (_t."score" > $2) OR (((_t."title" = $3) AND (NOT (_t."done" IS NULL)))) OR (_t."tags" @> $4) OR (_t."id" = ANY($5::integer[])))',
      );
      expect(built.values).toEqual(['1', '2', 'a,b(c)', '{x,y}', ['4', '5']]);
    });
    it('not.or / not.and and AND with other filters', () => {
      const built = sel('not.or=(id.eq.1,id.eq.2)&not.and=(done.is.true,score.lt.0)&title=eq.x');
      expect(built.text).toContain(
        'WHERE (NOT ((_t."id" = $1) OR (_t."id" = $2))) AND (NOT ((_t."done" IS TRUE) AND (_t."score" < $3))) AND (_t."title" = $4)',
      );
    });
    it('nested not.or inside a tree, arrows and like inside trees', () => {
      const built = sel('and=(not.or(id.eq.1,id.eq.2),data->>k.like.a*)');
      expect(built.text).toContain('((NOT ((_t."id" = $1) OR (_t."id" = $2))) AND ((_t."data"->>$3::text) LIKE $4))');
      expect(built.values).toEqual(['1', '2', 'k', 'a%']);
    });
    it('unescapes backslashes inside quoted values', () => {
      expect(sel('or=(title.eq."a\\"b\\\\c",title.eq.x)').values).toEqual(['a"b\\c', 'x']);
    });
    it('parses to an AST', () => {
      expect(parseLogicTree('or', '(a.eq.1,and(b.in.(x),c.is.null))')).toEqual({
        kind: 'logic',
        op: 'or',
        negate: false,
        children: [
          { kind: 'filter', field: { column: 'a', path: [] }, negate: false, op: 'eq', value: '1' },
          {
            kind: 'logic',
            op: 'and',
            negate: false,
            children: [
              { kind: 'filter', field: { column: 'b', path: [] }, negate: false, op: 'in', value: ['x'] },
              { kind: 'filter', field: { column: 'c', path: [] }, negate: false, op: 'is', value: 'null' },
            ],
          },
        ],
      });
    });
    it('refuses malformed trees', () => {
      expectError(() => sel('or=id.eq.1'), 400, 'PGRST100', /"\(" to open/);
      expectError(() => sel('or=()'), 400, 'PGRST100', /empty condition list/);
      expectError(() => sel('or=(id.eq.1'), 400, 'PGRST100', /"," or "\)"/);
      expectError(() => sel('or=(id.eq.1))'), 400, 'PGRST100', /after the closing/);
      expectError(() => sel('or=(id.eq."1)'), 400, 'PGRST100', /unterminated/);
      expectError(() => sel('or=(id)'), 400, 'PGRST100', /operator/);
      expectError(() => sel('or=(id.eq."1"x)'), 400, 'PGRST100', /after the value/);
      expectError(() => sel('or=(nope.eq.1)'), 400, '42703');
      expectError(() => sel('or=(id.bad.1)'), 400, 'PGRST100', /unknown operator "bad"/);
    });
  });

  describe('order', () => {
    it('supports direction and nulls placement', () => {
      expect(sel('order=score.desc.nullslast,title,id.asc.nullsfirst').text).toContain(
        'ORDER BY _t."score" DESC NULLS LAST, _t."title", _t."id" ASC NULLS FIRST',
      );
      expect(sel('order=score.desc,title.asc').text).toContain('ORDER BY _t."score" DESC, _t."title" ASC');
      expect(sel('order=score.nullsfirst').text).toContain('ORDER BY _t."score" NULLS FIRST');
      expect(sel('order=data->>k.desc').text).toContain('ORDER BY (_t."data"->>$1::text) DESC');
    });
    it('refuses unknown columns and modifiers', () => {
      expectError(() => sel('order=nope.desc'), 400, '42703');
      expectError(() => sel('order=id.up'), 400, 'PGRST100', /order modifier "up"/);
      expectError(() => sel('order=id.nullslast.desc'), 400, 'PGRST100', /order modifier "desc"/);
      expectError(() => sel('order=id.desc.desc'), 400, 'PGRST100');
    });
  });
});

// ---------------------------------------------------------------- injection attempts

describe('injection attempts', () => {
  const payload = 'x"; DROP TABLE todos; --';

  it('through filter column names', () => {
    for (const key of ['id; DROP TABLE todos', 'id" = 1 OR 1=1 --', 'id)--', 'id::text']) {
      expectError(() => sel(`${encodeURIComponent(key)}=eq.1`), 400, '42703');
    }
    // After an arrow the text is a JSON key, which is a parameter.
    const path = sel(`${encodeURIComponent("data->>a') OR 1=1; DROP TABLE todos; --")}=eq.1`);
    expectSafe(path, 'drop');
    expect(path.values[0]).toBe("a') OR 1=1; DROP TABLE todos; --");
    // A double-quoted name ends at the first unescaped quote; what follows is a grammar error.
    expectError(() => sel(`${encodeURIComponent(`"${payload}"`)}=eq.1`), 400, 'PGRST100');
    expectError(() => sel(`${encodeURIComponent(`"${payload.replaceAll('"', '\\"')}"`)}=eq.1`), 400, '42703');
  });

  it('through operators', () => {
    for (const value of ['eq;DROP TABLE todos.1', 'eq).1', 'or 1=1.1', '=.1', 'eq(english).1', 'not.not.eq.1', 'in.(1);DROP']) {
      expectError(() => sel(`id=${encodeURIComponent(value)}`), 400, 'PGRST100');
    }
    expectError(() => sel(`title=${encodeURIComponent("fts(english'--).x")}`), 400, 'PGRST100');
    expectError(() => sel(`done=is.${encodeURIComponent('null; DROP TABLE todos')}`), 400, 'PGRST100');
  });

  it('through values, which only ever travel as parameters', () => {
    const values = ["'; DROP TABLE todos; --", payload, '$1', "1' OR '1'='1", '\\x00\'', ')) OR ((1=1'];
    for (const v of values) {
      for (const op of ['eq', 'neq', 'gt', 'like', 'ilike', 'match', 'cs', 'isdistinct', 'fts']) {
        const built = sel(`title=${op}.${encodeURIComponent(v)}`);
        expectSafe(built, 'drop');
        expectInValues(built, v.replaceAll('*', '%'));
      }
      const list = sel(`title=in.(${encodeURIComponent(JSON.stringify(v))},b)`);
      expectSafe(list, 'drop');
      expect(list.values).toEqual([[v, 'b']]);
      const tree = sel(`or=(title.eq.${encodeURIComponent(JSON.stringify(v))},id.eq.1)`);
      expectSafe(tree, 'drop');
      expect(tree.values[0]).toBe(v);
    }
  });

  it('through JSON path keys', () => {
    const built = sel(`select=data->>${encodeURIComponent("k'; DROP TABLE todos; --")}&data->${encodeURIComponent("'||pg_sleep(1)||'")}=eq.1`);
    expectSafe(built, 'drop');
    expectSafe(built, 'pg_sleep');
    expect(built.values).toContain("'||pg_sleep(1)||'");
  });

  it('through order', () => {
    expectError(() => sel(`order=${encodeURIComponent('id; DROP TABLE todos')}`), 400, '42703');
    expectError(() => sel(`order=${encodeURIComponent('id.desc; DROP TABLE todos')}`), 400, 'PGRST100');
    expectError(() => sel(`order=${encodeURIComponent('(select 1)')}`), 400, 'PGRST100');
    expectError(() => sel(`order=${encodeURIComponent('id.desc,pg_sleep(1)')}`), 400, 'PGRST108'); // a related order on an embed that is not there
  });

  it('through select columns, aliases and casts', () => {
    expectError(() => sel(`select=${encodeURIComponent('id, (SELECT 1)')}`), 400, 'PGRST100');
    expectError(() => sel(`select=${encodeURIComponent('pg_sleep(10)')}`), 400, 'PGRST200'); // an embed of a table that is not related
    expectError(() => sel(`select=${encodeURIComponent('id;DROP TABLE todos')}`), 400, '42703');
    expectError(() => sel(`select=${encodeURIComponent('id::text; DROP TABLE todos')}`), 400, 'PGRST100', /expected "," between select items at position 9/);
    expectError(() => sel(`select=${encodeURIComponent('id::int) FROM pg_shadow --')}`), 400, 'PGRST100', /unexpected "\)" at position 8/);
    expectError(() => sel(`select=${encodeURIComponent("id::text'")}`), 400, 'PGRST100');
    expectError(() => sel(`select=${encodeURIComponent('a:id::text[];x')}`), 400, 'PGRST100');
    // An alias is an output name: any text is allowed, and it is always a quoted identifier.
    const alias = sel(`select=${encodeURIComponent(`"${payload.replaceAll('"', '\\"')}":id`)}`);
    expect(alias.text).toContain('AS "x""; DROP TABLE todos; --"');
    expectSafe(alias, 'drop');
  });

  it('through on_conflict and columns', () => {
    const p = prefer('resolution=merge-duplicates');
    expectError(() => buildInsert(todos, q(`on_conflict=${encodeURIComponent('id) DO NOTHING; DROP TABLE todos; --')}`), { id: 1 }, p), 400, '42703');
    expectError(() => buildInsert(todos, q(`on_conflict=${encodeURIComponent('id,"title"")')}`), { id: 1 }, p), 400, 'PGRST100');
    expectError(() => buildInsert(todos, q(`columns=${encodeURIComponent('title);DROP TABLE todos;--')}`), { title: 'a' }, p), 400, '42703');
  });

  it('through body keys and values', () => {
    expectError(() => buildInsert(todos, q(''), { [payload]: 1 }, prefer()), 400, '42703');
    expectError(() => buildUpdate(todos, q('id=eq.1'), { 'title" = 1; --': 1 }, prefer()), 400, '42703');
    const ins = buildInsert(todos, q(''), { title: payload }, prefer());
    expectSafe(ins, 'drop');
    expect(ins.values).toEqual([JSON.stringify([{ title: payload }])]);
    const upd = buildUpdate(todos, q(`title=eq.${encodeURIComponent(payload)}`), { title: payload }, prefer());
    expectSafe(upd, 'drop');
  });

  it('through limit/offset', () => {
    expectError(() => sel(`limit=${encodeURIComponent('1; DROP TABLE todos')}`), 400, 'PGRST100');
    expectError(() => sel(`offset=${encodeURIComponent('0 UNION SELECT 1')}`), 400, 'PGRST100');
  });

  it('through RPC names and argument names', () => {
    const fn: FunctionInfo = { schema: 'public', name: 'add_nums', args: [{ name: 'a', type: 'integer', hasDefault: false }], returnsSet: false, returns: 'scalar' };
    expectError(() => buildRpc([fn], { 'a" => 1); DROP TABLE todos; --': 1 }), 404, 'PGRST202');
    expectError(() => buildRpc([fn], { a: 1, 'b; DROP': 2 }), 404, 'PGRST202');
    // A name that reached the catalogue is still only ever a quoted identifier.
    const odd: FunctionInfo = { ...fn, name: 'f"); DROP TABLE todos; --', args: [{ name: 'x"y', type: 'integer', hasDefault: false }] };
    const built = buildRpc([odd], { 'x"y': payload });
    expect(built.text).toContain('"public"."f""); DROP TABLE todos; --"("x""y" => _a."x""y")');
    expectSafe(built, 'drop');
    expect(built.values).toEqual([JSON.stringify({ 'x"y': payload })]);
    // Argument types are checked before being written into SQL.
    const badType: FunctionInfo = { ...fn, args: [{ name: 'a', type: 'int) ; DROP TABLE todos; --', hasDefault: false }] };
    expectError(() => buildRpc([badType], { a: 1 }), 500, 'XX000');
  });
});

// ---------------------------------------------------------------- INSERT

describe('buildInsert', () => {
  it('inserts one object with ONE parameter and returns nothing by default', () => {
    const built = buildInsert(todos, q(''), { title: 'a', done: true }, prefer());
    expect(built.text).toBe(
      'WITH _w AS (INSERT INTO "public"."todos" AS _t ("title", "done") SELECT _j."title", _j."done" ' +
        'FROM json_populate_recordset(NULL::"public"."todos", $1::json) AS _j RETURNING _t.*) ' +
        'SELECT NULL::text AS body, count(*)::int AS n, NULL::bigint AS total FROM _w',
    );
    expect(built.values).toEqual([JSON.stringify([{ title: 'a', done: true }])]);
  });

  it('puts a large homogeneous array in one parameter', () => {
    const rows = Array.from({ length: 5000 }, (_, i) => ({ title: `t${i}`, score: i }));
    const built = buildInsert(todos, q(''), rows, prefer());
    expect(built.values).toHaveLength(1);
    expect(JSON.parse(built.values[0] as string)).toHaveLength(5000);
  });

  it('groups rows by key set so missing keys take their DEFAULT', () => {
    const built = buildInsert(todos, q(''), [{ title: 'a' }, { done: true, title: 'b' }, {}, { title: 'c' }], prefer());
    expect(built.values).toEqual([
      JSON.stringify([{ title: 'a' }, { title: 'c' }]),
      JSON.stringify([{ done: true, title: 'b' }]),
      JSON.stringify([{}]),
    ]);
    expect(built.text).toContain('_i1 AS (INSERT INTO "public"."todos" AS _t ("title") SELECT _j."title" FROM');
    // Columns in table order whatever the key order.
    expect(built.text).toContain('_i2 AS (INSERT INTO "public"."todos" AS _t ("title", "done") SELECT _j."title", _j."done" FROM');
    // No column named: every column takes its default.
    expect(built.text).toContain('_i3 AS (INSERT INTO "public"."todos" AS _t SELECT  FROM json_populate_recordset');
    expect(built.text).toContain('_w AS (SELECT * FROM _i1 UNION ALL SELECT * FROM _i2 UNION ALL SELECT * FROM _i3)');
  });

  it('with columns= inserts exactly those columns (NULL for missing keys), ignoring other keys', () => {
    const built = buildInsert(todos, q('columns="title",done'), [{ title: 'a', extra: 1 }, { done: true }], prefer());
    expect(built.values).toHaveLength(1);
    expect(built.text).toContain('("title", "done") SELECT _j."title", _j."done"');
  });

  it('with columns= and missing=default, missing keys take their DEFAULT', () => {
    const built = buildInsert(todos, q('columns=title,done'), [{ title: 'a' }, { title: 'b', done: true }], prefer('missing=default'));
    expect(built.values).toHaveLength(2);
    expect(built.text).toContain('("title") SELECT _j."title"');
    expect(built.text).toContain('("title", "done") SELECT _j."title", _j."done"');
  });

  it('returns the projected rows with return=representation, and counts on request', () => {
    const built = buildInsert(todos, q('select=id,name:title'), { title: 'a' }, prefer('return=representation,count=exact'));
    expect(built.text).toContain(
      '_q AS (SELECT _t."id" AS "id", _t."title" AS "name" FROM _w AS _t) ' +
        "SELECT coalesce(json_agg(_q.*), '[]')::text AS body, (SELECT count(*) FROM _w)::int AS n, (SELECT count(*) FROM _w)::bigint AS total FROM _q",
    );
  });

  it('upserts on the primary key with merge-duplicates', () => {
    const built = buildInsert(todos, q(''), [{ id: 1, title: 'a', done: true }], prefer('resolution=merge-duplicates'));
    expect(built.text).toContain('ON CONFLICT ("id") DO UPDATE SET "title" = EXCLUDED."title", "done" = EXCLUDED."done" RETURNING _t.*');
  });

  it('upserts on on_conflict columns, DO NOTHING when nothing is left to update', () => {
    expect(buildInsert(todos, q('on_conflict=title,status'), { title: 'a', status: 'x', score: 1 }, prefer('resolution=merge-duplicates')).text).toContain(
      'ON CONFLICT ("title", "status") DO UPDATE SET "score" = EXCLUDED."score"',
    );
    expect(buildInsert(todos, q(''), { id: 1 }, prefer('resolution=merge-duplicates')).text).toContain('ON CONFLICT ("id") DO NOTHING');
  });

  it('ignore-duplicates is DO NOTHING, with or without a target', () => {
    expect(buildInsert(todos, q(''), { id: 1, title: 'a' }, prefer('resolution=ignore-duplicates')).text).toContain('ON CONFLICT ("id") DO NOTHING');
    expect(buildInsert(noPk, q(''), { msg: 'a' }, prefer('resolution=ignore-duplicates')).text).toContain(' ON CONFLICT DO NOTHING ');
  });

  it('merge-duplicates needs a primary key or on_conflict', () => {
    expectError(() => buildInsert(noPk, q(''), { msg: 'a' }, prefer('resolution=merge-duplicates')), 400, '42P10');
    expect(buildInsert(noPk, q('on_conflict=msg'), { msg: 'a', level: 1 }, prefer('resolution=merge-duplicates')).text).toContain(
      'ON CONFLICT ("msg") DO UPDATE SET "level" = EXCLUDED."level"',
    );
  });

  it('on_conflict without a resolution preference is a plain insert (but still checked)', () => {
    expect(buildInsert(todos, q('on_conflict=id'), { id: 1 }, prefer()).text).not.toContain('ON CONFLICT');
    expectError(() => buildInsert(todos, q('on_conflict=nope'), { id: 1 }, prefer()), 400, '42703');
  });

  it('refuses empty or invalid bodies', () => {
    for (const body of [[], null, 'x', 1, [1], [{ a: 1 }, null], [[{}]]]) {
      expectError(() => buildInsert(todos, q(''), body, prefer()), 400, 'PGRST100', /^Empty or invalid JSON body/);
    }
  });

  it('refuses unknown keys and unknown columns=', () => {
    expectError(() => buildInsert(todos, q(''), [{ title: 'a' }, { nope: 1 }], prefer()), 400, '42703', /todos\.nope/);
    expectError(() => buildInsert(todos, q('columns=title,nope'), { title: 'a' }, prefer()), 400, '42703');
  });

  it('validates select even for return=minimal', () => {
    expectError(() => buildInsert(todos, q('select=nope'), { title: 'a' }, prefer()), 400, '42703');
  });
});

// ---------------------------------------------------------------- UPDATE / DELETE

describe('buildUpdate', () => {
  it('sets the given columns from one JSON parameter and filters on _t', () => {
    const built = buildUpdate(todos, q('id=eq.1&select=id'), { title: 'b', done: false }, prefer('return=representation'));
    expect(built.text).toBe(
      'WITH _w AS (UPDATE "public"."todos" AS _t SET "title" = _r."title", "done" = _r."done" ' +
        'FROM json_populate_record(NULL::"public"."todos", $2::json) AS _r WHERE (_t."id" = $1) RETURNING _t.*), ' +
        '_q AS (SELECT _t."id" AS "id" FROM _w AS _t) ' +
        "SELECT coalesce(json_agg(_q.*), '[]')::text AS body, (SELECT count(*) FROM _w)::int AS n, NULL::bigint AS total FROM _q",
    );
    expect(built.values).toEqual(['1', JSON.stringify({ title: 'b', done: false })]);
  });

  it('refuses unfiltered updates; a logic tree counts as a filter', () => {
    expectError(() => buildUpdate(todos, q(''), { done: true }, prefer()), 400, '21000', 'PATCH requires at least one filter, e.g. ?id=eq.1');
    expectError(() => buildUpdate(todos, q('select=id&order=id'), { done: true }, prefer()), 400, '21000');
    expect(buildUpdate(todos, q('or=(id.eq.1,id.eq.2)'), { done: true }, prefer()).text).toContain('WHERE ((_t."id" = $1) OR (_t."id" = $2))');
  });

  it('refuses empty or non-object bodies and unknown columns', () => {
    for (const body of [{}, [], [{ title: 'a' }], null, 'x']) {
      expectError(() => buildUpdate(todos, q('id=eq.1'), body, prefer()), 400, 'PGRST100', /^Empty or invalid JSON body/);
    }
    expectError(() => buildUpdate(todos, q('id=eq.1'), { nope: 1 }, prefer()), 400, '42703');
  });

  it('limits to the first rows in an explicit order, picked by row address in the same statement', () => {
    expectError(() => buildUpdate(todos, q('id=gt.1&limit=1'), { done: true }, prefer()), 400, 'PGRST109', "A 'limit' was applied without an explicit 'order'");
    const built = buildUpdate(todos, q('id=gt.1&limit=2&offset=1&order=score.desc,id'), { done: true }, prefer());
    expect(built.text).toBe(
      'WITH _a AS (SELECT _t.tableoid, _t.ctid FROM "public"."todos" AS _t WHERE (_t."id" > $1) ORDER BY _t."score" DESC, _t."id" LIMIT $2 OFFSET $3), ' +
        '_w AS (UPDATE "public"."todos" AS _t SET "done" = _r."done" FROM json_populate_record(NULL::"public"."todos", $4::json) AS _r, _a ' +
        'WHERE _t.tableoid = _a.tableoid AND _t.ctid = _a.ctid RETURNING _t.*) SELECT NULL::text AS body, count(*)::int AS n, NULL::bigint AS total FROM _w',
    );
    expect(built.values).toEqual(['1', 2, 1, '{"done":true}']);
  });
});

describe('buildDelete', () => {
  it('deletes with filters and counts affected rows', () => {
    const built = buildDelete(todos, q('title=eq.b&done=is.true'), prefer('count=exact'));
    expect(built.text).toBe(
      'WITH _w AS (DELETE FROM "public"."todos" AS _t WHERE (_t."title" = $1) AND (_t."done" IS TRUE) RETURNING _t.*) ' +
        'SELECT NULL::text AS body, count(*)::int AS n, count(*)::bigint AS total FROM _w',
    );
    expect(built.values).toEqual(['b']);
  });

  it('refuses unfiltered deletes and limit', () => {
    expectError(() => buildDelete(todos, q(''), prefer()), 400, '21000', 'DELETE requires at least one filter, e.g. ?id=eq.1');
    expectError(() => buildDelete(todos, q('id=eq.1&offset=1'), prefer()), 400, 'PGRST109');
    expect(buildDelete(todos, q('id=gt.1&limit=1&order=id'), prefer()).text).toContain('DELETE FROM "public"."todos" AS _t USING _a WHERE _t.tableoid = _a.tableoid AND _t.ctid = _a.ctid');
  });

  it('returns projected rows with return=representation', () => {
    expect(buildDelete(todos, q('id=eq.1&select=title'), prefer('return=representation')).text).toContain(
      '_q AS (SELECT _t."title" AS "title" FROM _w AS _t)',
    );
  });
});

// ---------------------------------------------------------------- RPC

describe('buildRpc', () => {
  const fn = (name: string, args: FunctionInfo['args'], returns: FunctionInfo['returns'] = 'scalar', returnsSet = false): FunctionInfo => ({
    schema: 'public',
    name,
    args,
    returns,
    returnsSet,
  });
  const arg = (name: string, type: string, hasDefault = false) => ({ name, type, hasDefault });
  const addNums = fn('add_nums', [arg('a', 'integer'), arg('b', 'integer')]);

  it('calls a scalar function with named arguments from one JSON parameter', () => {
    const built = buildRpc([addNums], { b: 2, a: 40 });
    expect(built.text).toBe(
      "SELECT coalesce(to_json(_r.v)::text, 'null') AS body, 1 AS n, NULL::bigint AS total FROM " +
        'json_to_record($1::json) AS _a("a" integer, "b" integer) CROSS JOIN LATERAL "public"."add_nums"("a" => _a."a", "b" => _a."b") AS _r(v)',
    );
    expect(JSON.parse(built.values[0] as string)).toEqual({ a: 40, b: 2 });
  });

  it('calls a function without arguments', () => {
    expect(buildRpc([fn('now_ish', [])], {}).text).toBe(
      "SELECT coalesce(to_json(_r.v)::text, 'null') AS body, 1 AS n, NULL::bigint AS total FROM \"public\".\"now_ish\"() AS _r(v)",
    );
  });

  it('shapes void, composite and set-returning results', () => {
    expect(buildRpc([fn('v', [], 'void')], {}).text).toBe(
      `SELECT 'null'::text AS body, count(*)::int AS n, NULL::bigint AS total FROM "public"."v"() AS _r`,
    );
    expect(buildRpc([fn('c', [], 'composite')], {}).text).toContain("SELECT coalesce((json_agg(_q.*)->0)::text, 'null') AS body");
    expect(buildRpc([fn('s', [], 'composite', true)], {}).text).toBe(
      'WITH _q AS (SELECT _t.* FROM (SELECT _r.* FROM "public"."s"() AS _r) AS _t) ' +
        "SELECT coalesce(json_agg(_q.*), '[]')::text AS body, count(*)::int AS n, NULL::bigint AS total FROM _q",
    );
    expect(buildRpc([fn('ss', [], 'scalar', true)], {}).text).toBe(
      'WITH _q AS (SELECT _r.v FROM "public"."ss"() AS _r(v)) ' +
        "SELECT coalesce(json_agg(_q.v), '[]')::text AS body, count(*)::int AS n, NULL::bigint AS total FROM _q",
    );
  });

  it('reads the rows of a set-returning function like a table: select, filters, order, limit/offset', () => {
    const s = { ...fn('s', [], 'composite', true), resultColumns: [{ name: 'id', type: 'integer' }, { name: 'name', type: 'text' }] };
    const built = buildRpc([s], {}, q('limit=2&offset=1&id=gt.1&select=name&order=id.desc'));
    expect(built.text).toBe(
      'WITH _q AS (SELECT _t."name" AS "name" FROM (SELECT _r.* FROM "public"."s"() AS _r) AS _t WHERE (_t."id" > $1) ORDER BY _t."id" DESC LIMIT $2 OFFSET $3) ' +
        "SELECT coalesce(json_agg(_q.*), '[]')::text AS body, count(*)::int AS n, NULL::bigint AS total FROM _q",
    );
    expect(built.values).toEqual(['1', 2, 1]);
    expectError(() => buildRpc([s], {}, q('nope=eq.1')), 400, '42703', /column s\.nope does not exist/);
    expectError(() => buildRpc([s], {}, q('limit=x')), 400, 'PGRST100');
  });
  it('refuses select, filters and order on scalar results, naming them (limit/offset work on SETOF)', () => {
    expectError(() => buildRpc([fn('ss', [], 'scalar', true)], {}, q('select=v')), 400, 'PGRST127', /"select" on the result of public\.ss/);
    expectError(() => buildRpc([fn('one', [], 'scalar')], {}, q('order=v')), 400, 'PGRST127', /"order" on the result/);
    expect(buildRpc([fn('ss', [], 'scalar', true)], {}, q('limit=1')).text).toContain('AS _r(v) LIMIT $1)');
  });

  it('lets defaulted arguments be omitted', () => {
    const f = fn('paged', [arg('q', 'text'), arg('n', 'integer', true)]);
    expect(buildRpc([f], { q: 'x' }).text).toContain('"public"."paged"("q" => _a."q")');
    expect(buildRpc([f], { q: 'x', n: 3 }).text).toContain('"public"."paged"("q" => _a."q", "n" => _a."n")');
    expectError(() => buildRpc([f], { n: 3 }), 404, 'PGRST202');
  });

  it('passes objects, arrays, null and strings through JSON', () => {
    const f = fn('j', [arg('doc', 'jsonb'), arg('ids', 'integer[]'), arg('s', 'text'), arg('z', 'text')]);
    const built = buildRpc([f], { doc: { a: [1] }, ids: [1, 2], s: 'x', z: null });
    expect(JSON.parse(built.values[0] as string)).toEqual({ doc: { a: [1] }, ids: [1, 2], s: 'x', z: null });
    expect(built.text).toContain('AS _a("doc" jsonb, "ids" integer[], "s" text, "z" text)');
  });

  it('chooses among overloads, preferring the fewest unused defaults', () => {
    const one = fn('f', [arg('a', 'integer')]);
    const two = fn('f', [arg('a', 'text'), arg('b', 'text', true)]);
    expect(buildRpc([two, one], { a: 1 }).text).toContain('AS _a("a" integer)');
    expect(buildRpc([two, one], { a: 1, b: 'x' }).text).toContain('AS _a("a" text, "b" text)');
    const twin = fn('f', [arg('a', 'bigint')]);
    expectError(() => buildRpc([one, twin], { a: 1 }), 300, 'PGRST203');
  });

  it('cannot call unnamed arguments', () => {
    const f = fn('u', [arg('', 'integer')]);
    expectError(() => buildRpc([f], {}), 404, 'PGRST202');
    const g = fn('u', [arg('', 'integer', true), arg('b', 'integer')]);
    expect(buildRpc([g], { b: 1 }).text).toContain('"public"."u"("b" => _a."b")');
  });

  it('reports unknown functions and arguments like PostgREST', () => {
    expectError(() => buildRpc([], {}), 404, 'PGRST202');
    const e = expectError(() => buildRpc([addNums], { x: 1, a: 2 }), 404, 'PGRST202', 'Could not find the function public.add_nums(a, x) in the schema cache');
    expect(e.hint).toBe('Perhaps you meant to call the function public.add_nums(a, b)');
    expect(functionNotFound('public', 'nofn', []).message).toBe('Could not find the function public.nofn without parameters in the schema cache');
  });

  it('refuses non-object arguments', () => {
    expectError(() => buildRpc([addNums], [] as unknown as Record<string, unknown>), 400, 'PGRST100');
  });
});

// ---------------------------------------------------------------- Accept

describe('single object (Accept: application/vnd.pgrst.object+json)', () => {
  it('detects the media type', () => {
    expect(wantsSingleObject('application/vnd.pgrst.object+json')).toBe(true);
    expect(wantsSingleObject('application/vnd.pgrst.object')).toBe(true);
    expect(wantsSingleObject('application/json')).toBe(false);
    expect(wantsSingleObject(undefined)).toBe(false);
  });
  it('unwraps exactly one row, else 406 PGRST116', () => {
    expect(toSingleObject({ body: '[{"a":1}]', n: 1 })).toBe('{"a":1}');
    expect(toSingleObject({ body: null, n: 1 })).toBeNull();
    const e = expectError(() => toSingleObject({ body: '[]', n: 0 }), 406, 'PGRST116', 'JSON object requested, multiple (or no) rows returned');
    expect(e.details).toBe('The result contains 0 rows');
    expect(e.toJSON()).toEqual({ code: 'PGRST116', details: 'The result contains 0 rows', hint: null, message: e.message });
  });
});

describe('parseSelect AST', () => {
  it('parses items', () => {
    expect(parseSelect('*, a:b::text, c->>d')).toEqual([
      { kind: 'star' },
      { kind: 'field', field: { column: 'b', path: [] }, alias: 'a', cast: 'text' },
      { kind: 'field', field: { column: 'c', path: [{ op: '->>', key: 'd' }] } },
    ]);
  });
});

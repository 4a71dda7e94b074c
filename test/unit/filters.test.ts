import { describe, expect, it } from 'vitest';
import { columnsOf, toSearchParams } from '../../src/client/filters.js';

describe('typed filters → PostgREST query', () => {
  const qs = (q: Parameters<typeof toSearchParams>[0]) => [...toSearchParams(q)].map(([k, v]) => `${k}=${v}`).join('&');

  it('maps operators, not, is and in', () => {
    expect(
      qs({
        where: [
          { column: 'status', op: 'eq', value: 'active' },
          { column: 'price', op: 'gt', value: 100 },
          { column: 'deleted_at', op: 'is', value: null },
          { column: 'kind', op: 'in', value: ['a', 'b c', 'd,e', 'f"g'] },
          { column: 'name', op: 'like', value: '*x*', not: true },
        ],
      }),
    ).toBe('status=eq.active&price=gt.100&deleted_at=is.null&kind=in.(a,"b c","d,e","f\\"g")&name=not.like.*x*');
  });

  it('sends several conditions on one column as one and=(…), never as a repeated key (D1)', () => {
    expect(qs({ where: [{ column: 'a', op: 'gte', value: 1 }, { column: 'a', op: 'lt', value: 5 }] })).toBe('and=(a.gte.1,a.lt.5)');
    expect(
      qs({
        where: [
          { column: 'b', op: 'eq', value: 'x' },
          { column: 'a', op: 'gte', value: 1 },
          { column: 'c', op: 'in', value: ['p,q', 'r'] },
          { column: 'a', op: 'is', value: null, not: true },
          { column: 'c', op: 'neq', value: 'x, (y) "z": \\' },
        ],
      }),
    ).toBe('b=eq.x&and=(a.gte.1,c.in.("p,q",r),a.not.is.null,c.neq."x, (y) \\"z\\": \\\\")');
  });

  it('builds or=() with quoted values', () => {
    expect(qs({ or: [{ column: 'a', op: 'eq', value: 'x,y' }, { column: 'b', op: 'is', value: true, not: true }] })).toBe('or=(a.eq."x,y",b.not.is.true)');
  });

  it('orders, limits, offsets and selects', () => {
    expect(qs({ select: 'id,title', order: [{ column: 'a', ascending: false, nulls: 'last' }, { column: 'b' }], limit: 10, offset: 20 })).toBe(
      'select=id,title&order=a.desc.nullslast,b.asc&limit=10&offset=20',
    );
  });

  it('refuses a list for an operator other than in', () => {
    expect(() => toSearchParams({ where: [{ column: 'a', op: 'eq', value: [1, 2] }] })).toThrow(/only the "in" operator/);
  });

  it('lists the columns of rows with different keys, for columns= (D2)', () => {
    expect(columnsOf([{ a: 1, b: 2 }, { b: 3, a: 4 }])).toBeUndefined();
    expect(columnsOf([{ title: 'h1', qty: 1, note: 'n' }, { title: 'h2' }, { 'odd,name': true }])).toBe('title,qty,note,"odd,name"');
  });
});

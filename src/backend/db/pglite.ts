import type { Database, Queryable, QueryResult } from './types.js';

interface PgliteResults {
  rows: unknown[];
  fields: { name: string; dataTypeID: number }[];
  affectedRows?: number;
  rowCount?: number;
}
interface PgliteQueryable {
  query(text: string, values?: unknown[]): Promise<PgliteResults>;
  exec(text: string): Promise<PgliteResults[]>;
}

const toResult = <R>(r: PgliteResults | undefined): QueryResult<R> => ({
  rows: (r?.rows ?? []) as R[],
  fields: r?.fields ?? [],
  rowCount: r?.rowCount ?? r?.affectedRows ?? r?.rows.length ?? 0,
});

const wrap = (q: PgliteQueryable): Queryable => ({
  async query<R>(text: string, values?: unknown[]) {
    return toResult<R>(await q.query(text, values));
  },
  async exec<R>(text: string) {
    const results = await q.exec(text);
    return toResult<R>(results[results.length - 1]);
  },
});

/** PGlite (Postgres in WebAssembly) persisted in a directory; loaded lazily, it is large. */
export async function openPglite(dataDir: string | undefined): Promise<Database> {
  const { PGlite } = await import('@electric-sql/pglite');
  const pg = new PGlite(dataDir, {
    // Strings go to Postgres as they are, so a bad value is Postgres's 22P02, not a JS throw (a 500).
    serializers: {
      16: (v: unknown) => (typeof v === 'string' ? v : v ? 't' : 'f'),
      17: (v: unknown) => (typeof v === 'string' ? v : `\\x${Buffer.from(v as Uint8Array).toString('hex')}`),
    },
  });
  await pg.waitReady;
  const base = wrap(pg as unknown as PgliteQueryable);
  return {
    kind: 'pglite',
    ...base,
    transaction: (fn) => pg.transaction((tx) => fn(wrap(tx as unknown as PgliteQueryable))),
    close: () => pg.close(),
  };
}

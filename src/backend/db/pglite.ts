import { existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
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

/**
 * A new data dir is created beside its final place and renamed into it once initdb has
 * finished, so a process killed during the first start leaves nothing half-made behind.
 */
async function ensureInitialised(PGlite: typeof import('@electric-sql/pglite').PGlite, dataDir: string): Promise<void> {
  if (existsSync(dataDir)) return;
  const staging = `${dataDir}.init-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  const pg = new PGlite(staging);
  await pg.waitReady;
  await pg.close();
  await rename(staging, dataDir);
}

/** PGlite (Postgres in WebAssembly) persisted in a directory; loaded lazily, it is large. */
export async function openPglite(dataDir: string | undefined): Promise<Database> {
  const { PGlite } = await import('@electric-sql/pglite');
  if (dataDir) await ensureInitialised(PGlite, dataDir);
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

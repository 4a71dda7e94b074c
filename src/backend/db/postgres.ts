import type { Database, Queryable, QueryResult } from './types.js';

interface PgResult {
  rows: unknown[];
  fields?: { name: string; dataTypeID: number }[];
  rowCount: number | null;
}
interface PgQueryable {
  query(text: string, values?: unknown[]): Promise<PgResult | PgResult[]>;
}

const toResult = <R>(r: PgResult | PgResult[]): QueryResult<R> => {
  const last = Array.isArray(r) ? r[r.length - 1] : r;
  return {
    rows: (last?.rows ?? []) as R[],
    fields: (last?.fields ?? []).map((f) => ({ name: f.name, dataTypeID: f.dataTypeID })),
    rowCount: last?.rowCount ?? last?.rows.length ?? 0,
  };
};

const wrap = (q: PgQueryable): Queryable => ({
  async query<R>(text: string, values?: unknown[]) {
    return toResult<R>(await q.query(text, values ?? []));
  },
  async exec<R>(text: string) {
    // no values → node-postgres uses the simple protocol, which allows several statements
    return toResult<R>(await q.query(text));
  },
});

/** A real Postgres through a node-postgres pool. */
export async function openPostgres(url: string): Promise<Database> {
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({ connectionString: url, max: 10, idleTimeoutMillis: 30_000 });
  // a dropped idle connection must not crash the process
  pool.on('error', (err) => process.stderr.write(`insforge-mcp: postgres pool error: ${err.message}\n`));
  const client = await pool.connect(); // fail fast with a clear error if the URL is wrong
  client.release();
  return {
    kind: 'postgres',
    ...wrap(pool as unknown as PgQueryable),
    async transaction(fn) {
      const conn = await pool.connect();
      try {
        await conn.query('BEGIN');
        const result = await fn(wrap(conn as unknown as PgQueryable));
        await conn.query('COMMIT');
        return result;
      } catch (err) {
        await conn.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        conn.release();
      }
    },
    close: () => pool.end(),
  };
}

/**
 * A real Postgres through node-postgres, with two pools:
 *  - the database URL's own user (a superuser, or an owner with CREATEROLE) for start-up, migrations
 *    and the backend's own tables — never for request traffic;
 *  - a login role made for this database, `insforge_auth_<database>`: not a superuser, a member of
 *    no role, owning nothing, only able to call the boundary functions of anon / authenticated /
 *    project_admin. Every request runs there (and inside the boundary, boundary.ts).
 * Its password is random, kept in a table only the owner can read, and set again at every start.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { CallerIdentity, CallerTxOptions } from './boundary.js';
import { asText, boundaryCall, fromBoundaryRows, openingStatements, type BoundaryRow } from './boundary.js';
import type { CallerTx, Database, InternalDb, Queryable, QueryResult } from './types.js';

interface PgResult {
  rows: unknown[];
  fields?: { name: string; dataTypeID: number }[];
  rowCount: number | null;
}
interface PgClient {
  query(text: string, values?: unknown[]): Promise<PgResult | PgResult[]>;
  processID?: number;
  release(err?: Error | boolean): void;
}
interface PgPool {
  query(text: string, values?: unknown[]): Promise<PgResult | PgResult[]>;
  connect(): Promise<PgClient>;
  end(): Promise<void>;
  on(event: 'error', fn: (err: Error) => void): void;
}

const toResult = <R>(r: PgResult | PgResult[]): QueryResult<R> => {
  const last = Array.isArray(r) ? r[r.length - 1] : r;
  return {
    rows: (last?.rows ?? []) as R[],
    fields: (last?.fields ?? []).map((f) => ({ name: f.name, dataTypeID: f.dataTypeID })),
    rowCount: last?.rowCount ?? last?.rows.length ?? 0,
  };
};

const wrap = (q: { query: PgPool['query'] }): Queryable => ({
  query: async <R>(text: string, values?: unknown[]) => toResult<R>(await q.query(text, values ?? [])),
  // no values → node-postgres uses the simple protocol, which allows several statements
  exec: async <R>(text: string) => toResult<R>(await q.query(text)),
});

export interface PostgresOptions {
  url: string;
  statementTimeoutMs: number;
  log: (msg: string) => void;
}

/** Role names are cluster-wide: one per database, readable, at most 63 bytes. */
function authenticatorName(database: string): string {
  const plain = database.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 32);
  const tag = createHash('sha256').update(database).digest('hex').slice(0, 8);
  return `insforge_auth_${plain}_${tag}`;
}

const AUTHENTICATOR_SETUP = `
CREATE SCHEMA IF NOT EXISTS insforge_internal;
REVOKE ALL ON SCHEMA insforge_internal FROM PUBLIC;
CREATE TABLE IF NOT EXISTS insforge_internal.settings (name text PRIMARY KEY, value text NOT NULL);
REVOKE ALL ON insforge_internal.settings FROM PUBLIC;`;

/** Creates (or repairs) the database's login role; returns its name and password. */
async function ensureAuthenticator(owner: Queryable): Promise<{ role: string; password: string }> {
  await owner.exec(AUTHENTICATOR_SETUP);
  const db = (await owner.query<{ name: string }>('SELECT current_database() AS name')).rows[0]!.name;
  const role = authenticatorName(db);
  await owner.query("INSERT INTO insforge_internal.settings (name, value) VALUES ('authenticator_password', $1) ON CONFLICT (name) DO NOTHING", [randomBytes(24).toString('hex')]);
  const password = (await owner.query<{ value: string }>("SELECT value FROM insforge_internal.settings WHERE name = 'authenticator_password'")).rows[0]!.value;
  if (!/^[0-9a-f]{48}$/.test(password)) throw new Error('insforge_internal.settings holds a malformed authenticator password');
  await owner.exec(`
DO $$ BEGIN
  CREATE ROLE ${role} LOGIN NOINHERIT;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
ALTER ROLE ${role} WITH LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD '${password}';
-- the statement-timeout watchdog cancels request sessions from the owner's: an owner that is not a
-- superuser may do so only as a member of their role (a role it created, so it may grant it itself)
DO $$ BEGIN
  IF NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
    EXECUTE pg_catalog.format('GRANT %I TO %I', '${role}', current_user);
  END IF;
EXCEPTION WHEN insufficient_privilege THEN NULL; -- then a runaway statement ends by statement_timeout only
END $$;`);
  return { role, password };
}

export async function openPostgres(opts: PostgresOptions): Promise<Database & { sessionRole?: string }> {
  const { default: pg } = await import('pg');
  // the backend's own connections resolve names in pg_catalog only, whatever a user defines in public
  const owner = new pg.Pool({ connectionString: opts.url, max: 4, idleTimeoutMillis: 30_000, options: '-c search_path=pg_catalog,pg_temp' }) as unknown as PgPool;
  // a dropped idle connection must not crash the process
  owner.on('error', (err) => opts.log(`postgres pool error: ${err.message}`));
  await owner.query('SELECT 1'); // fail fast with a clear error if the URL is wrong
  const internalQ = wrap(owner);

  let requests: PgPool = owner;
  let sessionRole: string | undefined;
  try {
    const { role, password } = await ensureAuthenticator(internalQ);
    const url = new URL(opts.url);
    url.username = role;
    url.password = password;
    const pool = new pg.Pool({ connectionString: url.toString(), max: 10, idleTimeoutMillis: 30_000 }) as unknown as PgPool;
    pool.on('error', (err) => opts.log(`postgres pool error: ${err.message}`));
    await pool.query('SELECT 1');
    requests = pool;
    sessionRole = role;
  } catch (err) {
    // still inside the boundary, but not least privilege: say so loudly
    opts.log(`could not set up or log in as the database's request role (${(err as Error).message}); requests use the database URL's user's session, still inside the security boundary, but not least privilege. Let this user create roles and log in with a password over the URL's host.`);
  }

  const internal: InternalDb = {
    ...internalQ,
    async transaction(fn) {
      const conn = await owner.connect();
      try {
        await conn.query('BEGIN');
        const result = await fn(wrap(conn));
        await conn.query('COMMIT');
        return result;
      } catch (err) {
        await conn.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        conn.release();
      }
    },
  };

  async function asCaller<T>(who: CallerIdentity, fn: (tx: CallerTx) => Promise<T>, txOpts: CallerTxOptions = {}): Promise<T> {
    const conn = await requests.connect();
    let reusable = true;
    const run = async <R>(statements: string[], values: unknown[] | undefined, returnsRows: boolean): Promise<QueryResult<R>> => {
      // the server's statement_timeout can be lifted by the statement itself; this cannot
      const watchdog = setTimeout(() => {
        reusable = false;
        void owner.query('SELECT pg_cancel_backend($1)', [conn.processID]).catch((err: Error) => opts.log(`could not cancel a statement past the statement timeout: ${err.message}`));
      }, opts.statementTimeoutMs + 1000);
      try {
        const res = toResult<BoundaryRow>(await conn.query(boundaryCall(who.role), [statements, (values ?? []).map(asText), returnsRows]));
        return fromBoundaryRows<R>(res.rows);
      } finally {
        clearTimeout(watchdog);
      }
    };
    try {
      for (const s of openingStatements(who, { ...txOpts, statementTimeoutMs: opts.statementTimeoutMs })) await conn.query(s.text, s.values);
      const result = await fn({ query: (text, values) => run([text], values, false), rows: (text, values) => run([text], values, true), script: (statements, values) => run(statements, values, false) });
      await conn.query(txOpts.readOnly ? 'ROLLBACK' : 'COMMIT');
      return result;
    } catch (err) {
      await conn.query('ROLLBACK').catch(() => (reusable = false));
      throw err;
    } finally {
      // nothing a request changed in the session reaches the next one on this connection
      if (reusable) await conn.query('DISCARD ALL').catch(() => (reusable = false));
      conn.release(reusable ? undefined : true);
    }
  }

  return {
    kind: 'postgres',
    sessionRole,
    internal,
    asCaller,
    asCallerOnce: (who, text, values, txOpts) => asCaller(who, (tx) => tx.rows(text, values), txOpts),
    async close() {
      if (requests !== owner) await requests.end();
      await owner.end();
    },
  };
}

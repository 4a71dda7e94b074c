import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { acquireLock, ensureDataDir, loadKeys, type BackendKeys, type LockOwner } from './datadir.js';
import { bootstrap } from './db/bootstrap.js';
import { Catalog } from './db/catalog.js';
import type { Database } from './db/types.js';
import { buildApp } from './app.js';
import { callerAccess } from './context.js';
import { TokenService } from './auth/tokens.js';
import { DEFAULT_MAX_UPLOAD_BYTES } from './storage/routes.js';

export interface BackendOptions {
  dataDir: string;
  host: string;
  port: number;
  databaseUrl?: string;
  apiKey?: string;
  anonKey?: string;
  corsOrigins?: string[];
  rateLimit: number;
  adminRateLimit: number;
  /** Largest file one storage upload may carry (default 50 MiB). */
  maxUploadBytes?: number;
  /** OpenAI-compatible provider behind /api/ai/* (base URL ending in /v1); without it those routes answer 503. */
  aiBaseUrl?: string;
  aiApiKey?: string;
  /** Limits of one function invocation (defaults in functions.ts: 10 s, 64 MiB). */
  functionTimeoutMs?: number;
  functionMemoryMb?: number;
  /** Longest a statement may run before it is ended with SQLSTATE 57014 (default 30 s). */
  statementTimeoutMs?: number;
  /** The Deno binary functions run in; by default the one of the npm package `deno`. */
  denoPath?: string;
  log: (msg: string) => void;
}

export interface RunningBackend {
  url: string;
  keys: BackendKeys;
  keysPath: string;
  db: Database;
  app: FastifyInstance;
  close(): Promise<void>;
}

export class DataDirBusyError extends Error {
  constructor(
    readonly dataDir: string,
    readonly owner: LockOwner,
  ) {
    super(
      `The data dir ${dataDir} is in use by another insforge-mcp backend (pid ${owner.pid}${owner.url ? `, serving ${owner.url}` : ''}). ` +
        'Stop that process, point --url at it, or use another --data-dir.',
    );
  }
}

/** Default of --statement-timeout-ms: no statement may hold the database longer. */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 30_000;

async function openDatabase(opts: BackendOptions): Promise<Database & { sessionRole?: string }> {
  const statementTimeoutMs = opts.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  if (opts.databaseUrl) {
    const { openPostgres } = await import('./db/postgres.js');
    return openPostgres({ url: opts.databaseUrl, statementTimeoutMs, log: opts.log });
  }
  const { openPglite } = await import('./db/pglite.js');
  return openPglite({ dataDir: join(opts.dataDir, 'pgdata'), statementTimeoutMs, log: opts.log });
}

/** Opens (or creates) the data dir, takes its lock, opens the database and listens. */
export async function startBackend(opts: BackendOptions): Promise<RunningBackend> {
  await ensureDataDir(opts.dataDir);
  const lock = await acquireLock(opts.dataDir);
  if (!lock.acquired) throw new DataDirBusyError(opts.dataDir, lock.owner);
  let db: (Database & { sessionRole?: string }) | undefined;
  try {
    const { keys, created, path: keysPath } = await loadKeys(opts.dataDir, { apiKey: opts.apiKey, anonKey: opts.anonKey });
    if (created) opts.log(`generated new keys in ${keysPath}`);
    db = await openDatabase(opts);
    // PGlite writes some files as it opens (world-readable, like all it writes): private again. What
    // it writes later stays unreachable for other users inside the owner-only folders.
    if (db.kind === 'pglite') await ensureDataDir(opts.dataDir);
    await bootstrap(db);
    const catalog = new Catalog(db.internal);
    const tokens = new TokenService(keys.jwtSecret, db.internal);
    const app = await buildApp({ db, catalog, keys, tokens, ...callerAccess(db) }, { corsOrigins: opts.corsOrigins, rateLimit: opts.rateLimit, adminRateLimit: opts.adminRateLimit, log: opts.log, storage: { dir: join(opts.dataDir, 'storage'), maxUploadBytes: opts.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES }, ai: { baseUrl: opts.aiBaseUrl, apiKey: opts.aiApiKey }, functions: { timeoutMs: opts.functionTimeoutMs, memoryMb: opts.functionMemoryMb, denoPath: opts.denoPath } });
    await app.listen({ host: opts.host, port: opts.port });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : opts.port;
    const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host === '0.0.0.0' ? '127.0.0.1' : opts.host;
    const url = `http://${host}:${port}`;
    await lock.publish(url);
    // sign-ins leave rows behind: those no token can use any more go at start and then hourly
    const purge = () => tokens.purgeUnusable().then(() => undefined, (err: Error) => opts.log(`could not delete expired sessions: ${err.message}`));
    let purging = purge();
    const purgeTimer = setInterval(() => (purging = purge()), 3_600_000).unref();
    const database = db;
    let closing: Promise<void> | undefined;
    return {
      url,
      keys,
      keysPath,
      db: database,
      app,
      close: () =>
        (closing ??= (async () => {
          clearInterval(purgeTimer);
          await purging; // not cut off by the database closing
          await app.close();
          await database.close();
          await lock.release();
        })()),
    };
  } catch (err) {
    await db?.close().catch(() => undefined);
    await lock.release();
    throw err;
  }
}

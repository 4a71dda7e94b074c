import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { acquireLock, ensureDataDir, keepPort, makeDataDirPrivate, loadKeys, readKeptPort, removeLeftovers, type BackendKeys, type LockOwner } from './datadir.js';
import { bootstrap } from './db/bootstrap.js';
import { Catalog } from './db/catalog.js';
import type { Database } from './db/types.js';
import { buildApp } from './app.js';
import { callerAccess } from './context.js';
import { TokenService } from './auth/tokens.js';
import { DEFAULT_MAX_UPLOAD_BYTES } from './storage/routes.js';
import { DEFAULT_LIMITS } from './functions/routes.js';

/** Where a data dir's backend listens until one is chosen (--port, --backend-port): then that one, kept in the data dir. */
export const DEFAULT_BACKEND_PORT = 7130;

export interface BackendOptions {
  dataDir: string;
  host: string;
  /** Port to listen on, kept in the data dir for the next starts (0: a random one, not kept). Default: the kept one, else 7130. */
  port?: number;
  /** If the port is taken, listen on a free one for now instead of failing (the MCP server's embedded backend). */
  portFallback?: boolean;
  /** Write the port into the data dir (default true; a takeover reuses its predecessor's port without making it the kept one). */
  keepPort?: boolean;
  /** What start-up is doing now, for a caller that shows progress. */
  onProgress?: (stage: string) => void;
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
  /** Limits of one function invocation (defaults in functions/routes.ts: 10 s, 64 MiB). */
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
  port: number;
  /** The port it should have used, when another program holds it (portFallback). */
  portTaken?: number;
  /** What it runs with (backendSettings), as published in the data dir's lock. */
  settings: Record<string, unknown>;
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

const fingerprint = (secret: string | undefined) => (secret ? createHash('sha256').update(secret).digest('hex').slice(0, 16) : null);

/**
 * The settings that change how a backend behaves, by the flag that sets them. Published in the lock
 * file, so that an MCP server that uses a backend another one started can tell when its own flags
 * differ (they do not apply). Secrets appear only as a fingerprint.
 */
export function backendSettings(opts: BackendOptions, keys: Pick<BackendKeys, 'apiKey' | 'anonKey'>): Record<string, unknown> {
  return {
    'database-url': fingerprint(opts.databaseUrl),
    'api-key': fingerprint(keys.apiKey),
    'anon-key': fingerprint(keys.anonKey),
    'ai-base-url': opts.aiBaseUrl ?? null,
    'ai-api-key': fingerprint(opts.aiApiKey),
    'rate-limit': opts.rateLimit,
    'admin-rate-limit': opts.adminRateLimit,
    'max-upload-mb': (opts.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES) / (1024 * 1024),
    'cors-origins': (opts.corsOrigins ?? ['*']).join(','),
    // effective values, defaults filled in: a flag given with its default value is no difference
    'function-timeout-ms': opts.functionTimeoutMs ?? DEFAULT_LIMITS.timeoutMs,
    'function-memory-mb': opts.functionMemoryMb ?? DEFAULT_LIMITS.memoryMb,
    'statement-timeout-ms': opts.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS,
    'deno-path': opts.denoPath ?? null,
  };
}

/** Listens on the wanted port; if another program has it and a fallback is allowed, on a free one. */
async function listenOn(app: FastifyInstance, opts: BackendOptions, wanted: number): Promise<{ port: number; portTaken?: number }> {
  try {
    await app.listen({ host: opts.host, port: wanted });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || !opts.portFallback || wanted === 0) throw err;
    await app.listen({ host: opts.host, port: 0 });
    const address = app.server.address();
    return { port: typeof address === 'object' && address ? address.port : 0, portTaken: wanted };
  }
  const address = app.server.address();
  return { port: typeof address === 'object' && address ? address.port : wanted };
}

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
  const progress = opts.onProgress ?? (() => undefined);
  try {
    await makeDataDirPrivate(opts.dataDir);
    await removeLeftovers(opts.dataDir);
    const { keys, created, path: keysPath } = await loadKeys(opts.dataDir, { apiKey: opts.apiKey, anonKey: opts.anonKey });
    if (created) opts.log(`generated new keys in ${keysPath}`);
    progress(opts.databaseUrl ? 'connecting to Postgres' : existsSync(join(opts.dataDir, 'pgdata')) ? 'opening the database' : 'creating the database (first start of this data dir)');
    db = await openDatabase(opts);
    // PGlite writes some files as it opens (world-readable, like all it writes): private again. What
    // it writes later stays unreachable for other users inside the owner-only folders.
    if (db.kind === 'pglite') await makeDataDirPrivate(opts.dataDir);
    progress('preparing the schema');
    await bootstrap(db);
    const catalog = new Catalog(db.internal);
    const tokens = new TokenService(keys.jwtSecret, db.internal);
    const app = await buildApp({ db, catalog, keys, tokens, ...callerAccess(db) }, { corsOrigins: opts.corsOrigins, rateLimit: opts.rateLimit, adminRateLimit: opts.adminRateLimit, log: opts.log, storage: { dir: join(opts.dataDir, 'storage'), maxUploadBytes: opts.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES }, ai: { baseUrl: opts.aiBaseUrl, apiKey: opts.aiApiKey }, functions: { timeoutMs: opts.functionTimeoutMs, memoryMb: opts.functionMemoryMb, denoPath: opts.denoPath } });
    const kept = await readKeptPort(opts.dataDir);
    const wanted = opts.port ?? kept ?? DEFAULT_BACKEND_PORT;
    const { port, portTaken } = await listenOn(app, opts, wanted);
    if (wanted !== 0 && wanted !== kept && opts.keepPort !== false) await keepPort(opts.dataDir, wanted);
    const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host === '0.0.0.0' ? '127.0.0.1' : opts.host;
    const url = `http://${host}:${port}`;
    const settings = backendSettings(opts, keys);
    await lock.publish(url, settings);
    // sign-ins leave rows behind: those no token can use any more go at start and then hourly
    const purge = () => tokens.purgeUnusable().then(() => undefined, (err: Error) => opts.log(`could not delete expired sessions: ${err.message}`));
    let purging = purge();
    const purgeTimer = setInterval(() => (purging = purge()), 3_600_000).unref();
    const database = db;
    let closing: Promise<void> | undefined;
    return {
      url,
      port,
      ...(portTaken !== undefined ? { portTaken } : {}),
      settings,
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

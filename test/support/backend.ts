import { cp, mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { startBackend, type BackendOptions, type RunningBackend } from '../../src/backend/server.js';

export const TEST_API_KEY = 'ik_test_admin_key_0123456789abcdef';
export const TEST_ANON_KEY = 'anon_test_anon_key_0123456789abcdef';
/** A function secret's value in the tests: write-only, so .ci/run fails if it is ever printed. */
export const TEST_SECRET_VALUE = 'sk_test_secret_value_9f8e7d6c5b4a';

export type DbKind = 'pglite' | 'postgres';

/** Kinds of database the suite runs against: PGlite always, Postgres when TEST_DATABASE_URL is set (CI sets it). */
export const DB_KINDS: DbKind[] = process.env.TEST_DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];

/** A copy of the run's template data dir, so each test file starts from a clean, initialised database. */
export async function freshDataDir(): Promise<string> {
  const dir = await mkdtemp(join(inject('testRoot'), 'data-'));
  await cp(inject('templateDataDir'), dir, { recursive: true });
  return dir;
}

/** A new, empty database on the test Postgres server, named for this test file. */
export async function freshPostgresDatabase(): Promise<string> {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) throw new Error('TEST_DATABASE_URL is not set');
  const { default: pg } = await import('pg');
  const name = `t_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

export interface TestBackend extends RunningBackend {
  dataDir: string;
  /** The Postgres database it uses (kind 'postgres'), to reopen it after a restart. */
  databaseUrl?: string;
  /** fetch against the backend with an optional key: 'admin' | 'anon' | a raw header set. */
  api(path: string, init?: ApiInit): Promise<ApiResponse>;
}

export interface ApiInit {
  method?: string;
  key?: 'admin' | 'anon' | 'none';
  headers?: Record<string, string>;
  json?: unknown;
  body?: string;
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** `backend` adds or overrides startBackend options (AI provider, function limits, a database to reopen). */
export async function startTestBackend(kind: DbKind = 'pglite', opts: { dataDir?: string; rateLimit?: number; backend?: Partial<BackendOptions> } = {}): Promise<TestBackend> {
  const dataDir = opts.dataDir ?? (await freshDataDir());
  const databaseUrl = opts.backend?.databaseUrl ?? (kind === 'postgres' ? await freshPostgresDatabase() : undefined);
  const backend = await startBackend({
    dataDir,
    host: '127.0.0.1',
    port: 0,
    databaseUrl,
    apiKey: TEST_API_KEY,
    anonKey: TEST_ANON_KEY,
    rateLimit: opts.rateLimit ?? 100000,
    adminRateLimit: 1000000,
    log: (m) => process.stderr.write(`[backend] ${m}\n`),
    ...opts.backend,
  });
  const api = async (path: string, init: ApiInit = {}): Promise<ApiResponse> => {
    const headers: Record<string, string> = { ...init.headers };
    const key = init.key ?? 'admin';
    if (key === 'admin') headers.authorization ??= `Bearer ${TEST_API_KEY}`;
    if (key === 'anon') headers.apikey ??= TEST_ANON_KEY;
    let body = init.body;
    if (init.json !== undefined) {
      body = JSON.stringify(init.json);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${backend.url}${path}`, { method: init.method ?? 'GET', headers, body });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  };
  return Object.assign(backend, { dataDir, api, databaseUrl });
}

/** Runs SQL as the admin through the backend's raw SQL route, failing the test on error. */
export async function sql(backend: TestBackend, query: string, params?: unknown[]) {
  const res = await backend.api('/api/database/advance/rawsql', { method: 'POST', json: { query, params } });
  if (res.status !== 200) throw new Error(`SQL failed (${res.status}): ${res.text}`);
  return res.json as { rows: Record<string, unknown>[]; rowCount: number };
}

/**
 * The two dialects as data. Tools never see a path: the client asks this table.
 * Admin routes (metadata, raw SQL) are the same in both: the embedded backend serves InsForge v2's paths.
 */
export type Dialect = 'documented' | 'insforge-v2';

const enc = encodeURIComponent;

export interface RouteTable {
  records(table: string): string;
  rpc(fn: string): string;
}

export const ROUTES: Record<Dialect, RouteTable> = {
  documented: {
    records: (t) => `/api/db/${enc(t)}`,
    rpc: (fn) => `/api/db/rpc/${enc(fn)}`,
  },
  'insforge-v2': {
    records: (t) => `/api/database/records/${enc(t)}`,
    rpc: (fn) => `/api/database/rpc/${enc(fn)}`,
  },
};

export const ADMIN_ROUTES = {
  health: '/api/health',
  metadata: '/api/metadata',
  tableMetadata: (t: string) => `/api/metadata/${enc(t)}`,
  rawSql: '/api/database/advance/rawsql',
};

export interface Credentials {
  apiKey?: string;
  anonKey?: string;
  /** A signed-in user's access token; wins over the keys for data routes. */
  userToken?: string;
}

/** Headers that carry the caller's credential the way each dialect expects it. */
export function authHeaders(dialect: Dialect, creds: Credentials, admin: boolean): Record<string, string> {
  if (admin && creds.apiKey) return { authorization: `Bearer ${creds.apiKey}` };
  if (creds.userToken) return { authorization: `Bearer ${creds.userToken}` };
  if (creds.apiKey) return { authorization: `Bearer ${creds.apiKey}` };
  if (creds.anonKey) return dialect === 'documented' ? { apikey: creds.anonKey } : { authorization: `Bearer ${creds.anonKey}` };
  return {};
}

/** The embedded backend names itself in /api/health; real InsForge answers "Insforge OSS Backend". */
export function dialectFromHealth(body: unknown): Dialect {
  const service = (body as { service?: unknown } | null)?.service;
  return typeof service === 'string' && service.includes('insforge-mcp') ? 'documented' : 'insforge-v2';
}

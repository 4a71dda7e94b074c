/**
 * The two dialects as data. Tools never see a path: the client asks this table.
 * Admin routes (metadata, raw SQL) are the same in both: the embedded backend serves InsForge v2's paths.
 */
export type Dialect = 'documented' | 'insforge-v2';

const enc = encodeURIComponent;

export interface RouteTable {
  records(table: string): string;
  rpc(fn: string): string;
  signUp: string;
  signIn: string;
  currentUser: string;
  signOut: string;
  /** Upload with a chosen key: documented POST …/objects with a `path` field; v2 PUT …/objects/{key}. */
  upload(bucket: string, key: string): { method: 'POST' | 'PUT'; path: string; keyField: boolean };
  /** documented: OpenAI-shaped; v2: {text, metadata} and its own event stream. */
  chat: { path: string; shape: 'openai' | 'v2' };
  image: { path: string; shape: 'openai' | 'v2' };
  /** Invocation; POST only on the documented path, any method on v2's. */
  invoke(slug: string, method: string): string;
}

export const ROUTES: Record<Dialect, RouteTable> = {
  documented: {
    records: (t) => `/api/db/${enc(t)}`,
    rpc: (fn) => `/api/db/rpc/${enc(fn)}`,
    signUp: '/api/auth/signup',
    signIn: '/api/auth/signin',
    currentUser: '/api/auth/user',
    signOut: '/api/auth/signout',
    upload: (b) => ({ method: 'POST', path: `/api/storage/buckets/${enc(b)}/objects`, keyField: true }),
    chat: { path: '/api/ai/chat/completions', shape: 'openai' },
    image: { path: '/api/ai/images/generations', shape: 'openai' },
    // the documented API names POST only; the embedded backend serves other methods at v2's path
    invoke: (slug, method) => (method === 'POST' ? `/api/functions/${enc(slug)}` : `/functions/${enc(slug)}`),
  },
  'insforge-v2': {
    records: (t) => `/api/database/records/${enc(t)}`,
    rpc: (fn) => `/api/database/rpc/${enc(fn)}`,
    // server-side clients get the refresh token in the body instead of a browser cookie
    signUp: '/api/auth/users?client_type=mobile',
    signIn: '/api/auth/sessions?client_type=mobile',
    currentUser: '/api/auth/sessions/current',
    signOut: '/api/auth/logout',
    upload: (b, k) => ({ method: 'PUT', path: `/api/storage/buckets/${enc(b)}/objects/${enc(k)}`, keyField: false }),
    chat: { path: '/api/ai/chat/completion', shape: 'v2' },
    image: { path: '/api/ai/image/generation', shape: 'v2' },
    invoke: (slug) => `/functions/${enc(slug)}`,
  },
};

/**
 * InsForge's own guides (GET /api/docs/{type} → {type, content}) for the topics it has; the
 * embedded backend serves none, and get-docs answers with its own guides.
 */
export const BACKEND_DOCS: Partial<Record<Dialect, Record<string, string>>> = {
  'insforge-v2': { setup: 'instructions', auth: 'auth-sdk', database: 'db-sdk', storage: 'storage-sdk', functions: 'functions-sdk', ai: 'ai-integration-sdk' },
};
export const docsRoute = (type: string) => `/api/docs/${enc(type)}`;

/** The log sources tools name. */
export const LOG_SOURCES = ['api', 'functions', 'auth', 'database'] as const;
export type LogSource = (typeof LOG_SOURCES)[number];

/**
 * Where each source's logs are: the embedded backend has the four; InsForge logs requests in its
 * own log (insforge.logs, which holds auth events too: searched for "auth"), functions in
 * function.logs, Postgres in postgres.logs.
 */
export const LOG_ROUTES: Record<Dialect, Record<LogSource, { source: string; search?: string }>> = {
  documented: { api: { source: 'api' }, functions: { source: 'functions' }, auth: { source: 'auth' }, database: { source: 'database' } },
  'insforge-v2': { api: { source: 'insforge.logs' }, functions: { source: 'function.logs' }, auth: { source: 'insforge.logs', search: 'auth' }, database: { source: 'postgres.logs' } },
};

/** Storage routes that both dialects share. Keys are sent encoded (`a%2Fb.txt`), which both accept. */
export const STORAGE_ROUTES = {
  buckets: '/api/storage/buckets',
  bucket: (b: string) => `/api/storage/buckets/${enc(b)}`,
  objects: (b: string) => `/api/storage/buckets/${enc(b)}/objects`,
  object: (b: string, k: string) => `/api/storage/buckets/${enc(b)}/objects/${enc(k)}`,
  /** How to download: a plain URL, or one signed for a while (what @insforge/sdk's createSignedUrl asks). */
  downloadStrategy: (b: string, k: string) => `/api/storage/buckets/${enc(b)}/download-strategy/objects/${enc(k)}`,
};

/** Admin routes both dialects share (InsForge v2 paths; the embedded backend serves them too). */
export const ADMIN_ROUTES = {
  aiModels: '/api/ai/models',
  functions: '/api/functions',
  function: (slug: string) => `/api/functions/${enc(slug)}`,
  health: '/api/health',
  metadata: '/api/metadata',
  tableMetadata: (t: string) => `/api/metadata/${enc(t)}`,
  tableSchema: (t: string) => `/api/database/tables/${enc(t)}/schema`,
  /** InsForge v2: every table described at once (format json, without data). */
  export: '/api/database/advance/export',
  anonKey: '/api/metadata/anon-key',
  rawSql: '/api/database/advance/rawsql',
  logs: (source: string) => `/api/logs/${enc(source)}`,
  logSearch: '/api/logs/search',
  schedules: '/api/schedules',
  schedule: (id: string) => `/api/schedules/${enc(id)}`,
  secrets: '/api/secrets',
  secret: (key: string) => `/api/secrets/${enc(key)}`,
};

export interface Credentials {
  apiKey?: string;
  anonKey?: string;
  /** A signed-in user's access token, or a caller's own bearer (stateless HTTP); wins over the keys. */
  token?: string;
}

/** Which credential a request carries: the admin key, the session's (user token, else a key), or the anon key. */
export type AuthMode = 'admin' | 'session' | 'anon' | 'none';

/** Headers that carry the caller's credential the way each dialect expects it. */
export function authHeaders(dialect: Dialect, creds: Credentials, mode: AuthMode): Record<string, string> {
  const anon = (): Record<string, string> => {
    if (!creds.anonKey) return {};
    return dialect === 'documented' ? { apikey: creds.anonKey } : { authorization: `Bearer ${creds.anonKey}` };
  };
  switch (mode) {
    case 'none':
      return {};
    case 'anon':
      return creds.anonKey ? anon() : creds.apiKey ? { authorization: `Bearer ${creds.apiKey}` } : {};
    case 'admin':
      if (creds.token && !creds.apiKey) return { authorization: `Bearer ${creds.token}` };
      return creds.apiKey ? { authorization: `Bearer ${creds.apiKey}` } : anon();
    case 'session':
      if (creds.token) return { authorization: `Bearer ${creds.token}` };
      return creds.apiKey ? { authorization: `Bearer ${creds.apiKey}` } : anon();
  }
}

/** The embedded backend names itself in /api/health; real InsForge answers "Insforge OSS Backend". */
export function dialectFromHealth(body: unknown): Dialect {
  const service = (body as { service?: unknown } | null)?.service;
  return typeof service === 'string' && service.includes('insforge-mcp') ? 'documented' : 'insforge-v2';
}

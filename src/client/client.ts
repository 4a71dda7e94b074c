import { HttpTransport, type HttpRequest } from './request.js';
import { ADMIN_ROUTES, ROUTES, authHeaders, dialectFromHealth, type AuthMode, type Credentials, type Dialect } from './routes.js';
import { toSearchParams, type Filter, type ReadQuery } from './filters.js';
import { BackendError } from './errors.js';

/** Where the backend is and which keys to use; resolved lazily (the embedded backend starts in the background). */
export interface Target {
  baseUrl: string;
  apiKey?: string;
  anonKey?: string;
}

export interface ClientOptions {
  target: () => Promise<Target>;
  timeoutMs: number;
  dialect?: Dialect | 'auto';
}

export interface QueryResult {
  rows: Record<string, unknown>[];
  /** Total rows matching the filters, when asked for. */
  total?: number;
}

export interface AuthSession {
  user: Record<string, unknown>;
  accessToken: string | null;
  requireEmailVerification?: boolean;
  expiresAt?: string;
}

export interface RawSqlResult {
  rows: Record<string, unknown>[];
  rowCount?: number;
  fields?: { name: string; dataTypeID: number }[];
}

const totalFrom = (contentRange: unknown): number | undefined => {
  const total = typeof contentRange === 'string' ? contentRange.split('/')[1] : undefined;
  return total && total !== '*' ? Number(total) : undefined;
};

/**
 * One method per capability; the only thing tools call. Knows HTTP, dialects and keys, not MCP.
 * `as(creds)` gives a view with other credentials (a signed-in user) over the same connection pool.
 */
export class InsForgeClient {
  private constructor(
    private readonly opts: ClientOptions,
    private readonly http: HttpTransport,
    /** Shared by every view of this client, so detection happens once per process. */
    private readonly detected: { dialect?: Promise<Dialect> },
    private readonly identity: Identity = {},
  ) {}

  static create(opts: ClientOptions): InsForgeClient {
    return new InsForgeClient(opts, new HttpTransport(opts.timeoutMs), {});
  }

  /** The same client with data calls made as a signed-in user; admin calls keep the configured key. */
  withUserToken(token: string | undefined): InsForgeClient {
    return new InsForgeClient(this.opts, this.http, this.detected, { token });
  }

  /** The same client with the caller's own bearer for every call, and none of the configured keys. */
  withOnlyToken(token: string): InsForgeClient {
    return new InsForgeClient(this.opts, this.http, this.detected, { token, exclusive: true });
  }

  close(): Promise<void> {
    return this.http.close();
  }

  /** Detected once, on first use, so that starting the MCP server never waits for the backend. */
  resolveDialect(signal?: AbortSignal): Promise<Dialect> {
    if (this.opts.dialect && this.opts.dialect !== 'auto') return Promise.resolve(this.opts.dialect);
    const cache = this.detected;
    if (!cache.dialect) {
      cache.dialect = this.health(signal).then(dialectFromHealth);
      cache.dialect.catch(() => (cache.dialect = undefined)); // a backend that was down may come up
    }
    return cache.dialect;
  }

  async health(signal?: AbortSignal): Promise<Record<string, unknown>> {
    return (await this.call({ method: 'GET', path: ADMIN_ROUTES.health, signal, auth: 'none' })) as Record<string, unknown>;
  }

  async baseUrl(): Promise<string> {
    return (await this.target()).baseUrl;
  }

  private target(): Promise<Target> {
    return this.opts.target().catch((err: Error) => {
      throw err instanceof BackendError ? err : new BackendError(503, 'BACKEND_UNAVAILABLE', `The backend is not available: ${err.message}`, 'See the server log (stderr); fix the cause and retry.');
    });
  }

  getMetadata(signal?: AbortSignal): Promise<Record<string, unknown>> {
    return this.call({ method: 'GET', path: ADMIN_ROUTES.metadata, signal, auth: 'admin' }) as Promise<Record<string, unknown>>;
  }

  getTableMetadata(table: string, signal?: AbortSignal): Promise<Record<string, unknown>> {
    return this.call({ method: 'GET', path: ADMIN_ROUTES.tableMetadata(table), signal, auth: 'admin' }) as Promise<Record<string, unknown>>;
  }

  async queryTable(table: string, query: ReadQuery & { count?: boolean }, signal?: AbortSignal): Promise<QueryResult> {
    const routes = ROUTES[await this.resolveDialect(signal)];
    const res = await this.send({
      method: 'GET',
      path: routes.records(table),
      params: toSearchParams(query),
      headers: query.count ? { prefer: 'count=exact' } : {},
      signal,
      auth: 'session',
    });
    return { rows: (res.body ?? []) as Record<string, unknown>[], total: query.count ? totalFrom(res.headers['content-range']) : undefined };
  }

  async insertRecords(table: string, records: Record<string, unknown>[], upsert: { onConflict?: string[]; ignoreDuplicates?: boolean } | undefined, signal?: AbortSignal): Promise<Record<string, unknown>[]> {
    const routes = ROUTES[await this.resolveDialect(signal)];
    const params = new URLSearchParams();
    const prefer = ['return=representation'];
    if (upsert) {
      prefer.push(upsert.ignoreDuplicates ? 'resolution=ignore-duplicates' : 'resolution=merge-duplicates');
      if (upsert.onConflict?.length) params.set('on_conflict', upsert.onConflict.join(','));
    }
    const res = await this.send({ method: 'POST', path: routes.records(table), params, json: records, headers: { prefer: prefer.join(',') }, signal, auth: 'session' });
    return (res.body ?? []) as Record<string, unknown>[];
  }

  async updateRecords(table: string, where: Filter[], values: Record<string, unknown>, signal?: AbortSignal): Promise<Record<string, unknown>[]> {
    const routes = ROUTES[await this.resolveDialect(signal)];
    const res = await this.send({ method: 'PATCH', path: routes.records(table), params: toSearchParams({ where }), json: values, headers: { prefer: 'return=representation' }, signal, auth: 'session' });
    return (res.body ?? []) as Record<string, unknown>[];
  }

  async deleteRecords(table: string, where: Filter[], signal?: AbortSignal): Promise<Record<string, unknown>[]> {
    const routes = ROUTES[await this.resolveDialect(signal)];
    const res = await this.send({ method: 'DELETE', path: routes.records(table), params: toSearchParams({ where }), headers: { prefer: 'return=representation' }, signal, auth: 'session' });
    return (res.body ?? []) as Record<string, unknown>[];
  }

  async callRpc(fn: string, args: Record<string, unknown>, signal?: AbortSignal): Promise<unknown> {
    const routes = ROUTES[await this.resolveDialect(signal)];
    return (await this.send({ method: 'POST', path: routes.rpc(fn), json: args, signal, auth: 'session' })).body ?? null;
  }

  async signUp(email: string, password: string, name: string | undefined, signal?: AbortSignal): Promise<AuthSession> {
    const routes = ROUTES[await this.resolveDialect(signal)];
    return (await this.call({ method: 'POST', path: routes.signUp, json: { email, password, ...(name ? { name } : {}) }, signal, auth: 'anon' })) as AuthSession;
  }

  async signIn(email: string, password: string, signal?: AbortSignal): Promise<AuthSession> {
    const routes = ROUTES[await this.resolveDialect(signal)];
    return (await this.call({ method: 'POST', path: routes.signIn, json: { email, password }, signal, auth: 'anon' })) as AuthSession;
  }

  /** The user of this client's token. */
  async currentUser(signal?: AbortSignal): Promise<Record<string, unknown>> {
    const routes = ROUTES[await this.resolveDialect(signal)];
    const body = (await this.call({ method: 'GET', path: routes.currentUser, signal, auth: 'session' })) as { user: Record<string, unknown> };
    return body.user;
  }

  async signOut(signal?: AbortSignal): Promise<void> {
    const routes = ROUTES[await this.resolveDialect(signal)];
    await this.call({ method: 'POST', path: routes.signOut, signal, auth: 'session' });
  }

  async runSql(query: string, params: unknown[] | undefined, signal?: AbortSignal): Promise<RawSqlResult> {
    return (await this.call({ method: 'POST', path: ADMIN_ROUTES.rawSql, json: { query, params: params ?? [] }, signal, auth: 'admin' })) as RawSqlResult;
  }

  private async call(req: SendRequest): Promise<unknown> {
    return (await this.send(req)).body;
  }

  private async send(req: SendRequest) {
    const target = await this.target();
    const creds: Credentials = this.identity.exclusive ? { token: this.identity.token } : { apiKey: target.apiKey, anonKey: target.anonKey, token: this.identity.token };
    const dialect = req.auth === 'none' ? 'documented' : await this.resolveDialect(req.signal);
    const headers = { ...authHeaders(dialect, creds, req.auth), ...req.headers };
    const query = req.params?.toString();
    const http: HttpRequest = { method: req.method, url: `${target.baseUrl}${req.path}${query ? `?${query}` : ''}`, headers, json: req.json, signal: req.signal };
    return this.http.send(http);
  }
}

interface SendRequest {
  method: HttpRequest['method'];
  path: string;
  params?: URLSearchParams;
  headers?: Record<string, string>;
  json?: unknown;
  signal?: AbortSignal;
  auth: AuthMode;
}

interface Identity {
  token?: string;
  /** The token replaces the configured keys for every call (stateless HTTP: the caller's own credential). */
  exclusive?: boolean;
}

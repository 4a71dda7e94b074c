import type { Readable } from 'node:stream';
import { HttpTransport, type HttpRequest, type StreamResponse } from './request.js';
import { multipartBody } from './multipart.js';
import { backendMetadata, tableFrom, type BackendMetadata, type TableDetail } from './metadata.js';
import { chatBody, imagesFrom, readChatStream, type ChatRequest, type ChatResult, type GeneratedImage } from './ai.js';
import { ADMIN_ROUTES, BACKEND_DOCS, docsRoute, LOG_ROUTES, ROUTES, STORAGE_ROUTES, type LogSource, authHeaders, dialectFromHealth, type AuthMode, type Credentials, type Dialect } from './routes.js';
import { columnsOf, toSearchParams, type Filter, type ReadQuery } from './filters.js';
import { BackendError, ConnectionRefused } from './errors.js';
import { bucketFrom, storedObject, type Bucket, type StoredObject } from './storage.js';
import { runnableSource } from './function-source.js';

/** Where the backend is and which keys to use; resolved lazily (the embedded backend starts in the background). */
export interface Target {
  baseUrl: string;
  apiKey?: string;
  anonKey?: string;
  /** What the user should know about this backend (e.g. it listens on another port than usual), for metadata. */
  notes?: string[];
}

export interface ClientOptions {
  target: () => Promise<Target>;
  /**
   * A connection to `failed` was refused (nothing was sent): the target to send the request to now, if
   * the backend came back elsewhere or was restarted (the embedded backend's takeover); else undefined.
   */
  reconnect?: (failed: Target) => Promise<Target | undefined>;
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
  /** Rows the statement touched, when the backend counts them. */
  rowCount?: number;
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
    private readonly detected: { health?: Promise<Record<string, unknown>>; anonKey?: Promise<string | undefined> },
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
  async resolveDialect(signal?: AbortSignal): Promise<Dialect> {
    if (this.opts.dialect && this.opts.dialect !== 'auto') return this.opts.dialect;
    return dialectFromHealth(await this.health(signal));
  }

  /** What the backend says it runs (InsForge: its release, e.g. 2.3.1). */
  async backendVersion(signal?: AbortSignal): Promise<string | undefined> {
    const version = (await this.health(signal)).version;
    return typeof version === 'string' ? version : undefined;
  }

  /** GET /api/health, asked once per process (dialect and version come from it). */
  health(signal?: AbortSignal): Promise<Record<string, unknown>> {
    const cache = this.detected;
    if (!cache.health) {
      cache.health = this.call({ method: 'GET', path: ADMIN_ROUTES.health, signal, auth: 'none' }).then((body) => (body && typeof body === 'object' ? body : {}) as Record<string, unknown>);
      cache.health.catch(() => (cache.health = undefined)); // a backend that was down may come up
    }
    return cache.health;
  }

  async baseUrl(): Promise<string> {
    return (await this.target()).baseUrl;
  }

  async backendNotes(): Promise<string[]> {
    return (await this.target()).notes ?? [];
  }

  private target(): Promise<Target> {
    return this.opts.target().catch((err: Error) => {
      throw err instanceof BackendError ? err : new BackendError(503, 'BACKEND_UNAVAILABLE', `The backend is not available: ${err.message}`, 'See the server log (stderr); fix the cause and retry.');
    });
  }

  /** Tables with their columns, keys, RLS and policies, SQL functions, buckets, deployed functions: two requests at most. */
  async getMetadata(opts: { sqlFunctions?: boolean } = {}, signal?: AbortSignal): Promise<BackendMetadata> {
    const metadata = (await this.call({ method: 'GET', path: ADMIN_ROUTES.metadata, signal, auth: 'admin' })) as Record<string, unknown>;
    const json = { format: 'json', includeData: false, includeFunctions: Boolean(opts.sqlFunctions) };
    return backendMetadata(metadata ?? {}, () => this.call({ method: 'POST', path: ADMIN_ROUTES.export, json, signal, auth: 'admin' }) as Promise<Record<string, unknown>>);
  }

  async getTableMetadata(table: string, signal?: AbortSignal): Promise<TableDetail> {
    const body = (await this.call({ method: 'GET', path: ADMIN_ROUTES.tableMetadata(table), signal, auth: 'admin' })) as Record<string, unknown>;
    const described = tableFrom(table, body ?? {});
    if (!described) throw new BackendError(404, 'DATABASE_NOT_FOUND', `table "${table}" not found`, 'List the tables with get-backend-metadata.');
    if (described.recordCount !== undefined) return described;
    // InsForge describes a table without its row count; its table schema route counts the rows
    const schema = (await this.call({ method: 'GET', path: ADMIN_ROUTES.tableSchema(table), signal, auth: 'admin' })) as { recordCount?: unknown };
    return { ...described, ...(typeof schema?.recordCount === 'number' ? { recordCount: schema.recordCount } : {}) };
  }

  async queryTable(table: string, query: ReadQuery & { count?: boolean }, signal?: AbortSignal): Promise<QueryResult> {
    const routes = ROUTES[await this.resolveDialect(signal)];
    const read = (q: ReadQuery) =>
      this.send({ method: 'GET', path: routes.records(table), params: toSearchParams(q), headers: query.count ? { prefer: 'count=exact' } : {}, signal, auth: 'session' });
    let res;
    try {
      res = await read(query);
    } catch (err) {
      // PostgREST 12 answers an offset past the last row 416 when counting (PGRST103), and InsForge's
      // proxy drops the Content-Range that held the total: an empty page, counted with no rows asked for
      if (!(query.count && err instanceof BackendError && err.status === 416)) throw err;
      const counted = await read({ ...query, limit: 0, offset: 0 });
      return { rows: [], total: totalFrom(counted.headers['content-range']) };
    }
    return { rows: (res.body ?? []) as Record<string, unknown>[], total: query.count ? totalFrom(res.headers['content-range']) : undefined };
  }

  async insertRecords(table: string, records: Record<string, unknown>[], upsert: { onConflict?: string[]; ignoreDuplicates?: boolean } | undefined, signal?: AbortSignal): Promise<Record<string, unknown>[]> {
    const routes = ROUTES[await this.resolveDialect(signal)];
    const params = new URLSearchParams();
    const prefer = ['return=representation'];
    // rows with different keys: PostgREST needs the column list, and takes defaults for what a row leaves out
    const columns = columnsOf(records);
    if (columns) {
      params.set('columns', columns);
      prefer.push('missing=default');
    }
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

  async listBuckets(signal?: AbortSignal): Promise<Bucket[]> {
    const body = (await this.call({ method: 'GET', path: STORAGE_ROUTES.buckets, signal, auth: 'admin' })) as Record<string, unknown>[];
    return (body ?? []).map((b) => bucketFrom(b, '', false));
  }

  async createBucket(bucketName: string, isPublic: boolean, signal?: AbortSignal): Promise<Bucket> {
    const body = (await this.call({ method: 'POST', path: STORAGE_ROUTES.buckets, json: { bucketName, isPublic }, signal, auth: 'admin' })) as Record<string, unknown>;
    return bucketFrom(body ?? {}, bucketName, isPublic);
  }

  deleteBucket(bucketName: string, signal?: AbortSignal): Promise<Record<string, unknown>> {
    return this.call({ method: 'DELETE', path: STORAGE_ROUTES.bucket(bucketName), signal, auth: 'admin', idempotent: true }) as Promise<Record<string, unknown>>;
  }

  async listFiles(bucket: string, q: { prefix?: string; limit?: number; offset?: number }, signal?: AbortSignal): Promise<{ data: StoredObject[]; pagination?: { offset: number; limit: number; total: number } }> {
    const params = new URLSearchParams();
    if (q.prefix) params.set('prefix', q.prefix);
    if (q.limit !== undefined) params.set('limit', String(q.limit));
    if (q.offset) params.set('offset', String(q.offset));
    const body = (await this.call({ method: 'GET', path: STORAGE_ROUTES.objects(bucket), params, signal, auth: 'session' })) as { data?: Record<string, unknown>[]; pagination?: { offset: number; limit: number; total: number } };
    return { data: (body?.data ?? []).map((o) => storedObject(o, bucket)), ...(body?.pagination ? { pagination: body.pagination } : {}) };
  }

  /** Streams the body to the backend as multipart; never holds the whole file. */
  async uploadFile(bucket: string, key: string, file: { stream: Readable; size: number; contentType: string }, signal?: AbortSignal): Promise<StoredObject> {
    const route = ROUTES[await this.resolveDialect(signal)].upload(bucket, key);
    const filename = key.split('/').pop() || key;
    const multipart = multipartBody(route.keyField ? { path: key } : {}, { filename, contentType: file.contentType, size: file.size, stream: file.stream });
    const target = await this.target();
    const res = await this.http.stream({
      method: route.method,
      url: `${target.baseUrl}${route.path}`,
      headers: { ...(await this.headersFor('session', signal)), 'content-type': multipart.contentType, 'content-length': String(multipart.length), accept: 'application/json' },
      body: multipart.body,
      signal,
    });
    const chunks: Buffer[] = [];
    for await (const chunk of res.body) chunks.push(chunk as Buffer);
    return storedObject(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>, bucket);
  }

  /** The object as a stream, with its headers; `range` asks for part of it (`bytes=0-99`). */
  async downloadFile(bucket: string, key: string, opts: { range?: string; signal?: AbortSignal } = {}): Promise<StreamResponse> {
    const target = await this.target();
    return this.http.stream({
      method: 'GET',
      url: `${target.baseUrl}${STORAGE_ROUTES.object(bucket, key)}`,
      headers: { ...(await this.headersFor('session', opts.signal)), ...(opts.range ? { range: opts.range } : {}) },
      signal: opts.signal,
    });
  }

  /** A URL to hand out: signed until expiresAt when the backend signs it, else its plain URL (expiresAt null). */
  async getFileUrl(bucket: string, key: string, expiresIn: number | undefined, signal?: AbortSignal): Promise<{ url: string; expiresAt: string | null; signed: boolean }> {
    const params = new URLSearchParams(expiresIn !== undefined ? { expiresIn: String(expiresIn) } : {});
    const body = (await this.call({ method: 'GET', path: STORAGE_ROUTES.downloadStrategy(bucket, key), params, signal, auth: 'session' })) as { method?: unknown; url?: unknown; expiresAt?: unknown };
    const expiresAt = typeof body?.expiresAt === 'string' ? body.expiresAt : null;
    return { url: String(body?.url), expiresAt, signed: body?.method === 'presigned' };
  }

  deleteFile(bucket: string, key: string, signal?: AbortSignal): Promise<Record<string, unknown>> {
    return this.call({ method: 'DELETE', path: STORAGE_ROUTES.object(bucket, key), signal, auth: 'session', idempotent: true }) as Promise<Record<string, unknown>>;
  }

  /** Streams the completion, calling onText with the text so far; same result shape in both dialects. */
  async chatCompletion(req: ChatRequest, onText: (textSoFar: string) => void, signal?: AbortSignal): Promise<ChatResult> {
    const route = ROUTES[await this.resolveDialect(signal)].chat;
    const target = await this.target();
    const res = await this.http.stream({
      method: 'POST',
      url: `${target.baseUrl}${route.path}`,
      headers: { ...(await this.headersFor('session', signal)), 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify(chatBody(route.shape, req)),
      signal,
    });
    return readChatStream(route.shape, req.model, res.body, onText);
  }

  async generateImage(req: { model: string; prompt: string; size?: string }, signal?: AbortSignal): Promise<{ images: GeneratedImage[]; usage?: ChatResult['usage'] }> {
    const route = ROUTES[await this.resolveDialect(signal)].image;
    const body = (await this.call({ method: 'POST', path: route.path, json: req, signal, auth: 'session' })) as Record<string, unknown>;
    return imagesFrom(route.shape, body);
  }

  listAiModels(signal?: AbortSignal): Promise<Record<string, unknown>[]> {
    return this.call({ method: 'GET', path: ADMIN_ROUTES.aiModels, signal, auth: 'admin' }) as Promise<Record<string, unknown>[]>;
  }

  async listFunctions(signal?: AbortSignal): Promise<Record<string, unknown>[]> {
    const body = (await this.call({ method: 'GET', path: ADMIN_ROUTES.functions, signal, auth: 'admin' })) as { functions?: Record<string, unknown>[] };
    return body.functions ?? [];
  }

  /**
   * Creates the function, or updates it when the slug exists; active either way. The code is sent in
   * the form every runtime runs (function-source.ts); the answer leaves it out.
   */
  async deployFunction(slug: string, fn: { code: string; name?: string; description?: string }, signal?: AbortSignal): Promise<{ function: Record<string, unknown>; created: boolean; note?: string }> {
    const { code, note } = runnableSource(fn.code);
    const fields = { code, ...(fn.name ? { name: fn.name } : {}), ...(fn.description !== undefined ? { description: fn.description } : {}), status: 'active' };
    const deployed = (body: unknown, created: boolean) => {
      const { code: _code, ...summary } = ((body as { function?: Record<string, unknown> })?.function ?? {}) as Record<string, unknown>;
      return { function: summary, created, ...(note ? { note } : {}) };
    };
    try {
      return deployed(await this.call({ method: 'POST', path: ADMIN_ROUTES.functions, json: { name: slug, slug, ...fields }, signal, auth: 'admin' }), true);
    } catch (err) {
      if (!(err instanceof BackendError) || err.status !== 409) throw err;
    }
    return deployed(await this.call({ method: 'PUT', path: ADMIN_ROUTES.function(slug), json: fields, signal, auth: 'admin', idempotent: true }), false);
  }

  async deleteFunction(slug: string, signal?: AbortSignal): Promise<void> {
    await this.call({ method: 'DELETE', path: ADMIN_ROUTES.function(slug), signal, auth: 'admin', idempotent: true });
  }

  /** Calls a function; its own status and body come back as they are, errors included. Never retried. */
  async invokeFunction(slug: string, req: { method: HttpRequest['method']; body?: unknown; headers?: Record<string, string> }, signal?: AbortSignal) {
    const path = ROUTES[await this.resolveDialect(signal)].invoke(slug, req.method);
    const target = await this.target();
    const hasBody = req.body !== undefined && req.method !== 'GET' && req.method !== 'HEAD';
    const body = hasBody ? (typeof req.body === 'string' ? req.body : JSON.stringify(req.body)) : undefined;
    const headers = {
      ...(hasBody && typeof req.body !== 'string' ? { 'content-type': 'application/json' } : {}),
      ...req.headers,
      ...(await this.invokeHeaders(signal)),
    };
    return this.http.raw({ method: req.method, url: `${target.baseUrl}${path}`, headers, body, signal });
  }

  /**
   * A function is code that sees the credential it is called with (and may echo it): it is called
   * as the signed-in user (or with the caller's own bearer, stateless), else with the anon key —
   * never with the admin key.
   */
  private async invokeHeaders(signal?: AbortSignal): Promise<Record<string, string>> {
    if (this.identity.token) return { authorization: `Bearer ${this.identity.token}` };
    // a client bound to its caller's own bearer (stateless HTTP) never falls back to the configured keys
    if (this.identity.exclusive) throw new BackendError(401, 'AUTH_REQUIRED', 'This request carries no credential of its own', 'Send Authorization: Bearer <your token or key> with the request.');
    const target = await this.target();
    const anonKey = target.anonKey ?? (target.apiKey ? await this.fetchAnonKey(target, signal) : undefined);
    if (!anonKey) {
      throw new BackendError(503, 'ANON_KEY_UNAVAILABLE', 'invoke-function calls functions with the anon key (never the admin key), and none is configured or could be fetched', 'Set --anon-key (INSFORGE_ANON_KEY), or sign in first with sign-in.');
    }
    return authHeaders(await this.resolveDialect(signal), { anonKey }, 'anon');
  }

  /** The anon key (public: it goes into the app): the configured one, else the backend tells it to the admin key. */
  async anonKey(signal?: AbortSignal): Promise<string | undefined> {
    const target = await this.target();
    if (target.anonKey || this.identity.exclusive || !target.apiKey) return target.anonKey;
    return this.fetchAnonKey(target, signal);
  }

  /**
   * The backend's own guide on a topic, where it has one: its text, or why it did not answer
   * (undefined when this backend has no guides at all, as the embedded one).
   */
  async backendDocs(topic: string, signal?: AbortSignal): Promise<{ text: string } | { failed: string } | undefined> {
    const type = BACKEND_DOCS[await this.resolveDialect(signal)]?.[topic];
    if (!type) return undefined;
    try {
      const body = (await this.call({ method: 'GET', path: docsRoute(type), signal, auth: 'admin' })) as { content?: unknown };
      return typeof body?.content === 'string' && body.content.trim() ? { text: body.content } : { failed: 'it answered no content' };
    } catch (err) {
      if (err instanceof BackendError) return { failed: `${docsRoute(type)} answered ${err.status}` };
      throw err;
    }
  }

  /** Newest first, in one shape: {timestamp, message, …fields}. `since` is applied here too (InsForge has no such filter). */
  async getLogs(source: LogSource, q: { limit: number; since?: string; search?: string }, signal?: AbortSignal): Promise<{ entries: LogEntry[]; total?: number }> {
    const route = LOG_ROUTES[await this.resolveDialect(signal)][source];
    const search = q.search ?? route.search;
    const params = new URLSearchParams({ limit: String(q.limit), ...(q.since ? { since: q.since } : {}) });
    let raw: Record<string, unknown>[];
    let total: number | undefined;
    if (search) {
      params.set('q', search);
      params.set('source', route.source);
      raw = ((await this.call({ method: 'GET', path: ADMIN_ROUTES.logSearch, params, signal, auth: 'admin' })) as Record<string, unknown>[]) ?? [];
    } else {
      const body = (await this.call({ method: 'GET', path: ADMIN_ROUTES.logs(route.source), params, signal, auth: 'admin' })) as { logs?: Record<string, unknown>[]; total?: number };
      raw = body?.logs ?? [];
      total = typeof body?.total === 'number' ? body.total : undefined;
    }
    const since = q.since ? new Date(q.since).getTime() : undefined;
    const entries = raw.map(logEntry).filter((e) => since === undefined || new Date(e.timestamp).getTime() > since);
    entries.sort((a, b) => (a.timestamp < b.timestamp ? 1 : a.timestamp > b.timestamp ? -1 : 0));
    return { entries: entries.slice(0, q.limit), ...(total !== undefined && since === undefined ? { total } : {}) };
  }

  async listSchedules(signal?: AbortSignal): Promise<Record<string, unknown>[]> {
    return ((await this.call({ method: 'GET', path: ADMIN_ROUTES.schedules, signal, auth: 'admin' })) as Record<string, unknown>[]) ?? [];
  }

  /** A schedule that POSTs `body` to the function at its URL on this backend; answers the stored schedule. */
  async createSchedule(functionSlug: string, cron: string, body: Record<string, unknown> | undefined, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const functionUrl = `${await this.baseUrl()}/functions/${encodeURIComponent(functionSlug)}`;
    const json = { name: `${functionSlug} on ${cron}`, cronSchedule: cron, functionUrl, httpMethod: 'POST', ...(body ? { body } : {}) };
    const { id } = (await this.call({ method: 'POST', path: ADMIN_ROUTES.schedules, json, signal, auth: 'admin' })) as { id: string };
    return (await this.call({ method: 'GET', path: ADMIN_ROUTES.schedule(id), signal, auth: 'admin' })) as Record<string, unknown>;
  }

  async deleteSchedule(id: string, signal?: AbortSignal): Promise<void> {
    await this.call({ method: 'DELETE', path: ADMIN_ROUTES.schedule(id), signal, auth: 'admin', idempotent: true });
  }

  /** Names and dates only: no backend route of this client asks for a value. */
  async listSecrets(signal?: AbortSignal): Promise<Record<string, unknown>[]> {
    const body = (await this.call({ method: 'GET', path: ADMIN_ROUTES.secrets, signal, auth: 'admin' })) as { secrets?: Record<string, unknown>[] };
    return (body?.secrets ?? []).filter((s) => s.isActive !== false).map(({ value: _value, ...s }) => s);
  }

  /** Creates the secret, or changes its value when the name exists. */
  async setSecret(key: string, value: string, signal?: AbortSignal): Promise<{ created: boolean }> {
    try {
      await this.call({ method: 'POST', path: ADMIN_ROUTES.secrets, json: { key, value }, signal, auth: 'admin' });
      return { created: true };
    } catch (err) {
      if (!(err instanceof BackendError) || err.status !== 409) throw err;
    }
    await this.call({ method: 'PUT', path: ADMIN_ROUTES.secret(key), json: { value }, signal, auth: 'admin', idempotent: true });
    return { created: false };
  }

  async deleteSecret(key: string, signal?: AbortSignal): Promise<void> {
    await this.call({ method: 'DELETE', path: ADMIN_ROUTES.secret(key), signal, auth: 'admin', idempotent: true });
  }

  async runSql(query: string, params: unknown[] | undefined, signal?: AbortSignal, opts: { readOnly?: boolean } = {}): Promise<RawSqlResult> {
    if (opts.readOnly && (await this.resolveDialect(signal)) === 'insforge-v2') {
      // InsForge's raw SQL route has no read-only switch, and a client-side check of SQL text is not a guarantee
      throw new BackendError(501, 'READ_ONLY_UNSUPPORTED', 'run-sql cannot be made read-only against this backend', 'Use query-table to read, or run without --read-only.');
    }
    const json = { query, params: params ?? [], ...(opts.readOnly ? { readOnly: true } : {}) };
    const body = (await this.call({ method: 'POST', path: ADMIN_ROUTES.rawSql, json, signal, auth: 'admin' })) as { rows?: Record<string, unknown>[]; rowCount?: number | null };
    // InsForge answers a DDL statement with rowCount null: no count, not an error
    return { rows: Array.isArray(body?.rows) ? body.rows : [], ...(typeof body?.rowCount === 'number' ? { rowCount: body.rowCount } : {}) };
  }

  private async call(req: SendRequest): Promise<unknown> {
    return (await this.send(req)).body;
  }

  private async headersFor(auth: AuthMode, signal?: AbortSignal): Promise<Record<string, string>> {
    const target = await this.target();
    const anonKey = target.anonKey ?? (auth === 'anon' && target.apiKey && !this.identity.exclusive ? await this.fetchAnonKey(target, signal) : undefined);
    const creds: Credentials = this.identity.exclusive ? { token: this.identity.token } : { apiKey: target.apiKey, anonKey, token: this.identity.token };
    const dialect = auth === 'none' ? 'documented' : await this.resolveDialect(signal);
    return authHeaders(dialect, creds, auth);
  }

  /**
   * Given only the admin key, sign-up still goes out as the anon key (as an app would send it):
   * the backend tells it once, from /api/metadata/anon-key. Undefined if it cannot.
   */
  private fetchAnonKey(target: Target, signal?: AbortSignal): Promise<string | undefined> {
    const cache = this.detected;
    cache.anonKey ??= this.http
      .send<{ anonKey?: string }>({ method: 'GET', url: `${target.baseUrl}${ADMIN_ROUTES.anonKey}`, headers: { authorization: `Bearer ${target.apiKey}` }, signal })
      .then(
        (r) => r.body?.anonKey,
        () => (cache.anonKey = undefined), // unreachable now: ask again next time
      );
    return cache.anonKey;
  }

  private async send(req: SendRequest) {
    const target = await this.target();
    try {
      return await this.sendTo(target, req);
    } catch (err) {
      const next = err instanceof ConnectionRefused && this.opts.reconnect ? await this.opts.reconnect(target) : undefined;
      if (!next) throw err;
      return this.sendTo(next, req);
    }
  }

  private async sendTo(target: Target, req: SendRequest) {
    const headers = { ...(await this.headersFor(req.auth, req.signal)), ...req.headers };
    const query = req.params?.toString();
    const http: HttpRequest = { method: req.method, url: `${target.baseUrl}${req.path}${query ? `?${query}` : ''}`, headers, json: req.json, signal: req.signal, idempotent: req.idempotent };
    try {
      return await this.http.send(http);
    } catch (err) {
      // an admin route refused the anon key or a user's token, because no API key was configured
      const withoutApiKey = req.auth === 'admin' && !target.apiKey && !this.identity.exclusive;
      if (withoutApiKey && err instanceof BackendError && (err.status === 401 || err.status === 403)) {
        throw new BackendError(err.status, 'API_KEY_REQUIRED', `This needs the project's admin API key, and insforge-mcp was started without one (the backend said: ${err.message})`, "Restart insforge-mcp with --api-key (or INSFORGE_API_KEY) set to the project's admin key (ik_…).");
      }
      throw err;
    }
  }

  /** Which configured key data calls carry when no user is signed in (the settings require one). */
  async configuredKey(): Promise<'admin' | 'anon'> {
    return (await this.target()).apiKey ? 'admin' : 'anon';
  }
}

export interface LogEntry {
  timestamp: string;
  message: string;
  [field: string]: unknown;
}

/** InsForge's {id, timestamp, eventMessage, body} as {timestamp, message, …body}, without what repeats. */
function logEntry(e: Record<string, unknown>): LogEntry {
  const { id: _id, timestamp: _t, message: _m, ...fields } = (e.body && typeof e.body === 'object' ? e.body : {}) as Record<string, unknown>;
  return { timestamp: String(e.timestamp), message: String(e.eventMessage ?? _m ?? ''), ...fields };
}

interface SendRequest {
  method: HttpRequest['method'];
  path: string;
  params?: URLSearchParams;
  headers?: Record<string, string>;
  json?: unknown;
  signal?: AbortSignal;
  auth: AuthMode;
  idempotent?: boolean;
}

interface Identity {
  token?: string;
  /** The token replaces the configured keys for every call (stateless HTTP: the caller's own credential). */
  exclusive?: boolean;
}

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ApiError } from '../errors.js';
import { disconnectSignal } from '../disconnect.js';
import { requireAdmin, requireCaller } from '../caller.js';
import type { BackendContext } from '../context.js';
import { FunctionStore } from './store.js';
import { FunctionRunner, InvocationAborted, type FunctionLimits, type FunctionRequest, type FunctionResponse } from './runner.js';
import { clip, type LogBook } from '../logs/book.js';

/** Settable per backend; undefined means the default. */
export interface FunctionSettings {
  timeoutMs?: number;
  memoryMb?: number;
  /** A Deno binary of one's own; by default the npm package's. */
  denoPath?: string;
}

export interface FunctionsOptions {
  settings: FunctionSettings;
  log: (msg: string) => void;
  /** The project's secrets by name, decrypted, for the function's environment. */
  secrets?: () => Promise<Record<string, string>>;
  /** Where each invocation's status, duration, console output and error go (the functions source). */
  logs?: LogBook;
}

/** Console lines one invocation keeps in its functions log entry (each line at most 8 KiB). */
const LOGGED_LINES = 100;

/** What started an invocation, for its log entry. */
export type Trigger = { kind: 'http' } | { kind: 'schedule'; scheduleId: string };

/** Invokes a function as the schedules do: no credential, the schedule's method, headers and JSON body. */
export type InvokeFunction = (slug: string, request: { method: string; headers: Record<string, string>; body?: unknown }, trigger: Trigger) => Promise<{ status: number }>;

export const DEFAULT_LIMITS: FunctionLimits = { timeoutMs: 10_000, memoryMb: 64, maxConcurrent: 8 };

type SlugRequest = FastifyRequest<{ Params: { slug: string } }>;

const SLUG = /^[A-Za-z0-9_-]+$/;
const RESERVED_SLUGS = new Set(['health']);
const HANDLER_HELP = 'A function is `export default async (req) => new Response(…)` or `module.exports = async function (request) { … }`.';

const slug = z.string().regex(SLUG, 'only letters, digits, "_" and "-"').max(64);
const CreateBody = z.object({
  name: z.string().trim().min(1),
  code: z.string().min(1),
  slug: slug.optional(),
  description: z.string().nullish(),
  status: z.enum(['active', 'draft']).default('active'),
});
const UpdateBody = z.object({
  name: z.string().trim().min(1).optional(),
  code: z.string().min(1).optional(),
  description: z.string().nullish(),
  status: z.enum(['active', 'draft']).optional(),
});

function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body ?? {});
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
  throw new ApiError(400, 'INVALID_INPUT', issues, `Send {"name", "code", "slug"?, "description"?, "status"?: "active"|"draft"}. ${HANDLER_HELP}`);
}

/** A slug made from the name when none is given: "Send Welcome Email" → send-welcome-email. */
const slugFromName = (name: string) =>
  name
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '');

const alreadyExists = (name: string) => new ApiError(409, 'FUNCTION_ALREADY_EXISTS', `Function "${name}" already exists`, `Update it with PUT /api/functions/${name}, or choose another slug.`);
const notFound = (name: string) => new ApiError(404, 'FUNCTION_NOT_FOUND', `Function "${name}" not found`, 'List the functions with GET /api/functions, or create it with POST /api/functions.');

/** Headers that describe one hop of HTTP, not the message: Node and the runtime set their own. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer', 'host', 'content-length', 'expect']);

/** The backend's own address as seen from this machine, for functions that call back into it. */
function selfAddress(app: FastifyInstance): { host: string; port: number } {
  const a = app.server.address();
  if (!a || typeof a === 'string') throw new Error('the backend is not listening on TCP');
  const host = a.address === '0.0.0.0' || a.address === '::' ? '127.0.0.1' : a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return { host, port: a.port };
}

const selfUrl = (app: FastifyInstance) => {
  const { host, port } = selfAddress(app);
  return `http://${host}:${port}`;
};

/**
 * Where a function may connect: the backend's own API and nothing else — not the MCP HTTP endpoint,
 * not other services on this machine, not the internet (no outbound host is allowed yet).
 */
function allowedHosts(app: FastifyInstance): string[] {
  const { host, port } = selfAddress(app);
  return host === '127.0.0.1' ? [`127.0.0.1:${port}`, `localhost:${port}`] : [`${host}:${port}`];
}

/** The credential the caller sent, handed to the function so it can call the backend as the caller. */
function callerToken(req: FastifyRequest): string | undefined {
  const auth = /^Bearer\s+(\S+)/i.exec(req.headers.authorization ?? '')?.[1];
  const single = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  return auth ?? single(req.headers.apikey) ?? single(req.headers['x-api-key']);
}

/**
 * Functions: admin CRUD at the InsForge v2 paths, and invocation at the documented
 * `POST /api/functions/{slug}` (any valid key) and v2's open `ANY /functions/{slug}`.
 */
export function registerFunctionRoutes(app: FastifyInstance, ctx: BackendContext, opts: FunctionsOptions): InvokeFunction {
  const store = new FunctionStore(ctx.db.internal);
  const { settings } = opts;
  const runner = new FunctionRunner(
    { ...DEFAULT_LIMITS, timeoutMs: settings.timeoutMs ?? DEFAULT_LIMITS.timeoutMs, memoryMb: settings.memoryMb ?? DEFAULT_LIMITS.memoryMb },
    { denoPath: settings.denoPath, allowNet: () => allowedHosts(app) },
    opts.log,
  );
  app.addHook('onClose', () => runner.close());

  app.get('/api/functions', async (req) => {
    requireAdmin(req.caller);
    return { functions: await store.list(), runtime: { status: 'running' }, deploymentUrl: null };
  });

  app.post('/api/functions', async (req, reply) => {
    requireAdmin(req.caller);
    const body = parseBody(CreateBody, req.body);
    const fnSlug = body.slug ?? slugFromName(body.name);
    if (!SLUG.test(fnSlug)) throw new ApiError(400, 'INVALID_INPUT', `slug: cannot derive a slug from the name "${body.name}"`, 'Give a slug of letters, digits, "_" and "-".');
    if (RESERVED_SLUGS.has(fnSlug)) throw new ApiError(400, 'FUNCTION_SLUG_RESERVED', `The slug "${fnSlug}" is reserved`, 'Choose another slug.');
    if (await store.get(fnSlug)) throw alreadyExists(fnSlug);
    // code about to serve must load; a draft may be work in progress
    if (body.status === 'active') await runner.check(fnSlug, body.code);
    const created = await store.create({ ...body, slug: fnSlug });
    if (!created) throw alreadyExists(fnSlug); // created meanwhile by a concurrent request
    return reply.status(201).send({ success: true, function: created, deployment: null });
  });

  app.get('/api/functions/:slug', async (req: SlugRequest) => {
    requireAdmin(req.caller);
    const fn = await store.get(req.params.slug);
    if (!fn) throw notFound(req.params.slug);
    return fn;
  });

  app.put('/api/functions/:slug', async (req: SlugRequest) => {
    requireAdmin(req.caller);
    const changes = parseBody(UpdateBody, req.body);
    const current = await store.get(req.params.slug);
    if (!current) throw notFound(req.params.slug);
    const goesLive = (changes.status ?? current.status) === 'active' && (changes.code !== undefined || current.status !== 'active');
    if (goesLive) await runner.check(current.slug, changes.code ?? current.code);
    const updated = await store.update(current.slug, changes);
    if (!updated) throw notFound(req.params.slug);
    return { success: true, function: updated, deployment: null };
  });

  app.delete('/api/functions/:slug', async (req: SlugRequest) => {
    requireAdmin(req.caller);
    if (!(await store.remove(req.params.slug))) throw notFound(req.params.slug);
    return { success: true, message: `Function ${req.params.slug} deleted successfully` };
  });

  /** Runs one invocation and logs it (functions source), whatever its outcome. */
  const run = async (name: string, request: FunctionRequest, token: string | undefined, trigger: Trigger, signal?: AbortSignal): Promise<FunctionResponse> => {
    // looked up outside any transaction: the function may call back into the backend
    const code = await store.activeCode(name);
    if (code === undefined) throw new ApiError(404, 'FUNCTION_NOT_FOUND', `Function "${name}" not found or not active`, 'List the functions with GET /api/functions; a draft must be set to "active" first.');
    const baseUrl = selfUrl(app);
    // What InsForge gives its functions too (INSFORGE_INTERNAL_URL is its name for the backend seen
    // from the functions runtime; ANON_KEY is public), and the caller's own credential. Never the
    // admin key unless the caller sent it. The project's secrets come first, so they cannot replace these.
    const secrets = (await opts.secrets?.()) ?? {};
    const env: Record<string, string> = { ...secrets, INSFORGE_BASE_URL: baseUrl, INSFORGE_INTERNAL_URL: baseUrl, ANON_KEY: ctx.keys.anonKey, ...(token ? { INSFORGE_TOKEN: token } : {}) };
    const output: string[] = [];
    const started = performance.now();
    const logged = (status: number, error?: ApiError) => {
      const durationMs = Math.round(performance.now() - started);
      const stack = typeof error?.extra.details === 'string' ? clip(error.extra.details) : undefined;
      opts.logs?.add('functions', `${name} ${request.method} ${status} ${durationMs}ms${error ? `: ${error.message}` : ''}`, {
        slug: name,
        method: request.method,
        status,
        durationMs,
        trigger: trigger.kind,
        ...(trigger.kind === 'schedule' ? { scheduleId: trigger.scheduleId } : {}),
        output,
        ...(error ? { error: clip(error.message, 2048), ...(stack ? { stack } : {}) } : {}),
      });
    };
    try {
      const res = await runner.invoke(name, code, { ...request, url: `${baseUrl}${request.url}` }, env, signal, (line) => {
        if (output.length < LOGGED_LINES) output.push(line);
      });
      logged(res.status);
      return res;
    } catch (err) {
      if (err instanceof ApiError) logged(err.statusCode, err);
      else if (err instanceof InvocationAborted) logged(499, new ApiError(499, 'CLIENT_CLOSED', 'the caller went away before the function answered'));
      throw err;
    }
  };

  const invoke = async (req: SlugRequest, reply: FastifyReply) => {
    const headers = Object.entries(req.headers).flatMap(([k, v]) => (HOP_BY_HOP.has(k) || v === undefined ? [] : (Array.isArray(v) ? v : [v]).map((one): [string, string] => [k, one])));
    const body = Buffer.isBuffer(req.body) ? new Uint8Array(req.body.buffer, req.body.byteOffset, req.body.byteLength) : undefined;
    let res;
    try {
      res = await run(req.params.slug, { method: req.method, url: req.url, headers, body }, callerToken(req), { kind: 'http' }, disconnectSignal(reply));
    } catch (err) {
      if (err instanceof InvocationAborted) return reply.hijack(); // nobody is listening any more
      throw err;
    }
    reply.status(res.status);
    for (const [k, v] of res.headers) if (!HOP_BY_HOP.has(k)) reply.header(k, k === 'set-cookie' ? [...toArray(reply.getHeader(k)), v] : v);
    return reply.send(Buffer.from(res.body.buffer, res.body.byteOffset, res.body.byteLength));
  };

  // Invocation bodies reach the function as they were sent, whatever their type: in this scope
  // every content type is read as raw bytes instead of being parsed.
  void app.register(async (raw) => {
    raw.removeAllContentTypeParsers();
    raw.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    raw.post('/api/functions/:slug', async (req: SlugRequest, reply) => {
      requireCaller(req.caller);
      return invoke(req, reply);
    });
    raw.all('/functions/:slug', invoke);
  });

  return async (slug, request, trigger) => {
    const hasBody = request.body !== undefined && request.method !== 'GET';
    const json = hasBody ? new TextEncoder().encode(JSON.stringify(request.body)) : undefined;
    const headers = Object.entries({ ...(json ? { 'content-type': 'application/json' } : {}), ...request.headers }).filter(([k]) => !HOP_BY_HOP.has(k.toLowerCase()));
    const res = await run(slug, { method: request.method, url: `/functions/${encodeURIComponent(slug)}`, headers, body: json }, undefined, trigger);
    return { status: res.status };
  };
}

const toArray = (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);

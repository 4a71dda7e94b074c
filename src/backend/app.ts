import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import { ApiError, fromPgError, isPgError } from './errors.js';
import { identifyCaller, type Caller } from './caller.js';
import type { BackendContext } from './context.js';
import { PostgrestError } from './db/postgrest.js';
import { registerRecordRoutes } from './db/records.js';
import { registerAdminRoutes } from './admin/routes.js';
import { registerAuthRoutes } from './auth/routes.js';
import { registerAuthV2Routes } from './auth/routes-v2.js';
import { Accounts } from './auth/accounts.js';
import { registerTableRoutes } from './db/tables.js';
import { registerStorageRoutes, type StorageOptions } from './storage/routes.js';
import { registerAiRoutes } from './ai/routes.js';
import type { AiProviderOptions } from './ai/provider.js';
import { registerFunctionRoutes, type FunctionSettings } from './functions/routes.js';
import { SecretStore } from './secrets/store.js';
import { registerSecretRoutes } from './secrets/routes.js';
import { LogBook } from './logs/book.js';
import { logRequests, watchStatements } from './logs/hooks.js';
import { registerLogRoutes } from './logs/routes.js';
import { ScheduleStore } from './schedules/store.js';
import { Scheduler } from './schedules/runner.js';
import { registerScheduleRoutes } from './schedules/routes.js';

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
  }
}

export interface AppOptions {
  corsOrigins?: string[];
  /** Requests per minute per anon key and client address / user / address. */
  rateLimit: number;
  /** Requests per minute for the admin key. */
  adminRateLimit: number;
  bodyLimit?: number;
  storage: StorageOptions;
  ai?: AiProviderOptions;
  functions?: FunctionSettings;
  log?: (msg: string) => void;
}

/** Turns anything thrown in a route into the seed's envelope. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof PostgrestError) {
    const kind = err.status === 404 ? 'DATABASE_NOT_FOUND' : err.status === 406 ? 'NOT_ACCEPTABLE' : 'INVALID_INPUT';
    const next = err.code === 'PGRST202' ? 'Check the function name and its argument names (GET /api/metadata lists the functions), or create it with SQL.' : "Fix the query string: filters, select, order and limit follow PostgREST's grammar.";
    return new ApiError(err.status, kind, err.message, err.nextActions ?? err.hint ?? next, {
      code: err.code,
      ...(err.details ? { details: err.details } : {}),
      ...(err.hint ? { hint: err.hint } : {}),
    });
  }
  if (isPgError(err)) return fromPgError(err);
  const fe = err as FastifyError;
  if (fe?.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new ApiError(413, 'PAYLOAD_TOO_LARGE', fe.message, 'Send less data per request, e.g. insert in batches.');
  if (fe?.code?.startsWith('FST_ERR_CTP') || fe?.code === 'FST_ERR_VALIDATION') return new ApiError(400, 'INVALID_INPUT', fe.message, 'Check the request body and Content-Type.');
  if (fe?.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) return new ApiError(fe.statusCode, 'INVALID_INPUT', fe.message);
  return new ApiError(500, 'INTERNAL_ERROR', 'Internal server error', 'This is a bug in the backend; the server log has the details.');
}

/** Deepest nesting of arrays and objects a JSON body may have. */
export const MAX_JSON_DEPTH = 512;

/** How deeply a JSON text nests, counted without parsing it (brackets inside strings do not count). */
export function nestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) max = Math.max(max, ++depth);
    else if (c === 93 || c === 125) depth--;
  }
  return max;
}

export async function buildApp(unwatched: BackendContext, opts: AppOptions): Promise<FastifyInstance> {
  // the logs (api, functions, auth, database): in memory, bounded (logs/book.ts)
  const logs = new LogBook();
  const ctx = watchStatements(unwatched, logs);
  // forceCloseConnections: stopping (Ctrl-C, the MCP client going away) cuts open connections at once;
  // otherwise a stream whose caller vanished holds close() for the 72 s keep-alive timeout
  const app = Fastify({ logger: false, bodyLimit: opts.bodyLimit ?? 100 * 1024 * 1024, routerOptions: { ignoreTrailingSlash: true }, forceCloseConnections: true });

  // JSON bodies may be empty (RPC without arguments); anything else malformed is a 400 envelope.
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    if (body === '') return done(null, undefined);
    // JSON.parse copes with any depth, but everything that walks the value afterwards recurses
    // each level takes two characters, so only a longer body can be too deep
    if ((body as string).length > 2 * MAX_JSON_DEPTH && nestingDepth(body as string) > MAX_JSON_DEPTH) {
      return done(new ApiError(400, 'INVALID_INPUT', `Request body is nested more than ${MAX_JSON_DEPTH} levels deep`, 'Send flatter JSON: rows as objects of columns, json values of reasonable depth.'), undefined);
    }
    try {
      done(null, JSON.parse(body as string));
    } catch {
      done(new ApiError(400, 'INVALID_INPUT', 'Request body is not valid JSON', 'Send a JSON object or array with Content-Type: application/json.'), undefined);
    }
  });

  await app.register(cors, {
    origin: opts.corsOrigins && !opts.corsOrigins.includes('*') ? opts.corsOrigins : true,
    credentials: true,
    exposedHeaders: ['Content-Range', 'Content-Length', 'Content-Disposition', 'ETag', 'Accept-Ranges', 'Preference-Applied', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset', 'Retry-After'],
  });

  // Who is calling is settled before rate limiting, so each key or user has its own budget.
  // Routes open to anyone ignore a credential that is not valid (an expired token) instead of refusing it.
  app.addHook('onRequest', async (req) => {
    try {
      req.caller = await identifyCaller(req.headers, ctx.keys, ctx.tokens.verify);
    } catch (err) {
      if (!req.routeOptions.config?.tolerateBadCredentials) throw err;
    }
  });

  await app.register(rateLimit, {
    global: true,
    hook: 'preHandler',
    timeWindow: 60_000,
    max: (req) => (req.caller?.role === 'project_admin' ? opts.adminRateLimit : opts.rateLimit),
    // the anon key is public (every visitor of the app has it): its budget is per client address too,
    // so one client's burst cannot lock everyone else out
    keyGenerator: (req) => (req.caller?.role === 'anon' ? `${req.caller.rateKey}:${req.ip}` : (req.caller?.rateKey ?? `ip:${req.ip}`)),
    errorResponseBuilder: (_req, context) =>
      new ApiError(429, 'TOO_MANY_REQUESTS', `Rate limit exceeded: ${context.max} requests per minute`, `Wait ${Math.ceil(context.ttl / 1000)} s (see Retry-After) and retry.`),
  });

  app.setErrorHandler((err, req, reply) => {
    const apiErr = toApiError(err);
    if (apiErr.statusCode >= 500 && apiErr.error === 'INTERNAL_ERROR') opts.log?.(`${req.method} ${req.url.split('?')[0]}: ${(err as Error)?.stack ?? String(err)}`);
    void reply.status(apiErr.statusCode).type('application/json').send(apiErr.toEnvelope());
  });
  app.setNotFoundHandler((req, reply) => {
    const e = new ApiError(404, 'NOT_FOUND', `Endpoint ${req.method} ${req.url.split('?')[0]} not found`, 'Please check the API documentation for available endpoints.');
    void reply.status(404).send(e.toEnvelope());
  });

  logRequests(app, logs);
  registerLogRoutes(app, logs);
  registerRecordRoutes(app, ctx);
  registerAdminRoutes(app, ctx);
  const accounts = new Accounts(ctx.db.internal);
  registerAuthRoutes(app, ctx, accounts);
  registerAuthV2Routes(app, ctx, accounts);
  registerTableRoutes(app, ctx);
  registerStorageRoutes(app, ctx, opts.storage);
  registerAiRoutes(app, opts.ai ?? {});
  const secrets = new SecretStore(ctx.db.internal, ctx.keys.encryptionKey);
  registerSecretRoutes(app, secrets);
  const invoke = registerFunctionRoutes(app, ctx, { settings: opts.functions ?? {}, log: opts.log ?? (() => undefined), secrets: () => secrets.environment(), logs });
  // schedules run once the backend listens (their functions call back into it) and stop with it
  const schedules = new ScheduleStore(ctx.db.internal);
  const scheduler = new Scheduler(schedules, invoke, opts.log ?? (() => undefined));
  const functionExists = async (slug: string) => (await ctx.db.internal.query('SELECT 1 FROM functions.definitions WHERE slug = $1', [slug])).rows.length > 0;
  registerScheduleRoutes(app, schedules, scheduler, functionExists);
  app.addHook('onListen', async () => scheduler.start().catch((err: Error) => opts.log?.(`schedules could not start: ${err.message}`)));
  app.addHook('onClose', async () => scheduler.stop());
  return app;
}

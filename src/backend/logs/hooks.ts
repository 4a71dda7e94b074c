import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { BackendContext } from '../context.js';
import type { CallerTx } from '../db/types.js';
import { ApiError, isPgError } from '../errors.js';
import { PostgrestError } from '../db/postgrest.js';
import { clip, type LogBook } from './book.js';

/** A statement slower than this is logged in the database source even when it succeeds. */
export const SLOW_STATEMENT_MS = 500;

/** The auth routes of both dialects, and what happened when one answered. */
const AUTH_EVENTS: Record<string, string> = {
  'POST /api/auth/signup': 'sign-up',
  'POST /api/auth/users': 'sign-up',
  'POST /api/auth/signin': 'sign-in',
  'POST /api/auth/sessions': 'sign-in',
  'POST /api/auth/signout': 'sign-out',
  'POST /api/auth/logout': 'sign-out',
  'POST /api/auth/refresh': 'refresh',
};

declare module 'fastify' {
  interface FastifyRequest {
    /** Why the request failed, for the logs (set by the onError hook). */
    failure?: string;
  }
}

const pathOf = (req: FastifyRequest) => req.url.split('?')[0]!;

/**
 * Logs every answered request in `api` (method, path without its query, status, duration, the
 * caller's role: never a header, a key, a token or a body), and sign-ups, sign-ins and their failures
 * in `auth` (with the email given, never the password). Reads of the logs themselves are left out.
 */
export function logRequests(app: FastifyInstance, book: LogBook): void {
  app.addHook('onError', async (req, _reply, err) => {
    // messages written for the caller only; anything else is a bug whose details stay in the server log
    req.failure = err instanceof ApiError || err instanceof PostgrestError || isPgError(err) ? err.message : 'internal error';
  });
  app.addHook('onResponse', async (req, reply) => {
    const path = pathOf(req);
    if (path.startsWith('/api/logs')) return;
    const status = reply.statusCode;
    const durationMs = Math.round(reply.elapsedTime);
    const role = req.caller?.role ?? 'none';
    book.add('api', `${req.method} ${path} ${status} ${durationMs}ms`, { method: req.method, path, status, durationMs, role, ...(req.failure ? { error: clip(req.failure, 1024) } : {}) });
    const event = AUTH_EVENTS[`${req.method} ${path}`];
    if (!event) return;
    const email = (req.body as { email?: unknown } | undefined)?.email;
    const ok = status < 400;
    book.add('auth', `${event} ${ok ? 'succeeded' : 'failed'}${typeof email === 'string' ? ` for ${email}` : ''}`, {
      event,
      ok,
      status,
      ...(typeof email === 'string' ? { email: clip(email, 320) } : {}),
      ...(!ok && req.failure ? { reason: clip(req.failure, 1024) } : {}),
    });
  });
}

/**
 * The same context, with every caller statement timed: failed ones and slow ones go to `database`
 * with their text (never their parameters). The backend's own statements (db.internal) are not logged.
 */
export function watchStatements(ctx: BackendContext, book: LogBook): BackendContext {
  const timed = async <T>(text: string, run: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      const result = await run();
      const durationMs = Math.round(performance.now() - started);
      if (durationMs >= SLOW_STATEMENT_MS) book.add('database', `slow statement: ${durationMs}ms`, { slow: true, durationMs, statement: clip(text, 2048) });
      return result;
    } catch (err) {
      if (isPgError(err)) {
        const durationMs = Math.round(performance.now() - started);
        book.add('database', `failed statement: ${err.message}`, { failed: true, code: err.code, message: clip(err.message, 1024), durationMs, statement: clip(text, 2048) });
      }
      throw err;
    }
  };
  const watchTx = (tx: CallerTx): CallerTx => ({
    query: (text, values) => timed(text, () => tx.query(text, values)),
    rows: (text, values) => timed(text, () => tx.rows(text, values)),
    script: (statements, values) => timed(statements.join(';\n'), () => tx.script(statements, values)),
  });
  return {
    ...ctx,
    runAs: (caller, fn, opts) => ctx.runAs(caller, (tx) => fn(watchTx(tx)), opts),
    runOne: (caller, text, values) => timed(text, () => ctx.runOne(caller, text, values)),
  };
}

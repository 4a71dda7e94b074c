import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';
import { requireAdmin } from '../caller.js';
import { LOG_SOURCES, type LogBook, type LogSource } from './book.js';

/** InsForge's source names, for clients written against it. */
const INSFORGE_NAMES: Record<string, LogSource> = { 'insforge.logs': 'api', 'function.logs': 'functions', 'postgres.logs': 'database', 'postgREST.logs': 'api' };

const sourceOf = (name: string): LogSource => {
  const source = (LOG_SOURCES as readonly string[]).includes(name) ? (name as LogSource) : INSFORGE_NAMES[name];
  if (!source) throw new ApiError(404, 'LOG_NOT_FOUND', `No log source "${name}"`, `Sources: ${LOG_SOURCES.join(', ')} (GET /api/logs/sources).`);
  return source;
};

const single = (v: unknown) => (Array.isArray(v) ? v[0] : v) as string | undefined;

function limitOf(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 100;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new ApiError(400, 'INVALID_INPUT', 'limit must be an integer from 1 to 1000', 'Send e.g. ?limit=100.');
  return n;
}

function timeOf(raw: string | undefined, name: string): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  const t = new Date(raw);
  if (Number.isNaN(t.getTime())) throw new ApiError(400, 'INVALID_INPUT', `${name} must be an ISO 8601 time`, `Send e.g. ?${name}=2026-01-01T00:00:00Z.`);
  return t.toISOString();
}

type Query = Record<string, unknown>;

/**
 * InsForge v2's logs routes (admin key): GET /api/logs/sources, GET /api/logs/{source}?limit&before_timestamp
 * → {logs, total}, GET /api/logs/search?q&source&limit&offset → [entries with their source]. Also
 * `since` and `q` on /api/logs/{source}, which InsForge does not have.
 */
export function registerLogRoutes(app: FastifyInstance, book: LogBook): void {
  app.get('/api/logs/sources', async (req) => {
    requireAdmin(req.caller);
    return LOG_SOURCES.map((name, i) => ({ id: String(i + 1), name, token: name }));
  });

  app.get('/api/logs/search', async (req) => {
    requireAdmin(req.caller);
    const q = req.query as Query;
    const search = single(q.q);
    if (!search) throw new ApiError(400, 'INVALID_INPUT', 'Search query parameter (q) is required', 'Send ?q=text, optionally &source=functions.');
    const source = single(q.source);
    const offset = Number(single(q.offset) ?? 0);
    if (!Number.isInteger(offset) || offset < 0) throw new ApiError(400, 'INVALID_INPUT', 'offset must be a non-negative integer', 'Send e.g. ?offset=0.');
    const limit = limitOf(single(q.limit));
    const { logs } = book.read(source ? [sourceOf(source)] : LOG_SOURCES, { limit: limit + offset, search });
    return logs.slice(offset);
  });

  app.get('/api/logs/:source', async (req: FastifyRequest<{ Params: { source: string } }>) => {
    requireAdmin(req.caller);
    const q = req.query as Query;
    const { logs, total } = book.read([sourceOf(req.params.source)], {
      limit: limitOf(single(q.limit)),
      since: timeOf(single(q.since), 'since'),
      before: timeOf(single(q.before_timestamp), 'before_timestamp'),
      search: single(q.q) || undefined,
    });
    return { logs: logs.map(({ source: _source, ...e }) => e), total };
  });
}

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ApiError } from '../errors.js';
import { requireAdmin } from '../caller.js';
import { cronPattern } from './cron.js';
import type { Scheduler } from './runner.js';
import type { ScheduleRow, ScheduleStore } from './store.js';

type IdRequest = FastifyRequest<{ Params: { id: string } }>;

const METHOD = z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
const Fields = {
  name: z.string().min(3, 'Schedule name must be at least 3 characters long'),
  cronSchedule: z.string(),
  functionUrl: z.string().url('The function URL must be a valid URL.'),
  httpMethod: METHOD,
  headers: z.record(z.string(), z.string()).optional(),
  body: z.record(z.string(), z.unknown()).optional(),
};
const CreateBody = z.object(Fields);
const UpdateBody = z.object({ ...Fields, isActive: z.boolean() }).partial();

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body ?? {});
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join(', ');
  throw new ApiError(400, 'INVALID_INPUT', issues, 'Send {"name", "cronSchedule", "functionUrl": "<backend>/functions/{slug}", "httpMethod": "POST", "body"?}.');
}

/** This backend runs only its own functions: the slug in …/functions/{slug}. */
function slugOf(functionUrl: string): string {
  const m = /^\/(?:api\/)?functions\/([A-Za-z0-9_-]+)\/?$/.exec(new URL(functionUrl).pathname);
  if (!m) throw new ApiError(400, 'INVALID_INPUT', 'functionUrl: must be this backend\'s function URL, …/functions/{slug}', 'Schedules here run this backend\'s own functions; deploy one, then give its URL.');
  return m[1]!;
}

const notFound = (id: string) => new ApiError(404, 'SCHEDULE_NOT_FOUND', `Schedule not found: ${id}`, 'List the schedules with GET /api/schedules.');

/** InsForge v2's schedules routes (admin key), run by this backend itself (runner.ts). */
export function registerScheduleRoutes(app: FastifyInstance, store: ScheduleStore, scheduler: Scheduler, functionExists: (slug: string) => Promise<boolean>): void {
  const shaped = ({ functionSlug: _slug, ...row }: ScheduleRow) => ({ ...row, cronJobId: row.id, nextRun: scheduler.nextRun(row.id) });
  const existing = async (slug: string) => {
    if (!(await functionExists(slug))) throw new ApiError(404, 'FUNCTION_NOT_FOUND', `Function "${slug}" not found`, 'Deploy it first (POST /api/functions), then schedule it.');
    return slug;
  };

  app.get('/api/schedules', async (req) => {
    requireAdmin(req.caller);
    return (await store.list()).map(shaped);
  });

  app.get('/api/schedules/:id', async (req: IdRequest) => {
    requireAdmin(req.caller);
    const row = await store.get(req.params.id);
    if (!row) throw notFound(req.params.id);
    return shaped(row);
  });

  app.get('/api/schedules/:id/logs', async (req: IdRequest) => {
    requireAdmin(req.caller);
    if (!(await store.get(req.params.id))) throw notFound(req.params.id);
    const q = req.query as Record<string, string | undefined>;
    const limit = Math.min(Math.max(1, parseInt(q.limit ?? '', 10) || 50), 100);
    const offset = Math.max(0, parseInt(q.offset ?? '', 10) || 0);
    const { logs, total } = await store.runs(req.params.id, limit, offset);
    return { logs, totalCount: total, limit, offset };
  });

  app.post('/api/schedules', async (req, reply) => {
    requireAdmin(req.caller);
    const body = parse(CreateBody, req.body);
    cronPattern(body.cronSchedule);
    const functionSlug = await existing(slugOf(body.functionUrl));
    const row = await store.create({ ...body, functionSlug, headers: body.headers ?? {}, body: body.body });
    scheduler.set(row);
    return reply.status(201).send({ id: row.id, cronJobId: row.id, message: 'Schedule created successfully' });
  });

  app.patch('/api/schedules/:id', async (req: IdRequest) => {
    requireAdmin(req.caller);
    const body = parse(UpdateBody, req.body);
    if (body.cronSchedule !== undefined) cronPattern(body.cronSchedule);
    const functionSlug = body.functionUrl !== undefined ? await existing(slugOf(body.functionUrl)) : undefined;
    const row = await store.update(req.params.id, { ...body, functionSlug });
    if (!row) throw notFound(req.params.id);
    scheduler.set(row);
    return { id: row.id, cronJobId: row.id, message: 'Schedule updated successfully' };
  });

  app.delete('/api/schedules/:id', async (req: IdRequest) => {
    requireAdmin(req.caller);
    if (!(await store.remove(req.params.id))) throw notFound(req.params.id);
    scheduler.unset(req.params.id);
    return { message: 'Schedule deleted successfully.' };
  });
}

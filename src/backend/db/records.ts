import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, TABLE_NOT_FOUND_NEXT, uidWasNull } from '../errors.js';
import { requireCaller } from '../caller.js';
import type { BackendContext } from '../context.js';
import { buildDelete, buildInsert, buildRpc, buildSelect, buildUpdate, functionNotFound, parsePrefer, parseRange, resolvePaging, toSingleObject, wantsSingleObject, type BuiltQuery, type Prefer } from './postgrest.js';
import type { TableInfo } from './types.js';

/** Each built statement answers one row: the JSON body as text, the row count, the total if counted. */
interface Outcome {
  body: string | null;
  n: number;
  total: string | number | null;
}

const OBJECT_MEDIA = 'application/vnd.pgrst.object+json';

const wantsObject = (req: FastifyRequest) => wantsSingleObject(req.headers.accept);

/**
 * The raw query string: PostgREST keys repeat and carry dots, which a parsed object would lose.
 * Clients may name the schema (InsForge v2's `schema=`, PostgREST's Accept-Profile and
 * Content-Profile headers, which the SDK's `.schema()` sends); only public is exposed.
 */
function queryOf(req: FastifyRequest): URLSearchParams {
  const query = new URLSearchParams(req.url.split('?')[1] ?? '');
  const profile = req.headers[req.method === 'GET' || req.method === 'HEAD' ? 'accept-profile' : 'content-profile'];
  for (const schema of [query.get('schema'), ...(Array.isArray(profile) ? profile : [profile])]) {
    if (schema !== null && schema !== undefined && schema !== 'public') {
      throw new ApiError(406, 'INVALID_INPUT', `schema "${schema}" is not exposed`, 'Only the public schema is served; drop the schema parameter or profile header.', { code: 'PGRST106' });
    }
  }
  query.delete('schema');
  return query;
}

async function tableOrThrow(ctx: BackendContext, name: string): Promise<TableInfo> {
  const table = await ctx.catalog.table(name);
  if (!table) {
    throw new ApiError(404, 'DATABASE_NOT_FOUND', `relation "public.${name}" does not exist`, TABLE_NOT_FOUND_NEXT, { code: '42P01' });
  }
  return table;
}

async function run(ctx: BackendContext, req: FastifyRequest, q: BuiltQuery): Promise<Outcome> {
  const caller = requireCaller(req.caller);
  const { rows } = await ctx.runAs(caller, (tx) => tx.query<Outcome>(q.text, q.values));
  const row = rows[0];
  if (!row) throw new Error('statement returned no outcome row');
  return { body: row.body, n: Number(row.n), total: row.total };
}

/** A single-object Accept header turns `[x]` into `x`, and anything but exactly one row into 406. */
const shapeBody = (req: FastifyRequest, out: Outcome) => (wantsObject(req) && out.body !== null ? toSingleObject(out) : out.body);

function contentRange(offset: number, out: Outcome): string {
  const total = out.total === null ? '*' : String(out.total);
  return out.n === 0 ? `*/${total}` : `${offset}-${offset + out.n - 1}/${total}`;
}

function sendJson(reply: FastifyReply, status: number, body: string | null, req: FastifyRequest) {
  reply.status(status);
  if (body === null || req.method === 'HEAD') return reply.send();
  return reply.type(wantsObject(req) ? `${OBJECT_MEDIA}; charset=utf-8` : 'application/json; charset=utf-8').send(body);
}

function preferenceApplied(reply: FastifyReply, prefer: Prefer) {
  const applied = [prefer.resolution ? `resolution=${prefer.resolution}` : '', prefer.count ? 'count=exact' : '', prefer.missingDefault ? 'missing=default' : ''].filter(Boolean);
  if (applied.length) reply.header('Preference-Applied', applied.join(', '));
}

export function registerRecordRoutes(app: FastifyInstance, ctx: BackendContext): void {
  const read = async (req: FastifyRequest<{ Params: { table: string } }>, reply: FastifyReply) => {
    const table = await tableOrThrow(ctx, req.params.table);
    const prefer = parsePrefer(req.headers.prefer);
    const range = parseRange(req.headers.range);
    const query = queryOf(req);
    const out = await run(ctx, req, buildSelect(table, query, { range, count: prefer.count }));
    reply.header('Content-Range', contentRange(resolvePaging(query, range).offset, out));
    preferenceApplied(reply, prefer);
    const total = out.total === null ? undefined : Number(out.total);
    // A Range request is answered as a part; with a known total, so is any page that is not all of it.
    const partial = range !== undefined || (total !== undefined && out.n < total);
    return sendJson(reply, partial ? 206 : 200, shapeBody(req, out), req);
  };

  const insert = async (req: FastifyRequest<{ Params: { table: string } }>, reply: FastifyReply) => {
    const table = await tableOrThrow(ctx, req.params.table);
    const prefer = parsePrefer(req.headers.prefer);
    const out = await run(ctx, req, buildInsert(table, queryOf(req), req.body, prefer)).catch((err: unknown) => {
      throw uidWasNull(err, table, requireCaller(req.caller).role) ?? err;
    });
    preferenceApplied(reply, prefer);
    reply.header('Content-Range', `*/${out.n}`);
    return sendJson(reply, 201, prefer.return === 'representation' ? shapeBody(req, out) : null, req);
  };

  const change = (kind: 'update' | 'delete') => async (req: FastifyRequest<{ Params: { table: string } }>, reply: FastifyReply) => {
    const table = await tableOrThrow(ctx, req.params.table);
    const prefer = parsePrefer(req.headers.prefer);
    const q = kind === 'update' ? buildUpdate(table, queryOf(req), req.body, prefer) : buildDelete(table, queryOf(req), prefer);
    const out = await run(ctx, req, q);
    reply.header('Content-Range', out.n === 0 ? '*/*' : `0-${out.n - 1}/*`);
    if (prefer.return === 'representation') return sendJson(reply, 200, shapeBody(req, out), req);
    return reply.status(204).send();
  };

  const rpc = async (req: FastifyRequest<{ Params: { fn: string } }>, reply: FastifyReply) => {
    const candidates = await ctx.catalog.functionsNamed(req.params.fn);
    const query = queryOf(req);
    const args = req.method === 'GET' ? Object.fromEntries(query) : ((req.body ?? {}) as Record<string, unknown>);
    if (typeof args !== 'object' || args === null || Array.isArray(args)) {
      throw new ApiError(400, 'INVALID_INPUT', 'RPC arguments must be a JSON object of named arguments', 'Send e.g. {"user_id": "123"}.');
    }
    // no function of that name at all: say which, with the argument names given (PostgREST's wording)
    if (candidates.length === 0) throw functionNotFound('public', req.params.fn, Object.keys(args));
    const out = await run(ctx, req, buildRpc(candidates, args, req.method === 'GET' ? undefined : query));
    return sendJson(reply, 200, shapeBody(req, out), req);
  };

  // The documented routes and the InsForge v2 ones share the handlers.
  // GET also answers HEAD (Fastify's exposeHeadRoutes); sendJson drops the body for it.
  for (const base of ['/api/db', '/api/database/records']) {
    app.get(`${base}/:table`, read);
    app.post(`${base}/:table`, insert);
    app.patch(`${base}/:table`, change('update'));
    app.delete(`${base}/:table`, change('delete'));
  }
  for (const base of ['/api/db/rpc', '/api/database/rpc']) {
    app.get(`${base}/:fn`, rpc);
    app.post(`${base}/:fn`, rpc);
  }
}

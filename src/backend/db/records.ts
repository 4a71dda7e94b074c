import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, TABLE_NOT_FOUND_NEXT, uidWasNull } from '../errors.js';
import { requireCaller } from '../caller.js';
import type { BackendContext } from '../context.js';
import {
  PostgrestError,
  buildDelete,
  buildInsert,
  buildRpc,
  buildSelect,
  buildUpdate,
  functionNotFound,
  checkStrictPreferences,
  negotiateMedia,
  parsePrefer,
  parseRange,
  resolvePaging,
  toSingleObject,
  type BuiltQuery,
  type Media,
  type Prefer,
} from './postgrest.js';
import { isRpcFilter } from './postgrest-parse.js';
import type { TableInfo } from './types.js';

/** Each built statement answers one row: the body as text, the row count, the total if counted. */
interface Outcome {
  body: string | null;
  n: number;
  total: string | number | null;
}

const OBJECT_MEDIA = 'application/vnd.pgrst.object+json';
const JSON_MEDIA: Media = { kind: 'json', stripNulls: false };

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
      // PostgREST's own wording (406 PGRST106)
      const err = new PostgrestError(406, 'PGRST106', `Invalid schema: ${schema}`, 'Only the following schemas are exposed: public');
      err.nextActions = 'Only the public schema is served; drop the schema parameter or the Accept-Profile / Content-Profile header.';
      throw err;
    }
  }
  query.delete('schema');
  return query;
}

/**
 * Prefer, checked before anything runs: unknown preferences under handling=strict are 400 PGRST122;
 * the ones that cannot be honoured in one statement are refused (PGRST127) rather than ignored.
 */
function preferOf(req: FastifyRequest): Prefer {
  const prefer = parsePrefer(req.headers.prefer);
  checkStrictPreferences(prefer);
  if (prefer.timezone !== undefined) {
    throw new PostgrestError(400, 'PGRST127', 'Prefer: timezone is not supported by this backend', undefined, `Times are returned in the database's own time zone; convert "${prefer.timezone}" in the client.`);
  }
  if (prefer.singleObjectParams) {
    throw new PostgrestError(400, 'PGRST127', 'Prefer: params=single-object is not supported by this backend', undefined, 'Send the arguments as named keys of the JSON body.');
  }
  return prefer;
}

async function tableOrThrow(ctx: BackendContext, name: string): Promise<TableInfo> {
  const table = await ctx.catalog.table(name);
  if (!table) {
    throw new ApiError(404, 'DATABASE_NOT_FOUND', `relation "public.${name}" does not exist`, TABLE_NOT_FOUND_NEXT, { code: '42P01' });
  }
  return table;
}

/** Thrown inside the transaction to roll it back (tx=rollback) while keeping the outcome. */
class Rollback {
  constructor(readonly outcome: Outcome) {}
}

/**
 * Runs the one statement as the caller. `check` sees the outcome inside the transaction, so a
 * refusal (max-affected) rolls the statement back; with Prefer tx=rollback nothing is kept either way.
 */
async function run(ctx: BackendContext, req: FastifyRequest, q: BuiltQuery, prefer?: Prefer, check?: (out: Outcome) => void): Promise<Outcome> {
  const caller = requireCaller(req.caller);
  const outcomeOf = (rows: Outcome[]): Outcome => {
    const row = rows[0];
    if (!row) throw new Error('statement returned no outcome row');
    return { body: row.body, n: Number(row.n), total: row.total };
  };
  // nothing to decide inside the transaction: the whole request in one round trip
  if (!check && prefer?.tx !== 'rollback') return outcomeOf((await ctx.runOne<Outcome>(caller, q.text, q.values)).rows);
  try {
    return await ctx.runAs(caller, async (tx) => {
      const out = outcomeOf((await tx.rows<Outcome>(q.text, q.values)).rows);
      check?.(out);
      if (prefer?.tx === 'rollback') throw new Rollback(out);
      return out;
    });
  } catch (err) {
    if (err instanceof Rollback) return err.outcome;
    throw err;
  }
}

/** Prefer max-affected=N with handling=strict: more affected rows is 400 PGRST124, and nothing is changed. */
const maxAffected = (prefer: Prefer) => (out: Outcome) => {
  if (prefer.strict && prefer.maxAffected !== undefined && out.n > prefer.maxAffected) {
    throw new PostgrestError(400, 'PGRST124', 'Query result exceeds max-affected preference constraint', undefined, `The query affects ${out.n} rows`);
  }
};

/** The single-object media type turns `[x]` into `x`, and anything but exactly one row into 406. */
const shapeBody = (media: Media, out: Outcome) => (media.kind === 'object' && out.body !== null ? toSingleObject(out) : out.body);

function contentRange(offset: number, out: Outcome): string {
  const total = out.total === null ? '*' : String(out.total);
  return out.n === 0 ? `*/${total}` : `${offset}-${offset + out.n - 1}/${total}`;
}

const CONTENT_TYPES: Record<Media['kind'], string> = {
  json: 'application/json; charset=utf-8',
  object: `${OBJECT_MEDIA}; charset=utf-8`,
  csv: 'text/csv; charset=utf-8',
};

function send(reply: FastifyReply, status: number, body: string | null, req: FastifyRequest, media: Media) {
  reply.status(status);
  if (body === null || req.method === 'HEAD') return reply.send();
  const type = media.stripNulls ? `application/vnd.pgrst.${media.kind === 'object' ? 'object' : 'array'}+json; nulls=stripped; charset=utf-8` : CONTENT_TYPES[media.kind];
  return reply.type(type).send(body);
}

function preferenceApplied(reply: FastifyReply, prefer: Prefer, opts: { maxAffected?: boolean } = {}) {
  const applied = [
    prefer.resolution ? `resolution=${prefer.resolution}` : '',
    prefer.missingDefault ? 'missing=default' : '',
    prefer.count ? 'count=exact' : '',
    prefer.tx ? `tx=${prefer.tx}` : '',
    prefer.strict ? 'handling=strict' : '',
    prefer.strict && opts.maxAffected && prefer.maxAffected !== undefined ? `max-affected=${prefer.maxAffected}` : '',
  ].filter(Boolean);
  if (applied.length) reply.header('Preference-Applied', applied.join(', '));
}

/**
 * GET /rpc/fn?a=1&name=eq.x: keys whose value is an operator expression (and the reserved ones:
 * select, order, limit, offset, and/or) apply to the result; the others are the function's arguments.
 */
function splitRpcQuery(query: URLSearchParams): { args: Record<string, unknown>; result: URLSearchParams } {
  const args: Record<string, unknown> = {};
  const result = new URLSearchParams();
  for (const [key, value] of query) {
    if (isRpcFilter(key, value)) result.append(key, value);
    else args[key] = value;
  }
  return { args, result };
}

export function registerRecordRoutes(app: FastifyInstance, ctx: BackendContext): void {
  const read = async (req: FastifyRequest<{ Params: { table: string } }>, reply: FastifyReply) => {
    const table = await tableOrThrow(ctx, req.params.table);
    const prefer = preferOf(req);
    const media = negotiateMedia(req.headers.accept);
    const range = parseRange(req.headers.range);
    const query = queryOf(req);
    const q = buildSelect(table, query, { range, count: prefer.count, media, tables: await ctx.catalog.allTables() });
    const out = await run(ctx, req, q, prefer);
    reply.header('Content-Range', contentRange(resolvePaging(query, range).offset, out));
    preferenceApplied(reply, prefer);
    const total = out.total === null ? undefined : Number(out.total);
    // A Range request is answered as a part; with a known total, so is any page that is not all of it.
    const partial = range !== undefined || (total !== undefined && out.n < total);
    return send(reply, partial ? 206 : 200, shapeBody(media, out), req, media);
  };

  const insert = async (req: FastifyRequest<{ Params: { table: string } }>, reply: FastifyReply) => {
    const table = await tableOrThrow(ctx, req.params.table);
    const prefer = preferOf(req);
    const media = negotiateMedia(req.headers.accept);
    const query = queryOf(req);
    // return=headers-only: the first row's primary key, for the Location header (as PostgREST)
    const locate = prefer.return === 'headers-only' && table.primaryKey.length > 0;
    if (locate) query.set('select', table.primaryKey.map((c) => `"${c.replace(/["\\]/g, '\\$&')}"`).join(','));
    const built = buildInsert(table, query, req.body, locate ? { ...prefer, return: 'representation' } : prefer, { media: locate ? JSON_MEDIA : media, tables: await ctx.catalog.allTables() });
    const out = await run(ctx, req, built, prefer).catch((err: unknown) => {
      throw uidWasNull(err, table, requireCaller(req.caller).role) ?? err;
    });
    preferenceApplied(reply, prefer);
    reply.header('Content-Range', `*/${prefer.count ? out.n : '*'}`);
    if (locate) {
      const [first] = JSON.parse(out.body ?? '[]') as Array<Record<string, unknown>>;
      if (first) reply.header('Location', `${req.url.split('?')[0]}?${table.primaryKey.map((c) => `${encodeURIComponent(c)}=eq.${encodeURIComponent(String(first[c]))}`).join('&')}`);
    }
    // InsForge's proxy answers a minimal insert with `[]` where PostgREST sends no body: its path does too
    const minimal = req.routeOptions.url?.startsWith('/api/database/') ? '[]' : null;
    return send(reply, 201, prefer.return === 'representation' ? shapeBody(media, out) : minimal, req, media);
  };

  const change = (kind: 'update' | 'delete') => async (req: FastifyRequest<{ Params: { table: string } }>, reply: FastifyReply) => {
    const table = await tableOrThrow(ctx, req.params.table);
    const prefer = preferOf(req);
    const media = negotiateMedia(req.headers.accept);
    const opts = { media, tables: await ctx.catalog.allTables() };
    const q = kind === 'update' ? buildUpdate(table, queryOf(req), req.body, prefer, opts) : buildDelete(table, queryOf(req), prefer, opts);
    const out = await run(ctx, req, q, prefer, maxAffected(prefer));
    // PostgREST: the affected rows as a range, their number as the total when counted
    const total = prefer.count ? String(out.n) : '*';
    reply.header('Content-Range', out.n === 0 ? `*/${total}` : `0-${out.n - 1}/${total}`);
    preferenceApplied(reply, prefer, { maxAffected: true });
    if (prefer.return === 'representation') return send(reply, 200, shapeBody(media, out), req, media);
    return reply.status(204).send();
  };

  const rpc = async (req: FastifyRequest<{ Params: { fn: string } }>, reply: FastifyReply) => {
    const candidates = await ctx.catalog.functionsNamed(req.params.fn);
    const prefer = preferOf(req);
    const media = negotiateMedia(req.headers.accept);
    const range = parseRange(req.headers.range);
    const query = queryOf(req);
    let args: Record<string, unknown>;
    let result: URLSearchParams;
    if (req.method === 'GET' || req.method === 'HEAD') {
      ({ args, result } = splitRpcQuery(query));
    } else {
      args = (req.body ?? {}) as Record<string, unknown>;
      result = query;
    }
    if (typeof args !== 'object' || args === null || Array.isArray(args)) {
      throw new ApiError(400, 'INVALID_INPUT', 'RPC arguments must be a JSON object of named arguments', 'Send e.g. {"user_id": "123"}.');
    }
    // no function of that name at all: say which, with the argument names given (PostgREST's wording)
    if (candidates.length === 0) throw functionNotFound('public', req.params.fn, Object.keys(args));
    const q = buildRpc(candidates, args, result, { range, count: prefer.count, media, tables: await ctx.catalog.allTables() });
    const fn = q.fn;
    const out = await run(ctx, req, q, prefer, (o) => {
      if (!prefer.strict || prefer.maxAffected === undefined) return;
      if (!fn.returnsSet) {
        throw new PostgrestError(400, 'PGRST128', 'Function must return SETOF or TABLE when max-affected preference is used with handling=strict');
      }
      maxAffected(prefer)(o);
    });
    if (fn.returnsSet) reply.header('Content-Range', contentRange(resolvePaging(result, range).offset, out));
    preferenceApplied(reply, prefer, { maxAffected: true });
    return send(reply, 200, shapeBody(media, out), req, media);
  };

  // The documented routes and the InsForge v2 ones share the handlers.
  // GET also answers HEAD (Fastify's exposeHeadRoutes); send drops the body for it.
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

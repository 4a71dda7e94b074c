import { z } from 'zod';
import { FILTER_OPS } from '../../client/filters.js';
import { confirmArg, defineTool } from '../tool.js';
import { ANY_JSON, listedAs, listedAsDescription, SCALAR_OR_LIST } from '../listing.js';
import { destructiveSql } from '../destructive.js';
import type { Filter } from '../../client/filters.js';
import { capRows, MAX_ROWS, ok } from '../results.js';

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const identifier = z.string().min(1).max(63);
const table = identifier;

const filter = z
  .object({
    column: identifier,
    op: z.enum(FILTER_OPS).describe('like/ilike: * or % wildcard'),
    value: listedAs(z.union([scalar, z.array(scalar)]).describe('Scalar; list for in; null/true/false for is'), SCALAR_OR_LIST),
    not: z.boolean().optional(),
  })
  .strict()
  // the listing says a value may be a list; only "in" takes one (else the client would throw)
  .refine((f) => !Array.isArray(f.value) || f.op === 'in', { message: 'a list takes op "in"', path: ['value'] });
const filters = z.array(filter).max(50);
const row = z.record(z.string(), z.unknown());
const rows = z.array(row);

const DEFAULT_LIMIT = 100;
const WRITE = { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false };
const DESTRUCTIVE = { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false };

/** Rows changed by a write, counted, capped and marked as backend data. */
function changedRows(key: 'inserted' | 'updated' | 'deleted', changed: Record<string, unknown>[]) {
  const capped = capRows(changed);
  return ok({ [key]: changed.length, rows: capped.rows, truncated: capped.truncated }, { untrusted: true });
}

export const queryTable = defineTool(
  {
    name: 'query-table',
    group: 'database',
    description: 'Read rows with filters, order and paging (nextOffset).',
    input: {
      table,
      select: z.string().max(2000).optional().describe('PostgREST select, e.g. "id,alias:col", embeds via FKs "*,owner:users(name)", "count()"; default *'),
      where: filters.optional().describe('All must match'),
      or: listedAsDescription(filters, 'Like where; any one must match').optional(),
      order: z
        .array(z.object({ column: identifier, ascending: z.boolean().optional(), nulls: z.enum(['first', 'last']).optional() }).strict())
        .max(10)
        .optional(),
      limit: z.number().int().min(1).max(MAX_ROWS).optional().describe(`Default ${DEFAULT_LIMIT}`),
      offset: z.number().int().min(0).optional(),
      count: z.boolean().optional().describe('Include the total count'),
    },
    output: { rows, count: z.number().optional(), truncated: z.boolean(), nextOffset: z.number().optional() },
    annotations: { readOnlyHint: true, openWorldHint: false },
  },
  async (ctx, args, extra) => {
    const limit = args.limit ?? DEFAULT_LIMIT;
    const offset = args.offset ?? 0;
    // one row more than asked tells whether a next page exists, without counting
    const res = await ctx.client().queryTable(args.table, { ...args, limit: limit + 1, offset }, extra.signal);
    const capped = capRows(res.rows.slice(0, limit));
    const truncated = capped.truncated || res.rows.length > limit;
    return ok(
      {
        rows: capped.rows,
        ...(res.total !== undefined ? { count: res.total } : {}),
        truncated,
        ...(truncated ? { nextOffset: offset + capped.rows.length } : {}),
      },
      { untrusted: true },
    );
  },
);

export const insertRecords = defineTool(
  {
    name: 'insert-records',
    group: 'database',
    description: 'Insert or upsert rows; returns them.',
    input: {
      table,
      records: z.array(row).min(1).max(10000),
      upsert: z
        .object({
          onConflict: z.array(identifier).min(1).optional().describe('Default: primary key'),
          ignoreDuplicates: z.boolean().optional().describe('Skip instead of update'),
        })
        .strict()
        .optional(),
    },
    output: { inserted: z.number(), rows, truncated: z.boolean() },
    annotations: WRITE,
  },
  async (ctx, args, extra) => changedRows('inserted', await ctx.client().insertRecords(args.table, args.records, args.upsert, extra.signal)),
);

export const updateRecords = defineTool(
  {
    name: 'update-records',
    group: 'database',
    description: 'Update the rows matching where; returns them.',
    input: {
      table,
      where: filters.min(1).describe('All must match'),
      values: row.refine((v) => Object.keys(v).length > 0, 'values needs at least one column'),
    },
    output: { updated: z.number(), rows, truncated: z.boolean() },
    annotations: DESTRUCTIVE,
  },
  async (ctx, args, extra) => changedRows('updated', await ctx.client().updateRecords(args.table, args.where, args.values, extra.signal)),
);

export const deleteRecords = defineTool(
  {
    name: 'delete-records',
    group: 'database',
    description: 'Delete the rows matching where; returns them.',
    input: { table, where: filters.min(1).describe('All must match'), confirm: confirmArg },
    output: { deleted: z.number(), rows, truncated: z.boolean() },
    annotations: DESTRUCTIVE,
    destroys: ({ table, where }) => `delete the rows of ${table} where ${describeFilters(where)}`,
  },
  async (ctx, args, extra) => changedRows('deleted', await ctx.client().deleteRecords(args.table, args.where, extra.signal)),
);

export const callRpc = defineTool(
  {
    name: 'call-rpc',
    group: 'database',
    description: 'Call a database function with named arguments.',
    input: { function: identifier, args: row.optional() },
    output: { result: z.unknown() },
    annotations: { ...WRITE, destructiveHint: true },
  },
  async (ctx, args, extra) => ok({ result: await ctx.client().callRpc(args.function, args.args ?? {}, extra.signal) }, { untrusted: true }),
);

const sqlResult = (res: { rows?: Record<string, unknown>[]; rowCount?: number }) => {
  const capped = capRows(res.rows ?? []);
  return ok({ rows: capped.rows, ...(res.rowCount !== undefined ? { rowCount: res.rowCount } : {}), truncated: capped.truncated }, { untrusted: true });
};
const sqlOutput = { rows, rowCount: z.number().optional(), truncated: z.boolean() };
const params = z.array(listedAs(z.unknown(), ANY_JSON)).max(1000).optional();

export const runSql = defineTool(
  {
    name: 'run-sql',
    group: 'database',
    description: 'Run SQL as admin, bypassing RLS: DDL, policies, functions, queries. $1.. take params.',
    input: {
      query: z.string().min(1).max(1_000_000).describe('SQL; several statements only without params'),
      params,
      confirm: confirmArg,
    },
    output: sqlOutput,
    annotations: { ...WRITE, destructiveHint: true },
    destroys: ({ query }) => {
      const what = destructiveSql(query);
      return what ? `run SQL that destroys data (${what})` : undefined;
    },
  },
  async (ctx, args, extra) => sqlResult(await ctx.client().runSql(args.query, args.params, extra.signal)),
);

/** run-sql of --read-only mode: a read-only transaction that is rolled back, so no write gets through. */
export const runSqlReadOnly = defineTool(
  {
    name: 'run-sql',
    group: 'database',
    description: 'Run SQL in a read-only transaction (rolled back). $1.. take params.',
    input: { query: z.string().min(1).max(1_000_000), params },
    output: sqlOutput,
    annotations: { readOnlyHint: true, openWorldHint: false },
  },
  async (ctx, args, extra) => sqlResult(await ctx.client().runSql(args.query, args.params, extra.signal, { readOnly: true })),
);

function describeFilters(where: Filter[]): string {
  return where.map((f) => `${f.column} ${f.not ? 'not ' : ''}${f.op} ${JSON.stringify(f.value)}`).join(' and ');
}

export const databaseTools = [queryTable, insertRecords, updateRecords, deleteRecords, callRpc, runSql];

import { z } from 'zod';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { FILTER_OPS, type Filter } from '../../client/filters.js';
import type { ToolContext } from '../context.js';
import { capRows, fail, MAX_ROWS, ok } from '../results.js';

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const identifier = z.string().min(1).max(63);
const table = identifier.describe('Table name');

const filter = z
  .object({
    column: identifier.describe('Column'),
    op: z.enum(FILTER_OPS).describe('Operator; like/ilike use * or % as wildcard; in takes a list; is takes null, true or false'),
    value: z.union([scalar, z.array(scalar)]).describe('Value (a list for in)'),
    not: z.boolean().optional().describe('Negate'),
  })
  .strict();
const filters = z.array(filter).max(50);
const row = z.record(z.string(), z.unknown());
const rows = z.array(row);

const DEFAULT_LIMIT = 100;

export function registerDatabaseTools(server: McpServer, ctx: ToolContext): void {
  server.registerTool(
    'query-table',
    {
      description: 'Read rows with filters, order and paging (PostgREST semantics). Returns rows, truncated and nextOffset.',
      inputSchema: {
        table,
        select: z.string().max(2000).optional().describe('Columns, e.g. "id,title,alias:col" (default *)'),
        where: filters.optional().describe('Filters, all must match'),
        or: filters.optional().describe('Filters, at least one must match'),
        order: z
          .array(
            z
              .object({
                column: identifier,
                ascending: z.boolean().optional().describe('Default true'),
                nulls: z.enum(['first', 'last']).optional(),
              })
              .strict(),
          )
          .max(10)
          .optional(),
        limit: z.number().int().min(1).max(MAX_ROWS).optional().describe(`Default ${DEFAULT_LIMIT}`),
        offset: z.number().int().min(0).optional(),
        count: z.boolean().optional().describe('Also return the total count'),
      },
      outputSchema: { rows, count: z.number().optional(), truncated: z.boolean(), nextOffset: z.number().optional() },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async (args, extra) => {
      try {
        const limit = args.limit ?? DEFAULT_LIMIT;
        const offset = args.offset ?? 0;
        // one extra row tells whether there is a next page without a count
        const res = await ctx.client().queryTable(args.table, { ...(args as { where?: Filter[]; or?: Filter[] }), limit: limit + 1, offset }, extra.signal);
        const page = res.rows.slice(0, limit);
        const capped = capRows(page);
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
      } catch (err) {
        return fail(err);
      }
    },
  );

  server.registerTool(
    'insert-records',
    {
      description: 'Insert rows (or upsert). Missing columns take their defaults. Returns the inserted rows.',
      inputSchema: {
        table,
        records: z.array(row).min(1).max(10000).describe('Rows as objects of column: value'),
        upsert: z
          .object({
            onConflict: z.array(identifier).min(1).optional().describe('Unique columns to match (default: primary key)'),
            ignoreDuplicates: z.boolean().optional().describe('Skip conflicting rows instead of updating them'),
          })
          .strict()
          .optional(),
      },
      outputSchema: { inserted: z.number(), rows, truncated: z.boolean() },
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    async (args, extra) => {
      try {
        const inserted = await ctx.client().insertRecords(args.table, args.records, args.upsert, extra.signal);
        const capped = capRows(inserted);
        return ok({ inserted: inserted.length, rows: capped.rows, truncated: capped.truncated }, { untrusted: true });
      } catch (err) {
        return fail(err);
      }
    },
  );

  server.registerTool(
    'update-records',
    {
      description: 'Update the rows matching every filter in where (required). Returns the updated rows.',
      inputSchema: {
        table,
        where: filters.min(1).describe('Filters, all must match (at least one)'),
        values: row.refine((v) => Object.keys(v).length > 0, 'values needs at least one column').describe('Columns to set'),
      },
      outputSchema: { updated: z.number(), rows, truncated: z.boolean() },
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    async (args, extra) => {
      try {
        const updated = await ctx.client().updateRecords(args.table, args.where, args.values, extra.signal);
        const capped = capRows(updated);
        return ok({ updated: updated.length, rows: capped.rows, truncated: capped.truncated }, { untrusted: true });
      } catch (err) {
        return fail(err);
      }
    },
  );

  server.registerTool(
    'delete-records',
    {
      description: 'Delete the rows matching every filter in where (required). Returns the deleted rows.',
      inputSchema: { table, where: filters.min(1).describe('Filters, all must match (at least one)') },
      outputSchema: { deleted: z.number(), rows, truncated: z.boolean() },
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    async (args, extra) => {
      try {
        const deleted = await ctx.client().deleteRecords(args.table, args.where, extra.signal);
        const capped = capRows(deleted);
        return ok({ deleted: deleted.length, rows: capped.rows, truncated: capped.truncated }, { untrusted: true });
      } catch (err) {
        return fail(err);
      }
    },
  );

  server.registerTool(
    'call-rpc',
    {
      description: 'Call a database function in the public schema with named arguments.',
      inputSchema: {
        function: identifier.describe('Function name'),
        args: row.optional().describe('Named arguments'),
      },
      outputSchema: { result: z.unknown() },
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    },
    async (args, extra) => {
      try {
        const result = await ctx.client().callRpc(args.function, args.args ?? {}, extra.signal);
        return ok({ result }, { untrusted: true });
      } catch (err) {
        return fail(err);
      }
    },
  );

  server.registerTool(
    'run-sql',
    {
      description: 'Run SQL as the project admin (bypasses RLS): DDL, policies, functions, queries. Use $1.. with params.',
      inputSchema: {
        query: z.string().min(1).max(1_000_000).describe('SQL; several statements allowed without params'),
        params: z.array(z.unknown()).max(1000).optional().describe('Values for $1, $2, ...'),
      },
      outputSchema: { rows, rowCount: z.number().optional(), truncated: z.boolean() },
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    },
    async (args, extra) => {
      try {
        const res = await ctx.client().runSql(args.query, args.params, extra.signal);
        const capped = capRows(res.rows ?? []);
        return ok({ rows: capped.rows, ...(res.rowCount !== undefined ? { rowCount: res.rowCount } : {}), truncated: capped.truncated }, { untrusted: true });
      } catch (err) {
        return fail(err);
      }
    },
  );
}

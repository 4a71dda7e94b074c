import { z } from 'zod';
import { LOG_SOURCES } from '../../client/routes.js';
import { defineTool } from '../tool.js';
import { capRows, ok } from '../results.js';

export const getLogs = defineTool(
  {
    name: 'get-logs',
    group: 'metadata',
    description: 'Recent logs, newest first: api requests, functions (console, errors with stack), auth, database (failed, slow).',
    input: {
      source: z.enum(LOG_SOURCES),
      limit: z.number().int().min(1).max(1000).optional().describe('Default 50'),
      since: z.iso.datetime({ offset: true }).optional().describe('ISO time: only later entries'),
      search: z.string().min(1).max(200).optional().describe('Text to find'),
    },
    output: { source: z.string(), entries: z.array(z.record(z.string(), z.unknown())), total: z.number().optional(), truncated: z.boolean() },
    annotations: { readOnlyHint: true, openWorldHint: false },
  },
  async (ctx, args, extra) => {
    const { entries, total } = await ctx.client().getLogs(args.source, { limit: args.limit ?? 50, since: args.since, search: args.search }, extra.signal);
    const capped = capRows(entries);
    // console output, statements and messages are what the app and its users wrote
    return ok({ source: args.source, entries: capped.rows, ...(total !== undefined ? { total } : {}), truncated: capped.truncated }, { untrusted: true });
  },
);

export const logTools = [getLogs];

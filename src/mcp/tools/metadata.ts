import { z } from 'zod';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { ToolContext } from '../context.js';
import { fail, ok } from '../results.js';

interface ColumnMeta {
  columnName: string;
  type: string;
  isNullable?: boolean;
  isPrimaryKey?: boolean;
}
interface TableMeta {
  tableName: string;
  columns?: ColumnMeta[];
  rlsEnabled?: boolean;
}

/** Table → "column:type" list: what an agent needs to write queries, in few tokens. */
function compactTables(metadata: Record<string, unknown>): Record<string, string> {
  const tables = ((metadata.database as { tables?: TableMeta[] } | undefined)?.tables ?? []) as TableMeta[];
  return Object.fromEntries(tables.map((t) => [t.tableName, (t.columns ?? []).map((c) => `${c.columnName}:${c.type}${c.isPrimaryKey ? ' pk' : ''}`).join(', ')]));
}

export function registerMetadataTools(server: McpServer, ctx: ToolContext): void {
  server.registerTool(
    'get-backend-metadata',
    {
      description: 'Backend overview: URL, tables with columns and types. verbose adds keys, RLS, policies, functions.',
      inputSchema: { verbose: z.boolean().optional().describe('Full metadata') },
      outputSchema: { backend: z.record(z.string(), z.unknown()), tables: z.record(z.string(), z.unknown()) },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ verbose }, extra) => {
      try {
        const client = ctx.client();
        const [metadata, dialect, baseUrl] = await Promise.all([client.getMetadata(extra.signal), client.resolveDialect(extra.signal), client.baseUrl()]);
        const backend = { url: baseUrl, dialect, version: metadata.version };
        if (!verbose) return ok({ backend, tables: compactTables(metadata) });
        const { database, ...rest } = metadata as { database?: { tables?: TableMeta[] } };
        const tables = Object.fromEntries((database?.tables ?? []).map(({ tableName, ...t }) => [tableName, t]));
        return ok({ backend, tables, ...rest, ...(database ? { database: { ...database, tables: undefined } } : {}) });
      } catch (err) {
        return fail(err);
      }
    },
  );

  server.registerTool(
    'describe-table',
    {
      description: 'One table in full: columns, types, nullability, defaults, keys, indexes, RLS and policies, row count.',
      inputSchema: { table: z.string().min(1).max(63).describe('Table name') },
      outputSchema: { table: z.record(z.string(), z.unknown()) },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ table }, extra) => {
      try {
        return ok({ table: await ctx.client().getTableMetadata(table, extra.signal) });
      } catch (err) {
        return fail(err);
      }
    },
  );
}

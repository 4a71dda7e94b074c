import { z } from 'zod';
import { defineTool } from '../tool.js';
import { ok } from '../results.js';

interface TableMeta {
  tableName: string;
  columns?: { columnName: string; type: string; isPrimaryKey?: boolean }[];
}

const tablesOf = (metadata: Record<string, unknown>) => ((metadata.database as { tables?: TableMeta[] } | undefined)?.tables ?? []) as TableMeta[];

/** Table → "column:type, …": what an agent needs to write queries, in few tokens. */
const compactTables = (metadata: Record<string, unknown>) =>
  Object.fromEntries(tablesOf(metadata).map((t) => [t.tableName, (t.columns ?? []).map((c) => `${c.columnName}:${c.type}${c.isPrimaryKey ? ' pk' : ''}`).join(', ')]));

export const getBackendMetadata = defineTool(
  {
    name: 'get-backend-metadata',
    group: 'metadata',
    description: 'Backend URL and tables with column types. verbose: RLS, policies, keys, functions.',
    input: { verbose: z.boolean().optional() },
    output: { backend: z.record(z.string(), z.unknown()), tables: z.record(z.string(), z.unknown()) },
    annotations: { readOnlyHint: true, openWorldHint: false },
  },
  async (ctx, { verbose }, extra) => {
    const client = ctx.client();
    const [metadata, dialect, url, notes] = await Promise.all([client.getMetadata(extra.signal), client.resolveDialect(extra.signal), client.baseUrl(), client.backendNotes()]);
    // notes: what the user should know about this backend, e.g. that it moved off its usual port
    const backend = { url, dialect, version: metadata.version, ...(notes.length ? { notes } : {}) };
    if (!verbose) return ok({ backend, tables: compactTables(metadata) });
    const { database, ...rest } = metadata as { database?: Record<string, unknown> };
    const tables = Object.fromEntries(tablesOf(metadata).map(({ tableName, ...t }) => [tableName, t]));
    const { tables: _listed, ...databaseRest } = database ?? {};
    // comments, policy expressions and defaults are text anyone with DDL rights wrote
    return ok({ backend, tables, ...rest, database: databaseRest }, { untrusted: true });
  },
);

export const describeTable = defineTool(
  {
    name: 'describe-table',
    group: 'metadata',
    description: 'One table: columns, defaults, keys, indexes, RLS, policies, row count.',
    input: { table: z.string().min(1).max(63) },
    output: { table: z.record(z.string(), z.unknown()) },
    annotations: { readOnlyHint: true, openWorldHint: false },
  },
  async (ctx, { table }, extra) => ok({ table: await ctx.client().getTableMetadata(table, extra.signal) }, { untrusted: true }),
);

export const metadataTools = [getBackendMetadata, describeTable];

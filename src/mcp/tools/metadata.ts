import { z } from 'zod';
import type { TableMeta } from '../../client/metadata.js';
import { defineTool } from '../tool.js';
import { ok } from '../results.js';

/** Table → "column:type, …": what an agent needs to write queries, in few tokens. */
const compactTables = (tables: TableMeta[]) => Object.fromEntries(tables.map((t) => [t.tableName, t.columns.map((c) => `${c.columnName}:${c.type}${c.isPrimaryKey ? ' pk' : ''}`).join(', ')]));

const list = z.array(z.record(z.string(), z.unknown()));

export const getBackendMetadata = defineTool(
  {
    name: 'get-backend-metadata',
    group: 'metadata',
    description: 'Backend URL, anon key, version, tables with column types. verbose: keys, RLS, policies, SQL functions, buckets.',
    input: { verbose: z.boolean().optional() },
    output: { backend: z.record(z.string(), z.unknown()), tables: z.record(z.string(), z.unknown()), sqlFunctions: list.optional(), buckets: list.optional(), functions: list.optional() },
    annotations: { readOnlyHint: true, openWorldHint: false },
  },
  async (ctx, { verbose }, extra) => {
    const client = ctx.client();
    const [metadata, dialect, version, url, notes, anonKey] = await Promise.all([
      client.getMetadata({ sqlFunctions: verbose }, extra.signal),
      client.resolveDialect(extra.signal),
      client.backendVersion(extra.signal),
      client.baseUrl(),
      client.backendNotes(),
      client.anonKey(extra.signal).catch(() => undefined),
    ]);
    // notes: what the user should know about this backend, e.g. that it moved off its usual port
    // the anon key is public (it goes into the app's config, see get-docs); the admin key never appears
    const backend = { url, dialect, version, ...(anonKey ? { anonKey } : {}), ...(notes.length ? { notes } : {}) };
    if (!verbose) return ok({ backend, tables: compactTables(metadata.tables) });
    const tables = Object.fromEntries(metadata.tables.map(({ tableName, ...t }) => [tableName, t]));
    // comments, policy expressions and defaults are text anyone with DDL rights wrote
    return ok({ backend, tables, sqlFunctions: metadata.sqlFunctions, buckets: metadata.buckets, functions: metadata.functions }, { untrusted: true });
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

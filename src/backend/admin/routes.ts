import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError, TABLE_NOT_FOUND_NEXT } from '../errors.js';
import { requireAdmin } from '../caller.js';
import type { BackendContext } from '../context.js';
import { quoteIdent } from '../db/postgrest.js';
import type { QueryRunner } from '../db/types.js';
import { VERSION } from '../../version.js';
import { splitStatements, withoutOuterTransaction } from '../db/sql-split.js';

/** Everything about the public tables in one round trip, as JSON built by Postgres itself. */
const TABLES_METADATA_SQL = `
SELECT c.relname AS "tableName",
       c.relrowsecurity AS "rlsEnabled",
       coalesce((SELECT json_agg(json_build_object(
                  'columnName', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
                  'isNullable', NOT a.attnotnull, 'defaultValue', pg_get_expr(d.adbin, d.adrelid),
                  'isPrimaryKey', coalesce(a.attnum = ANY(pk.conkey), false)) ORDER BY a.attnum)
                 FROM pg_attribute a
                 LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '[]') AS columns,
       coalesce((SELECT json_agg(a.attname ORDER BY k.i)
                 FROM unnest(pk.conkey) WITH ORDINALITY AS k(n, i)
                 JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.n), '[]') AS "primaryKey",
       coalesce((SELECT json_agg(json_build_object(
                  'constraintName', f.conname,
                  'columns', (SELECT json_agg(a.attname ORDER BY k.i) FROM unnest(f.conkey) WITH ORDINALITY AS k(n, i)
                               JOIN pg_attribute a ON a.attrelid = f.conrelid AND a.attnum = k.n),
                  'referenceTable', rc.relname,
                  'referenceColumns', (SELECT json_agg(a.attname ORDER BY k.i) FROM unnest(f.confkey) WITH ORDINALITY AS k(n, i)
                               JOIN pg_attribute a ON a.attrelid = f.confrelid AND a.attnum = k.n),
                  'onDelete', CASE f.confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT' WHEN 'r' THEN 'RESTRICT' ELSE 'NO ACTION' END,
                  'onUpdate', CASE f.confupdtype WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT' WHEN 'r' THEN 'RESTRICT' ELSE 'NO ACTION' END))
                 FROM pg_constraint f JOIN pg_class rc ON rc.oid = f.confrelid
                WHERE f.conrelid = c.oid AND f.contype = 'f'), '[]') AS "foreignKeys",
       coalesce((SELECT json_agg(json_build_object(
                  'policyName', p.policyname, 'command', p.cmd, 'roles', p.roles,
                  'permissive', p.permissive, 'using', p.qual, 'withCheck', p.with_check) ORDER BY p.policyname)
                 FROM pg_policies p WHERE p.schemaname = n.nspname AND p.tablename = c.relname), '[]') AS policies
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_constraint pk ON pk.conrelid = c.oid AND pk.contype = 'p'
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND ($1::text IS NULL OR c.relname = $1)
ORDER BY c.relname`;

const INDEXES_SQL = `
SELECT i.indexname AS "indexName", i.indexdef AS definition, ix.indisunique AS "isUnique", ix.indisprimary AS "isPrimary"
FROM pg_indexes i
JOIN pg_class ic ON ic.relname = i.indexname
JOIN pg_namespace n ON n.oid = ic.relnamespace AND n.nspname = i.schemaname
JOIN pg_index ix ON ix.indexrelid = ic.oid
WHERE i.schemaname = 'public' AND i.tablename = $1
ORDER BY i.indexname`;

const BUCKETS_SQL = `
SELECT b.name, b.public, b.created_at AS "createdAt",
       (SELECT count(*) FROM storage.objects o WHERE o.bucket = b.name)::int AS "objectCount"
FROM storage.buckets b ORDER BY b.name`;

/** Serverless functions, read as the backend itself: no database role is granted their table. */
const DEPLOYED_FUNCTIONS_SQL = 'SELECT slug, name, description, status FROM functions.definitions ORDER BY slug';

const FUNCTIONS_SQL = `
SELECT p.proname AS name, pg_get_function_arguments(p.oid) AS arguments, pg_get_function_result(p.oid) AS returns
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'public' AND p.prokind = 'f'
ORDER BY p.proname`;

export interface TableMetadata {
  tableName: string;
  rlsEnabled: boolean;
  columns: { columnName: string; type: string; isNullable: boolean; defaultValue: string | null; isPrimaryKey: boolean }[];
  primaryKey: string[];
  foreignKeys: unknown[];
  policies: unknown[];
}

export const tablesMetadata = (tx: QueryRunner, table: string | null) => tx.query<TableMetadata>(TABLES_METADATA_SQL, [table]).then((r) => r.rows);

interface RawSqlBody {
  query?: unknown;
  params?: unknown;
  /** The script in a READ ONLY transaction that is rolled back: the MCP server's --read-only mode. */
  readOnly?: unknown;
}

export function registerAdminRoutes(app: FastifyInstance, ctx: BackendContext): void {
  app.get('/api/health', async () => ({ status: 'ok', version: VERSION, service: 'insforge-mcp embedded backend', database: ctx.db.kind, timestamp: new Date().toISOString() }));

  app.get('/api/metadata', async (req) => {
    const caller = requireAdmin(req.caller);
    const [tables, functions, buckets] = await ctx.runAs(caller, async (tx) => [await tablesMetadata(tx, null), (await tx.query(FUNCTIONS_SQL)).rows, (await tx.query(BUCKETS_SQL)).rows]);
    const deployed = (await ctx.db.internal.query(DEPLOYED_FUNCTIONS_SQL)).rows;
    return {
      database: { tables, functions },
      auth: { providers: ['email'] },
      storage: { buckets },
      functions: deployed,
      version: VERSION,
      backend: { kind: 'embedded', database: ctx.db.kind },
    };
  });

  // The keys, for admins (InsForge v2 paths; the static routes win over /api/metadata/:table).
  app.get('/api/metadata/anon-key', async (req) => {
    requireAdmin(req.caller);
    return { anonKey: ctx.keys.anonKey };
  });
  app.get('/api/metadata/api-key', async (req) => {
    requireAdmin(req.caller);
    return { apiKey: ctx.keys.apiKey };
  });
  // Deprecated in InsForge v2, still used by its MCP server: the anon key as an "access token".
  app.post('/api/auth/tokens/anon', async (req) => {
    requireAdmin(req.caller);
    return { accessToken: ctx.keys.anonKey, message: 'Anon key retrieved successfully (deprecated route, use GET /api/metadata/anon-key)' };
  });

  app.get('/api/metadata/:table', async (req: FastifyRequest<{ Params: { table: string } }>) => {
    const caller = requireAdmin(req.caller);
    const name = req.params.table;
    const result = await ctx.runAs(caller, async (tx) => {
      const [meta] = await tablesMetadata(tx, name);
      if (!meta) return undefined;
      const indexes = (await tx.query(INDEXES_SQL, [name])).rows;
      const count = await tx.query<{ n: string | number }>(`SELECT count(*) AS n FROM public.${quoteIdent(name)}`);
      return { ...meta, indexes, recordCount: Number(count.rows[0]?.n ?? 0) };
    });
    if (!result) throw new ApiError(404, 'DATABASE_NOT_FOUND', `table "${name}" not found`, TABLE_NOT_FOUND_NEXT, { code: '42P01' });
    return result;
  });

  app.post('/api/database/advance/rawsql', async (req) => {
    const caller = requireAdmin(req.caller);
    const { query, params, readOnly } = (req.body ?? {}) as RawSqlBody;
    if (typeof query !== 'string' || !query.trim()) throw new ApiError(400, 'INVALID_INPUT', 'query: Required (a non-empty SQL string)', 'Send {"query": "select 1", "params": []}.');
    if (params !== undefined && !Array.isArray(params)) throw new ApiError(400, 'INVALID_INPUT', 'params: must be an array', 'Send positional parameters for $1, $2, … as an array.');
    const { statements, refused } = withoutOuterTransaction(splitStatements(query));
    if (refused) {
      throw new ApiError(400, 'INVALID_INPUT', `query: "${refused.slice(0, 60)}" cannot run here: the whole query already runs in one transaction of its own`, 'Leave out transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT); send the statements alone, or as separate requests.');
    }
    if (!statements.length) throw new ApiError(400, 'INVALID_INPUT', 'query: holds no statement (only comments, semicolons or BEGIN/COMMIT)', 'Send at least one SQL statement.');
    if (params?.length && statements.length > 1) throw new ApiError(400, 'INVALID_INPUT', 'params: parameters need a query of one statement', 'Send one statement with $1, $2, …, or several statements without params.');
    try {
      // --read-only: a READ ONLY transaction that is rolled back whatever it did
      const result = await ctx.runAs(caller, (tx) => tx.script(statements, params ?? []), { readOnly: readOnly === true });
      return { rows: result.rows, rowCount: result.rowCount, fields: result.fields };
    } finally {
      // run-sql may have created, altered or dropped anything
      ctx.catalog.invalidate();
    }
  });
}

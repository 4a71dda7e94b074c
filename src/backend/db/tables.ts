import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { ApiError } from '../errors.js';
import { requireAdmin } from '../caller.js';
import type { BackendContext } from '../context.js';
import { quoteIdent } from './postgrest.js';
import type { CallerTx, QueryRunner } from './types.js';
import { tablesMetadata } from '../admin/routes.js';
import {
  AUTO_COLUMNS,
  CreateTableBody,
  UpdateTableBody,
  columnDefinition,
  constraintNameOf,
  createTableStatements,
  defaultExpression,
  foreignKeyConstraint,
  modelTypeOf,
  publicRelation,
  rawTypesOf,
  shownDefault,
  sqlTypeOf,
  userColumns,
  type ColumnSpec,
} from './table-ddl.js';

/** What the tables routes need in the database: the function behind every table's updated_at trigger. */
export const TABLES_SCHEMA_SQL = `
CREATE SCHEMA IF NOT EXISTS system;
GRANT USAGE ON SCHEMA system TO anon, authenticated, project_admin;
CREATE OR REPLACE FUNCTION system.update_updated_at() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  NEW.updated_at = now();
  RETURN NEW;
END
$fn$;
GRANT EXECUTE ON FUNCTION system.update_updated_at() TO anon, authenticated, project_admin;
`;

const TABLE_NAMES_SQL = `
SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY c.relname`;

const TABLE_EXISTS_SQL = `
SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname = $1`;

/** Columns that are unique on their own (a one-column unique index or constraint). */
const UNIQUE_COLUMNS_SQL = `
SELECT DISTINCT a.attname AS name
FROM pg_index ix
JOIN pg_class c ON c.oid = ix.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ix.indkey[0]
WHERE n.nspname = 'public' AND c.relname = $1 AND ix.indisunique AND ix.indnatts = 1`;

type TableParams = { Params: { table: string } };

const SCHEMA_NAME = 'public';

function parseBody<T>(schema: z.ZodType<T>, body: unknown, example: string): T {
  const result = schema.safeParse(body ?? {});
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
  throw new ApiError(400, 'INVALID_INPUT', issues, `Send e.g. ${example}.`);
}

const CREATE_EXAMPLE = '{"tableName": "posts", "columns": [{"columnName": "title", "type": "string", "isNullable": false, "isUnique": false}]}';
const UPDATE_EXAMPLE = '{"addColumns": [{"columnName": "views", "type": "integer", "isNullable": true, "isUnique": false, "defaultValue": "0"}]}';

const tableNotFound = () => new ApiError(404, 'DATABASE_NOT_FOUND', 'table not found', 'List the tables with GET /api/database/tables, or create one with POST /api/database/tables.');

function onlyPublicSchema(req: FastifyRequest): void {
  const schema = (req.query as Record<string, unknown>).schema;
  if (schema !== undefined && schema !== SCHEMA_NAME) {
    throw new ApiError(400, 'INVALID_INPUT', `schema "${String(schema)}" is not served`, 'Only the public schema is served; drop the schema parameter.');
  }
}

const isReserved = (column: string) => column in AUTO_COLUMNS;
const refuseReserved = (column: string, action: string) => {
  if (isReserved(column)) throw new ApiError(400, 'DATABASE_VALIDATION_ERROR', `cannot ${action} the system column "${column}"`, 'id, created_at and updated_at belong to every table and cannot be changed.');
};

async function tableExists(tx: QueryRunner, table: string): Promise<boolean> {
  return (await tx.query(TABLE_EXISTS_SQL, [table])).rows.length > 0;
}

/** The table as GET …/schema shows it: columns in model types, table-level foreign keys, row count. */
async function describeTable(tx: QueryRunner, table: string) {
  const [meta] = await tablesMetadata(tx, table);
  if (!meta) throw tableNotFound();
  const unique = new Set((await tx.query<{ name: string }>(UNIQUE_COLUMNS_SQL, [table])).rows.map((r) => r.name));
  const count = await tx.query<{ n: string | number }>(`SELECT count(*) AS n FROM ${publicRelation(table)}`);
  const foreignKeys = meta.foreignKeys as { constraintName: string; columns: string[]; referenceTable: string; referenceColumns: string[]; onDelete: string; onUpdate: string }[];
  return {
    schemaName: SCHEMA_NAME,
    tableName: meta.tableName,
    columns: meta.columns.map((c) => ({
      columnName: c.columnName,
      type: modelTypeOf(c.type),
      isNullable: c.isNullable,
      isPrimaryKey: c.isPrimaryKey,
      isUnique: c.isPrimaryKey || unique.has(c.columnName),
      ...(shownDefault(c.defaultValue) !== undefined ? { defaultValue: shownDefault(c.defaultValue) } : {}),
    })),
    foreignKeys: foreignKeys.map((fk) => ({
      constraintName: fk.constraintName,
      referenceTable: fk.referenceTable,
      referenceColumns: fk.columns.map((sourceColumn, i) => ({ sourceColumn, referenceColumn: fk.referenceColumns[i]! })),
      onDelete: fk.onDelete,
      onUpdate: fk.onUpdate,
    })),
    recordCount: Number(count.rows[0]?.n ?? 0),
  };
}

/**
 * Tables admin at the InsForge v2 paths (admin key only): list, create with the auto columns
 * (id, created_at, updated_at and its trigger; RLS on unless `rlsEnabled: false`), read the
 * schema, alter and drop. Each request's DDL runs in one transaction as project_admin.
 */
export function registerTableRoutes(app: FastifyInstance, ctx: BackendContext): void {
  /** Raw type names are written into DDL as given, so Postgres must first parse each as a type. */
  async function confirmRawTypes(req: FastifyRequest, columns: ColumnSpec[]): Promise<void> {
    const caller = requireAdmin(req.caller);
    for (const type of rawTypesOf(columns)) {
      let known = false;
      try {
        // as the admin, so that the admin's own types (public.mood) resolve as they will in the DDL
        known = (await ctx.runAs(caller, (tx) => tx.query<{ ok: boolean }>('SELECT to_regtype($1) IS NOT NULL AS ok', [type]))).rows[0]?.ok === true;
      } catch {
        known = false; // a syntax error in the name
      }
      if (!known) throw new ApiError(400, 'DATABASE_VALIDATION_ERROR', `Unknown column type "${type}"`, 'Use string, integer, float, boolean, uuid, json, date, datetime, or a Postgres type name such as "bigint".');
    }
  }

  /** Runs DDL as the admin, then forgets the cached catalogue so the record routes see the change. */
  async function alter<T>(req: FastifyRequest, fn: (tx: CallerTx) => Promise<T>): Promise<T> {
    const caller = requireAdmin(req.caller);
    try {
      return await ctx.runAs(caller, fn);
    } finally {
      ctx.catalog.invalidate();
    }
  }

  app.get('/api/database/tables', async (req) => {
    const caller = requireAdmin(req.caller);
    onlyPublicSchema(req);
    const { rows } = await ctx.runAs(caller, (tx) => tx.query<{ name: string }>(TABLE_NAMES_SQL));
    return rows.map((r) => r.name);
  });

  app.post('/api/database/tables', async (req, reply) => {
    requireAdmin(req.caller);
    const body = parseBody(CreateTableBody, req.body, CREATE_EXAMPLE);
    const columns = userColumns(body.columns);
    if (!columns.length) throw new ApiError(400, 'DATABASE_VALIDATION_ERROR', 'Table must have at least one user-defined column', 'Add a column other than id, created_at and updated_at.');
    await confirmRawTypes(req, columns);
    await alter(req, async (tx) => {
      if (await tableExists(tx, body.tableName)) {
        throw new ApiError(400, 'DATABASE_DUPLICATE', `table ${body.tableName} already exists`, 'Choose another table name, or change this one with PATCH /api/database/tables/{table}/schema.');
      }
      for (const statement of createTableStatements(body.tableName, columns, body.foreignKeys ?? [], body.rlsEnabled)) await tx.query(statement);
    });
    return reply.status(201).send({
      schemaName: SCHEMA_NAME,
      message: 'table created successfully',
      tableName: body.tableName,
      columns: columns.map((c) => ({ ...c, sqlType: sqlTypeOf(c.type) })),
      autoFields: Object.keys(AUTO_COLUMNS),
      nextActions: body.rlsEnabled
        ? `Row-level security is on and there are no policies yet: only the admin key can read or write. Add policies with SQL (POST /api/database/advance/rawsql), then use /api/database/records/${body.tableName}.`
        : `Read and write rows at /api/database/records/${body.tableName}.`,
    });
  });

  app.get('/api/database/tables/:table/schema', async (req: FastifyRequest<TableParams>) => {
    const caller = requireAdmin(req.caller);
    return ctx.runAs(caller, (tx) => describeTable(tx, req.params.table));
  });

  app.patch('/api/database/tables/:table/schema', async (req: FastifyRequest<TableParams>) => {
    requireAdmin(req.caller);
    const body = parseBody(UpdateTableBody, req.body, UPDATE_EXAMPLE);
    const table = req.params.table;
    const added = userColumns(body.addColumns ?? []);
    await confirmRawTypes(req, added);
    const operations: string[] = [];
    await alter(req, async (tx) => {
      if (!(await tableExists(tx, table))) throw tableNotFound();
      const relation = publicRelation(table);
      for (const name of body.dropForeignKeys ?? []) {
        await tx.query(`ALTER TABLE ${relation} DROP CONSTRAINT ${quoteIdent(name)}`);
        operations.push(`Dropped foreign key: ${name}`);
      }
      for (const column of body.dropColumns ?? []) {
        refuseReserved(column, 'drop');
        await tx.query(`ALTER TABLE ${relation} DROP COLUMN ${quoteIdent(column)}`);
        operations.push(`Dropped column: ${column}`);
      }
      for (const change of body.updateColumns ?? []) {
        refuseReserved(change.columnName, 'update');
        const column = quoteIdent(change.columnName);
        if (change.defaultValue !== undefined) {
          const set = change.defaultValue.trim() === '' ? 'DROP DEFAULT' : `SET DEFAULT ${defaultExpression(change.defaultValue.trim())}`;
          await tx.query(`ALTER TABLE ${relation} ALTER COLUMN ${column} ${set}`);
        }
        if (change.newColumnName) await tx.query(`ALTER TABLE ${relation} RENAME COLUMN ${column} TO ${quoteIdent(change.newColumnName)}`);
        operations.push(`Updated column: ${change.columnName}`);
      }
      for (const column of added) {
        await tx.query(`ALTER TABLE ${relation} ADD COLUMN ${columnDefinition(column)}`);
        operations.push(`Added column: ${column.columnName}`);
      }
      for (const fk of body.addForeignKeys ?? []) {
        await tx.query(`ALTER TABLE ${relation} ADD ${foreignKeyConstraint(table, fk)}`);
        operations.push(`Added foreign key: ${constraintNameOf(table, fk)}`);
      }
      if (body.renameTable) {
        await tx.query(`ALTER TABLE ${relation} RENAME TO ${quoteIdent(body.renameTable.newTableName)}`);
        operations.push(`Renamed table from ${table} to ${body.renameTable.newTableName}`);
      }
    });
    return { schemaName: SCHEMA_NAME, message: 'table schema updated successfully', tableName: table, operations };
  });

  app.delete('/api/database/tables/:table', async (req: FastifyRequest<TableParams>) => {
    const table = req.params.table;
    await alter(req, (tx) => tx.query(`DROP TABLE IF EXISTS ${publicRelation(table)} CASCADE`));
    return { schemaName: SCHEMA_NAME, message: 'table deleted successfully', tableName: table, nextActions: 'Create a table again with POST /api/database/tables.' };
  });
}

import type { Queryable } from '../db/types.js';

/**
 * Functions live in the database (InsForge keeps them in functions.definitions too), so they
 * persist with the data dir or the Postgres database. Not granted to anon/authenticated/project_admin:
 * only the backend itself reads the table, never a caller's SQL. Idempotent, run at every start; the
 * exception handler covers two backends creating it at once on one Postgres database.
 */
export const FUNCTIONS_SCHEMA_SQL = `
DO $$
BEGIN
  CREATE SCHEMA IF NOT EXISTS functions;
  CREATE TABLE IF NOT EXISTS functions.definitions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    slug text NOT NULL UNIQUE,
    name text NOT NULL,
    description text,
    code text NOT NULL,
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'draft', 'error')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deployed_at timestamptz
  );
EXCEPTION WHEN duplicate_object OR duplicate_table OR unique_violation THEN NULL;
END $$;
`;

export type FunctionStatus = 'active' | 'draft' | 'error';

/** The v2 function object. */
export interface FunctionRecord {
  id: string;
  slug: string;
  name: string;
  description: string | null;
  code: string;
  status: FunctionStatus;
  createdAt: string;
  updatedAt: string;
  deployedAt: string | null;
}

export type FunctionSummary = Omit<FunctionRecord, 'code'>;

export interface NewFunction {
  slug: string;
  name: string;
  code: string;
  description?: string | null;
  status: 'active' | 'draft';
}

export type FunctionChanges = Partial<Pick<FunctionRecord, 'name' | 'code' | 'description'>> & { status?: 'active' | 'draft' };

// Timestamps as ISO 8601 text made by Postgres, so both drivers return the same strings.
const iso = (col: string) => `to_json(${col}) #>> '{}'`;
const SUMMARY = `id, slug, name, description, status, ${iso('created_at')} AS "createdAt", ${iso('updated_at')} AS "updatedAt", ${iso('deployed_at')} AS "deployedAt"`;
const FULL = `${SUMMARY}, code`;

export class FunctionStore {
  constructor(private readonly db: Queryable) {}

  async list(): Promise<FunctionSummary[]> {
    return (await this.db.query<FunctionSummary>(`SELECT ${SUMMARY} FROM functions.definitions ORDER BY slug`)).rows;
  }

  async get(slug: string): Promise<FunctionRecord | undefined> {
    return (await this.db.query<FunctionRecord>(`SELECT ${FULL} FROM functions.definitions WHERE slug = $1`, [slug])).rows[0];
  }

  /** The code to run for an invocation: active functions only. */
  async activeCode(slug: string): Promise<string | undefined> {
    return (await this.db.query<{ code: string }>(`SELECT code FROM functions.definitions WHERE slug = $1 AND status = 'active'`, [slug])).rows[0]?.code;
  }

  /** Undefined when the slug is taken. */
  async create(fn: NewFunction): Promise<FunctionRecord | undefined> {
    const { rows } = await this.db.query<FunctionRecord>(
      `INSERT INTO functions.definitions (slug, name, code, description, status, deployed_at)
       VALUES ($1, $2, $3, $4, $5, CASE WHEN $5 = 'active' THEN now() END)
       ON CONFLICT (slug) DO NOTHING
       RETURNING ${FULL}`,
      [fn.slug, fn.name, fn.code, fn.description ?? null, fn.status],
    );
    return rows[0];
  }

  /** Undefined when there is no such function. A change to an active function redeploys it. */
  async update(slug: string, changes: FunctionChanges): Promise<FunctionRecord | undefined> {
    const { rows } = await this.db.query<FunctionRecord>(
      `UPDATE functions.definitions SET
         name = coalesce($2, name),
         code = coalesce($3, code),
         description = CASE WHEN $4 THEN $5 ELSE description END,
         status = coalesce($6, status),
         updated_at = now(),
         deployed_at = CASE WHEN coalesce($6, status) = 'active' THEN now() ELSE deployed_at END
       WHERE slug = $1
       RETURNING ${FULL}`,
      [slug, changes.name ?? null, changes.code ?? null, changes.description !== undefined, changes.description ?? null, changes.status ?? null],
    );
    return rows[0];
  }

  async remove(slug: string): Promise<boolean> {
    return (await this.db.query(`DELETE FROM functions.definitions WHERE slug = $1`, [slug])).rowCount > 0;
  }
}

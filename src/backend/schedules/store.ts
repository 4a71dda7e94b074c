import type { Queryable } from '../db/types.js';
import { idempotentDdl, isoText as iso } from '../db/internal-schema.js';

/**
 * Schedules and their runs, persisted with the database (they survive restarts). Not granted to any
 * request role: only the backend reads them. Runs are kept for the newest RUNS_KEPT per schedule.
 */
export const SCHEDULES_SCHEMA_SQL = idempotentDdl(`
  CREATE SCHEMA IF NOT EXISTS schedules;
  CREATE TABLE IF NOT EXISTS schedules.jobs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL,
    cron_schedule text NOT NULL,
    function_slug text NOT NULL,
    function_url text NOT NULL,
    http_method text NOT NULL DEFAULT 'POST',
    headers jsonb NOT NULL DEFAULT '{}',
    body jsonb,
    is_active boolean NOT NULL DEFAULT true,
    last_executed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
  );
  CREATE TABLE IF NOT EXISTS schedules.runs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    schedule_id uuid NOT NULL REFERENCES schedules.jobs(id) ON DELETE CASCADE,
    executed_at timestamptz NOT NULL DEFAULT now(),
    status_code int NOT NULL,
    success boolean NOT NULL,
    duration_ms int NOT NULL,
    message text
  );
  CREATE INDEX IF NOT EXISTS runs_by_schedule ON schedules.runs (schedule_id, executed_at DESC);`);

export const RUNS_KEPT = 100;

export interface ScheduleRow {
  id: string;
  name: string;
  cronSchedule: string;
  functionSlug: string;
  functionUrl: string;
  httpMethod: string;
  headers: Record<string, string>;
  body: unknown;
  isActive: boolean;
  lastExecutedAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export type NewSchedule = Pick<ScheduleRow, 'name' | 'cronSchedule' | 'functionSlug' | 'functionUrl' | 'httpMethod' | 'headers' | 'body'>;

export interface RunRecord {
  statusCode: number;
  success: boolean;
  durationMs: number;
  message: string | null;
}

const COLUMNS = `id, name, cron_schedule AS "cronSchedule", function_slug AS "functionSlug", function_url AS "functionUrl", http_method AS "httpMethod", headers, body, is_active AS "isActive", ${iso('last_executed_at')} AS "lastExecutedAt", ${iso('created_at')} AS "createdAt", ${iso('updated_at')} AS "updatedAt"`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class ScheduleStore {
  constructor(private readonly db: Queryable) {}

  async list(): Promise<ScheduleRow[]> {
    return (await this.db.query<ScheduleRow>(`SELECT ${COLUMNS} FROM schedules.jobs ORDER BY created_at`)).rows;
  }

  async get(id: string): Promise<ScheduleRow | undefined> {
    if (!UUID.test(id)) return undefined;
    return (await this.db.query<ScheduleRow>(`SELECT ${COLUMNS} FROM schedules.jobs WHERE id = $1`, [id])).rows[0];
  }

  async create(s: NewSchedule): Promise<ScheduleRow> {
    const { rows } = await this.db.query<ScheduleRow>(
      `INSERT INTO schedules.jobs (name, cron_schedule, function_slug, function_url, http_method, headers, body) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
      [s.name, s.cronSchedule, s.functionSlug, s.functionUrl, s.httpMethod, JSON.stringify(s.headers), s.body === undefined ? null : JSON.stringify(s.body)],
    );
    return rows[0]!;
  }

  async update(id: string, s: Partial<NewSchedule> & { isActive?: boolean }): Promise<ScheduleRow | undefined> {
    if (!UUID.test(id)) return undefined;
    const { rows } = await this.db.query<ScheduleRow>(
      `UPDATE schedules.jobs SET
         name = coalesce($2, name), cron_schedule = coalesce($3, cron_schedule), function_slug = coalesce($4, function_slug),
         function_url = coalesce($5, function_url), http_method = coalesce($6, http_method), headers = coalesce($7::jsonb, headers),
         body = CASE WHEN $8 THEN $9::jsonb ELSE body END, is_active = coalesce($10, is_active), updated_at = now()
       WHERE id = $1 RETURNING ${COLUMNS}`,
      [id, s.name ?? null, s.cronSchedule ?? null, s.functionSlug ?? null, s.functionUrl ?? null, s.httpMethod ?? null, s.headers ? JSON.stringify(s.headers) : null, s.body !== undefined, s.body === undefined ? null : JSON.stringify(s.body), s.isActive ?? null],
    );
    return rows[0];
  }

  async remove(id: string): Promise<boolean> {
    if (!UUID.test(id)) return false;
    return (await this.db.query('DELETE FROM schedules.jobs WHERE id = $1', [id])).rowCount > 0;
  }

  /** Records a run and keeps only the newest RUNS_KEPT of the schedule. */
  async recordRun(id: string, run: RunRecord): Promise<void> {
    await this.db.query(
      `WITH added AS (INSERT INTO schedules.runs (schedule_id, status_code, success, duration_ms, message) VALUES ($1, $2, $3, $4, $5) RETURNING schedule_id),
            touched AS (UPDATE schedules.jobs SET last_executed_at = now() WHERE id = $1)
       DELETE FROM schedules.runs WHERE schedule_id = $1 AND id NOT IN (SELECT id FROM schedules.runs WHERE schedule_id = $1 ORDER BY executed_at DESC LIMIT ${RUNS_KEPT - 1})`,
      [id, run.statusCode, run.success, run.durationMs, run.message],
    );
  }

  async runs(id: string, limit: number, offset: number): Promise<{ logs: Record<string, unknown>[]; total: number }> {
    const { rows } = await this.db.query<Record<string, unknown>>(
      `SELECT id, schedule_id AS "scheduleId", ${iso('executed_at')} AS "executedAt", status_code AS "statusCode", success, duration_ms AS "durationMs", message
       FROM schedules.runs WHERE schedule_id = $1 ORDER BY executed_at DESC LIMIT $2 OFFSET $3`,
      [id, limit, offset],
    );
    const count = await this.db.query<{ n: string | number }>('SELECT count(*) AS n FROM schedules.runs WHERE schedule_id = $1', [id]);
    return { logs: rows, total: Number(count.rows[0]?.n ?? 0) };
  }
}

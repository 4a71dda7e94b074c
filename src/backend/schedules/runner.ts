import { Cron } from 'croner';
import { ApiError } from '../errors.js';
import type { InvokeFunction } from '../functions/routes.js';
import { cronPattern } from './cron.js';
import type { ScheduleRow, ScheduleStore } from './store.js';

/**
 * Runs the active schedules of this backend: one croner job each, started from the stored rows at
 * start-up (so schedules survive restarts; a run missed while the backend was stopped is not made
 * up) and changed with them. croner's `protect` keeps one run at a time per schedule: a run still
 * going when the next one is due makes that one skip. Each run is an invocation (in the functions
 * log, trigger "schedule") and a row of the schedule's runs.
 */
export class Scheduler {
  private readonly jobs = new Map<string, Cron>();
  private stopped = false;

  constructor(
    private readonly store: ScheduleStore,
    private readonly invoke: InvokeFunction,
    private readonly log: (msg: string) => void,
  ) {}

  async start(): Promise<void> {
    for (const row of await this.store.list()) this.set(row);
  }

  /** (Re)starts or stops the job of a schedule as its row now says. */
  set(row: ScheduleRow): void {
    this.unset(row.id);
    if (this.stopped || !row.isActive) return;
    const job = new Cron(cronPattern(row.cronSchedule), { protect: true, catch: (err) => this.log(`schedule ${row.id}: ${(err as Error).message}`) }, () => this.run(row));
    this.jobs.set(row.id, job);
  }

  unset(id: string): void {
    this.jobs.get(id)?.stop();
    this.jobs.delete(id);
  }

  nextRun(id: string): string | null {
    return this.jobs.get(id)?.nextRun()?.toISOString() ?? null;
  }

  stop(): void {
    this.stopped = true;
    for (const id of [...this.jobs.keys()]) this.unset(id);
  }

  private async run(row: ScheduleRow): Promise<void> {
    const started = performance.now();
    let statusCode: number;
    let message: string | null = null;
    try {
      ({ status: statusCode } = await this.invoke(row.functionSlug, { method: row.httpMethod, headers: row.headers, body: row.body ?? undefined }, { kind: 'schedule', scheduleId: row.id }));
    } catch (err) {
      statusCode = err instanceof ApiError ? err.statusCode : 500;
      message = err instanceof Error ? err.message : String(err);
    }
    if (this.stopped) return;
    const durationMs = Math.round(performance.now() - started);
    await this.store.recordRun(row.id, { statusCode, success: statusCode < 400, durationMs, message }).catch((err: Error) => this.log(`schedule ${row.id}: its run could not be recorded: ${err.message}`));
  }
}

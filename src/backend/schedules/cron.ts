import { Cron } from 'croner';
import { ApiError } from '../errors.js';

/** InsForge's sub-minute form: "30 seconds" (1–59). */
const INTERVAL = /^\s*([1-9]|[1-5]\d)\s+seconds?\s*$/i;

/**
 * A schedule's cron as croner runs it: InsForge's forms (5 fields, or "N seconds") and, on this
 * backend, 6 fields with seconds first ("*\/10 * * * * *"). Throws 400 naming the field otherwise.
 */
export function cronPattern(cron: unknown): string {
  if (typeof cron !== 'string' || !cron.trim()) throw invalidCron('cronSchedule: Required');
  const interval = INTERVAL.exec(cron);
  const pattern = interval ? `*/${interval[1]} * * * * *` : cron.trim();
  const fields = pattern.split(/\s+/).length;
  if (fields !== 5 && fields !== 6) throw invalidCron('cronSchedule: 5 fields (minute hour day month weekday), 6 with seconds first, or "N seconds"');
  try {
    new Cron(pattern, { paused: true }).stop();
  } catch (err) {
    throw invalidCron(`cronSchedule: ${(err as Error).message}`);
  }
  return pattern;
}

const invalidCron = (message: string) => new ApiError(400, 'INVALID_INPUT', message, 'Send e.g. "*/5 * * * *" (every 5 minutes), "*/10 * * * * *" (every 10 seconds) or "30 seconds".');

/** When a pattern fires next after now, as ISO text (null: never again). */
export const nextRunOf = (pattern: string): string | null => new Cron(pattern, { paused: true }).nextRun()?.toISOString() ?? null;

import type { PgErrorLike, TableInfo } from './db/types.js';

/** The seed's error envelope; `code` carries the Postgres SQLSTATE when there is one. */
export interface ErrorEnvelope {
  statusCode: number;
  error: string;
  message: string;
  nextActions?: string;
  code?: string;
  /** A sentence, or (PostgREST's PGRST201) the list of candidate relationships. */
  details?: string | Array<Record<string, string>>;
  hint?: string;
}

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly error: string,
    message: string,
    readonly nextActions?: string,
    readonly extra: Pick<ErrorEnvelope, 'code' | 'details' | 'hint'> = {},
  ) {
    super(message);
  }

  toEnvelope(): ErrorEnvelope {
    return { statusCode: this.statusCode, error: this.error, message: this.message, ...(this.nextActions ? { nextActions: this.nextActions } : {}), ...this.extra };
  }
}

interface PgMapping {
  status: number;
  error: string;
  next: string;
}

/** An unknown table, as app code should go on: the routes that list and create tables. */
export const TABLE_NOT_FOUND_NEXT = 'Check the table name (GET /api/metadata lists the tables), or create the table first (POST /api/database/tables).';

/** SQLSTATE → status, by exact code first, then by class (first two characters). Next actions name routes: the reader is app code. */
const BY_CODE: Record<string, PgMapping> = {
  '42P01': { status: 404, error: 'DATABASE_NOT_FOUND', next: TABLE_NOT_FOUND_NEXT },
  '42883': { status: 404, error: 'DATABASE_NOT_FOUND', next: 'Check the function name and argument names and types.' },
  '42703': { status: 400, error: 'DATABASE_VALIDATION_ERROR', next: 'Check the column names: GET /api/metadata/{table} lists them.' },
  '42501': { status: 403, error: 'FORBIDDEN', next: 'Row-level security or privileges refused this. Check the policies on the table, or use a key or user allowed to do it.' },
  '23505': { status: 409, error: 'DATABASE_DUPLICATE', next: 'A row with this unique value exists. Use an upsert (on conflict) or change the value.' },
  '23503': { status: 409, error: 'DATABASE_CONSTRAINT_VIOLATION', next: 'The referenced row does not exist, or other rows still reference this one.' },
  '23502': { status: 400, error: 'MISSING_FIELD', next: 'Give a value for every NOT NULL column without a default.' },
  '23514': { status: 400, error: 'DATABASE_CONSTRAINT_VIOLATION', next: 'The values break a CHECK constraint on the table.' },
  '22P02': { status: 400, error: 'INVALID_INPUT', next: 'A value does not match its column type.' },
  '25006': { status: 405, error: 'FORBIDDEN', next: 'The transaction is read-only.' },
  '57014': { status: 504, error: 'DATABASE_TIMEOUT', next: 'The statement took too long. Add filters, an index or a limit.' },
  P0001: { status: 400, error: 'DATABASE_RAISED', next: 'The database function raised this error on purpose; read the message.' },
};
const BY_CLASS: Record<string, PgMapping> = {
  '08': { status: 503, error: 'DATABASE_UNAVAILABLE', next: 'The database connection failed; try again shortly.' },
  '22': { status: 400, error: 'INVALID_INPUT', next: 'A value is out of range or malformed for its column type.' },
  '23': { status: 409, error: 'DATABASE_CONSTRAINT_VIOLATION', next: 'The change breaks a constraint on the table.' },
  '42': { status: 400, error: 'DATABASE_VALIDATION_ERROR', next: 'Fix the SQL or the names it uses.' },
  '53': { status: 503, error: 'DATABASE_UNAVAILABLE', next: 'The database is out of resources; try again shortly.' },
};

export const isPgError = (err: unknown): err is PgErrorLike & Error =>
  err instanceof Error && typeof (err as PgErrorLike).code === 'string' && /^[0-9A-Z]{5}$/.test((err as PgErrorLike).code!);

export function fromPgError(err: PgErrorLike): ApiError {
  const code = err.code ?? 'XX000';
  const m = BY_CODE[code] ?? BY_CLASS[code.slice(0, 2)] ?? { status: 500, error: 'DATABASE_INTERNAL_ERROR', next: 'The database failed unexpectedly; see the message.' };
  return new ApiError(m.status, m.error, err.message, m.next, {
    code,
    ...(err.detail ? { details: err.detail } : {}),
    ...(err.hint ? { hint: err.hint } : {}),
  });
}

/**
 * A NOT NULL column whose default is auth.uid(), written by a request without a user (the admin or
 * the anon key): the value is missing because auth.uid() is null, not because the caller left it out
 * by mistake. Said as such; undefined for any other error.
 */
export function uidWasNull(err: unknown, table: TableInfo, role: string): ApiError | undefined {
  if (role === 'authenticated' || !isPgError(err) || err.code !== '23502') return undefined;
  const name = (err as { column?: unknown }).column;
  const column = typeof name === 'string' ? table.columns.get(name) : undefined;
  if (!column || !/\bauth\.uid\(\)/.test(column.defaultValue ?? '')) return undefined;
  const who = role === 'project_admin' ? 'the admin API key' : 'the anon key';
  return new ApiError(
    400,
    'MISSING_FIELD',
    `${table.name}.${column.name} defaults to auth.uid(), which is null: this request was made with ${who}, not by a signed-in user`,
    `Sign in (POST /api/auth/sessions) and send the user's access token as Authorization: Bearer, or give ${column.name} in the body.`,
    { code: '23502', details: err.message },
  );
}

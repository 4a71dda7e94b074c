import type { BackendError } from '../client/errors.js';

/**
 * The backend's nextActions speak to app code: they name REST routes and headers. An agent reaches the
 * backend through tools, so for the errors it meets most the next action names the tool (and argument)
 * to use instead. This table is the one place where that translation lives; an error not in it keeps
 * the backend's own words (most are about the values sent, which read the same to either reader).
 */
interface Rule {
  /** The error's code: a SQLSTATE, PostgREST's PGRST…, or the envelope's error name. */
  code: string;
  /** Narrows a code shared by several cases (e.g. a missing bucket vs a missing file). */
  message?: RegExp;
  next: string;
}

const RULES: Rule[] = [
  { code: '42P01', next: 'List the tables with get-backend-metadata, or create this one with run-sql.' },
  { code: 'DATABASE_NOT_FOUND', message: /\btable\b/, next: 'List the tables with get-backend-metadata, or create this one with run-sql.' },
  { code: '42703', next: 'Check the column names with describe-table.' },
  { code: 'PGRST202', next: 'Check the function name and its argument names (get-backend-metadata with verbose: true lists the functions), or create it with run-sql.' },
  { code: '42883', next: 'Check the function name and its argument names and types (get-backend-metadata with verbose: true lists the functions).' },
  { code: '23502', message: /auth\.uid\(\)/, next: 'auth.uid() is null when the data tools act with a key: sign in (sign-in or sign-up) so that they act as a user, or give that column in each record.' },
  { code: '23502', next: 'Give a value for every NOT NULL column without a default (describe-table shows them).' },
  { code: '23505', next: 'A row with this unique value exists: change the value, or insert with upsert ({onConflict: [columns]}).' },
  { code: '42501', next: 'Row-level security or privileges refused this: check the policies with describe-table, sign in as a user the policies allow, or sign-out to act with the admin key.' },
  { code: 'PGRST', next: 'Fix the arguments: where/or items are {column, op, value, not?}; select is "col,alias:col,col::type"; order items are {column, ascending?, nulls?}.' },
  { code: 'STORAGE_NOT_FOUND', message: /^Bucket/, next: 'List the buckets with list-buckets, or create it with create-bucket.' },
  { code: 'STORAGE_NOT_FOUND', message: /^Object/, next: 'List the files of the bucket with list-files (prefix narrows it).' },
  { code: 'FORBIDDEN', message: /^Bucket .* is private/, next: 'Sign in (sign-in) as a user allowed to use the bucket, or start insforge-mcp with the admin API key (--api-key).' },
  { code: 'FORBIDDEN', message: /^Admin access required/, next: 'This needs the admin API key: start insforge-mcp with --api-key (env INSFORGE_API_KEY).' },
  { code: 'FUNCTION_NOT_FOUND', next: 'List the functions with list-functions, or deploy it with deploy-function.' },
  { code: 'INVALID_CREDENTIALS', next: 'Check the email and password, or create the user with sign-up.' },
  { code: 'AUTH_INVALID_CREDENTIALS', message: /anon key/, next: 'Check the anon key insforge-mcp was started with (--anon-key or INSFORGE_ANON_KEY).' },
  { code: 'AUTH_INVALID_CREDENTIALS', message: /No token/, next: 'Start insforge-mcp with --api-key (or INSFORGE_API_KEY), or at least --anon-key.' },
  { code: 'AUTH_UNAUTHORIZED', message: /^Invalid credentials/, next: 'Check the email and password, or create the user with sign-up.' },
  { code: 'AUTH_UNAUTHORIZED', message: /needs a user/, next: 'Sign in first with sign-in (or sign-up).' },
  { code: 'AUTH_INVALID_API_KEY', next: 'Check the admin API key insforge-mcp was started with (--api-key or INSFORGE_API_KEY).' },
  { code: 'AI_UPSTREAM_UNAVAILABLE', message: /No AI provider/, next: "Start insforge-mcp with --ai-base-url (and --ai-api-key if the provider needs one). If it was: get-backend-metadata's notes say whether this server shares a backend started without it." },
  { code: 'AI_INVALID_MODEL', next: 'Pick a model that outputs images: list-ai-models shows each model\'s "out" modalities.' },
];

const matches = (rule: Rule, err: BackendError) =>
  (rule.code === 'PGRST' ? /^PGRST1\d\d$/.test(err.code) : rule.code === err.code) && (!rule.message || rule.message.test(err.message));

/** The next action for an agent: the table's, else the backend's own. */
export function nextActionForAgent(err: BackendError): string | undefined {
  return RULES.find((rule) => matches(rule, err))?.next ?? err.nextActions;
}

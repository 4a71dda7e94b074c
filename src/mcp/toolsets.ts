import { FEATURES, type Feature, type Tool } from './tool.js';
import { metadataTools } from './tools/metadata.js';
import { databaseTools, runSql, runSqlReadOnly } from './tools/database.js';
import { authTools, signOut, signOutReadOnly } from './tools/auth.js';
import { storageTools } from './tools/storage.js';
import { aiTools } from './tools/ai.js';
import { functionTools } from './tools/functions.js';
import { secretTools } from './tools/secrets.js';
import { logTools } from './tools/logs.js';
import { docTools } from './tools/docs.js';
import { scheduleTools } from './tools/schedules.js';

const ALL: Tool[] = [...metadataTools, ...databaseTools, ...authTools, ...storageTools, ...aiTools, ...functionTools, ...secretTools, ...scheduleTools, ...logTools, ...docTools];

/** Every tool any mode can offer (for the listing computed at build time). */
export const EVERY_TOOL: readonly Tool[] = [...ALL, runSqlReadOnly, signOutReadOnly];

/** Tools that write, and the form they take in read-only mode. */
const READ_ONLY_FORMS = new Map<Tool, Tool>([
  [runSql, runSqlReadOnly],
  [signOut, signOutReadOnly],
]);

export interface Mode {
  readOnly: boolean;
  features: readonly Feature[];
}

/**
 * The tools a server offers: only the enabled groups; in read-only mode only tools that write
 * nothing, with run-sql and sign-out swapped for their read-only forms. Computed once per process.
 */
export function selectTools(mode: Mode): Tool[] {
  return ALL.filter((t) => mode.features.includes(t.spec.group))
    .map((t) => (mode.readOnly ? (READ_ONLY_FORMS.get(t) ?? t) : t))
    .filter((t) => !mode.readOnly || t.spec.annotations.readOnlyHint === true);
}

/** The effective mode in one sentence, for the server's instructions and stderr. */
export function describeMode(mode: Mode): string {
  const groups = mode.features.length === FEATURES.length ? 'all tool groups' : `tool groups: ${mode.features.join(', ')}`;
  return mode.readOnly
    ? `Mode: READ-ONLY (tools that write are not offered; run-sql runs one statement in a read-only transaction), ${groups}.`
    : `Mode: read-write, ${groups}. Destructive calls need the user's confirmation.`;
}

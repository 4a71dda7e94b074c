/**
 * Helpers for the backend's own schemas (functions, secrets, schedules): SQL run at every start.
 */

/**
 * DDL made idempotent for two backends starting at once on one Postgres database: IF NOT EXISTS
 * covers a second start, the handler a race between two.
 */
export const idempotentDdl = (ddl: string) => `
DO $$
BEGIN
${ddl}
EXCEPTION WHEN duplicate_object OR duplicate_table OR unique_violation THEN NULL;
END $$;
`;

/** A timestamp as ISO 8601 text made by Postgres, so both drivers return the same strings. */
export const isoText = (col: string) => `to_json(${col}) #>> '{}'`;

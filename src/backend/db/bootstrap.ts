import type { Database } from './types.js';
import { boundarySql } from './boundary.js';
import { AUTH_SCHEMA_SQL } from '../auth/accounts.js';
import { STORAGE_SCHEMA_SQL } from '../storage/schema.js';
import { FUNCTIONS_SCHEMA_SQL } from '../functions/store.js';
import { SECRETS_SCHEMA_SQL } from '../secrets/store.js';
import { SCHEDULES_SCHEMA_SQL } from '../schedules/store.js';
import { TABLES_SCHEMA_SQL } from './tables.js';

/**
 * Roles and helpers every request relies on. Idempotent: runs at every start, on PGlite and on a
 * shared Postgres cluster alike (roles are cluster-wide, so creation tolerates a racing twin).
 *
 *  anon          — requests with the anon key
 *  authenticated — requests with a user's access token (auth.uid() = the token's sub)
 *  project_admin — requests with the admin key; BYPASSRLS, owns what run-sql creates
 *
 * Data is granted to anon/authenticated on every public table: row-level security decides
 * what they see, as in InsForge and Supabase.
 */
const BOOTSTRAP_SQL = `
DO $$
DECLARE r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['anon', 'authenticated', 'project_admin'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I NOLOGIN', r);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
      END;
    END IF;
  END LOOP;
END $$;
ALTER ROLE project_admin BYPASSRLS;
GRANT anon, authenticated, project_admin TO CURRENT_USER;

GRANT USAGE ON SCHEMA public TO anon, authenticated, project_admin;
GRANT CREATE ON SCHEMA public TO project_admin;
GRANT ALL ON ALL TABLES IN SCHEMA public TO anon, authenticated, project_admin;
GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO anon, authenticated, project_admin;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO anon, authenticated, project_admin;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, project_admin;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated, project_admin;
ALTER DEFAULT PRIVILEGES FOR ROLE project_admin IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated;
ALTER DEFAULT PRIVILEGES FOR ROLE project_admin IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated;

CREATE SCHEMA IF NOT EXISTS auth;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, project_admin;

-- The JWT claims of the request, set per transaction by the backend ('{}' for keys).
CREATE OR REPLACE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS $fn$
  SELECT coalesce(nullif(current_setting('request.jwt.claims', true), ''), '{}')::jsonb
$fn$;
CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $fn$
  SELECT nullif(auth.jwt() ->> 'sub', '')::uuid
$fn$;
CREATE OR REPLACE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS $fn$
  SELECT coalesce(auth.jwt() ->> 'role', current_user)
$fn$;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA auth TO anon, authenticated, project_admin;
`;

/**
 * Runs as the database's owner (PGlite's superuser session, or the database URL's user). The
 * session role of request traffic, where it is a login role of its own (Postgres), may call the
 * three roles' boundary functions, and nothing else.
 */
export async function bootstrap(db: Database & { sessionRole?: string }): Promise<void> {
  const q = db.internal;
  await q.exec(BOOTSTRAP_SQL);
  await q.exec(AUTH_SCHEMA_SQL);
  await q.exec(STORAGE_SCHEMA_SQL);
  await q.exec(FUNCTIONS_SCHEMA_SQL);
  await q.exec(SECRETS_SCHEMA_SQL);
  await q.exec(SCHEDULES_SCHEMA_SQL);
  await q.exec(TABLES_SCHEMA_SQL);
  // the request role calls the boundary functions and needs no role of its own: a membership an
  // older version granted goes
  if (db.sessionRole) await q.exec(`REVOKE anon, authenticated, project_admin FROM ${db.sessionRole};`);
  await q.exec(boundarySql(db.sessionRole));
}

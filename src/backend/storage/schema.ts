/**
 * The storage schema: buckets and object metadata (the bytes live on disk, see disk.ts).
 * Idempotent, run at every start after the roles and auth.jwt() exist (bootstrap.ts).
 *
 * Who may do what with objects (row-level security on storage.objects):
 *  project_admin  everything (BYPASSRLS)
 *  anon           read objects in public buckets; add new objects to public buckets (owner NULL);
 *                 never replace or delete
 *  authenticated  read objects in public buckets and its own objects anywhere; add objects to any
 *                 bucket as their owner; replace and delete only its own objects
 * Buckets are readable by every role (name and visibility only) and changed by the admin alone.
 */
export const STORAGE_SCHEMA_SQL = `
CREATE SCHEMA IF NOT EXISTS storage;
GRANT USAGE ON SCHEMA storage TO anon, authenticated, project_admin;

CREATE TABLE IF NOT EXISTS storage.buckets (
  name text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_-]{1,63}$'),
  public boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS storage.objects (
  bucket text NOT NULL REFERENCES storage.buckets (name) ON DELETE CASCADE,
  key text NOT NULL CHECK (octet_length(key) BETWEEN 1 AND 1024),
  size bigint NOT NULL CHECK (size >= 0),
  mime_type text NOT NULL,
  etag text NOT NULL,
  owner text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (bucket, key)
);
-- The version file holding the bytes (disk.ts): a new one per upload, so the row and its bytes change
-- together. NULL only for rows from before versioned files, until recovery.ts moves their bytes.
ALTER TABLE storage.objects ADD COLUMN IF NOT EXISTS file text;
CREATE UNIQUE INDEX IF NOT EXISTS objects_file ON storage.objects (bucket, file);

-- Names this database's folder of version files, so that a data dir pointed at another database
-- never has one database's files cleaned up as orphans of the other.
CREATE TABLE IF NOT EXISTS storage.instance (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  id text NOT NULL DEFAULT replace(gen_random_uuid()::text, '-', '')
);
INSERT INTO storage.instance DEFAULT VALUES ON CONFLICT DO NOTHING;
GRANT SELECT ON storage.instance TO project_admin;
-- Bucket names differing only in case would share a folder on case-insensitive disks (macOS,
-- Windows): refused instead. Keys too, as before versioned files, for clients that mirror keys to such disks.
CREATE UNIQUE INDEX IF NOT EXISTS buckets_name_nocase ON storage.buckets (lower(name));
CREATE UNIQUE INDEX IF NOT EXISTS objects_key_nocase ON storage.objects (bucket, lower(key));

GRANT SELECT ON storage.buckets TO anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON storage.buckets TO project_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON storage.objects TO anon, authenticated, project_admin;

CREATE OR REPLACE FUNCTION storage.is_public(bucket_name text) RETURNS boolean LANGUAGE sql STABLE AS $fn$
  SELECT coalesce((SELECT public FROM storage.buckets WHERE name = bucket_name), false)
$fn$;
-- Whether the current role may add objects to the bucket: the insert policy and the check made
-- before an upload streams (so a refused upload is refused before its bytes are read) share it.
CREATE OR REPLACE FUNCTION storage.can_insert(bucket_name text) RETURNS boolean LANGUAGE sql STABLE AS $fn$
  SELECT current_user IN ('authenticated', 'project_admin') OR storage.is_public(bucket_name)
$fn$;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA storage TO anon, authenticated, project_admin;

ALTER TABLE storage.objects ENABLE ROW LEVEL SECURITY;
-- Dropped and created again so that a changed rule reaches existing data dirs.
DROP POLICY IF EXISTS objects_select ON storage.objects;
CREATE POLICY objects_select ON storage.objects FOR SELECT TO anon, authenticated
  USING (storage.is_public(bucket) OR owner = auth.jwt() ->> 'sub');
DROP POLICY IF EXISTS objects_insert ON storage.objects;
CREATE POLICY objects_insert ON storage.objects FOR INSERT TO anon, authenticated
  WITH CHECK (storage.can_insert(bucket) AND owner IS NOT DISTINCT FROM auth.jwt() ->> 'sub');
DROP POLICY IF EXISTS objects_update ON storage.objects;
CREATE POLICY objects_update ON storage.objects FOR UPDATE TO authenticated
  USING (owner = auth.jwt() ->> 'sub') WITH CHECK (owner = auth.jwt() ->> 'sub');
DROP POLICY IF EXISTS objects_delete ON storage.objects;
CREATE POLICY objects_delete ON storage.objects FOR DELETE TO authenticated
  USING (owner = auth.jwt() ->> 'sub');
`;

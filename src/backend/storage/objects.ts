import type { FileHandle } from 'node:fs/promises';
import type { Caller } from '../caller.js';
import type { BackendContext } from '../context.js';
import type { StorageDisk, TempFile } from './disk.js';

export interface ObjectRow {
  bucket: string;
  key: string;
  size: number | string;
  mime_type: string;
  etag: string;
  updated_at: Date | string;
  /** The version file with the bytes (NULL: a row from before versioned files whose bytes were not found). */
  file: string | null;
}
export type DeleteOutcome = 'deleted' | 'notFound' | 'forbidden';

export const OBJECT_COLUMNS = 'bucket, key, size, mime_type, etag, updated_at, file';
const UPSERT_OBJECT_SQL = `
INSERT INTO storage.objects (bucket, key, size, mime_type, etag, owner, file) VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (bucket, key) DO UPDATE SET size = excluded.size, mime_type = excluded.mime_type, etag = excluded.etag, file = excluded.file, updated_at = now()
RETURNING ${OBJECT_COLUMNS}`;

/**
 * A file that no row names any more, or never did, is removed at once; if that fails (a disk error,
 * Windows holding it open), the answer still stands: it is an orphan, and the next start removes it.
 */
const leftForStart = (removal: Promise<void>) => removal.catch(() => undefined);

/** Tries at reading a row and opening its version, when overwrites keep replacing it in between. */
const OPEN_ATTEMPTS = 3;

/**
 * Objects as a row plus a version file, changed in an order that a kill -9 at any moment leaves
 * either the old object (its row, bytes and ETag) or the new one:
 *   write   bytes → temp file → version file no row names yet → row names it, COMMIT → old version removed
 *   delete  row removed, COMMIT → its version removed
 * Killed before a COMMIT, a version no row names is left; after it, an old version no row names.
 * Both are orphans, removed at the next start before any request is served (recovery.ts).
 */
export class ObjectStore {
  constructor(
    private readonly ctx: BackendContext,
    readonly disk: StorageDisk,
  ) {}

  /** Makes the uploaded temp file the object's bytes: creates or replaces the object. */
  async put(caller: Caller, object: { bucket: string; key: string; mimeType: string; owner: string | null }, temp: TempFile): Promise<ObjectRow> {
    const { bucket, key } = object;
    const file = await this.disk.install(temp, bucket);
    let row: ObjectRow;
    let replaced: string | null | undefined;
    try {
      row = await this.ctx.runAs(caller, async (tx) => {
        // locked, so that the version removed below is the one this row named until now
        const old = await tx.query<{ file: string | null }>('SELECT file FROM storage.objects WHERE bucket = $1 AND key = $2 FOR UPDATE', [bucket, key]);
        const { rows } = await tx.query<ObjectRow>(UPSERT_OBJECT_SQL, [bucket, key, temp.size, object.mimeType, temp.md5, object.owner, file]);
        replaced = old.rows[0]?.file;
        return rows[0]!;
      });
    } catch (err) {
      await leftForStart(this.disk.removeVersion(bucket, file));
      throw err;
    }
    if (replaced && replaced !== file) await leftForStart(this.disk.removeVersion(bucket, replaced));
    return row;
  }

  /** Deletes an object; row-level security decides whether the caller may. */
  async delete(caller: Caller, bucket: string, key: string): Promise<DeleteOutcome> {
    const { outcome, file } = await this.ctx.runAs(caller, async (tx) => {
      const deleted = await tx.query<{ file: string | null }>('DELETE FROM storage.objects WHERE bucket = $1 AND key = $2 RETURNING file', [bucket, key]);
      if (deleted.rows[0]) return { outcome: 'deleted' as const, file: deleted.rows[0].file };
      // row-level security hides what it refuses: a row still visible is one we may not delete
      const seen = await tx.query('SELECT 1 FROM storage.objects WHERE bucket = $1 AND key = $2', [bucket, key]);
      return { outcome: seen.rows.length ? ('forbidden' as const) : ('notFound' as const), file: null };
    });
    if (file) await leftForStart(this.disk.removeVersion(bucket, file));
    return outcome;
  }

  /** Deletes a bucket with its objects (admin); false when there was none. */
  async deleteBucket(caller: Caller, bucket: string): Promise<boolean> {
    const { rows } = await this.ctx.runAs(caller, (tx) => tx.query('DELETE FROM storage.buckets WHERE name = $1 RETURNING name', [bucket]));
    if (rows.length) await leftForStart(this.disk.removeBucketFolder(bucket));
    return rows.length > 0;
  }

  /**
   * Reads the object's row (through `read`, which also checks access) and opens the version it names.
   * An overwrite may remove that version between the two: then the row is read again. A version
   * once opened stays readable to the end, whatever happens to it afterwards.
   */
  async open(bucket: string, read: () => Promise<ObjectRow>): Promise<{ row: ObjectRow; file: FileHandle } | undefined> {
    for (let attempt = 0; attempt < OPEN_ATTEMPTS; attempt++) {
      const row = await read();
      const file = row.file ? await this.disk.open(bucket, row.file) : undefined;
      if (file) return { row, file };
      if (!row.file) return undefined;
    }
    return undefined;
  }
}


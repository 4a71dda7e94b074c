import { lstat, realpath, rm, rmdir } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import type { Caller } from '../caller.js';
import type { BackendContext } from '../context.js';
import { StorageDisk } from './disk.js';
import { objectPath } from './keys.js';

/**
 * Storage at start, before any request is served: the objects folder of this database, emptied of
 * what a killed run left behind (temp files, versions no row names, folders of deleted buckets),
 * and the bytes of rows from before versioned files moved into version files.
 */

/** The start-up clean-up sees every row (project_admin bypasses row-level security). */
const JANITOR: Caller = { role: 'project_admin', claims: { role: 'project_admin' }, rateKey: 'admin' };

export async function openStorageDisk(ctx: BackendContext, root: string): Promise<StorageDisk> {
  const { rows } = await ctx.runAs(JANITOR, (tx) => tx.query<{ id: string }>('SELECT id FROM storage.instance'));
  // it becomes a folder name: refuse anything but a plain token (only the database owner can change it)
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(rows[0]?.id ?? '')) throw new Error(`storage.instance holds no usable id (${JSON.stringify(rows[0]?.id)}): the storage schema was not set up`);
  const disk = new StorageDisk(root, rows[0]!.id);
  await disk.prepare();
  await adoptLegacyFiles(ctx, disk);
  await removeOrphans(ctx, disk);
  return disk;
}

/** Anything in the objects folder that no row names. Runs only with the database's full answer in hand. */
async function removeOrphans(ctx: BackendContext, disk: StorageDisk): Promise<void> {
  const buckets = new Set((await ctx.runAs(JANITOR, (tx) => tx.query<{ name: string }>('SELECT name FROM storage.buckets'))).rows.map((r) => r.name));
  for (const folder of await disk.bucketFolders()) {
    // a symlink or file in a bucket folder's place is removed itself, never followed
    if (!folder.isDirectory || !buckets.has(folder.name)) {
      await disk.removeBucketFolder(folder.name);
      continue;
    }
    const { rows } = await ctx.runAs(JANITOR, (tx) => tx.query<{ file: string }>('SELECT file FROM storage.objects WHERE bucket = $1 AND file IS NOT NULL', [folder.name]));
    const named = new Set(rows.map((r) => r.file));
    for (const entry of await disk.entries(folder.name)) {
      if (!entry.isFile || !named.has(entry.name)) await disk.removeEntry(folder.name, entry.name);
    }
  }
}

/**
 * Data dirs from before versioned files keep an object's bytes at `<root>/<bucket>/<key>`. Each such
 * row gets a version file (a hard link, else a copy), the row names it, then the old path goes.
 * Killed in between, the next start finds either an orphan version (removed) and the row still
 * to adopt, or the row adopted and an old path left over (harmless, never served).
 */
async function adoptLegacyFiles(ctx: BackendContext, disk: StorageDisk): Promise<void> {
  const { rows } = await ctx.runAs(JANITOR, (tx) => tx.query<{ bucket: string; key: string }>('SELECT bucket, key FROM storage.objects WHERE file IS NULL'));
  for (const { bucket, key } of rows) {
    const path = await legacyPath(disk.root, bucket, key);
    if (!path) continue; // bytes not here (another data dir's database): the object stays unreadable, as it was
    const file = await disk.adopt(path, bucket);
    await ctx.runAs(JANITOR, (tx) => tx.query('UPDATE storage.objects SET file = $3 WHERE bucket = $1 AND key = $2 AND file IS NULL', [bucket, key, file]));
    await rm(path, { force: true });
    await pruneEmptyFolders(join(disk.root, bucket), dirname(path));
  }
}

/** Where the old layout kept a key's bytes, if a plain file is there inside its bucket folder (symlinks are not followed out). */
async function legacyPath(root: string, bucket: string, key: string): Promise<string | undefined> {
  try {
    const bucketDir = join(root, bucket);
    const path = objectPath(bucketDir, key);
    const [realBucket, realFolder] = await Promise.all([realpath(bucketDir), realpath(dirname(path))]);
    if (realFolder !== realBucket && !realFolder.startsWith(realBucket + sep)) return undefined;
    return (await lstat(path)).isFile() ? path : undefined;
  } catch {
    return undefined; // missing, or a key the old layout could not have stored
  }
}

/** Removes the folders from `dir` up to and including `top` while they are empty. */
async function pruneEmptyFolders(top: string, dir: string): Promise<void> {
  for (; dir === top || dir.startsWith(top + sep); dir = dirname(dir)) {
    try {
      await rmdir(dir);
    } catch {
      return; // not empty: the folders above are not empty either
    }
  }
}

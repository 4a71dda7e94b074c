import { createHash, randomUUID } from 'node:crypto';
import { constants, createWriteStream } from 'node:fs';
import { copyFile, link, lstat, mkdir, open, readdir, rename, rm, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { checkBucketName } from './keys.js';

/** A finished upload waiting in the temp folder to become a version file. */
export interface TempFile {
  path: string;
  size: number;
  /** MD5 of the content, hex: the object's ETag. */
  md5: string;
}

/** Version files are named by a random UUID; a name read from the database is used only if it looks like one. */
const VERSION_NAME = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const isVersionName = (name: unknown): name is string => typeof name === 'string' && VERSION_NAME.test(name);

const errno = (err: unknown) => (err as NodeJS.ErrnoException)?.code;
// not defined on Windows, where there is nothing to add
const NOFOLLOW = constants.O_NOFOLLOW ?? 0;

/**
 * Object bytes on disk. Keys never become paths: each version of an object is a file of its own,
 * `<objects>/<bucket>/<uuid>`, named by its row (storage.objects.file), and a row changes only in a
 * transaction, so bytes and metadata change together (see objects.ts for the order of steps).
 *
 * `<root>/.tmp` holds uploads in flight and folders being removed. `<root>/objects.<instance>` holds
 * the versions of one database (storage.instance): pointing the same data dir at another database
 * never lets one database's start-up clean-up remove the other's files. The dots keep both apart
 * from the bucket folders of the older layout (`<root>/<bucket>/<key>`, see recovery.ts).
 */
export class StorageDisk {
  readonly root: string;
  readonly tmpDir: string;
  readonly objectsDir: string;

  constructor(root: string, instance: string) {
    this.root = resolve(root);
    this.tmpDir = join(this.root, '.tmp');
    this.objectsDir = join(this.root, `objects.${instance}`);
  }

  /** Creates the folders and drops whatever a killed run left in .tmp. */
  async prepare(): Promise<void> {
    await mkdir(this.tmpDir, { recursive: true, mode: 0o700 });
    await mkdir(this.objectsDir, { recursive: true, mode: 0o700 });
    for (const name of await readdir(this.tmpDir)) await rm(join(this.tmpDir, name), { recursive: true, force: true });
  }

  /**
   * The bucket's folder, created if missing. Checked before use: a plain folder directly in the
   * objects folder, never a symlink planted there (which would lead writes and reads elsewhere).
   */
  async bucketFolder(bucket: string): Promise<string> {
    const dir = join(this.objectsDir, checkBucketName(bucket));
    try {
      await mkdir(dir, { mode: 0o700 });
    } catch (err) {
      if (errno(err) !== 'EEXIST') throw err;
    }
    if (!(await lstat(dir)).isDirectory()) throw new Error(`Storage folder ${dir} is not a plain folder (a symlink?): refusing to use it`);
    return dir;
  }

  /** Streams source into a new temp file, hashing as it goes, flushed to disk before it resolves. */
  async writeTemp(source: Readable): Promise<TempFile> {
    const path = join(this.tmpDir, `${randomUUID()}.part`);
    const hash = createHash('md5');
    let size = 0;
    try {
      await pipeline(
        source,
        async function* (chunks: AsyncIterable<Buffer>) {
          for await (const chunk of chunks) {
            size += chunk.length;
            hash.update(chunk);
            yield chunk;
          }
        },
        createWriteStream(path, { flags: 'wx', mode: 0o600, flush: true }),
      );
    } catch (err) {
      await this.discard(path);
      throw err;
    }
    return { path, size, md5: hash.digest('hex') };
  }

  /**
   * Moves a finished temp file into the bucket's folder under a new version name and returns the
   * name. Nothing refers to it until its row commits; if that never happens, it is an orphan that
   * the next start removes. The folder is synced so that the committed row never names a file a
   * power cut could lose.
   */
  async install(temp: TempFile, bucket: string): Promise<string> {
    const folder = await this.bucketFolder(bucket);
    const name = randomUUID();
    await rename(temp.path, join(folder, name));
    await syncFolder(folder);
    return name;
  }

  /** Opens a version file for reading; undefined when it is not there. */
  async open(bucket: string, file: string): Promise<FileHandle | undefined> {
    if (!isVersionName(file)) return undefined;
    try {
      // O_NOFOLLOW: a symlink put in a version's place is not followed
      return await open(join(this.objectsDir, checkBucketName(bucket), file), constants.O_RDONLY | NOFOLLOW);
    } catch (err) {
      if (['ENOENT', 'ENOTDIR', 'ELOOP', 'EISDIR'].includes(errno(err) ?? '')) return undefined;
      throw err;
    }
  }

  /** Removes one version file (one no row names any more); missing is fine. */
  async removeVersion(bucket: string, file: string): Promise<void> {
    if (isVersionName(file)) await rm(join(this.objectsDir, checkBucketName(bucket), file), { force: true });
  }

  /** Removes a bucket's folder: first moved aside (one rename), so it never is seen half-removed. */
  async removeBucketFolder(bucket: string): Promise<void> {
    const trash = join(this.tmpDir, `${randomUUID()}.deleted`);
    try {
      await rename(join(this.objectsDir, bucket), trash);
    } catch (err) {
      if (errno(err) === 'ENOENT') return;
      throw err;
    }
    await this.discard(trash);
  }

  /** Gives an old-layout file a version name in its bucket's folder: a hard link, or a copy where links fail. */
  async adopt(path: string, bucket: string): Promise<string> {
    const folder = await this.bucketFolder(bucket);
    const name = randomUUID();
    try {
      await link(path, join(folder, name));
    } catch {
      await copyFile(path, join(folder, name), constants.COPYFILE_EXCL);
    }
    await syncFolder(folder);
    return name;
  }

  /** What the objects folder holds: bucket folders, and whatever else a crash or a hand left there. */
  async bucketFolders(): Promise<{ name: string; isDirectory: boolean }[]> {
    const found = await readdir(this.objectsDir, { withFileTypes: true });
    return found.map((e) => ({ name: e.name, isDirectory: e.isDirectory() }));
  }

  /** Names in a bucket's folder (a plain folder: see removeOrphans), with whether each is a plain file (symlinks are not). */
  async entries(bucket: string): Promise<{ name: string; isFile: boolean }[]> {
    const found = await readdir(join(this.objectsDir, bucket), { withFileTypes: true });
    return found.map((e) => ({ name: e.name, isFile: e.isFile() }));
  }

  /** Removes an entry of a bucket's folder for good (rm does not follow symlinks). */
  async removeEntry(bucket: string, name: string): Promise<void> {
    await rm(join(this.objectsDir, bucket, name), { recursive: true, force: true });
  }

  /** Removes a temp file for good; missing is fine. */
  async discard(path: string): Promise<void> {
    await rm(path, { recursive: true, force: true });
  }
}

/** fsync of a folder, so a rename in it is on disk. Windows cannot open folders: there it is skipped. */
async function syncFolder(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    if (process.platform !== 'win32') throw err;
  } finally {
    await handle?.close();
  }
}

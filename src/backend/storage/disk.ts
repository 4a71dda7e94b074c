import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, realpath, rename, rm, rmdir, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ApiError } from '../errors.js';
import { objectPath } from './keys.js';

/** A finished upload waiting in the temp folder to be moved into place. */
export interface TempFile {
  path: string;
  size: number;
  /** MD5 of the content, hex: the object's ETag. */
  md5: string;
}

const errno = (err: unknown) => (err as NodeJS.ErrnoException)?.code;

/** The object and folder shapes of keys clash: `a` is a file and `a/b` needs it to be a folder, or the reverse. */
const SHAPE_CLASH = new Set(['EEXIST', 'ENOTDIR', 'EISDIR', 'ENOTEMPTY']);

/**
 * Object bytes on disk: `<root>/<bucket>/<key>`, with `<root>/.tmp` for uploads in flight and for
 * files and folders being deleted (the dot keeps it apart from bucket names). Everything first
 * lands in .tmp and is renamed into place, so an object is never seen half-written.
 */
export class StorageDisk {
  readonly root: string;
  readonly tmpDir: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.tmpDir = join(this.root, '.tmp');
  }

  /** Creates the folders and drops whatever a crashed run left in .tmp. */
  async init(): Promise<void> {
    await mkdir(this.tmpDir, { recursive: true, mode: 0o700 });
    for (const name of await readdir(this.tmpDir)) await rm(join(this.tmpDir, name), { recursive: true, force: true });
  }

  bucketDir(bucket: string): string {
    return join(this.root, bucket);
  }

  async createBucket(bucket: string): Promise<void> {
    await mkdir(this.bucketDir(bucket), { recursive: true, mode: 0o700 });
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
   * Moves a temp file to the object's place, creating its folders. The real path of the folder
   * must be inside the bucket's real path (second guard after key validation). Retries when a
   * concurrent delete pruned the folder between mkdir and rename.
   */
  async place(tempPath: string, bucket: string, key: string): Promise<void> {
    const target = objectPath(this.bucketDir(bucket), key);
    for (let attempt = 0; ; attempt++) {
      try {
        await mkdir(dirname(target), { recursive: true, mode: 0o700 });
        const folder = await this.realInside(bucket, dirname(target));
        await rename(tempPath, join(folder, basename(target)));
        return;
      } catch (err) {
        if (errno(err) === 'ENOENT' && attempt < 3) continue;
        if (SHAPE_CLASH.has(errno(err) ?? '')) {
          throw new ApiError(409, 'STORAGE_ALREADY_EXISTS', `Key "${key}" clashes with an existing object or folder: an object and a folder cannot share a name`, 'Choose another key, or delete the object that is in the way.');
        }
        throw err;
      }
    }
  }

  /** Opens an object's file for reading; undefined when it is not on disk. */
  async open(bucket: string, key: string): Promise<FileHandle | undefined> {
    const target = objectPath(this.bucketDir(bucket), key);
    try {
      return await open(await this.realInside(bucket, target), 'r');
    } catch (err) {
      if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR' || errno(err) === 'EISDIR') return undefined;
      throw err;
    }
  }

  /**
   * Moves an object's file (or with no key, the whole bucket folder) to .tmp, so that a delete
   * can be undone until its transaction commits. Returns where it went, or undefined if absent.
   */
  async detach(bucket: string, key?: string): Promise<string | undefined> {
    const target = key === undefined ? this.bucketDir(bucket) : objectPath(this.bucketDir(bucket), key);
    const trash = join(this.tmpDir, `${randomUUID()}.deleted`);
    try {
      const real = key === undefined ? target : await this.realInside(bucket, target);
      await rename(real, trash);
      return trash;
    } catch (err) {
      if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return undefined;
      throw err;
    }
  }

  /** Puts back what detach moved away (the transaction that deleted its metadata failed). */
  async reattach(trash: string, bucket: string, key?: string): Promise<void> {
    const target = key === undefined ? this.bucketDir(bucket) : objectPath(this.bucketDir(bucket), key);
    await mkdir(dirname(target), { recursive: true, mode: 0o700 });
    await rename(trash, target);
  }

  /** Removes a temp or detached file or folder for good; missing is fine. */
  async discard(path: string): Promise<void> {
    await rm(path, { recursive: true, force: true });
  }

  /** Removes the folders a deleted key leaves empty, up to (not including) the bucket folder. */
  async pruneFolders(bucket: string, key: string): Promise<void> {
    const root = this.bucketDir(bucket);
    for (let dir = dirname(objectPath(root, key)); dir.startsWith(root + sep); dir = dirname(dir)) {
      try {
        await rmdir(dir);
      } catch {
        return; // not empty (or already gone): the folders above are not empty either
      }
    }
  }

  /** Real path of target, refused unless it is inside the bucket's real folder (symlinks included). */
  private async realInside(bucket: string, target: string): Promise<string> {
    const [root, real] = await Promise.all([realpath(this.bucketDir(bucket)), realpath(target)]);
    if (!real.startsWith(root + sep) && real !== root) {
      throw new ApiError(400, 'STORAGE_INVALID_PARAMETER', 'Invalid object key: it resolves outside its bucket', 'Use a plain relative key inside the bucket.');
    }
    return real;
  }
}

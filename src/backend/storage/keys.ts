import { randomBytes } from 'node:crypto';
import { extname, resolve, sep } from 'node:path';
import { ApiError } from '../errors.js';

/**
 * Bucket names and object keys: what is accepted, and where the older layout kept a key on disk.
 * Keys are names in the database, never paths (disk.ts names version files by UUID), but clients
 * mirror them to disks (download to a folder, sync tools), so every segment must still be a plain
 * file name. objectPath serves only to find the bytes of data dirs from before (recovery.ts).
 */

export const MAX_KEY_BYTES = 1024;
export const MAX_SEGMENT_BYTES = 255;
const BUCKET_NAME = /^[A-Za-z0-9_-]{1,63}$/;
// C0, DEL and C1 controls (NUL included): never part of a sane name, and some terminate paths
const CONTROL = /\p{Cc}/u;
// `C:` would make a drive-relative path on Windows
const DRIVE = /^[A-Za-z]:/;
// `.`, `..`, and on Windows also `...` or `.. ` (trailing dots and spaces are stripped there)
const ONLY_DOTS_AND_SPACES = /^[. ]+$/;

const invalid = (message: string, nextActions: string) => new ApiError(400, 'STORAGE_INVALID_PARAMETER', message, nextActions);

export function checkBucketName(name: unknown): string {
  if (typeof name !== 'string' || !BUCKET_NAME.test(name)) {
    throw invalid(`Invalid bucket name ${JSON.stringify(name)}`, 'Bucket names are 1-63 characters: letters, digits, "_" and "-".');
  }
  return name;
}

/** Why a key is refused, or undefined when it is fine. Pure, so it is easy to test table-driven. */
export function keyProblem(key: string): string | undefined {
  if (key === '') return 'the key is empty';
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) return `the key is longer than ${MAX_KEY_BYTES} bytes`;
  if (CONTROL.test(key)) return 'the key contains a control character (such as NUL)';
  if (key.includes('\\')) return 'the key contains a backslash';
  if (key.startsWith('/')) return 'the key is an absolute path';
  if (DRIVE.test(key)) return 'the key starts with a drive letter';
  for (const segment of key.split('/')) {
    if (segment === '') return 'the key has an empty segment ("//" or a trailing "/")';
    if (ONLY_DOTS_AND_SPACES.test(segment)) return `the key has a "${segment}" segment`;
    if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES) return `a segment of the key is longer than ${MAX_SEGMENT_BYTES} bytes`;
  }
  return undefined;
}

export function checkKey(key: unknown): string {
  const problem = typeof key === 'string' ? keyProblem(key) : 'the key is not a string';
  if (problem) {
    throw invalid(`Invalid object key: ${problem}`, 'Use a relative key such as "user/123/avatar.jpg": "/"-separated names, no "..", ".", empty or over-long segments, backslashes or control characters.');
  }
  return key as string;
}

/**
 * Where a valid key lives under the bucket folder. Refuses (400) anything that would resolve
 * outside it, in case a key slipped past keyProblem.
 */
export function objectPath(bucketDir: string, key: string): string {
  const root = resolve(bucketDir);
  const target = resolve(root, ...checkKey(key).split('/'));
  if (!target.startsWith(root + sep)) throw invalid('Invalid object key: it leaves its bucket', 'Use a relative key without ".." segments.');
  return target;
}

const KEY_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** A key for an upload that names none, as InsForge v2 makes them: `<name>-<epoch ms>-<6 chars><ext>`. */
export function generateKey(filename: string | undefined, now = Date.now()): string {
  const base = (filename ?? '').split(/[\\/]/).pop() ?? '';
  const ext = extname(base).replace(/[^A-Za-z0-9.]/g, '').slice(0, 16);
  const name = base.slice(0, base.length - extname(base).length).replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 100) || 'file';
  const suffix = Array.from(randomBytes(6), (b) => KEY_ALPHABET[b % KEY_ALPHABET.length]).join('');
  return `${name}-${now}-${suffix}${ext === '.' ? '' : ext}`;
}

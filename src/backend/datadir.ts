import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { chmod, link, lstat, mkdir, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Secrets the backend needs; generated once per data dir and kept there with mode 0600. */
export interface BackendKeys {
  apiKey: string;
  anonKey: string;
  jwtSecret: string;
  /** HMAC key for signed file URLs (storage/signed-urls.ts). */
  urlSigningKey: string;
  /** AES-256-GCM key for function secrets (secrets/), like InsForge's ENCRYPTION_KEY; base64url of 32 bytes. */
  encryptionKey: string;
}

/** Keys added after the first release: a data dir made before them gets them at its next start. */
const addedKeys = (): Pick<BackendKeys, 'urlSigningKey' | 'encryptionKey'> => ({
  urlSigningKey: randomBytes(32).toString('base64url'),
  encryptionKey: randomBytes(32).toString('base64url'),
});

export const KEYS_FILE = 'keys.json';
const LOCK_FILE = 'backend.lock';
/** The backend's address, kept so that it is the same at every start (an app's baseUrl must not move). */
const ADDRESS_FILE = 'backend.json';

/** Creates the data dir if needed, owner-only (0700). Cheap: safe before the lock is held. */
export async function ensureDataDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await makePrivate(dir);
}

/**
 * Makes everything in the data dir owner-only (directories 0700, files 0600), whatever modes they
 * had: it holds the keys, the database and the stored files, and PGlite writes its files
 * world-readable. Only with the lock held: another process's database files are not ours to walk
 * (they come and go under it). Symlinks are not followed.
 */
export async function makeDataDirPrivate(dir: string): Promise<void> {
  await makePrivate(dir);
  // stored files can be many: their folder is made private, which keeps them private, not each file
  for (const entry of await readdir(dir)) await makePrivate(join(dir, entry), entry !== 'storage');
}

async function makePrivate(path: string, walk = false): Promise<void> {
  const info = await lstat(path).catch(gone);
  if (!info || info.isSymbolicLink()) return;
  if (info.isDirectory()) {
    if ((info.mode & 0o777) !== 0o700) await chmod(path, 0o700).catch(gone);
    if (walk) for (const entry of (await readdir(path).catch(gone)) ?? []) await makePrivate(join(path, entry), true);
  } else if ((info.mode & 0o077) !== 0) {
    await chmod(path, info.mode & 0o700).catch(gone);
  }
}

/** A file removed while the walk runs (a temporary file of the database) is nothing to make private. */
function gone(err: NodeJS.ErrnoException): undefined {
  if (err.code === 'ENOENT') return undefined;
  throw err;
}

/**
 * Reads the data dir's keys, creating them on first start. Fixed keys passed in (tests, CI)
 * win for this run but are not written, so the stored ones still work afterwards.
 */
export async function loadKeys(dir: string, fixed: { apiKey?: string; anonKey?: string } = {}): Promise<{ keys: BackendKeys; created: boolean; path: string }> {
  const path = join(dir, KEYS_FILE);
  let stored: BackendKeys | undefined;
  let created = false;
  try {
    stored = JSON.parse(await readFile(path, 'utf8')) as BackendKeys;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (!stored?.apiKey || !stored.anonKey || !stored.jwtSecret) {
    stored = {
      apiKey: `ik_${randomBytes(24).toString('hex')}`,
      anonKey: `anon_${randomBytes(24).toString('hex')}`,
      jwtSecret: randomBytes(48).toString('base64url'),
      ...addedKeys(),
    };
    // Written whole beside it and linked into place: a process killed meanwhile leaves no half file,
    // and link() fails if it exists, so of two first starts racing, the loser re-reads the winner's.
    const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
    try {
      await writeFile(temp, JSON.stringify(stored, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
      await link(temp, path);
      created = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      stored = JSON.parse(await readFile(path, 'utf8')) as BackendKeys;
    } finally {
      await rm(temp, { force: true });
    }
  }
  if (!stored.urlSigningKey || !stored.encryptionKey) {
    // called with the data dir's lock held: no other process writes keys.json meanwhile
    stored = { ...addedKeys(), ...stored };
    const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
    await writeFile(temp, JSON.stringify(stored, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
    await rename(temp, path);
  }
  await chmod(path, 0o600);
  return {
    keys: { ...stored, apiKey: fixed.apiKey ?? stored.apiKey, anonKey: fixed.anonKey ?? stored.anonKey },
    created,
    path,
  };
}

export interface LockOwner {
  pid: number;
  url: string;
  /** Random per lock, so a lock left by an earlier process that had our pid (containers) is seen as stale. */
  instance?: string;
  /** The running backend's settings (backendSettings in server.ts), so that servers sharing it can tell theirs differ. */
  settings?: Record<string, unknown>;
}

/** Locks held by this process, by instance id. */
const heldHere = new Set<string>();

export type LockResult = { acquired: true; release: () => Promise<void>; publish: (url: string, settings: Record<string, unknown>) => Promise<void> } | { acquired: false; owner: LockOwner };

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * One backend per data dir: PGlite has no locking of its own, and two writers corrupt it.
 * The lock file holds the owner's pid and, once listening, its URL so others can reuse it.
 * A lock whose pid is gone is stale and taken over.
 */
export async function acquireLock(dir: string): Promise<LockResult> {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o600);
      const instance = randomBytes(8).toString('hex');
      await handle.writeFile(JSON.stringify({ pid: process.pid, url: '', instance }));
      await handle.close();
      heldHere.add(instance);
      const publish = (url: string, settings: Record<string, unknown>) => writeFile(path, JSON.stringify({ pid: process.pid, url, instance, settings }), { mode: 0o600 });
      let released = false;
      const release = async () => {
        if (released) return;
        released = true;
        heldHere.delete(instance);
        await rm(path, { force: true });
      };
      process.once('exit', () => {
        if (!released) {
          rmSync(path, { force: true }); // exit handlers must be synchronous
        }
      });
      return { acquired: true, release, publish };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = await readLockOwner(dir);
    if (owner && ownerAlive(owner)) return { acquired: false, owner };
    // unreadable: being written by a racing starter, or left half-written by a killed one
    if (!owner && attempt < 10) await new Promise((r) => setTimeout(r, 100));
    else await rm(path, { force: true });
  }
  throw new Error(`Could not take the lock ${path}; remove it if no insforge-mcp backend is running.`);
}

/** The lock's owner, or undefined: no lock, or one half-written by a racing starter. */
export async function readLockOwner(dir: string): Promise<LockOwner | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8')) as LockOwner;
  } catch {
    return undefined;
  }
}

/** Whether the process that holds (or held) a lock still runs. */
export const ownerAlive = (owner: LockOwner) => (owner.pid === process.pid ? heldHere.has(owner.instance ?? '') : alive(owner.pid));

/** The port this data dir's backend listens on, once one was chosen. */
export async function readKeptPort(dir: string): Promise<number | undefined> {
  try {
    const { port } = JSON.parse(await readFile(join(dir, ADDRESS_FILE), 'utf8')) as { port?: unknown };
    return Number.isInteger(port) && (port as number) > 0 && (port as number) < 65536 ? (port as number) : undefined;
  } catch {
    return undefined; // none yet, or unreadable: the default applies, and the next start writes it anew
  }
}

export async function keepPort(dir: string, port: number): Promise<void> {
  await writeFile(join(dir, ADDRESS_FILE), JSON.stringify({ port }) + '\n', { mode: 0o600 });
}

/**
 * What a process killed during a first start left: PGlite's initdb runs in a staging dir that is
 * renamed into place when done (db/pglite.ts), so a staging dir of a process that is gone is only
 * litter. Called with the lock held, so no other process is creating one.
 */
export async function removeLeftovers(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(
    names.filter((n) => /^pgdata\.init-\d+$/.test(n) && Number(n.split('-').pop()) !== process.pid).map((n) => rm(join(dir, n), { recursive: true, force: true })),
  );
}

import { loadKeys, ownerAlive, readLockOwner, type LockOwner } from './datadir.js';
import { backendSettings, DataDirBusyError, startBackend, type BackendOptions, type RunningBackend } from './server.js';

/** A setting (by its flag) whose value here differs from the running backend's, which applies. */
export interface SettingDifference {
  flag: string;
  here: unknown;
  running: unknown;
}

/** A data dir's backend as one server sees it: run by this process, or by another one (shared). */
export interface Endpoint {
  url: string;
  keys: { apiKey: string; anonKey: string };
  keysPath: string;
  /** 'own': this process runs it; 'shared': another insforge-mcp does (ownerPid). */
  kind: 'own' | 'shared';
  ownerPid: number;
  /** The lock instance of the owner, to tell a restarted owner from the one this endpoint came from. */
  ownerInstance?: string;
  /** own: the kept port another program holds (it listens on a free one meanwhile). */
  portTaken?: number;
  /** shared: this server's settings that the running backend does not have. */
  differences: SettingDifference[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const portOf = (url: string) => Number(new URL(url).port);
/** How often a server that shares another one's backend checks that its owner still runs. */
const WATCH_MS = 250;
/** Longest wait for another process that is opening the data dir (a first start creates the database). */
const OPENING_WAIT_MS = 120_000;

/**
 * One backend per data dir, shared by every MCP server started on it (say Claude Desktop and Claude
 * Code at once): the first starts it, the others use it. When the one running it exits or is killed,
 * one of the others takes it over on the same port; calls made meanwhile wait for it.
 */
export class SharedBackend {
  private current?: Promise<Endpoint>;
  /** What `current` resolved to, once it did: undefined while a start or takeover is under way. */
  private settled?: Endpoint;
  private own?: RunningBackend;
  private watcher?: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly opts: BackendOptions) {}

  /** The backend to call: joins or starts it on first use; while it (re)starts, resolves once it answers. */
  endpoint(): Promise<Endpoint> {
    if (this.closed) return Promise.reject(new Error('The embedded backend is stopping'));
    if (!this.current) this.begin(undefined);
    return this.current!;
  }

  /** Whether a call would be served now, without waiting for a start. */
  get ready(): boolean {
    return this.settled !== undefined;
  }

  /**
   * A call could not connect to `failed`. If the process that ran it is gone, this one takes it over
   * (or joins whoever did first) and resolves with the new endpoint; undefined if it still runs.
   */
  async lost(failed: Endpoint): Promise<Endpoint | undefined> {
    const now = await this.endpoint();
    if (now !== failed) return now; // already replaced
    if (failed.kind === 'own') return undefined;
    const owner = await readLockOwner(this.opts.dataDir);
    if (owner && owner.instance === failed.ownerInstance && ownerAlive(owner)) return undefined;
    this.replace(failed);
    return this.endpoint();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.watcher);
    // a start still under way is not waited for: the process exits, and its exit handler drops the lock
    await this.own?.close();
  }

  private begin(takeOverPort: number | undefined) {
    this.settled = undefined;
    const started = this.connect(takeOverPort);
    this.current = started;
    started.then(
      (endpoint) => {
        if (this.current === started) this.settled = endpoint;
      },
      () => {
        if (this.current === started) this.current = undefined; // the next call tries again
      },
    );
  }

  /** The owner of `from` is gone: take its backend over, on its port (unless that already began). */
  private replace(from: Endpoint) {
    if (this.settled !== from || this.closed) return;
    this.opts.log(`the backend's owner (pid ${from.ownerPid}) is gone: taking the backend over on port ${portOf(from.url)}`);
    this.opts.onProgress?.(`taking over the backend of pid ${from.ownerPid}, which exited`);
    this.begin(portOf(from.url));
  }

  private async connect(takeOverPort: number | undefined): Promise<Endpoint> {
    clearInterval(this.watcher);
    const deadline = Date.now() + OPENING_WAIT_MS;
    for (;;) {
      try {
        // a takeover listens where its predecessor did, without making that the data dir's kept port
        const backend = await startBackend({ ...this.opts, ...(takeOverPort ? { port: takeOverPort, keepPort: false } : {}) });
        if (this.closed) {
          await backend.close();
          throw new Error('The embedded backend is stopping');
        }
        this.own = backend;
        return { url: backend.url, keys: backend.keys, keysPath: backend.keysPath, kind: 'own', ownerPid: process.pid, portTaken: backend.portTaken, differences: [] };
      } catch (err) {
        if (!(err instanceof DataDirBusyError)) throw err;
        if (err.owner.url) return this.join(err.owner);
        if (Date.now() > deadline) throw err;
        this.opts.onProgress?.(`waiting for insforge-mcp pid ${err.owner.pid}, which is opening the data dir`);
        await sleep(200);
      }
    }
  }

  /** Uses the backend another process runs, and watches that process so as to take over when it is gone. */
  private async join(owner: LockOwner): Promise<Endpoint> {
    const { keys, path } = await loadKeys(this.opts.dataDir, { apiKey: this.opts.apiKey, anonKey: this.opts.anonKey });
    const endpoint: Endpoint = {
      url: owner.url,
      keys,
      keysPath: path,
      kind: 'shared',
      ownerPid: owner.pid,
      ownerInstance: owner.instance,
      differences: owner.settings ? differences(backendSettings(this.opts, keys), owner.settings) : [],
    };
    // with other keys than the running backend's, every call of this server would be refused (401)
    const keyFlags = endpoint.differences.filter((d) => d.flag === 'api-key' || d.flag === 'anon-key').map((d) => `--${d.flag}`);
    if (keyFlags.length) {
      const flags = keyFlags.join(' and ');
      throw new Error(
        `insforge-mcp pid ${owner.pid} already runs the backend of ${this.opts.dataDir} with another ${flags} than this server's, so this server's calls would be refused. Give every insforge-mcp on this data dir the same ${flags} (or none), stop pid ${owner.pid}, or give this one its own --data-dir.`,
      );
    }
    this.watch(endpoint);
    return endpoint;
  }

  private watch(endpoint: Endpoint) {
    clearInterval(this.watcher);
    let checking = false;
    this.watcher = setInterval(() => {
      if (checking) return;
      checking = true;
      void readLockOwner(this.opts.dataDir)
        .then((owner) => {
          if (owner && owner.instance === endpoint.ownerInstance && ownerAlive(owner)) return;
          clearInterval(this.watcher);
          this.replace(endpoint);
        })
        .finally(() => (checking = false));
    }, WATCH_MS);
    this.watcher.unref(); // watching must not keep the process alive
  }
}

function differences(here: Record<string, unknown>, running: Record<string, unknown>): SettingDifference[] {
  return Object.keys(here)
    .filter((flag) => flag in running && JSON.stringify(here[flag]) !== JSON.stringify(running[flag]))
    .map((flag) => ({ flag, here: here[flag], running: running[flag] }));
}

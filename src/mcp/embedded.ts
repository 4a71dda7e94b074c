import type { Target } from '../client/client.js';
import { BackendError } from '../client/errors.js';
import type { McpConfig } from '../config.js';
import { defaultDataDir } from '../config.js';
import type { Endpoint, SettingDifference, SharedBackend } from '../backend/shared.js';

/** What app code needs, for `npm start` to print. */
export interface BackendSetup {
  url: string;
  /** Undefined when it was given (--anon-key): a key the user passed in is not echoed back. */
  anonKey?: string;
  keysPath: string;
  notes: string[];
}

export interface EmbeddedBackend {
  /** Resolves once the backend answers; starts it (or joins the one another server runs) on first call. */
  target(): Promise<Target>;
  /** For the client: a connection to `failed` was refused; the backend after a takeover, if its owner is gone. */
  reconnect(failed: Target): Promise<Target | undefined>;
  /** Whether calls are served now, without waiting for a start or a takeover. */
  ready(): boolean;
  /** Resolves (never rejects) once a start under way has ended, reporting what it does meanwhile. */
  warmUp(onStage: (stage: string) => void): Promise<void>;
  /** Once it is up (undefined if it failed to start). */
  setup(): Promise<BackendSetup | undefined>;
  close(): Promise<void>;
}

/**
 * The embedded backend, run in this process on a loopback port, or shared with another insforge-mcp
 * on the same data dir (say Claude Desktop and Claude Code at once), which this one takes over when
 * that one exits. Only loaded (PGlite, Fastify) when no --url is given.
 */
export function embeddedBackend(config: McpConfig, log: (msg: string) => void): EmbeddedBackend {
  const dataDir = config.dataDir ?? defaultDataDir();
  const stageListeners = new Set<(stage: string) => void>();
  let backend: Promise<SharedBackend> | undefined;
  let loaded: SharedBackend | undefined;
  const targets = new WeakMap<Endpoint, Target>();
  const endpoints = new WeakMap<Target, Endpoint>();
  let lastSaid: string | undefined;

  const shared = () =>
    (backend ??= import('../backend/shared.js').then(
      ({ SharedBackend }) =>
        (loaded = new SharedBackend({
          dataDir,
          host: '127.0.0.1',
          port: config.backendPort,
          portFallback: true,
          databaseUrl: config.databaseUrl,
          apiKey: config.apiKey,
          anonKey: config.anonKey,
          corsOrigins: config.corsOrigins,
          rateLimit: config.rateLimit,
          adminRateLimit: config.adminRateLimit,
          maxUploadBytes: config.maxUploadMb * 1024 * 1024,
          aiBaseUrl: config.aiBaseUrl,
          aiApiKey: config.aiApiKey,
          functionTimeoutMs: config.functionTimeoutMs,
          functionMemoryMb: config.functionMemoryMb,
          statementTimeoutMs: config.statementTimeoutMs,
          denoPath: config.denoPath,
          log,
          onProgress: (stage) => stageListeners.forEach((l) => l(stage)),
        })),
    ));

  /** The endpoint as the client takes it; said once on stderr, with what the user should know. */
  function targetOf(endpoint: Endpoint): Target {
    let target = targets.get(endpoint);
    if (target) return target;
    const notes = notesOf(endpoint, dataDir);
    target = { baseUrl: endpoint.url, apiKey: endpoint.keys.apiKey, anonKey: endpoint.keys.anonKey, ...(notes.length ? { notes } : {}) };
    targets.set(endpoint, target);
    endpoints.set(target, endpoint);
    const said = endpoint.kind === 'own' ? `embedded backend at ${endpoint.url}` : `using the backend at ${endpoint.url}, run by insforge-mcp pid ${endpoint.ownerPid} for ${dataDir}`;
    if (lastSaid !== said) log(`${said}; keys in ${endpoint.keysPath}`);
    lastSaid = said;
    for (const note of notes) log(note);
    return target;
  }

  return {
    async target() {
      const s = await shared();
      try {
        return targetOf(await s.endpoint());
      } catch (err) {
        log(`embedded backend failed to start: ${(err as Error).message}`);
        throw err;
      }
    },
    async reconnect(failed) {
      const endpoint = endpoints.get(failed);
      if (!endpoint) return undefined;
      const s = await shared();
      let next: Endpoint | undefined;
      try {
        next = await s.lost(endpoint);
      } catch (err) {
        throw new BackendError(503, 'BACKEND_RESTARTING', `The embedded backend is restarting (insforge-mcp pid ${endpoint.ownerPid}, which ran it, is gone), and taking it over failed: ${(err as Error).message}`, 'Retry in a few seconds; if it keeps failing, the server log (stderr) says why.');
      }
      if (next) return targetOf(next);
      if (endpoint.kind === 'own') return undefined;
      throw new BackendError(503, 'BACKEND_UNREACHABLE', `The embedded backend at ${endpoint.url}, run by insforge-mcp pid ${endpoint.ownerPid} for ${dataDir}, does not answer`, `Retry in a few seconds; if it persists, restart that insforge-mcp (pid ${endpoint.ownerPid}).`);
    },
    ready: () => loaded?.ready ?? false,
    async warmUp(onStage) {
      stageListeners.add(onStage);
      try {
        await this.target().catch(() => undefined); // the call itself reports a failure
      } finally {
        stageListeners.delete(onStage);
      }
    },
    async setup() {
      const s = await shared();
      const endpoint = await s.endpoint().catch(() => undefined);
      return endpoint && { url: endpoint.url, anonKey: config.anonKey ? undefined : endpoint.keys.anonKey, keysPath: endpoint.keysPath, notes: notesOf(endpoint, dataDir) };
    },
    async close() {
      await (await backend)?.close();
    },
  };
}

/** What a user of this server should know about its backend, in words (stderr, get-backend-metadata). */
function notesOf(endpoint: Endpoint, dataDir: string): string[] {
  const notes: string[] = [];
  if (endpoint.portTaken !== undefined) {
    notes.push(
      `Port ${endpoint.portTaken}, where this data dir's backend is kept, is taken by another program: the embedded backend listens on ${new URL(endpoint.url).port} for now, so an app set up for port ${endpoint.portTaken} cannot reach it. Free the port and restart, or choose another port for good with --backend-port.`,
    );
  }
  if (endpoint.differences.length) {
    notes.push(
      `This server's settings differ from those of the backend it shares (run by insforge-mcp pid ${endpoint.ownerPid} for ${dataDir}), which apply: ${endpoint.differences.map(describeDifference).join('; ')}. Start every insforge-mcp on this data dir with the same flags, or give this one its own --data-dir.`,
    );
  }
  return notes;
}

const SECRETS = new Set(['api-key', 'anon-key', 'ai-api-key', 'database-url']);

function describeDifference(d: SettingDifference): string {
  const shown = (v: unknown) => (v === null || v === undefined ? 'not set' : SECRETS.has(d.flag) ? 'set' : String(v));
  return SECRETS.has(d.flag) && d.here !== null && d.running !== null ? `--${d.flag}: another value` : `--${d.flag}: ${shown(d.here)} here, ${shown(d.running)} in the running backend`;
}

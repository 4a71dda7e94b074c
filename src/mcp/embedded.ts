import type { Target } from '../client/client.js';
import type { McpConfig } from '../config.js';
import { defaultDataDir } from '../config.js';

export interface EmbeddedBackend {
  /** Resolves once the backend answers; starts it on first call. */
  target(): Promise<Target>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The embedded backend, started lazily in this process on a loopback port. If another
 * insforge-mcp already serves the same data dir (say Claude Desktop and Claude Code both
 * started one), this one uses it instead of opening the database twice.
 */
export function embeddedBackend(config: McpConfig, log: (msg: string) => void): EmbeddedBackend {
  const dataDir = config.dataDir ?? defaultDataDir();
  let started: Promise<{ target: Target; close?: () => Promise<void> }> | undefined;

  async function start() {
    const { startBackend, DataDirBusyError } = await import('../backend/server.js');
    const { loadKeys } = await import('../backend/datadir.js');
    let port = config.backendPort;
    for (let attempt = 0; ; attempt++) {
      try {
        const backend = await startBackend({
          dataDir,
          host: '127.0.0.1',
          port,
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
        });
        log(`embedded backend (${backend.db.kind}) at ${backend.url}; keys in ${backend.keysPath}`);
        return { target: { baseUrl: backend.url, apiKey: backend.keys.apiKey, anonKey: backend.keys.anonKey }, close: backend.close };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE' && port !== 0) {
          log(`port ${port} is taken; the embedded backend takes a free one (set --backend-port to choose)`);
          port = 0;
          continue;
        }
        if (!(err instanceof DataDirBusyError)) throw err;
        if (err.owner.url) {
          const { keys } = await loadKeys(dataDir, { apiKey: config.apiKey, anonKey: config.anonKey });
          log(`using the backend already serving ${dataDir} at ${err.owner.url} (pid ${err.owner.pid})`);
          return { target: { baseUrl: err.owner.url, apiKey: keys.apiKey, anonKey: keys.anonKey } };
        }
        if (attempt >= 100) throw err; // the other process is still opening the database
        await sleep(200);
      }
    }
  }

  return {
    target() {
      if (!started) {
        started = start();
        started.catch((err: Error) => {
          log(`embedded backend failed to start: ${err.message}`);
          started = undefined; // the next tool call tries again
        });
      }
      return started.then((s) => s.target);
    },
    async close() {
      const s = await started?.catch(() => undefined);
      await s?.close?.();
    },
  };
}

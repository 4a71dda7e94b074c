import { ConfigError, defaultDataDir, parseConfig, type BackendConfig, type McpConfig } from './config.js';
import { stopThenExit } from './stop.js';
import { NAME, VERSION } from './version.js';

const log = (msg: string) => process.stderr.write(`${NAME}: ${msg}\n`);

function onSignals(close: () => Promise<void>) {
  let stopping = false;
  const stop = () => {
    if (stopping) process.exit(1);
    stopping = true;
    stopThenExit(close, log);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

/** A port that another program holds: which one, and the flag that picks another (exit 2, like a bad flag). */
function portInUse(err: unknown, command: string): string | undefined {
  const e = err as NodeJS.ErrnoException & { port?: number; address?: string };
  if (e?.code !== 'EADDRINUSE') return undefined;
  const where = e.port !== undefined ? `Port ${e.port}${e.address ? ` on ${e.address}` : ''}` : 'The port';
  return `${where} is already in use by another program (or another ${command}). Choose another with --port N (env INSFORGE_PORT), or stop what holds it.`;
}

async function runBackend(config: BackendConfig) {
  const { startBackend } = await import('./backend/server.js');
  const dataDir = config.dataDir ?? defaultDataDir();
  const backend = await startBackend({ ...config, dataDir, log, maxUploadBytes: config.maxUploadMb * 1024 * 1024 });
  log(`backend ready at ${backend.url} (${backend.db.kind}${config.databaseUrl ? '' : `, data in ${dataDir}`})`);
  log(`keys (admin API key, anon key) are in ${backend.keysPath}`);
  onSignals(backend.close);
}

async function runMcp(config: McpConfig) {
  const { startMcp } = await import('./mcp/main.js');
  const running = await startMcp(config, log);
  onSignals(running.close);
}

async function main() {
  const parsed = parseConfig(process.argv.slice(2));
  switch (parsed.command) {
    case 'help':
      process.stdout.write(parsed.text);
      return;
    case 'version':
      process.stdout.write(`${VERSION}\n`);
      return;
    case 'backend':
      return runBackend(parsed.config);
    case 'mcp':
      return runMcp(parsed.config);
  }
}

main().catch((err: unknown) => {
  const taken = portInUse(err, process.argv[2] === 'backend' ? 'insforge-mcp backend' : 'insforge-mcp --http');
  if (err instanceof ConfigError || taken) {
    log(taken ?? (err as Error).message);
    process.exit(2);
  }
  log((err as Error)?.message ?? String(err));
  process.exit(1);
});

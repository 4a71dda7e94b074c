import { ConfigError, defaultDataDir, parseConfig, type BackendConfig, type McpConfig } from './config.js';
import { NAME, VERSION } from './version.js';

const log = (msg: string) => process.stderr.write(`${NAME}: ${msg}\n`);

function onSignals(close: () => Promise<void>) {
  let stopping = false;
  const stop = () => {
    if (stopping) process.exit(1);
    stopping = true;
    close().then(
      () => process.exit(0),
      (err: Error) => {
        log(`error while stopping: ${err.message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
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
  if (err instanceof ConfigError) {
    log(err.message);
    process.exit(2);
  }
  log((err as Error)?.message ?? String(err));
  process.exit(1);
});

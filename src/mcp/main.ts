import { resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import type { McpConfig } from '../config.js';
import { InsForgeClient, type Target } from '../client/client.js';
import { createMcpServer } from './server.js';
import { asksTheClient } from './tool.js';
import { embeddedBackend, type BackendSetup } from './embedded.js';
import { describeMode, selectTools, type Mode } from './toolsets.js';
import { waitingForBackend } from './warm-up.js';
import type { McpSessionContext } from './http.js';
import { stopThenExit } from '../stop.js';

export interface RunningMcp {
  close(): Promise<void>;
}

/**
 * Connects the MCP server to its transport first; the embedded backend starts right after, in the
 * background, and a call that comes before it is up waits for it (warm-up.ts).
 */
export async function startMcp(config: McpConfig, log: (msg: string) => void): Promise<RunningMcp> {
  // With a remote backend no Postgres-in-WebAssembly runs here, and the only WebAssembly is undici's
  // HTTP parser: V8's optimising tier would recompile it once it is warm, holding ~25 MB of RSS
  // (measured) for no measurable gain on small responses. PGlite needs that tier, so only here.
  if (config.url) setFlagsFromString('--liftoff-only');
  const embedded = config.url ? undefined : embeddedBackend(config, log);
  const remote: Target | undefined = config.url ? { baseUrl: config.url, apiKey: config.apiKey, anonKey: config.anonKey } : undefined;
  const client = InsForgeClient.create({
    target: () => (remote ? Promise.resolve(remote) : embedded!.target()),
    reconnect: embedded ? (failed) => embedded.reconnect(failed) : undefined,
    timeoutMs: config.timeout,
    dialect: config.dialect,
  });
  const mode: Mode = { readOnly: config.readOnly, features: config.features };
  const tools = embedded ? selectTools(mode).map((t) => waitingForBackend(t, embedded)) : selectTools(mode);
  const warm = () => void embedded?.target().catch(() => undefined); // a failure is logged, and the next call tries again
  log(describeMode(mode));
  const newServer = (session?: McpSessionContext) =>
    createMcpServer({ client, log, tools, mode, localFiles: !config.http, stateless: session?.transport === 'stateless' ? { authorization: session.authorization } : undefined });

  const closeAll = async () => {
    await embedded?.close();
    await client.close();
  };

  if (!config.http) {
    const { StdioServerTransport } = await import('@modelcontextprotocol/sdk/server/stdio.js');
    const server = newServer();
    const transport = new StdioServerTransport();
    let closing: Promise<void> | undefined;
    const close = () => (closing ??= server.close().then(closeAll));
    // the client closing stdin is the normal way a stdio server is told to stop
    process.stdin.once('end', () => stopThenExit(close, log));
    await server.connect(transport);
    // the backend starts once the handshake is through, so that initialize never waits for it
    server.server.oninitialized = () => setImmediate(warm);
    return { close };
  }

  const { startHttpServer } = await import('./http.js');
  const asking = new Set(tools.filter((t) => asksTheClient(t.spec)).map((t) => t.spec.name));
  const http = await startHttpServer({
    host: config.host,
    port: config.port,
    allowedOrigins: config.allowedOrigins,
    allowedHosts: config.allowedHosts,
    bearerToken: config.httpToken,
    stateless: config.stateless,
    createServer: newServer,
    mayAskClient: (request) => request.method === 'tools/call' && asking.has(String(request.params?.name)),
    log,
  });
  log(`MCP server: Streamable HTTP at ${http.url}/mcp, legacy SSE at ${http.url}/sse`);
  log(clientConfigs(`${http.url}/mcp`, `${http.url}/sse`, Boolean(config.httpToken)));
  log(stdioConfigs(config));
  if (embedded) {
    warm();
    void embedded.setup().then((setup) => setup && log(appSetup(setup)));
  }
  return {
    close: async () => {
      await http.close();
      await closeAll();
    },
  };
}

const json = (v: unknown) => JSON.stringify(v);

/** Ready-to-paste configs, printed on stderr by `npm start`. */
function clientConfigs(mcpUrl: string, sseUrl: string, withToken: boolean): string {
  const headers = withToken ? { headers: { Authorization: 'Bearer <your --http-token>' } } : {};
  return [
    'Client configs (over HTTP, while this server runs):',
    `  Claude Code:        claude mcp add --transport http insforge ${mcpUrl}${withToken ? ' --header "Authorization: Bearer <token>"' : ''}`,
    `  Cursor (.cursor/mcp.json):  ${json({ mcpServers: { insforge: { url: mcpUrl, ...headers } } })}`,
    `  VS Code (.vscode/mcp.json): ${json({ servers: { insforge: { type: 'http', url: mcpUrl, ...headers } } })}`,
    `  Legacy SSE clients: ${sseUrl}`,
  ].join('\n');
}

/**
 * Stdio configs (the client starts its own insforge-mcp) for this very install: node and dist/cli.js by
 * absolute path, so they work from a clone. With the same data dir, that server shares this backend.
 */
function stdioConfigs(config: McpConfig): string {
  const cli = resolve(process.argv[1] ?? 'dist/cli.js');
  const args = [cli, ...(config.dataDir ? ['--data-dir', resolve(config.dataDir)] : []), ...(config.url ? ['--url', config.url] : [])];
  // a key is never printed: with --url, the config says where it goes
  const env = config.url ? { env: { INSFORGE_API_KEY: '<your admin API key>' } } : {};
  return [
    'Stdio configs (the client starts insforge-mcp itself; on the same data dir it shares this backend):',
    `  Claude Desktop (claude_desktop_config.json): ${json({ mcpServers: { insforge: { command: process.execPath, args, ...env } } })}`,
    `  Claude Code:        claude mcp add insforge ${config.url ? "-e INSFORGE_API_KEY='<your admin API key>' " : ''}-- ${[process.execPath, ...args].map(shellQuote).join(' ')}`,
    'Flags: npm start -- --port 4000 --backend-port 7200 (after "--"; insforge-mcp --help lists them all)',
  ].join('\n');
}

/**
 * What app code needs to reach the embedded backend, printed once it is up. The anon key is public by
 * design (it ships in app code) and is printed when the backend generated it; one given with
 * --anon-key is not echoed back, and the admin key never is.
 */
function appSetup(setup: BackendSetup): string {
  const anonKey = setup.anonKey ?? '<the --anon-key you gave>';
  return [
    `Embedded backend for your app: ${setup.url}`,
    `  anon key: ${anonKey}`,
    '  .env for app code:',
    `    INSFORGE_BASE_URL=${setup.url}`,
    `    INSFORGE_ANON_KEY=${anonKey}`,
    `  The admin API key is kept in ${setup.keysPath} (it bypasses row-level security: keep it out of app code).`,
    ...setup.notes.map((n) => `  Note: ${n}`),
  ].join('\n');
}

const shellQuote = (arg: string) => (/^[\w./:@%+=,-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`);

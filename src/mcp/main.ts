import { setFlagsFromString } from 'node:v8';
import type { McpConfig } from '../config.js';
import { InsForgeClient, type Target } from '../client/client.js';
import { createMcpServer } from './server.js';
import { asksTheClient } from './tool.js';
import { embeddedBackend } from './embedded.js';
import { describeMode, selectTools, type Mode } from './toolsets.js';
import type { McpSessionContext } from './http.js';

export interface RunningMcp {
  close(): Promise<void>;
}

/** Connects the MCP server to its transport first; the backend is resolved on the first tool call. */
export async function startMcp(config: McpConfig, log: (msg: string) => void): Promise<RunningMcp> {
  // With a remote backend no Postgres-in-WebAssembly runs here, and the only WebAssembly is undici's
  // HTTP parser: V8's optimising tier would recompile it once it is warm, holding ~25 MB of RSS
  // (measured) for no measurable gain on small responses. PGlite needs that tier, so only here.
  if (config.url) setFlagsFromString('--liftoff-only');
  const embedded = config.url ? undefined : embeddedBackend(config, log);
  const remote: Target | undefined = config.url ? { baseUrl: config.url, apiKey: config.apiKey, anonKey: config.anonKey } : undefined;
  const client = InsForgeClient.create({ target: () => (remote ? Promise.resolve(remote) : embedded!.target()), timeoutMs: config.timeout, dialect: config.dialect });
  const mode: Mode = { readOnly: config.readOnly, features: config.features };
  const tools = selectTools(mode);
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
    process.stdin.once('end', () => void close().then(() => process.exit(0)));
    await server.connect(transport);
    // warm the embedded backend after the handshake is possible, without delaying it
    if (embedded) setImmediate(() => void embedded.target().catch(() => undefined));
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
  if (embedded) {
    const target = await embedded.target();
    log(`backend URL for your app: ${target.baseUrl}`);
  }
  log(clientConfigs(`${http.url}/mcp`, `${http.url}/sse`, Boolean(config.httpToken)));
  return {
    close: async () => {
      await http.close();
      await closeAll();
    },
  };
}

/** Ready-to-paste configs, printed on stderr by `npm start`. */
function clientConfigs(mcpUrl: string, sseUrl: string, withToken: boolean): string {
  const headers = withToken ? { headers: { Authorization: 'Bearer <your --http-token>' } } : {};
  const json = (v: unknown) => JSON.stringify(v);
  return [
    'Client configs:',
    `  Claude Code:        claude mcp add --transport http insforge ${mcpUrl}${withToken ? ' --header "Authorization: Bearer <token>"' : ''}`,
    `  Cursor (.cursor/mcp.json):  ${json({ mcpServers: { insforge: { url: mcpUrl, ...headers } } })}`,
    `  VS Code (.vscode/mcp.json): ${json({ servers: { insforge: { type: 'http', url: mcpUrl, ...headers } } })}`,
    `  Legacy SSE clients: ${sseUrl}`,
  ].join('\n');
}

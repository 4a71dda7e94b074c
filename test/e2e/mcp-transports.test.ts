import { afterAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { freshDataDir } from '../support/backend.js';
import { databaseScenario, spawnHttpServer, stdioClient } from '../support/mcp.js';

/** The built bin, with its embedded backend, driven through the SDK's real clients. */
describe('MCP end to end', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('over stdio', async () => {
    const { client, stderr } = await stdioClient(['--data-dir', await freshDataDir()]);
    cleanups.push(() => client.close());
    await databaseScenario(client);
    expect(stderr()).toContain('embedded backend');
  });

  it('over Streamable HTTP and legacy SSE on one port', async () => {
    const server = await spawnHttpServer(['--data-dir', await freshDataDir()]);
    cleanups.push(server.stop);

    const http = new Client({ name: 'http-test', version: '1.0.0' });
    await http.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`)));
    await databaseScenario(http);
    await http.close();

    const sse = new Client({ name: 'sse-test', version: '1.0.0' });
    await sse.connect(new SSEClientTransport(new URL(`${server.url}/sse`)));
    // same backend: the table exists already, so start from a fresh one
    await sse.callTool({ name: 'run-sql', arguments: { query: 'drop table tasks; drop function count_open();' } });
    await databaseScenario(sse);
    await sse.close();

    const foreign = await fetch(`${server.url}/mcp`, { method: 'POST', headers: { Origin: 'https://evil.example', 'content-type': 'application/json' }, body: '{}' });
    expect(foreign.status).toBe(403);
  });
});

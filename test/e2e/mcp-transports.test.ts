import { afterAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { freshDataDir } from '../support/backend.js';
import { TEST_API_KEY } from '../support/backend.js';
import { call, databaseScenario, spawnHttpServer, stdioClient } from '../support/mcp.js';
import { selectTools } from '../../src/mcp/toolsets.js';
import { buildDefinition } from '../../src/mcp/listing.js';
import { FEATURE_NAMES } from '../../src/config.js';

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

  it('bound to every address (--host 0.0.0.0), the URL it prints for configs works as written', async () => {
    const server = await spawnHttpServer(['--host', '0.0.0.0', '--data-dir', await freshDataDir()]);
    cleanups.push(server.stop);
    // a config with http://0.0.0.0:… would send that Host, which the default --allowed-hosts refuse
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.stderr()).toMatch(/listening on 0\.0\.0\.0:\d+/);
    const http = new Client({ name: 'wildcard-test', version: '1.0.0' });
    await http.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`)));
    expect((await http.listTools()).tools.length).toBeGreaterThan(0);
    await http.close();
  });

  it('over Streamable HTTP and legacy SSE on one port', async () => {
    const server = await spawnHttpServer(['--data-dir', await freshDataDir()]);
    cleanups.push(server.stop);

    const http = new Client({ name: 'http-test', version: '1.0.0' });
    await http.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`)));
    await databaseScenario(http);
    // over HTTP the client is not on this machine: its paths must not reach this server's disk
    await call(http, 'create-bucket', { bucketName: 'remote' });
    const local = await call(http, 'upload-file', { bucket: 'remote', key: 'passwd', filePath: '/etc/passwd' }, { allowError: true });
    expect(local.data.error.code).toBe('LOCAL_FILES_DISABLED');
    const save = await call(http, 'download-file', { bucket: 'remote', key: 'x', savePath: '/tmp/x' }, { allowError: true });
    expect(save.data.error.code).toBe('LOCAL_FILES_DISABLED');
    await http.close();

    const sse = new Client({ name: 'sse-test', version: '1.0.0' });
    await sse.connect(new SSEClientTransport(new URL(`${server.url}/sse`)));
    // same backend: the table exists already, so start from a fresh one
    await sse.callTool({ name: 'run-sql', arguments: { query: 'drop table tasks; drop function count_open();', confirm: true } });
    await databaseScenario(sse);
    await sse.close();

    const foreign = await fetch(`${server.url}/mcp`, { method: 'POST', headers: { Origin: 'https://evil.example', 'content-type': 'application/json' }, body: '{}' });
    expect(foreign.status).toBe(403);
  });

  it('lists, from the bundle, exactly the definitions the source computes (the bundle has them precomputed)', async () => {
    for (const readOnly of [false, true]) {
      const { client } = await stdioClient(['--url', 'http://127.0.0.1:9', ...(readOnly ? ['--read-only'] : [])]);
      cleanups.push(() => client.close());
      const fromSource = selectTools({ readOnly, features: FEATURE_NAMES }).map((t) => buildDefinition(t.spec));
      expect((await client.listTools()).tools).toEqual(fromSource);
    }
  });

  it('answers tools/list without a backend, and a tool call says what to do', async () => {
    const { client, stderr } = await stdioClient(['--url', 'http://127.0.0.1:9']);
    cleanups.push(() => client.close());
    expect((await client.listTools()).tools.length).toBeGreaterThan(5);
    const res = await call(client, 'query-table', { table: 'tasks' }, { allowError: true });
    expect(res.result.isError).toBe(true);
    expect(res.data.error).toMatchObject({ status: 503, code: 'BACKEND_UNREACHABLE', nextActions: expect.stringContaining('--url') });
    expect(stderr()).not.toContain(TEST_API_KEY);
  });

  it('reports an embedded backend that cannot start as an actionable tool error', async () => {
    const { client } = await stdioClient(['--data-dir', await freshDataDir(), '--database-url', 'postgres://nobody@127.0.0.1:9/none']);
    cleanups.push(() => client.close());
    expect((await client.listTools()).tools.length).toBeGreaterThan(5);
    const res = await call(client, 'get-backend-metadata', {}, { allowError: true });
    expect(res.result.isError).toBe(true);
    expect(res.data.error).toMatchObject({ status: 503, code: 'BACKEND_UNAVAILABLE' });
    expect(res.data.error.message).toMatch(/ECONNREFUSED|connect/);
  });
});

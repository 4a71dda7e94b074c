import { request as httpRequest } from 'node:http';
import type { Agent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { clientAt as newClientAt } from '../support/client-at.js';
import { clientOf, DEFAULT_SESSION_LIMITS, SessionTable } from '../../src/mcp/http-sessions.js';
import {
  isHostAllowed,
  isOriginAllowed,
  ownOrigins,
  startHttpServer,
  type HttpServerOptions,
  type McpSessionContext,
  type RunningHttpServer
} from '../../src/mcp/http.js';

/** A tiny server: `echo` plus a `count` tool whose counter lives in this closure (per session). */
function createTestServer(): McpServer {
  const server = new McpServer({ name: 'test', version: '0.0.0' });
  let calls = 0;
  server.registerTool('echo', { description: 'Echo text back', inputSchema: { text: z.string() } }, async ({ text }) => ({
    content: [{ type: 'text', text }]
  }));
  server.registerTool('count', { description: 'Per-session call counter' }, async () => ({
    content: [{ type: 'text', text: String(++calls) }]
  }));
  return server;
}

const running: RunningHttpServer[] = [];
const clients: Client[] = [];
const agents: Agent[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map(c => c.close().catch(() => {})));
  await Promise.all(running.splice(0).map(s => s.close()));
  await Promise.all(agents.splice(0).map(a => a.destroy()));
});

async function start(overrides: Partial<HttpServerOptions> = {}): Promise<RunningHttpServer> {
  const server = await startHttpServer({ port: 0, createServer: createTestServer, ...overrides });
  running.push(server);
  return server;
}

type ClientOptions = { headers?: Record<string, string>; fetch?: typeof fetch };

async function connectStreamable(base: string, { headers, fetch }: ClientOptions = {}) {
  const transport = new StreamableHTTPClientTransport(new URL('/mcp', base), { requestInit: { headers }, fetch });
  const client = new Client({ name: 'test-client', version: '0.0.0' });
  clients.push(client);
  await client.connect(transport);
  return { client, transport };
}

async function connectSse(base: string, { headers }: ClientOptions = {}) {
  const transport = new SSEClientTransport(new URL('/sse', base), { requestInit: { headers } });
  const client = new Client({ name: 'test-client', version: '0.0.0' });
  clients.push(client);
  await client.connect(transport);
  return { client, transport };
}

async function callText(client: Client, name: string, args: Record<string, unknown> = {}): Promise<string> {
  const result = await client.callTool({ name, arguments: args });
  const content = result.content as Array<{ type: string; text: string }>;
  return content[0]!.text;
}

async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise(resolve => setTimeout(resolve, 10));
  }
}

const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } }
};
const MCP_HEADERS = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };

/** Raw request via node:http, which (unlike fetch) lets us forge the Host header. */
function rawRequest(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: init.method ?? 'GET', headers: init.headers }, res => {
      const chunks: Buffer[] = [];
      res.on('data', chunk => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    // A server refusing an oversized body may close the socket while we are still writing.
    req.on('error', reject);
    req.end(init.body);
  });
}

describe('Streamable HTTP (/mcp)', () => {
  it('initializes, lists tools and calls echo', async () => {
    const server = await start();
    const { client, transport } = await connectStreamable(server.url);
    expect(transport.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    const { tools } = await client.listTools();
    expect(tools.map(t => t.name).sort()).toEqual(['count', 'echo']);
    expect(await callText(client, 'echo', { text: 'hello' })).toBe('hello');
    expect(server.sessionCount()).toBe(1);
  });

  it('passes the session id to the factory before the first message', async () => {
    const seen: McpSessionContext[] = [];
    const server = await start({ createServer: ctx => (seen.push(ctx), createTestServer()) });
    const { transport } = await connectStreamable(server.url);
    expect(seen).toEqual([{ sessionId: transport.sessionId, transport: 'streamable-http' }]);
  });

  it('keeps 20 concurrent sessions apart (10 calls each, answers go to the right client)', async () => {
    const server = await start();
    const sessions = await Promise.all(Array.from({ length: 20 }, () => connectStreamable(server.url)));
    expect(new Set(sessions.map(s => s.transport.sessionId)).size).toBe(20);
    expect(server.sessionCount()).toBe(20);

    await Promise.all(
      sessions.map(async ({ client }, i) => {
        const replies = await Promise.all(
          Array.from({ length: 10 }, (_, j) => callText(client, 'echo', { text: `session ${i} call ${j}` }))
        );
        expect(replies).toEqual(Array.from({ length: 10 }, (_, j) => `session ${i} call ${j}`));
      })
    );
    // Per-session state: each server's counter started from zero on its own.
    for (const { client } of sessions.slice(0, 3)) expect(await callText(client, 'count')).toBe('1');
  });

  it('frees the session on terminateSession (DELETE)', async () => {
    const server = await start();
    const first = await connectStreamable(server.url);
    const second = await connectStreamable(server.url);
    expect(server.sessionCount()).toBe(2);
    await first.transport.terminateSession();
    expect(server.sessionCount()).toBe(1);
    await second.transport.terminateSession();
    expect(server.sessionCount()).toBe(0);
  });

  it('closes sessions left idle by a client that went away without DELETE', async () => {
    const server = await start({ sessionIdleTimeoutMs: 100 });
    const abandoned = await connectStreamable(server.url);
    const active = await connectStreamable(server.url);
    await abandoned.client.close(); // aborts its GET stream but sends no DELETE
    await waitFor(() => server.sessionCount() === 1);
    // The remaining client still holds its standalone GET stream open, so it is not idle.
    await new Promise(resolve => setTimeout(resolve, 300));
    expect(await callText(active.client, 'echo', { text: 'still here' })).toBe('still here');
  });

  it('answers unknown session ids with 404 and drops non-initialize sessionless POSTs', async () => {
    const created: McpServer[] = [];
    const server = await start({ createServer: () => (created.push(createTestServer()), created.at(-1)!) });
    const unknown = await fetch(`${server.url}/mcp`, {
      method: 'POST',
      headers: { ...MCP_HEADERS, 'Mcp-Session-Id': 'nope' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' })
    });
    expect(unknown.status).toBe(404);

    const notInit = await fetch(`${server.url}/mcp`, {
      method: 'POST',
      headers: MCP_HEADERS,
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' })
    });
    expect(notInit.status).toBe(400);
    expect(server.sessionCount()).toBe(0);
    // The candidate server built for that request was closed again.
    expect(created).toHaveLength(1);
    expect(created[0]!.isConnected()).toBe(false);
  });

  it('answers bad JSON with a JSON-RPC parse error and oversized bodies with 413', async () => {
    const server = await start({ maxBodyBytes: 1024 });
    const bad = await fetch(`${server.url}/mcp`, { method: 'POST', headers: MCP_HEADERS, body: '{not json' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: number } }).error.code).toBe(-32700);

    const big = await rawRequest(`${server.url}/mcp`, {
      method: 'POST',
      headers: MCP_HEADERS,
      body: JSON.stringify({ ...INITIALIZE, padding: 'x'.repeat(4096) })
    });
    expect(big.status).toBe(413);

    const chunked = await rawRequest(`${server.url}/mcp`, {
      method: 'POST',
      headers: { ...MCP_HEADERS, 'Transfer-Encoding': 'chunked' },
      body: JSON.stringify({ ...INITIALIZE, padding: 'x'.repeat(4096) })
    });
    expect(chunked.status).toBe(413);
    expect(server.sessionCount()).toBe(0);
  });
});

describe('legacy SSE (/sse + /messages)', () => {
  it('initializes, lists tools, calls echo and frees the session on close', async () => {
    const seen: McpSessionContext[] = [];
    const server = await start({ createServer: ctx => (seen.push(ctx), createTestServer()) });
    const { client } = await connectSse(server.url);
    expect((await client.listTools()).tools.map(t => t.name)).toContain('echo');
    expect(await callText(client, 'echo', { text: 'over sse' })).toBe('over sse');
    expect(seen).toEqual([{ sessionId: expect.any(String), transport: 'sse' }]);
    expect(server.sessionCount()).toBe(1);

    await client.close();
    await waitFor(() => server.sessionCount() === 0);
  });

  it('shares one port and session map with Streamable HTTP clients', async () => {
    const server = await start();
    const sse = await connectSse(server.url);
    const streamable = await connectStreamable(server.url);
    expect(server.sessionCount()).toBe(2);
    const [a, b] = await Promise.all([
      callText(sse.client, 'echo', { text: 'a' }),
      callText(streamable.client, 'echo', { text: 'b' })
    ]);
    expect([a, b]).toEqual(['a', 'b']);
  });

  it('answers /messages for unknown sessions with 404 and bad JSON with a parse error', async () => {
    const server = await start();
    const unknown = await fetch(`${server.url}/messages?sessionId=nope`, { method: 'POST', headers: MCP_HEADERS, body: '{}' });
    expect(unknown.status).toBe(404);

    const sessionId = await sseSessionIdOf(server);
    const messagesUrl = `${server.url}/messages?sessionId=${sessionId}`;
    const bad = await fetch(messagesUrl, { method: 'POST', headers: MCP_HEADERS, body: '{oops' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: number } }).error.code).toBe(-32700);
  });

  it('refuses oversized /messages bodies with 413, even without Content-Length', async () => {
    const server = await start({ maxBodyBytes: 1024 });
    const sessionId = await sseSessionIdOf(server);
    const chunked = await rawRequest(`${server.url}/messages?sessionId=${sessionId}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' },
      body: JSON.stringify({ ...INITIALIZE, padding: 'x'.repeat(4096) })
    });
    expect(chunked.status).toBe(413);
  });
});

/** Opens a raw SSE stream and reads the session id from its `endpoint` event. */
async function sseSessionIdOf(server: RunningHttpServer): Promise<string> {
  const controller = new AbortController();
  const res = await fetch(`${server.url}/sse`, { headers: { Accept: 'text/event-stream' }, signal: controller.signal });
  const reader = res.body!.getReader();
  let text = '';
  while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader.read()).value);
  // Keep this stream open (the session lives as long as it does); afterEach's close() ends it.
  return /sessionId=([0-9a-f-]+)/.exec(text)![1]!;
}

describe('stateless mode', () => {
  it('serves independent requests with a fresh server each, passing Authorization to the factory', async () => {
    const seen: McpSessionContext[] = [];
    const server = await start({ stateless: true, createServer: ctx => (seen.push(ctx), createTestServer()) });
    const headers = { Authorization: 'Bearer user-token' };
    const first = await connectStreamable(server.url, { headers });
    const second = await connectStreamable(server.url, { headers });
    expect(first.transport.sessionId).toBeUndefined();
    expect(await callText(first.client, 'echo', { text: 'one' })).toBe('one');
    expect(await callText(second.client, 'echo', { text: 'two' })).toBe('two');
    // A fresh server per request: the closure counter never gets past 1.
    expect(await callText(first.client, 'count')).toBe('1');
    expect(await callText(first.client, 'count')).toBe('1');

    expect(seen.length).toBeGreaterThanOrEqual(4);
    expect(seen.every(ctx => ctx.transport === 'stateless' && ctx.authorization === 'Bearer user-token')).toBe(true);
    expect(server.sessionCount()).toBe(0);
  });

  it('refuses GET/DELETE on /mcp with 405 and the SSE endpoints with 404', async () => {
    const server = await start({ stateless: true });
    const bearer = { Authorization: 'Bearer user-token' };
    expect((await fetch(`${server.url}/mcp`, { headers: { ...bearer, Accept: 'text/event-stream' } })).status).toBe(405);
    expect((await fetch(`${server.url}/mcp`, { method: 'DELETE', headers: bearer })).status).toBe(405);
    expect((await fetch(`${server.url}/sse`)).status).toBe(404);
    expect((await fetch(`${server.url}/messages?sessionId=x`, { method: 'POST', body: '{}' })).status).toBe(404);
  });

  it('fails closed: without a bearer of its own a request gets 401 and never reaches a server', async () => {
    const seen: McpSessionContext[] = [];
    const server = await start({ stateless: true, createServer: ctx => (seen.push(ctx), createTestServer()) });
    const call = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: 'x' } } });
    for (const authorization of [undefined, 'Basic dXNlcjpwYXNz', 'Bearer', 'Bearer ', 'Bearer a b', 'bearer']) {
      const headers: Record<string, string> = { ...MCP_HEADERS, ...(authorization === undefined ? {} : { Authorization: authorization }) };
      for (const body of [JSON.stringify(INITIALIZE), call]) {
        const res = await fetch(`${server.url}/mcp`, { method: 'POST', headers, body });
        expect(res.status, String(authorization)).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Bearer');
        expect(await res.json()).toEqual({ jsonrpc: '2.0', id: null, error: { code: -32000, message: expect.stringContaining('Authorization: Bearer') } });
      }
    }
    expect(seen).toEqual([]);
  });
});

describe('security', () => {
  it('binds 127.0.0.1 by default and serves /health', async () => {
    const server = await start();
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    const res = await fetch(`${server.url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('accepts its own origins and refuses every other one, other localhost ports included', async () => {
    const server = await start();
    const { port } = server;
    // the embedded backend, a dev server, the same port over https or IPv6 (not bound there), foreign sites
    for (const origin of [`http://127.0.0.1:${port + 1}`, 'http://localhost:5173', 'http://localhost', `https://127.0.0.1:${port}`, `http://[::1]:${port}`, 'null', 'https://evil.example']) {
      const res = await fetch(`${server.url}/mcp`, { method: 'POST', headers: { ...MCP_HEADERS, Origin: origin }, body: JSON.stringify(INITIALIZE) });
      expect(res.status, origin).toBe(403);
      expect(res.headers.get('access-control-allow-origin'), origin).toBeNull();
      expect(await res.json()).toMatchObject({ error: 'forbidden_origin', message: expect.stringContaining('--allowed-origins') });
    }
    expect(server.sessionCount()).toBe(0);

    for (const origin of [`http://127.0.0.1:${port}`, `http://localhost:${port}`]) {
      const { client } = await connectStreamable(server.url, { headers: { Origin: origin } });
      expect(await callText(client, 'echo', { text: origin })).toBe(origin);
    }
  });

  it('bound to [::1], counts http://[::1]:port as its own origin', async () => {
    const server = await start({ host: '::1' });
    expect(server.url).toBe(`http://[::1]:${server.port}`);
    const { client } = await connectStreamable(server.url, { headers: { Origin: `http://[::1]:${server.port}` } });
    expect(await callText(client, 'echo', { text: 'v6' })).toBe('v6');
  });

  it('allows the origins given in allowedOrigins as well, exactly or by scheme://host:*', async () => {
    const server = await start({ allowedOrigins: ['http://localhost:5173', 'http://dev.internal:*'] });
    const status = async (origin: string) =>
      (await fetch(`${server.url}/mcp`, { method: 'POST', headers: { ...MCP_HEADERS, Origin: origin }, body: JSON.stringify(INITIALIZE) })).status;
    expect(await status('http://localhost:5173')).toBe(200);
    expect(await status('http://dev.internal:8080')).toBe(200);
    expect(await status(`http://127.0.0.1:${server.port}`)).toBe(200);
    expect(await status('http://localhost:5174')).toBe(403);
    expect(await status('https://dev.internal:8080')).toBe(403);
  });

  it('answers CORS preflights from allowed origins', async () => {
    const server = await start({ bearerToken: 'secret' });
    const origin = `http://127.0.0.1:${server.port}`;
    const res = await fetch(`${server.url}/mcp`, { method: 'OPTIONS', headers: { Origin: origin } });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(origin);
    expect(res.headers.get('access-control-expose-headers')).toContain('Mcp-Session-Id');
  });

  it('refuses a foreign Host header with 403 (DNS rebinding)', async () => {
    const server = await start();
    const foreign = await rawRequest(`${server.url}/mcp`, {
      method: 'POST',
      headers: { ...MCP_HEADERS, Host: `evil.example:${server.port}` },
      body: JSON.stringify(INITIALIZE)
    });
    expect(foreign.status).toBe(403);
    expect(server.sessionCount()).toBe(0);

    const local = await rawRequest(`${server.url}/mcp`, {
      method: 'POST',
      headers: { ...MCP_HEADERS, Host: `localhost:${server.port}` },
      body: JSON.stringify(INITIALIZE)
    });
    expect(local.status).toBe(200);
    expect(local.headers['mcp-session-id']).toBeDefined();
  });

  it('honours explicit allowedHosts, including "*"', async () => {
    const strict = await start({ allowedHosts: ['mcp.internal'] });
    const refused = await rawRequest(`${strict.url}/sse`, { headers: { Host: '127.0.0.1' } });
    expect(refused.status).toBe(403);

    const open = await start({ allowedHosts: ['*'] });
    const res = await rawRequest(`${open.url}/mcp`, {
      method: 'POST',
      headers: { ...MCP_HEADERS, Host: 'anything.example' },
      body: JSON.stringify(INITIALIZE)
    });
    expect(res.status).toBe(200);
  });

  it('requires the bearer token on MCP routes but not on /health', async () => {
    const server = await start({ bearerToken: 'secret' });
    const missing = await fetch(`${server.url}/mcp`, { method: 'POST', headers: MCP_HEADERS, body: JSON.stringify(INITIALIZE) });
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');

    const wrong = await fetch(`${server.url}/sse`, { headers: { Authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);

    expect((await fetch(`${server.url}/health`)).status).toBe(200);

    const { client } = await connectStreamable(server.url, { headers: { Authorization: 'Bearer secret' } });
    expect(await callText(client, 'echo', { text: 'authorized' })).toBe('authorized');
    const sse = await connectSse(server.url, { headers: { Authorization: 'Bearer secret' } });
    expect(await callText(sse.client, 'echo', { text: 'authorized sse' })).toBe('authorized sse');
  });
});

/** A client at its own address (see support/client-at.ts), closed after the test. */
function clientAt(localAddress: string, connections?: number) {
  const client = newClientAt(localAddress, connections);
  agents.push(client.agent);
  return client;
}

/** initialize by hand: the session id, and nothing else done with the session. */
async function openRawSession(base: string, doFetch: typeof fetch = fetch): Promise<string> {
  const res = await doFetch(`${base}/mcp`, { method: 'POST', headers: MCP_HEADERS, body: JSON.stringify(INITIALIZE) });
  expect(res.status).toBe(200);
  await res.text();
  return res.headers.get('mcp-session-id')!;
}

/** A notification, which is no call: asks whether the session is still open without using it. */
async function sessionOpen(base: string, sessionId: string): Promise<boolean> {
  const res = await fetch(`${base}/mcp`, {
    method: 'POST',
    headers: { ...MCP_HEADERS, 'Mcp-Session-Id': sessionId },
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })
  });
  await res.text();
  if (res.status !== 202 && res.status !== 404) throw new Error(`unexpected ${res.status}`);
  return res.status === 202;
}

async function rawCall(base: string, sessionId: string, id: number, method = 'tools/list'): Promise<void> {
  const res = await fetch(`${base}/mcp`, {
    method: 'POST',
    headers: { ...MCP_HEADERS, 'Mcp-Session-Id': sessionId },
    body: JSON.stringify({ jsonrpc: '2.0', id, method })
  });
  expect(res.status).toBe(200);
  await res.text();
}

describe('sessions cannot be exhausted', () => {
  it('a client at its cap loses its own longest-unused session, never another client’s', async () => {
    const server = await start({ maxSessionsPerClient: 3 });
    const other = await connectStreamable(server.url, { fetch: clientAt('127.0.0.2').fetch });
    expect(await callText(other.client, 'echo', { text: 'b' })).toBe('b');

    const flooder = clientAt('127.0.0.1');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await openRawSession(server.url, flooder.fetch));
    expect(server.sessionCount()).toBe(4);
    expect(await Promise.all(ids.map(id => sessionOpen(server.url, id)))).toEqual([false, false, true, true, true]);
    expect(await callText(other.client, 'echo', { text: 'still b' })).toBe('still b');
  });

  it('when full, closes a session for the newcomer instead of refusing it: unused ones first, then the longest idle', async () => {
    const server = await start({ maxSessions: 3 });
    const first = await connectStreamable(server.url);
    const second = await connectStreamable(server.url);
    await callText(second.client, 'echo', { text: '2' });
    await callText(first.client, 'echo', { text: '1' }); // second is now the longest idle (its GET stream open all along)
    const unused = await openRawSession(server.url);
    expect(server.sessionCount()).toBe(3);

    const newcomer = await openRawSession(server.url);
    expect(await sessionOpen(server.url, unused)).toBe(false);
    expect(server.sessionCount()).toBe(3);
    await rawCall(server.url, newcomer, 1);

    const next = await openRawSession(server.url);
    expect(await sessionOpen(server.url, second.transport.sessionId!)).toBe(false);
    expect(await callText(first.client, 'echo', { text: 'first stays' })).toBe('first stays');
    await rawCall(server.url, newcomer, 2);
    await rawCall(server.url, next, 1);
    expect(server.sessionCount()).toBe(3);
  });

  it('closes a session that made no call within unusedSessionTimeoutMs, though its GET stream is open', async () => {
    const server = await start({ unusedSessionTimeoutMs: 200 });
    const unused = await connectStreamable(server.url); // initialize, initialized, GET stream: no call
    const used = await connectStreamable(server.url);
    await used.client.listTools();
    await waitFor(() => server.sessionCount() === 1, 10_000);
    expect(await sessionOpen(server.url, unused.transport.sessionId!)).toBe(false);
    expect(await callText(used.client, 'echo', { text: 'kept' })).toBe('kept');
  });

  it('closes unused legacy SSE sessions too', async () => {
    const server = await start({ unusedSessionTimeoutMs: 200 });
    const { client } = await connectSse(server.url);
    await sseSessionIdOf(server); // a GET /sse that never posts anything
    await client.listTools();
    await waitFor(() => server.sessionCount() === 1, 10_000);
    expect(await callText(client, 'echo', { text: 'sse kept' })).toBe('sse kept');
  });

  it('by default, a session that made no call is closed within 60 s, one that did is kept (a clock of its own: no waiting)', () => {
    let now = 0;
    const closed: string[] = [];
    const table = new SessionTable<string>(DEFAULT_SESSION_LIMITS, id => closed.push(id), () => now);
    const unused = { onmessage: () => {} } as unknown as Transport;
    const used = { onmessage: () => {} } as unknown as Transport;
    table.open('unused', '127.0.0.1', 'unused', unused);
    table.open('used', '127.0.0.1', 'used', used);
    used.onmessage!({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    // the worst phase: a sweep runs just before the timeout is reached, the next one an interval later
    const interval = table.sweepIntervalMs();
    for (now = interval - 1; closed.length === 0 && now <= 60_000; now += interval) table.sweep();
    expect(closed).toEqual(['unused']);
    expect(now - interval).toBeLessThanOrEqual(60_000);
    expect(table.get('used')).toBe('used');
  });

  it('1,000 sessions opened from one address leave a client at another address unaffected', async () => {
    const server = await start();
    const other = clientAt('127.0.0.2');
    const before = await connectStreamable(server.url, { fetch: other.fetch });
    expect(await callText(before.client, 'echo', { text: 'before' })).toBe('before');

    const flooder = clientAt('127.0.0.1', 16);
    let opened = 0;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (opened < 1000) {
        opened++;
        await openRawSession(server.url, flooder.fetch);
      }
    }));
    expect(opened).toBe(1000);
    expect(server.sessionCount()).toBeLessThanOrEqual(101);

    expect(await callText(before.client, 'echo', { text: 'unaffected' })).toBe('unaffected');
    const after = await connectStreamable(server.url, { fetch: other.fetch });
    expect(await callText(after.client, 'echo', { text: 'welcome' })).toBe('welcome');
  }, 180_000);
});

/** Rejects if `promise` has not settled in `ms`: a hang check with a wide margin, not a timing. */
function settlesWithin<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} still pending after ${ms} ms`)), ms)));
  return Promise.race([promise, hang]).finally(() => clearTimeout(timer));
}

describe('a cancelled call ends its POST at once', () => {
  /** `hold` runs until its call is cancelled. */
  function holdingServer(started: string[], aborted: string[]): McpServer {
    const server = createTestServer();
    server.registerTool('hold', { description: 'Runs until cancelled' }, async extra => {
      started.push(String(extra.requestId));
      await new Promise(resolve => extra.signal.addEventListener('abort', resolve));
      aborted.push(String(extra.requestId));
      return { content: [{ type: 'text', text: 'too late' }] };
    });
    return server;
  }

  for (const [path, meta] of [['plain-JSON', undefined], ['SSE', { progressToken: 'p' }]] as const) {
    it(`on the ${path} path: the POST ends with no answer, and its socket carries the next call`, async () => {
      const started: string[] = [];
      const aborted: string[] = [];
      const server = await start({ createServer: () => holdingServer(started, aborted) });
      const sessionId = await openRawSession(server.url);
      const headers = { ...MCP_HEADERS, 'Mcp-Session-Id': sessionId };
      const caller = clientAt('127.0.0.1', 1); // one socket: what the held call leaves on it shows
      const post = (body: unknown) => caller.fetch(`${server.url}/mcp`, { method: 'POST', headers, body: JSON.stringify(body) });

      const held = post({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'hold', arguments: {}, ...(meta ? { _meta: meta } : {}) } });
      await waitFor(() => started.length === 1);
      const cancel = await fetch(`${server.url}/mcp`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 7, reason: 'user stopped it' } })
      });
      expect(cancel.status).toBe(202);

      const answer = await settlesWithin(held.then(async res => ({ res, text: await res.text() })), 10_000, 'the cancelled POST');
      expect(answer.res.status).toBe(200);
      expect(answer.res.headers.get('content-type')).toBe('text/event-stream');
      expect(answer.text).not.toContain('"id":7'); // a cancelled request gets no response
      expect(aborted).toEqual(['7']);
      // one connection (undici keeps a Client, not a Pool, for it): still up, nothing on it
      expect(caller.agent.stats[server.url]).toMatchObject({ connected: true, running: 0, pending: 0 });

      const next = await settlesWithin(post({ jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 'echo', arguments: { text: 'next' } } }), 10_000, 'the next call');
      expect(await next.json()).toMatchObject({ id: 8, result: { content: [{ text: 'next' }] } });
      expect(caller.agent.stats[server.url]).toMatchObject({ connected: true, running: 0 });
    });
  }

  it('through the SDK client: an aborted callTool leaves no request open', async () => {
    const started: string[] = [];
    const aborted: string[] = [];
    const server = await start({ createServer: () => holdingServer(started, aborted) });
    // calls on their own sockets, so that the client's GET stream does not count
    const calls = clientAt('127.0.0.1');
    const routed = ((url: string | URL, init?: RequestInit) =>
      (String(init?.body ?? '').includes('"tools/call"') ? calls.fetch : fetch)(url, init)) as typeof fetch;
    const { client } = await connectStreamable(server.url, { fetch: routed });
    for (const withProgress of [false, true]) {
      const controller = new AbortController();
      const call = client.callTool({ name: 'hold', arguments: {} }, undefined, { signal: controller.signal, ...(withProgress ? { onprogress: () => {} } : {}) });
      await waitFor(() => started.length === aborted.length + 1);
      controller.abort();
      await expect(call).rejects.toThrow();
      await expect.poll(() => calls.agent.stats[server.url]?.running, { timeout: 10_000 }).toBe(0);
    }
    expect(aborted).toHaveLength(2);
    expect(await callText(client, 'echo', { text: 'after' })).toBe('after');
  });
});

describe('close()', () => {
  it('returns promptly with SSE and Streamable HTTP clients still connected', async () => {
    const server = await startHttpServer({ port: 0, createServer: createTestServer });
    await connectSse(server.url);
    await connectStreamable(server.url);
    expect(server.sessionCount()).toBe(2);

    const startedAt = Date.now();
    await server.close();
    expect(Date.now() - startedAt).toBeLessThan(1000);
    expect(server.sessionCount()).toBe(0);
    await expect(fetch(`${server.url}/health`)).rejects.toThrow();
  });
});

describe('host and origin matching', () => {
  it('matches hosts by hostname, with an optional exact port', () => {
    const defaults = ['localhost', '127.0.0.1', '[::1]'];
    expect(isHostAllowed('localhost:3333', defaults)).toBe(true);
    expect(isHostAllowed('[::1]:80', defaults)).toBe(true);
    expect(isHostAllowed('LOCALHOST', defaults)).toBe(true);
    expect(isHostAllowed('localhost.evil.example', defaults)).toBe(false);
    expect(isHostAllowed('evil.example@localhost', defaults)).toBe(false);
    expect(isHostAllowed(undefined, defaults)).toBe(false);
    expect(isHostAllowed('mcp.internal:8080', ['mcp.internal:8080'])).toBe(true);
    expect(isHostAllowed('mcp.internal:9090', ['mcp.internal:8080'])).toBe(false);
  });

  it('counts as its own origins only the addresses it listens on, and localhost on loopback', () => {
    expect(ownOrigins('127.0.0.1', 3333)).toEqual(['http://127.0.0.1:3333', 'http://localhost:3333']);
    expect(ownOrigins('::1', 3333)).toEqual(['http://[::1]:3333', 'http://localhost:3333']);
    expect(ownOrigins('::', 80)).toEqual(['http://127.0.0.1:80', 'http://[::1]:80', 'http://localhost:80']);
    expect(ownOrigins('192.168.1.5', 3333)).toEqual(['http://192.168.1.5:3333']);
    expect(ownOrigins('fd00::5', 3333)).toEqual(['http://[fd00::5]:3333']);
  });

  it('counts sessions against an IPv4 address or an IPv6 /64', () => {
    expect(clientOf('127.0.0.2')).toBe('127.0.0.2');
    expect(clientOf('::ffff:10.0.0.7')).toBe('10.0.0.7');
    expect(clientOf('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(clientOf('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(clientOf('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientOf('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(clientOf('::1')).toBe('0:0:0:0::/64');
    expect(clientOf(undefined)).toBe('unknown');
  });

  it('matches origins exactly or by scheme://host:* wildcard', () => {
    const defaults = ['http://localhost:*', 'https://127.0.0.1:*'];
    expect(isOriginAllowed('http://localhost:5173', defaults)).toBe(true);
    expect(isOriginAllowed('http://localhost', defaults)).toBe(true);
    expect(isOriginAllowed('https://localhost', defaults)).toBe(false);
    expect(isOriginAllowed('http://localhost.evil.example', defaults)).toBe(false);
    expect(isOriginAllowed('null', defaults)).toBe(false);
    expect(isOriginAllowed('https://app.example', ['https://app.example'])).toBe(true);
    expect(isOriginAllowed('https://app.example:8443', ['https://app.example'])).toBe(false);
  });
});

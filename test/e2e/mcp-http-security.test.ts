/**
 * The MCP HTTP endpoint fails closed (issue 14): each attack the security run found against it is
 * tried again on the built bin, and must be held. Prints `FIGURE mcp-http-security: attempts tried N, held N`.
 *
 *  - A page on another localhost port (the embedded backend's, in the chain) drives the MCP
 *    tools: refused by Origin, also in a real browser (headless Chromium), where a page from an
 *    origin given in --allowed-origins is the control that shows the page would have got through.
 *  - --stateless without a bearer of the caller's own ran with the configured API key.
 *  - A flood of sessions from one address locked every other client out.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { FEATURE_NAMES } from '../../src/config.js';
import { InsForgeClient } from '../../src/client/client.js';
import { createMcpServer } from '../../src/mcp/server.js';
import { selectTools } from '../../src/mcp/toolsets.js';
import { freshDataDir, startTestBackend, TEST_ANON_KEY, TEST_API_KEY, type TestBackend } from '../support/backend.js';
import { clientAt } from '../support/client-at.js';
import { call, serverEnv, spawnHttpServer } from '../support/mcp.js';

const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const INITIALIZE = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'attacker', version: '0' } } };
const WHO_AM_I = { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'run-sql', arguments: { query: 'select current_user as who' } } };

type Spawned = Awaited<ReturnType<typeof spawnHttpServer>>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type JsonRpcAnswer = { result?: { isError?: boolean; structuredContent?: any } };

describe('the MCP HTTP endpoint fails closed', () => {
  const attempts: { name: string; held: boolean }[] = [];
  /** Records an attempt; the test fails unless it was held (and goes on, so that every attempt is counted). */
  const attempt = (name: string, held: boolean, detail = '') => {
    attempts.push({ name, held });
    expect.soft(held, `${name} got through ${detail}`).toBe(true);
  };
  const cleanups: (() => Promise<unknown>)[] = [];
  /** Started as a user would, with the defaults. */
  let server: Spawned;
  /** The same backend, with one more origin let in: the control that shows a page would get through. */
  let opened: Spawned;
  let backendOrigin: string;
  let trustedPages: PageServer;
  let attackerPages: PageServer;

  beforeAll(async () => {
    // two page servers on other localhost ports: one the user let in with --allowed-origins, one not
    trustedPages = await startPageServer();
    attackerPages = await startPageServer();
    cleanups.push(trustedPages.close, attackerPages.close);
    server = await spawnHttpServer(['--data-dir', await freshDataDir()]);
    cleanups.push(server.stop);
    const client = await connect(server.url);
    backendOrigin = new URL((await call(client, 'get-backend-metadata')).data.backend.url).origin;
    await client.close();
    opened = await spawnHttpServer(['--url', backendOrigin, '--allowed-origins', trustedPages.origin]);
    cleanups.push(opened.stop);
  });
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
    const held = attempts.filter((a) => a.held).length;
    process.stderr.write(`FIGURE mcp-http-security: attempts tried ${attempts.length}, held ${held}` + (held < attempts.length ? ` (got through: ${attempts.filter((a) => !a.held).map((a) => a.name).join('; ')})` : '') + '\n');
  });

  it('refuses the embedded backend’s origin and other localhost ports: initialize, preflight, SSE', async () => {
    const port = new URL(server.url).port;
    const foreign = [backendOrigin, backendOrigin.replace('127.0.0.1', 'localhost'), 'http://localhost:5173', `http://[::1]:${port}`, `https://127.0.0.1:${port}`, attackerPages.origin];
    for (const origin of foreign) {
      const init = await fetch(`${server.url}/mcp`, { method: 'POST', headers: { ...HEADERS, origin }, body: JSON.stringify(INITIALIZE) });
      attempt(`initialize from ${origin}`, init.status === 403 && !init.headers.has('mcp-session-id') && !init.headers.has('access-control-allow-origin'), `(${init.status})`);
    }
    const preflight = await fetch(`${server.url}/mcp`, { method: 'OPTIONS', headers: { origin: backendOrigin, 'access-control-request-method': 'POST' } });
    attempt('CORS preflight from the backend origin', preflight.status === 403 && !preflight.headers.has('access-control-allow-origin'), `(${preflight.status})`);
    const sse = await fetch(`${server.url}/sse`, { headers: { origin: backendOrigin, accept: 'text/event-stream' } });
    attempt('legacy SSE stream from the backend origin', sse.status === 403, `(${sse.status})`);
    await sse.body?.cancel();

    // its own origin, and one given with --allowed-origins, still get in
    const openedPort = new URL(opened.url).port;
    for (const [url, origin] of [[server.url, `http://127.0.0.1:${port}`], [server.url, `http://localhost:${port}`], [opened.url, `http://localhost:${openedPort}`], [opened.url, trustedPages.origin]] as const) {
      const ok = await fetch(`${url}/mcp`, { method: 'POST', headers: { ...HEADERS, origin }, body: JSON.stringify(INITIALIZE) });
      expect(ok.status, origin).toBe(200);
      expect(ok.headers.get('access-control-allow-origin')).toBe(origin);
      await ok.text();
    }
  });

  it('in a real browser, a page on another localhost port cannot run MCP tools (a page let in with --allowed-origins can)', async (ctx) => {
    const chromium = findChromium();
    if (!chromium) {
      if (process.env.CI) throw new Error('headless Chromium is needed in CI: apt-get install -y chromium-headless-shell');
      return ctx.skip('no headless Chromium here: apt-get install -y chromium-headless-shell (or set CHROMIUM_PATH)');
    }
    const control = await pageTitle(chromium, trustedPages.pageFor(`${opened.url}/mcp`));
    expect(control, 'the control page (an allowed origin) should run the chain').toMatch(/^ran: .*project_admin/);
    for (const target of [server, opened]) {
      const title = await pageTitle(chromium, attackerPages.pageFor(`${target.url}/mcp`));
      attempt(`browser page on another localhost port runs run-sql (${target === server ? 'defaults' : '--allowed-origins given'})`, /^blocked: /.test(title) && !title.includes('project_admin'), `(page title: ${title})`);
    }
  });

  it('--stateless: no bearer (none, Basic) is 401, a bearer acts as its holder, never as the configured key', async () => {
    // the configured keys (serverEnv) are the admin key and the anon key: stateless must use neither
    const stateless = await spawnHttpServer(['--stateless', '--url', backendOrigin]);
    cleanups.push(stateless.stop);
    const post = (authorization?: string) => fetch(`${stateless.url}/mcp`, { method: 'POST', headers: { ...HEADERS, ...(authorization ? { authorization } : {}) }, body: JSON.stringify(WHO_AM_I) });
    for (const [name, authorization] of [['no Authorization', undefined], ['Authorization: Basic', `Basic ${Buffer.from('admin:admin').toString('base64')}`], ['an empty Bearer', 'Bearer']] as const) {
      const res = await post(authorization);
      const body = await res.text();
      attempt(`stateless run-sql with ${name}`, res.status === 401 && res.headers.get('www-authenticate') === 'Bearer' && !body.includes('project_admin'), `(${res.status} ${body.slice(0, 200)})`);
      expect(JSON.parse(body)).toMatchObject({ jsonrpc: '2.0', id: null, error: { message: expect.stringContaining('Authorization: Bearer') } });
    }
    const asAnon = await post(`Bearer ${TEST_ANON_KEY}`);
    const anonBody = (await asAnon.json()) as JsonRpcAnswer;
    attempt('stateless run-sql with the anon key as bearer', anonBody.result?.isError === true && !JSON.stringify(anonBody).includes('project_admin'), `(${JSON.stringify(anonBody).slice(0, 200)})`);
    const asAdmin = (await (await post(`Bearer ${TEST_API_KEY}`)).json()) as JsonRpcAnswer;
    expect(asAdmin.result?.structuredContent?.rows).toEqual([{ who: 'project_admin' }]);
  });

  it('--stateless against the real InsForge backend: no bearer is 401, the anon key as bearer is not the admin', async (ctx) => {
    const env = realInsforgeEnv();
    if (!env) return ctx.skip('the real InsForge backend is not running here (/tmp/insforge.env)');
    const stateless = await spawnHttpServer(['--stateless', '--url', env.INSFORGE_BASE_URL!], serverEnv({ INSFORGE_API_KEY: env.INSFORGE_API_KEY!, INSFORGE_ANON_KEY: env.INSFORGE_ANON_KEY! }));
    cleanups.push(stateless.stop);
    const post = (authorization?: string) => fetch(`${stateless.url}/mcp`, { method: 'POST', headers: { ...HEADERS, ...(authorization ? { authorization } : {}) }, body: JSON.stringify(WHO_AM_I) });
    const none = await post();
    attempt('stateless run-sql on real InsForge with no Authorization', none.status === 401 && !(await none.text()).includes('"rows"'), `(${none.status})`);
    const anon = (await (await post(`Bearer ${env.INSFORGE_ANON_KEY}`)).json()) as JsonRpcAnswer;
    attempt('stateless run-sql on real InsForge with the anon key as bearer', anon.result?.isError === true, `(${JSON.stringify(anon).slice(0, 200)})`);
  });

  it('a stateless MCP server given no bearer has no credential at all (it is refused before, over HTTP)', async () => {
    const backend: TestBackend = await startTestBackend('pglite');
    cleanups.push(() => backend.close());
    const configured = InsForgeClient.create({ target: async () => ({ baseUrl: backend.url, apiKey: TEST_API_KEY, anonKey: TEST_ANON_KEY }), timeoutMs: 10_000 });
    cleanups.push(() => configured.close());
    // a function that shows what credential it was called with
    await configured.deployFunction('whoami', { code: 'export default async (req) => Response.json({ authorization: req.headers.get("authorization"), apikey: req.headers.get("apikey") });' });
    for (const authorization of [undefined, 'Basic YTpi']) {
      const mcp = createMcpServer({ client: configured, log: () => {}, tools: selectTools({ readOnly: false, features: FEATURE_NAMES }), mode: { readOnly: false, features: FEATURE_NAMES }, localFiles: false, stateless: { authorization } });
      const [serverSide, clientSide] = InMemoryTransport.createLinkedPair();
      await mcp.connect(serverSide);
      const client = new Client({ name: 'in-process', version: '1' });
      await client.connect(clientSide);
      const res = await call(client, 'run-sql', { query: 'select current_user as who' }, { allowError: true });
      attempt(`stateless server, ${authorization ?? 'no'} Authorization, run-sql`, res.result.isError === true && !res.text.includes('project_admin'), `(${res.text.slice(0, 200)})`);
      // invoke-function must not fall back to the configured anon key either
      const invoked = await call(client, 'invoke-function', { slug: 'whoami' }, { allowError: true });
      attempt(`stateless server, ${authorization ?? 'no'} Authorization, invoke-function`, invoked.result.isError === true && !invoked.text.includes(TEST_ANON_KEY), '(the function was called with a configured key)');
      await client.close();
    }
  });

  it('1,000 sessions (and 100 SSE streams) opened from one address leave a client at another address unaffected', async () => {
    const other = clientAt('127.0.0.2');
    const before = await connect(server.url, other.fetch);
    expect((await call(before, 'run-sql', { query: 'select 1 as one' })).data.rows).toEqual([{ one: 1 }]);

    const flooder = clientAt('127.0.0.1', 16);
    let opened = 0;
    let refused = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (opened < 1000) {
          opened++;
          const res = await flooder.fetch(`${server.url}/mcp`, { method: 'POST', headers: HEADERS, body: JSON.stringify(INITIALIZE) });
          if (res.status !== 200) refused++;
          await res.text();
        }
      }),
    );
    // streams stay open: each needs a socket of its own
    const streamer = clientAt('127.0.0.1');
    const streams = await Promise.all(Array.from({ length: 100 }, () => streamer.fetch(`${server.url}/sse`, { headers: { accept: 'text/event-stream' } })));
    expect(streams.map((s) => s.status)).toEqual(Array(100).fill(200));

    const stillAnswers = await call(before, 'run-sql', { query: 'select 2 as two' }, { allowError: true });
    attempt('1,000-session flood: the other client’s open session', stillAnswers.data?.rows?.[0]?.two === 2, stillAnswers.text.slice(0, 200));
    const after = await connect(server.url, other.fetch).catch((err: Error) => err);
    const newcomer = after instanceof Client ? await call(after, 'run-sql', { query: 'select 3 as three' }, { allowError: true }) : undefined;
    attempt('1,000-session flood: a new session of the other client', newcomer?.data?.rows?.[0]?.three === 3, after instanceof Error ? after.message : '');
    expect(refused, 'the flooder is not refused either: its own oldest sessions make room').toBe(0);
    await Promise.all(streams.map((s) => s.body?.cancel()));
    await before.close();
    if (after instanceof Client) await after.close();
    await Promise.all([other, flooder, streamer].map((c) => c.agent.destroy()));
  }, 300_000);
});

async function connect(base: string, fetchFn?: typeof fetch): Promise<Client> {
  const client = new Client({ name: 'security-test', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { fetch: fetchFn }));
  return client;
}

interface PageServer {
  origin: string;
  /** The URL of a page that runs the chain against `mcpUrl`: initialize, then run-sql. */
  pageFor(mcpUrl: string): string;
  close(): Promise<void>;
}

/** Serves the attacking page of issue 14: it POSTs to /mcp and shows what it got in its title. */
async function startPageServer(): Promise<PageServer> {
  const server: Server = createServer((req, res) => {
    const mcp = new URL(req.url ?? '/', 'http://x').searchParams.get('mcp') ?? '';
    res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><title>start</title><script>
(async () => {
  const mcp = ${JSON.stringify(mcp)};
  const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  const post = (body, extra = {}) => fetch(mcp, { method: 'POST', headers: { ...headers, ...extra }, body: JSON.stringify(body) });
  try {
    const init = await post(${JSON.stringify(INITIALIZE)});
    const session = init.headers.get('mcp-session-id');
    await init.text();
    await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, { 'mcp-session-id': session });
    const res = await post(${JSON.stringify(WHO_AM_I)}, { 'mcp-session-id': session });
    document.title = 'ran: ' + (await res.text()).slice(0, 500);
  } catch (err) {
    document.title = 'blocked: ' + err.message;
  }
})();
</script>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    pageFor: (mcpUrl) => `${origin}/?mcp=${encodeURIComponent(mcpUrl)}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function findChromium(): string | undefined {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  for (const name of ['chromium-headless-shell', 'chromium']) {
    const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim();
    if (found) return found;
  }
  return undefined;
}

/** Opens the page in headless Chromium, lets its script run (virtual time waits for the network), returns its title. */
async function pageTitle(chromium: string, url: string): Promise<string> {
  const profile = await mkdtemp(join(tmpdir(), 'chromium-'));
  try {
    const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`, '--virtual-time-budget=15000', '--dump-dom', url];
    const child = spawn(chromium, flags, { stdio: ['ignore', 'pipe', 'ignore'] });
    let dom = '';
    child.stdout.on('data', (d) => (dom += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    await new Promise((resolve) => child.on('exit', resolve));
    clearTimeout(timer);
    const title = /<title>([\s\S]*?)<\/title>/.exec(dom)?.[1];
    if (title === undefined) throw new Error(`Chromium gave no page: ${dom.slice(0, 300)}`);
    return title.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
}

function realInsforgeEnv(): Record<string, string> | undefined {
  const file = '/tmp/insforge.env';
  if (!existsSync(file)) return undefined;
  const env = Object.fromEntries(
    readFileSync(file, 'utf8')
      .split('\n')
      .map((line) => /^(?:export\s+)?([A-Z_]+)=(.*)$/.exec(line.trim()))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1]!, m[2]!.replace(/^["']|["']$/g, '')]),
  );
  return env.INSFORGE_BASE_URL && env.INSFORGE_API_KEY && env.INSFORGE_ANON_KEY ? env : undefined;
}

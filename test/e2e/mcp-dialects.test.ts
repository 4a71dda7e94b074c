import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { freshDataDir, startTestBackend, TEST_ANON_KEY, TEST_API_KEY, type TestBackend } from '../support/backend.js';
import { startAiStandin, type AiStandin } from '../support/ai-standin.js';
import { call, databaseScenario, serverEnv, stdioClient } from '../support/mcp.js';
import { defineWalk } from '../insforge/walk.js';
import { VERSION } from '../../src/version.js';

/**
 * In front of the embedded backend, a proxy that makes it look like a real InsForge v2 server:
 * /api/health names the InsForge service, and the documented-only routes answer 404 as there.
 */
async function insforgeLookalike(target: string): Promise<{ url: string; close(): Promise<void> }> {
  const documentedOnly = /^\/api\/(db\/|auth\/(signup|signin|user|signout)\b|ai\/chat\/completions|ai\/images\/generations)/;
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    if (path === '/api/health') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'ok', version: '2.3.1', service: 'Insforge OSS Backend' }));
      return;
    }
    if (documentedOnly.test(path) || (req.method === 'POST' && /^\/api\/functions\/[^/]+$/.test(path))) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'NOT_FOUND', message: `Endpoint ${path} not found`, statusCode: 404 }));
      return;
    }
    const upstream = httpRequest(`${target}${req.url}`, { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(() => r())) };
}

/** AI through THE ONE FAKE (a local OpenAI-compatible stand-in), and functions for real: same shapes in both dialects. */
async function aiAndFunctionsScenario(client: Client) {
  const chat = await call(client, 'chat-completion', { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'same answer' }] });
  expect(chat.data).toMatchObject({ message: { role: 'assistant', content: 'echo: same answer' } });
  const image = await call(client, 'generate-image', { model: 'img', prompt: 'a dot' });
  expect(image.result.content.some((c) => c.type === 'image')).toBe(true);
  await call(client, 'deploy-function', { slug: 'echo', code: 'export default async (req) => Response.json({ got: await req.json(), method: req.method })' });
  for (const method of ['POST', 'PUT'] as const) {
    expect((await call(client, 'invoke-function', { slug: 'echo', method, body: { a: 1 } })).data).toMatchObject({ status: 200, body: { got: { a: 1 }, method } });
  }
}

/**
 * The MCP walk-through with each dialect forced, and with detection, against the embedded backend
 * (which serves both). The tools must not change: same calls, same result shapes.
 */
async function storageAndAuthScenario(client: Client) {
  await call(client, 'create-bucket', { bucketName: 'dialect' });
  const up = await call(client, 'upload-file', { bucket: 'dialect', key: 'a/b.txt', text: 'same in both' });
  expect(up.data.file).toMatchObject({ bucket: 'dialect', key: 'a/b.txt', size: 12 });
  expect((await call(client, 'list-files', { bucket: 'dialect', prefix: 'a/' })).data.files.map((f: { key: string }) => f.key)).toEqual(['a/b.txt']);
  expect((await call(client, 'download-file', { bucket: 'dialect', key: 'a/b.txt' })).data.text).toBe('same in both');
  await call(client, 'delete-file', { bucket: 'dialect', key: 'a/b.txt', confirm: true });

  const signedUp = await call(client, 'sign-up', { email: 'dialect@example.com', password: 'dialect-password-1' });
  expect(signedUp.data).toMatchObject({ signedIn: true, user: { email: 'dialect@example.com' } });
  expect((await call(client, 'get-current-user')).data).toMatchObject({ signedIn: true, user: { email: 'dialect@example.com' } });
  expect((await call(client, 'sign-out')).data).toEqual({ signedOut: true });
  expect((await call(client, 'sign-in', { email: 'dialect@example.com', password: 'dialect-password-1' })).data.signedIn).toBe(true);
  await call(client, 'sign-out');

  const table = await call(client, 'describe-table', { table: 'tasks' });
  expect(table.data.table.columns.map((c: { columnName: string }) => c.columnName)).toEqual(expect.arrayContaining(['id', 'title', 'priority']));
}

const CASES = [
  { dialect: 'documented', lookalike: false, detected: 'documented' },
  { dialect: 'insforge-v2', lookalike: false, detected: 'insforge-v2' },
  { dialect: 'auto', lookalike: false, detected: 'documented' },
  { dialect: 'auto', lookalike: true, detected: 'insforge-v2' },
] as const;

describe.each(CASES)('MCP with --dialect $dialect (InsForge look-alike: $lookalike)', ({ dialect, lookalike, detected }) => {
  let ai: AiStandin;
  let backend: TestBackend;
  let proxy: { url: string; close(): Promise<void> } | undefined;
  let client: Client;
  beforeAll(async () => {
    ai = await startAiStandin();
  });
  afterAll(async () => {
    await client?.close();
    await proxy?.close();
    await backend?.close();
    await ai?.close();
  });

  it('passes the whole walk-through with the same tool shapes', { timeout: 180_000 }, async () => {
    backend = await startTestBackend('pglite', { dataDir: await freshDataDir(), backend: { aiBaseUrl: ai.baseUrl } });
    proxy = lookalike ? await insforgeLookalike(backend.url) : undefined;
    // only the admin key, as a user of a real project would configure: the anon key is fetched when needed
    ({ client } = await stdioClient(['--url', proxy?.url ?? backend.url, '--dialect', dialect], serverEnv({ INSFORGE_API_KEY: TEST_API_KEY, INSFORGE_ANON_KEY: '' })));
    const meta = await call(client, 'get-backend-metadata');
    expect(meta.data.backend.dialect).toBe(detected);
    await databaseScenario(client);
    await storageAndAuthScenario(client);
    await aiAndFunctionsScenario(client);
  });
});

/**
 * The walk the real-backend suite makes (test/insforge/walk.ts: every tool, the error cases,
 * the defects found on real InsForge), on the embedded backend through each dialect.
 */
describe.each(['documented', 'insforge-v2'] as const)('every tool on the embedded backend with --dialect %s', (dialect) => {
  let ai: AiStandin;
  let backend: TestBackend;
  beforeAll(async () => {
    ai = await startAiStandin();
    backend = await startTestBackend('pglite', { backend: { aiBaseUrl: ai.baseUrl } });
  });
  afterAll(async () => {
    await backend?.close();
    await ai?.close();
  });
  defineWalk(() => ({
    url: backend.url,
    env: (keys = { apiKey: true, anonKey: true }) => serverEnv({ INSFORGE_API_KEY: keys.apiKey ? TEST_API_KEY : '', INSFORGE_ANON_KEY: keys.anonKey ? TEST_ANON_KEY : '' }),
    dialectArgs: ['--dialect', dialect],
    dialect,
    version: VERSION,
    missingDefault: true,
    privateFilesOwnerOnly: true,
    signsPrivateUrls: true,
    functionLogs: true,
  }));
});

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { freshDataDir } from '../support/backend.js';
import { startAiStandin, TINY_PNG_B64, type AiStandin } from '../support/ai-standin.js';
import { CLI, call, serverEnv, stdioClient } from '../support/mcp.js';

const HELLO_WORLD = `export default async function (req) {
  const { name } = await req.json();
  return new Response(JSON.stringify({ message: \`Hello, \${name}!\`, timestamp: new Date().toISOString() }), { headers: { 'content-type': 'application/json' } });
}`;

const COMMONJS_TEAPOT = `module.exports = async function (request) {
  return new Response(JSON.stringify({ error: 'short and stout', method: request.method }), { status: 418, headers: { 'content-type': 'application/json', 'x-brewed': 'no' } });
};`;

/** AI through THE ONE FAKE (a local OpenAI-compatible stand-in: no model is reachable here); functions for real. */
describe('AI and functions through MCP (AI provider: local stand-in)', () => {
  let ai: AiStandin;
  let client: Client;

  beforeAll(async () => {
    ai = await startAiStandin();
    ({ client } = await stdioClient(['--data-dir', await freshDataDir()], serverEnv({ INSFORGE_AI_BASE_URL: ai.baseUrl, INSFORGE_AI_API_KEY: 'sk-standin-key' })));
    // the backend up first: a call made while it starts also hears start-up progress (warm-up.ts)
    await call(client, 'get-backend-metadata');
  });
  afterAll(async () => {
    await client?.close();
    await ai?.close();
  });

  it('chat-completion streams with progress and returns the whole message', async () => {
    const progress: { progress: number; message?: string }[] = [];
    // "gated" sends its first word, then waits: progress must arrive while the answer is still streaming
    const res = (await client.callTool(
      { name: 'chat-completion', arguments: { model: 'gated', messages: [{ role: 'user', content: 'What is InsForge and why does it stream' }], maxTokens: 50 } },
      undefined,
      {
        onprogress: (p) => {
          progress.push(p);
          if (progress.length === 1) ai.release();
        },
      },
    )) as CallToolResult;
    expect(res.isError).toBeFalsy();
    expect(res.structuredContent).toMatchObject({ message: { role: 'assistant', content: 'echo: What is InsForge and why does it stream' }, model: 'gated' });
    // the stand-in holds the rest of the answer until the first progress arrives, so finishing at all
    // proves progress was sent while the answer was still streaming
    // not more: the SDK client drops a progress notification it reads in the same chunk as the result
    // (typescript-sdk#2580), so whether the last one arrives is up to the client; see the wire test below
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress.every((p) => p.progress <= 'echo: What is InsForge and why does it stream'.length)).toBe(true);
    const sent = ai.requests.find((r) => r.path === '/v1/chat/completions')!;
    expect(sent.body).toMatchObject({ stream: true, max_tokens: 50 });
    expect(sent.headers.authorization).toBe('Bearer sk-standin-key');
  });

  it('chat-completion writes its last progress, for the whole answer, before the result', async () => {
    const child = spawn(process.execPath, [CLI, '--data-dir', await freshDataDir()], { env: serverEnv({ INSFORGE_AI_BASE_URL: ai.baseUrl, INSFORGE_AI_API_KEY: 'sk-standin-key' }), stdio: ['pipe', 'pipe', 'ignore'] });
    try {
      const wire: { id?: number; method?: string; params?: { progress?: number } }[] = [];
      const waiters = new Map<number, () => void>();
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const message = JSON.parse(line);
        wire.push(message);
        waiters.get(message.id)?.();
      });
      const request = (id: number, method: string, params: object) => {
        const answered = new Promise<void>((resolve) => waiters.set(id, resolve));
        child.stdin!.write(JSON.stringify({ jsonrpc: '2.0', id, method, params }) + '\n');
        return answered;
      };
      await request(1, 'initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'wire', version: '1' } });
      child.stdin!.write(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) + '\n');
      const question = 'Say something in a few words please';
      await request(2, 'tools/call', { name: 'chat-completion', arguments: { model: 'standin', messages: [{ role: 'user', content: question }] }, _meta: { progressToken: 'p' } });
      const lastProgress = wire.findLastIndex((m) => m.method === 'notifications/progress');
      expect(lastProgress).toBeGreaterThan(-1);
      expect(wire[lastProgress]!.params!.progress).toBe(`echo: ${question}`.length);
      expect(lastProgress).toBeLessThan(wire.findIndex((m) => m.id === 2));
    } finally {
      child.kill();
    }
  });

  it('chat-completion keeps the provider error status', async () => {
    const res = await call(client, 'chat-completion', { model: 'fail-401', messages: [{ role: 'user', content: 'hi' }] }, { allowError: true });
    expect(res.data.error.status).toBe(401);
  });

  it('generate-image returns an image content block and usage', async () => {
    const res = (await client.callTool({ name: 'generate-image', arguments: { model: 'google/gemini-3-pro-image-preview', prompt: 'A beautiful sunset over mountains', size: '1024x1024' } })) as CallToolResult;
    expect(res.isError, JSON.stringify(res.content)).toBeFalsy();
    expect(res.content.find((c) => c.type === 'image')).toMatchObject({ type: 'image', mimeType: 'image/png', data: TINY_PNG_B64 });
    expect(res.structuredContent).toMatchObject({ images: 1 });
  });

  it('list-ai-models lists the provider models', async () => {
    const { data } = await call(client, 'list-ai-models');
    expect(data.models.length).toBeGreaterThan(0);
    expect(data.models[0].id).toEqual(expect.any(String));
  });

  it("deploys hello-world and invokes it for the seed's answer", async () => {
    const deployed = await call(client, 'deploy-function', { slug: 'hello-world', code: HELLO_WORLD, description: 'Greets' });
    expect(deployed.data).toMatchObject({ created: true, function: { slug: 'hello-world', status: 'active' } });
    const res = await call(client, 'invoke-function', { slug: 'hello-world', body: { name: 'World' } });
    expect(res.data).toMatchObject({ status: 200, body: { message: 'Hello, World!', timestamp: expect.any(String) } });
    expect(res.text).toMatch(/^<untrusted-data-/);
    const listed = await call(client, 'list-functions');
    expect(listed.data.functions.map((f: { slug: string }) => f.slug)).toContain('hello-world');
  });

  it('updates a function in place, keeps its own error status, and needs confirmation to delete', async () => {
    const updated = await call(client, 'deploy-function', { slug: 'hello-world', code: COMMONJS_TEAPOT });
    expect(updated.data.created).toBe(false);
    const res = await call(client, 'invoke-function', { slug: 'hello-world', method: 'PUT', body: {} });
    expect(res.result.isError).toBeFalsy();
    expect(res.data).toMatchObject({ status: 418, headers: { 'x-brewed': 'no' }, body: { error: 'short and stout', method: 'PUT' } });
    const refused = await call(client, 'delete-function', { slug: 'hello-world' }, { allowError: true });
    expect(refused.data.error.code).toBe('CONFIRMATION_REQUIRED');
    await call(client, 'delete-function', { slug: 'hello-world', confirm: true });
    const gone = await call(client, 'invoke-function', { slug: 'hello-world', body: {} }, { allowError: true });
    expect(gone.result.isError).toBe(true);
    expect(gone.data.error).toMatchObject({ status: 404, code: 'FUNCTION_NOT_FOUND', nextActions: expect.stringContaining('deploy-function') });
  });

  it('a function that loops forever is stopped, and the next invocation works', async () => {
    await call(client, 'deploy-function', { slug: 'spin', code: 'export default async () => { for (;;) {} }' });
    await call(client, 'deploy-function', { slug: 'ok', code: 'export default async () => Response.json({ ok: true })' });
    const spin = await call(client, 'invoke-function', { slug: 'spin' });
    expect(spin.data.status).toBe(504);
    expect((await call(client, 'invoke-function', { slug: 'ok' })).data).toMatchObject({ status: 200, body: { ok: true } });
  });
});

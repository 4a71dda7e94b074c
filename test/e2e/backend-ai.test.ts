import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBackend, TEST_ANON_KEY, TEST_API_KEY, type TestBackend } from '../support/backend.js';
import { startAiStandin, TINY_PNG_B64, type AiStandin } from '../support/ai-standin.js';

// The AI provider here is THE ONE FAKE of the suite (test/support/ai-standin.ts): no model can be
// reached from the tests, so a local OpenAI-compatible stand-in answers in its place. The backend,
// its routes, streaming and error mapping are the real ones.

const PROVIDER_KEY = 'sk-standin-secret-provider-key';
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Reads a server-sent-event response event by event, so a test can act between two events. */
function eventReader(res: Response) {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  return {
    async next(): Promise<string | undefined> {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end >= 0) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          return event.replace(/^data: /, '');
        }
        const { value, done } = await reader.read();
        if (done) return undefined;
        buffer += decoder.decode(value, { stream: true });
      }
    },
    async rest(): Promise<string[]> {
      const events: string[] = [];
      for (let e = await this.next(); e !== undefined; e = await this.next()) events.push(e);
      return events;
    },
  };
}

describe('AI routes via THE ONE FAKE (a local OpenAI-compatible stand-in; no model is reachable)', () => {
  let standin: AiStandin;
  let b: TestBackend;
  const logs: string[] = [];

  beforeAll(async () => {
    standin = await startAiStandin({ apiKey: PROVIDER_KEY });
    b = await startTestBackend('pglite', { backend: { aiBaseUrl: standin.baseUrl, aiApiKey: PROVIDER_KEY, log: (m) => logs.push(m) } });
  });
  afterAll(async () => {
    await b?.close();
    await standin?.close();
  });

  const post = (path: string, json: unknown, headers: Record<string, string> = { authorization: `Bearer ${TEST_ANON_KEY}` }) =>
    fetch(`${b.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(json) });

  it('seed: POST /api/ai/chat/completions answers in the OpenAI shape (stand-in provider)', async () => {
    const res = await b.api('/api/ai/chat/completions', {
      method: 'POST',
      key: 'none',
      headers: { authorization: `Bearer ${TEST_ANON_KEY}` },
      json: { model: 'anthropic/claude-3.5-haiku', messages: [{ role: 'user', content: 'What is InsForge?' }] },
    });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      id: expect.any(String),
      object: 'chat.completion',
      created: expect.any(Number),
      model: 'anthropic/claude-3.5-haiku',
      choices: [{ index: 0, message: { role: 'assistant', content: 'echo: What is InsForge?' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
    });
    const upstream = standin.requests.at(-1)!;
    expect(upstream.path).toBe('/v1/chat/completions');
    expect(upstream.headers.authorization).toBe(`Bearer ${PROVIDER_KEY}`);
    expect(upstream.body).toEqual({ model: 'anthropic/claude-3.5-haiku', messages: [{ role: 'user', content: 'What is InsForge?' }] });
  });

  it('seed: POST /api/ai/images/generations returns a real image as b64_json (stand-in provider)', async () => {
    const res = await b.api('/api/ai/images/generations', {
      method: 'POST',
      json: { model: 'google/gemini-3-pro-image-preview', prompt: 'A beautiful sunset over mountains', size: '1024x1024' },
    });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ created: expect.any(Number), data: [{ b64_json: TINY_PNG_B64 }] });
    expect(Buffer.from(res.json.data[0].b64_json, 'base64').subarray(0, 8)).toEqual(PNG_SIGNATURE);
    expect(standin.requests.at(-1)!.body).toMatchObject({ size: '1024x1024', prompt: 'A beautiful sunset over mountains' });
  });

  it('stream: true passes the provider’s events through as they arrive, not buffered (stand-in provider)', async () => {
    const res = await post('/api/ai/chat/completions', { model: 'gated', stream: true, messages: [{ role: 'user', content: 'one two three' }] });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const events = eventReader(res);
    // the stand-in holds the stream after its first word: these arrive only if nothing is buffered
    const role = JSON.parse((await events.next())!);
    expect(role.choices[0].delta.role).toBe('assistant');
    const first = JSON.parse((await events.next())!);
    expect(first.choices[0].delta.content).toBe('echo: ');
    standin.release();
    const rest = await events.rest();
    expect(rest.at(-1)).toBe('[DONE]');
    const text = [first, ...rest.slice(0, -1).map((e) => JSON.parse(e))].map((c) => c.choices[0]?.delta?.content ?? '').join('');
    expect(text).toBe('echo: one two three');
  });

  it.each(['/api/ai/chat/completions', '/api/ai/chat/completion'])('a client that disconnects mid-stream from %s ends the upstream request (stand-in provider)', async (path) => {
    const controller = new AbortController();
    const res = await fetch(`${b.url}${path}`, {
      method: 'POST',
      signal: controller.signal,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_ANON_KEY}` },
      body: JSON.stringify({ model: 'gated', stream: true, messages: [{ role: 'user', content: 'never finished' }] }),
    });
    const events = eventReader(res);
    expect(await events.next()).toBeDefined(); // the stream has begun
    const abandoned = standin.streamAbandoned();
    controller.abort();
    await abandoned; // the stand-in saw its connection closed before the stream ended
    standin.release();
    // and the backend is fine
    expect((await b.api('/api/health', { key: 'none' })).status).toBe(200);
  });

  it('v2: POST /api/ai/chat/completion maps camelCase in and {text, metadata} out (stand-in provider)', async () => {
    const res = await b.api('/api/ai/chat/completion', {
      method: 'POST',
      key: 'none',
      headers: { authorization: `Bearer ${TEST_ANON_KEY}` },
      json: { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'ping' }], maxTokens: 50, topP: 0.9, temperature: 0.2 },
    });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ text: 'echo: ping', metadata: { model: 'openai/gpt-4o-mini', usage: { promptTokens: 3, completionTokens: 2, totalTokens: 5 } } });
    expect(standin.requests.at(-1)!.body).toEqual({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'ping' }], max_tokens: 50, top_p: 0.9, temperature: 0.2 });
  });

  it('v2: streaming is {chunk}… {tokenUsage} {done} (stand-in provider)', async () => {
    const res = await post('/api/ai/chat/completion', { model: 'openai/gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'ping pong' }] });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const events = (await eventReader(res).rest()).map((e) => JSON.parse(e));
    expect(events).toEqual([{ chunk: 'echo: ' }, { chunk: 'ping ' }, { chunk: 'pong' }, { tokenUsage: { promptTokens: 3, completionTokens: 3, totalTokens: 6 } }, { done: true }]);
    expect(standin.requests.at(-1)!.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it('v2: POST /api/ai/image/generation returns data: URLs (stand-in provider)', async () => {
    const res = await b.api('/api/ai/image/generation', { method: 'POST', json: { model: 'openai/gpt-image-1', prompt: 'a red dot' } });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ images: [{ type: 'imageUrl', imageUrl: `data:image/png;base64,${TINY_PNG_B64}` }], metadata: { model: 'openai/gpt-image-1' } });
  });

  it('GET /api/ai/models lists the provider’s models in the v2 shape; admin only (stand-in provider)', async () => {
    const res = await b.api('/api/ai/models');
    expect(res.status).toBe(200);
    expect(res.json).toEqual([
      expect.objectContaining({ id: 'echo-1', modelId: 'echo-1', provider: 'openai-compatible', inputModality: ['text'], outputModality: ['text'], inputPrice: 0, outputPrice: 0 }),
      expect.objectContaining({ id: 'gpt-image-1', outputModality: ['image'] }),
    ]);
    expect((await b.api('/api/ai/models', { key: 'anon' })).status).toBe(401);
  });

  it('needs a key: no key → 401 on every AI route', async () => {
    for (const path of ['/api/ai/chat/completions', '/api/ai/images/generations', '/api/ai/chat/completion', '/api/ai/image/generation']) {
      const res = await b.api(path, { method: 'POST', key: 'none', json: { model: 'echo-1', prompt: 'x', messages: [{ role: 'user', content: 'x' }] } });
      expect(res.status, path).toBe(401);
    }
    expect((await b.api('/api/ai/models', { key: 'none' })).status).toBe(401);
    // a user-level key is enough for the data routes
    const anon = await b.api('/api/ai/chat/completions', { method: 'POST', key: 'anon', json: { model: 'echo-1', messages: [{ role: 'user', content: 'x' }] } });
    expect(anon.status).toBe(200);
  });

  it('a provider error keeps its status and message (stand-in provider)', async () => {
    const denied = await b.api('/api/ai/chat/completions', { method: 'POST', json: { model: 'fail-401', messages: [{ role: 'user', content: 'x' }] } });
    expect(denied.status).toBe(401);
    expect(denied.json).toMatchObject({ statusCode: 401, error: 'AI_INVALID_API_KEY', message: 'Incorrect API key provided: sk-or-…', nextActions: expect.stringContaining('--ai-api-key') });
    const missing = await b.api('/api/ai/chat/completion', { method: 'POST', json: { model: 'missing-model', messages: [{ role: 'user', content: 'x' }] } });
    expect(missing.status).toBe(404);
    expect(missing.json).toMatchObject({ error: 'AI_INVALID_MODEL', message: 'The model `missing-model` does not exist' });
    // before any event is sent, a streamed request fails the same way
    const streamed = await post('/api/ai/chat/completions', { model: 'fail-401', stream: true, messages: [{ role: 'user', content: 'x' }] });
    expect(streamed.status).toBe(401);
    expect(await streamed.json()).toMatchObject({ error: 'AI_INVALID_API_KEY' });
    const image = await b.api('/api/ai/images/generations', { method: 'POST', json: { model: 'fail-401', prompt: 'x' } });
    expect(image.status).toBe(401);
  });

  it('rejects a malformed body with 400 INVALID_INPUT', async () => {
    const res = await b.api('/api/ai/chat/completion', { method: 'POST', json: { model: 'echo-1' } });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: 'INVALID_INPUT', message: expect.stringContaining('messages') });
    expect((await b.api('/api/ai/images/generations', { method: 'POST', json: { model: 'x' } })).status).toBe(400);
  });

  it('never returns or logs the provider key', async () => {
    const res = await b.api('/api/ai/chat/completions', { method: 'POST', json: { model: 'fail-401', messages: [{ role: 'user', content: 'x' }] } });
    expect(res.text).not.toContain(PROVIDER_KEY);
    expect(logs.join('\n')).not.toContain(PROVIDER_KEY);
  });
});

describe('AI image generation through chat, for providers without an images API (THE ONE FAKE: stand-in provider)', () => {
  let standin: AiStandin;
  let b: TestBackend;

  beforeAll(async () => {
    standin = await startAiStandin({ imagesApi: false });
    b = await startTestBackend('pglite', { backend: { aiBaseUrl: standin.baseUrl } });
  });
  afterAll(async () => {
    await b?.close();
    await standin?.close();
  });

  it('falls back to chat completions with image output, as OpenRouter makes images (stand-in provider)', async () => {
    const seed = await b.api('/api/ai/images/generations', { method: 'POST', json: { model: 'image-chat', prompt: 'a red dot' } });
    expect(seed.status).toBe(200);
    expect(seed.json).toMatchObject({ data: [{ b64_json: TINY_PNG_B64 }] });
    const fallback = standin.requests.at(-1)!;
    expect(fallback.path).toBe('/v1/chat/completions');
    expect(fallback.body).toMatchObject({ model: 'image-chat', modalities: ['image', 'text'], messages: [{ role: 'user', content: 'a red dot' }] });
    expect(fallback.headers.authorization).toBeUndefined(); // no key configured, none sent

    const v2 = await b.api('/api/ai/image/generation', { method: 'POST', json: { model: 'image-chat', prompt: 'a red dot' } });
    expect(v2.json).toEqual({
      text: 'echo: a red dot',
      images: [{ type: 'imageUrl', imageUrl: `data:image/png;base64,${TINY_PNG_B64}` }],
      metadata: { model: 'image-chat', usage: { promptTokens: 3, completionTokens: 2, totalTokens: 5 } },
    });
  });

  it('a model that answers without an image is an error, not an empty list (stand-in provider)', async () => {
    const res = await b.api('/api/ai/image/generation', { method: 'POST', json: { model: 'echo-1', prompt: 'a red dot' } });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: 'AI_INVALID_MODEL', message: expect.stringContaining('without an image') });
  });
});

describe('AI without a usable provider', () => {
  let none: TestBackend;
  let unreachable: TestBackend;

  beforeAll(async () => {
    none = await startTestBackend('pglite');
    // port 1 on loopback: nothing listens there
    unreachable = await startTestBackend('pglite', { backend: { aiBaseUrl: 'http://127.0.0.1:1/v1', aiApiKey: PROVIDER_KEY } });
  });
  afterAll(async () => {
    await none?.close();
    await unreachable?.close();
  });

  it('no provider configured → 503 AI_UPSTREAM_UNAVAILABLE naming the setting', async () => {
    for (const path of ['/api/ai/chat/completions', '/api/ai/chat/completion', '/api/ai/images/generations', '/api/ai/image/generation']) {
      const res = await none.api(path, { method: 'POST', json: { model: 'm', prompt: 'p', messages: [{ role: 'user', content: 'x' }] } });
      expect(res.status, path).toBe(503);
      expect(res.json).toMatchObject({ statusCode: 503, error: 'AI_UPSTREAM_UNAVAILABLE' });
      expect(res.json.nextActions).toContain('--ai-base-url');
      expect(res.json.nextActions).toContain('INSFORGE_AI_BASE_URL');
    }
    expect((await none.api('/api/ai/models')).status).toBe(503);
    // the key check still comes first
    expect((await none.api('/api/ai/chat/completions', { method: 'POST', key: 'none', json: {} })).status).toBe(401);
  });

  it('provider unreachable → 502, without the key in the answer', async () => {
    const res = await unreachable.api('/api/ai/chat/completion', { method: 'POST', headers: { authorization: `Bearer ${TEST_API_KEY}` }, json: { model: 'm', messages: [{ role: 'user', content: 'x' }] } });
    expect(res.status).toBe(502);
    expect(res.json).toMatchObject({ error: 'AI_UPSTREAM_UNAVAILABLE', message: expect.stringContaining('unreachable') });
    expect(res.text).not.toContain(PROVIDER_KEY);
  });
});

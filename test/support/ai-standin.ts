/**
 * THE ONE FAKE in this test suite: a small local stand-in for an OpenAI-compatible AI provider.
 * No model can be reached from the test environment, so the AI routes are tested against this
 * instead. Everything else in the suite (database, backend, MCP server) is real.
 *
 * It speaks the OpenAI wire format as OpenRouter, OpenAI, Ollama and llama.cpp's server do:
 *   POST /v1/chat/completions   echoes the last user message ("echo: …"); with stream:true, server-sent
 *                               events, one per word, then a usage chunk if asked for, then [DONE]
 *   POST /v1/images/generations a tiny real PNG as b64_json (404 with imagesApi:false, as OpenRouter)
 *   GET  /v1/models             a few models
 * Models that change the behaviour:
 *   fail-401      → 401 with an OpenAI error body (a bad provider key)
 *   missing-model → 404 model_not_found
 *   gated         → streams the first word, then waits for release() before the rest
 *   …fail-stream  → (any model ending so) streams the first word, then an error event, as OpenRouter
 *                   reports a provider that fails after the answer began
 *   image-chat    → chat answer with an image in message.images (OpenRouter's image output)
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A 1×1 PNG: a real, decodable image, small enough to compare whole. */
export const TINY_PNG_B64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface AiStandin {
  /** As the backend takes it: http://127.0.0.1:PORT/v1 */
  baseUrl: string;
  requests: RecordedRequest[];
  /** Lets a `gated` stream go on past its first word. */
  release(): void;
  /** Resolves when a streamed answer's connection was closed before the stream ended. */
  streamAbandoned(): Promise<void>;
  close(): Promise<void>;
}

interface Message {
  role: string;
  content: string | { type: string; text?: string }[];
}

const openAiError = (res: ServerResponse, status: number, message: string, code: string) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { message, type: 'invalid_request_error', code } }));
};

const json = (res: ServerResponse, body: unknown) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

/** Promise.withResolvers, which Node 20 lacks. */
function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const textOf = (m: Message | undefined) => (typeof m?.content === 'string' ? m.content : (m?.content ?? []).map((p) => p.text ?? '').join(''));

export async function startAiStandin(opts: { apiKey?: string; imagesApi?: boolean } = {}): Promise<AiStandin> {
  const requests: RecordedRequest[] = [];
  let gate = deferred();
  let abandoned = deferred();

  const stream = async (req: IncomingMessage, res: ServerResponse, body: { model: string; stream_options?: { include_usage?: boolean } }, answer: string) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    let ended = false;
    res.on('close', () => {
      if (!ended) abandoned.resolve();
    });
    const send = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`);
    const base = { id: 'chatcmpl-standin', object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model: body.model };
    send({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] });
    const words = answer.split(/(?<= )/);
    for (const [i, word] of words.entries()) {
      send({ ...base, choices: [{ index: 0, delta: { content: word }, finish_reason: null }] });
      if (body.model.endsWith('fail-stream')) {
        send({ error: { code: 500, message: '500 upstream provider failure' } });
        ended = true;
        return void res.end();
      }
      if (i === 0 && body.model === 'gated') await gate.promise;
      else await new Promise((r) => setTimeout(r, 5));
      if (res.destroyed) return;
    }
    send({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] });
    if (body.stream_options?.include_usage) send({ ...base, choices: [], usage: { prompt_tokens: 3, completion_tokens: words.length, total_tokens: 3 + words.length } });
    res.write('data: [DONE]\n\n');
    ended = true;
    res.end();
  };

  const server = createServer(async (req, res) => {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const body = raw ? JSON.parse(raw) : undefined;
    const path = (req.url ?? '').split('?')[0]!;
    requests.push({ method: req.method ?? '', path, headers: req.headers, body });

    if (opts.apiKey && req.headers.authorization !== `Bearer ${opts.apiKey}`) return openAiError(res, 401, 'Incorrect API key provided', 'invalid_api_key');

    if (req.method === 'GET' && path === '/v1/models') {
      return json(res, {
        object: 'list',
        data: [
          { id: 'echo-1', object: 'model', created: 1705315200, owned_by: 'standin' },
          { id: 'gpt-image-1', object: 'model', created: 1705315200, owned_by: 'standin' },
        ],
      });
    }

    if (req.method === 'POST' && path === '/v1/chat/completions') {
      if (body.model === 'fail-401') return openAiError(res, 401, 'Incorrect API key provided: sk-or-…', 'invalid_api_key');
      if (body.model === 'missing-model') return openAiError(res, 404, 'The model `missing-model` does not exist', 'model_not_found');
      const answer = `echo: ${textOf(body.messages.filter((m: Message) => m.role === 'user').at(-1))}`;
      if (body.stream) return stream(req, res, body, answer);
      const message: Record<string, unknown> = { role: 'assistant', content: answer };
      if (body.model === 'image-chat') message.images = [{ type: 'image_url', image_url: { url: `data:image/png;base64,${TINY_PNG_B64}` } }];
      return json(res, {
        id: 'chatcmpl-standin',
        object: 'chat.completion',
        created: 1705315200,
        model: body.model,
        choices: [{ index: 0, message, finish_reason: 'stop' }],
        usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
      });
    }

    if (req.method === 'POST' && path === '/v1/images/generations' && opts.imagesApi !== false) {
      if (body.model === 'fail-401') return openAiError(res, 401, 'Incorrect API key provided', 'invalid_api_key');
      return json(res, { created: 1705315200, data: [{ b64_json: TINY_PNG_B64 }] });
    }

    openAiError(res, 404, `Unknown endpoint ${req.method} ${path}`, 'not_found');
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    release() {
      gate.resolve();
      gate = deferred();
    },
    streamAbandoned() {
      const p = abandoned.promise;
      return p.then(() => {
        abandoned = deferred();
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

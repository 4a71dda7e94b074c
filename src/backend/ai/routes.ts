import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { ApiError } from '../errors.js';
import { requireAdmin, requireCaller } from '../caller.js';
import { disconnectSignal } from '../disconnect.js';
import { AiProvider, isSuccess, providerError, readJson, type AiProviderOptions } from './provider.js';
import { textOf, toImageItem, toOpenAiChat, toV2Completion, toV2Images, toV2Model, toV2Stream, toV2Usage, type OpenAiCompletion, type OpenAiImages, type ProviderModel } from './shapes.js';

const message = z.looseObject({ role: z.string().min(1), content: z.unknown() });

/** The documented routes forward the OpenAI body as it is; only what every provider needs is checked. */
const OpenAiChatBody = z.looseObject({ model: z.string().min(1), messages: z.array(message).min(1), stream: z.boolean().optional() });
const OpenAiImageBody = z.looseObject({ model: z.string().min(1), prompt: z.string().min(1) });

const V2ChatBody = z.object({
  model: z.string().min(1),
  messages: z.array(z.looseObject({ role: z.enum(['system', 'user', 'assistant', 'tool']), content: z.unknown() })).min(1),
  temperature: z.number().min(0).max(2).optional(),
  maxTokens: z.number().int().positive().optional(),
  topP: z.number().min(0).max(1).optional(),
  stream: z.boolean().optional(),
  tools: z.array(z.unknown()).optional(),
  toolChoice: z.unknown().optional(),
  parallelToolCalls: z.boolean().optional(),
});
const V2ImageBody = z.object({ model: z.string().min(1), prompt: z.string().min(1), size: z.string().optional(), images: z.array(z.object({ url: z.string().min(1) })).optional() });

function parse<T>(schema: z.ZodType<T>, body: unknown, example: string): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
  throw new ApiError(400, 'INVALID_INPUT', `Validation error: ${issues}`, `Send e.g. ${example}.`);
}

const CHAT_EXAMPLE = '{"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}';
const IMAGE_EXAMPLE = '{"model": "google/gemini-2.5-flash-image-preview", "prompt": "A sunset over mountains"}';

function sendEventStream(reply: FastifyReply, body: Readable | AsyncIterable<Uint8Array>, contentType = 'text/event-stream; charset=utf-8') {
  // no-transform and X-Accel-Buffering keep proxies from holding the events back
  return reply.status(200).header('content-type', contentType).header('cache-control', 'no-cache, no-transform').header('x-accel-buffering', 'no').send(body);
}

/**
 * Images through the provider's images API; for providers without one (OpenRouter makes images
 * with chat models: `modalities: ["image", "text"]`), or with input images, through chat completions.
 */
async function generateImages(provider: AiProvider, body: Record<string, unknown> & { model: string; prompt: string }, inputImages: { url: string }[], signal: AbortSignal): Promise<{ images: OpenAiImages; text?: string }> {
  if (!inputImages.length) {
    const res = await provider.send('POST', '/images/generations', body, signal);
    if (res.status !== 404 && res.status !== 405) return { images: await readJson<OpenAiImages>(res) };
    await res.body.dump();
  }
  const content = inputImages.length ? [{ type: 'text', text: body.prompt }, ...inputImages.map((i) => ({ type: 'image_url', image_url: { url: i.url } }))] : body.prompt;
  const completion = await provider.json<OpenAiCompletion>('POST', '/chat/completions', { model: body.model, messages: [{ role: 'user', content }], modalities: ['image', 'text'] }, signal);
  const answer = completion.choices?.[0]?.message;
  const data = (answer?.images ?? []).flatMap((img) => (img.image_url?.url ? [toImageItem(img.image_url.url)] : []));
  const text = textOf(answer?.content);
  if (!data.length) {
    throw new ApiError(400, 'AI_INVALID_MODEL', `The model "${body.model}" answered without an image${text ? `: ${text.slice(0, 300)}` : ''}`, 'Use a model that outputs images (GET /api/ai/models lists outputModality).');
  }
  return { images: { created: completion.created ?? Math.floor(Date.now() / 1000), data, ...(completion.usage ? { usage: completion.usage } : {}) }, ...(text ? { text } : {}) };
}

/**
 * AI: the documented OpenAI-shaped routes and InsForge v2's, all forwarded to one
 * OpenAI-compatible provider. Any valid key or user may use them; the model list is admin-only.
 */
export function registerAiRoutes(app: FastifyInstance, opts: AiProviderOptions): void {
  const provider = new AiProvider(opts);

  app.post('/api/ai/chat/completions', async (req, reply) => {
    requireCaller(req.caller);
    provider.assertConfigured();
    const body = parse(OpenAiChatBody, req.body, CHAT_EXAMPLE);
    const signal = disconnectSignal(reply);
    if (!body.stream) return provider.json('POST', '/chat/completions', body, signal);
    const res = await provider.send('POST', '/chat/completions', body, signal);
    if (!isSuccess(res)) throw await providerError(res);
    // piped as it arrives, event by event; aborting the signal ends the upstream request
    return sendEventStream(reply, res.body, res.contentType || undefined);
  });

  app.post('/api/ai/images/generations', async (req, reply) => {
    requireCaller(req.caller);
    provider.assertConfigured();
    const body = parse(OpenAiImageBody, req.body, IMAGE_EXAMPLE);
    return (await generateImages(provider, body, [], disconnectSignal(reply))).images;
  });

  app.post('/api/ai/chat/completion', async (req, reply) => {
    requireCaller(req.caller);
    provider.assertConfigured();
    const v2 = parse(V2ChatBody, req.body, CHAT_EXAMPLE);
    const signal = disconnectSignal(reply);
    const body = toOpenAiChat(v2);
    if (!v2.stream) return toV2Completion(await provider.json<OpenAiCompletion>('POST', '/chat/completions', body, signal), v2.model);
    const res = await provider.send('POST', '/chat/completions', { ...body, stream: true, stream_options: { include_usage: true } }, signal);
    if (!isSuccess(res)) throw await providerError(res);
    return sendEventStream(reply, Readable.from(toV2Stream(res.body, res.contentType.includes('text/event-stream'), signal)));
  });

  app.post('/api/ai/image/generation', async (req, reply) => {
    requireCaller(req.caller);
    provider.assertConfigured();
    const v2 = parse(V2ImageBody, req.body, IMAGE_EXAMPLE);
    const { images, text } = await generateImages(provider, { model: v2.model, prompt: v2.prompt, ...(v2.size ? { size: v2.size } : {}) }, v2.images ?? [], disconnectSignal(reply));
    return {
      ...(text ? { text } : {}),
      images: toV2Images(images),
      metadata: { model: v2.model, ...(images.usage ? { usage: toV2Usage(images.usage) } : {}) },
    };
  });

  app.get('/api/ai/models', async (req) => {
    requireAdmin(req.caller);
    provider.assertConfigured();
    const list = await provider.json<{ data?: ProviderModel[] }>('GET', '/models');
    return (list.data ?? []).map((m) => toV2Model(m, provider.name));
  });
}

import { z } from 'zod';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { defineTool } from '../tool.js';
import { ok, wrapUntrusted } from '../results.js';

const model = z.string().min(1).max(200).describe('e.g. openai/gpt-4o-mini');
const CALLS_MODEL = { readOnlyHint: true, openWorldHint: true };

export const chatCompletion = defineTool(
  {
    name: 'chat-completion',
    group: 'ai',
    description: "Chat with a model through the backend's AI gateway.",
    input: {
      model,
      messages: z
        .array(z.object({ role: z.enum(['system', 'user', 'assistant']), content: z.string().max(1_000_000) }).strict())
        .min(1)
        .max(200),
      temperature: z.number().min(0).max(2).optional(),
      maxTokens: z.number().int().min(1).max(100_000).optional(),
    },
    output: { message: z.object({ role: z.string(), content: z.string() }), model: z.string(), finishReason: z.string().optional(), usage: z.record(z.string(), z.number()).optional() },
    annotations: CALLS_MODEL,
  },
  async (ctx, args, extra) => {
    const token = extra._meta?.progressToken;
    let sent = 0;
    let last = 0;
    // the result must not overtake a progress notification: the client drops progress that arrives after it
    let inFlight: Promise<unknown> = Promise.resolve();
    const report = (chars: number) => {
      sent = chars;
      last = Date.now();
      inFlight = extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token!, progress: chars, message: `${chars} characters received` } }).catch(() => undefined);
    };
    const result = await ctx.client().chatCompletion(
      args,
      (text) => {
        // progress counts characters received; throttled so long answers do not flood the client
        if (token !== undefined && text.length > sent && Date.now() - last >= 100) report(text.length);
      },
      extra.signal,
    );
    if (token !== undefined && result.message.content.length > sent) report(result.message.content.length);
    await inFlight;
    return ok(result, { untrusted: true });
  },
);

export const generateImage = defineTool(
  {
    name: 'generate-image',
    group: 'ai',
    description: 'Generate images from a prompt; returns the pictures.',
    input: { model, prompt: z.string().min(1).max(10_000), size: z.string().regex(/^\d{2,5}x\d{2,5}$/).optional() },
    output: { images: z.number(), model: z.string(), urls: z.array(z.string()).optional(), usage: z.record(z.string(), z.number()).optional() },
    annotations: CALLS_MODEL,
  },
  async (ctx, args, extra): Promise<CallToolResult> => {
    const { images, usage } = await ctx.client().generateImage(args, extra.signal);
    const urls = images.flatMap((i) => (i.url ? [i.url] : []));
    const summary = { images: images.length, model: args.model, ...(urls.length ? { urls } : {}), ...(usage ? { usage } : {}) };
    return {
      content: [
        { type: 'text', text: urls.length ? wrapUntrusted(JSON.stringify(summary)) : JSON.stringify(summary) },
        ...images.flatMap((i) => (i.base64 ? [{ type: 'image' as const, data: i.base64, mimeType: i.mimeType ?? 'image/png' }] : [])),
      ],
      structuredContent: summary,
    };
  },
);

interface ModelInfo {
  id?: string;
  modelId?: string;
  inputModality?: string[];
  outputModality?: string[];
}

export const listAiModels = defineTool(
  {
    name: 'list-ai-models',
    group: 'ai',
    description: 'Models of the AI gateway, with their modalities.',
    input: {},
    output: { models: z.array(z.record(z.string(), z.unknown())) },
    annotations: { readOnlyHint: true, openWorldHint: true },
  },
  async (ctx, _args, extra) => {
    const models = (await ctx.client().listAiModels(extra.signal)) as ModelInfo[];
    return ok({ models: models.map((m) => ({ id: m.id ?? m.modelId, in: m.inputModality, out: m.outputModality })) });
  },
);

export const aiTools = [chatCompletion, generateImage, listAiModels];

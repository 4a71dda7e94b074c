/**
 * OpenAI-shaped provider answers ↔ InsForge v2 shapes (§7 of the v2 reference). Pure functions:
 * the routes in ai.ts do the I/O.
 */
import { sseData, sseEvent } from './sse.js';

export interface OpenAiUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
  // the images API (gpt-image-1) counts in these
  input_tokens?: number;
  output_tokens?: number;
}

type Content = string | { type?: string; text?: string }[] | null;

interface ToolCallDelta {
  index?: number;
  id?: string;
  type?: string;
  function?: { name?: string; arguments?: string };
}

export interface OpenAiMessage {
  role?: string;
  content?: Content;
  tool_calls?: ToolCallDelta[];
  annotations?: unknown[];
  /** OpenRouter's image output: [{type: 'image_url', image_url: {url: 'data:image/png;base64,…'}}]. */
  images?: { type?: string; image_url?: { url?: string } }[];
}

export interface OpenAiCompletion {
  model?: string;
  created?: number;
  choices?: { message?: OpenAiMessage; delta?: OpenAiMessage }[];
  usage?: OpenAiUsage;
  error?: { message?: string };
}

export interface OpenAiImages {
  created?: number;
  data?: { b64_json?: string; url?: string; revised_prompt?: string }[];
  usage?: OpenAiUsage;
}

export interface ProviderModel {
  id: string;
  name?: string;
  owned_by?: string;
  created?: number;
  context_length?: number;
  architecture?: { input_modalities?: string[]; output_modalities?: string[] };
  pricing?: { prompt?: string | number; completion?: string | number };
}

export interface V2ChatRequest {
  model: string;
  messages: { role: string; content: unknown }[];
  temperature?: number;
  maxTokens?: number;
  topP?: number;
  stream?: boolean;
  tools?: unknown[];
  toolChoice?: unknown;
  parallelToolCalls?: boolean;
}

export interface V2Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

/** v2's camelCase request → the provider's snake_case one. */
export function toOpenAiChat(r: V2ChatRequest): Record<string, unknown> {
  const body: Record<string, unknown> = { model: r.model, messages: r.messages };
  const set = (key: string, value: unknown) => value !== undefined && (body[key] = value);
  set('temperature', r.temperature);
  set('max_tokens', r.maxTokens);
  set('top_p', r.topP);
  set('tools', r.tools);
  set('tool_choice', r.toolChoice);
  set('parallel_tool_calls', r.parallelToolCalls);
  return body;
}

export function toV2Usage(u: OpenAiUsage | undefined): V2Usage {
  const promptTokens = u?.prompt_tokens ?? u?.input_tokens ?? 0;
  const completionTokens = u?.completion_tokens ?? u?.output_tokens ?? 0;
  return { promptTokens, completionTokens, totalTokens: u?.total_tokens ?? promptTokens + completionTokens };
}

/** Message content as text: a string, or the text parts of a parts array. */
export function textOf(content: Content | undefined): string {
  if (typeof content === 'string') return content;
  return (content ?? []).map((p) => (typeof p?.text === 'string' ? p.text : '')).join('');
}

export function toV2Completion(c: OpenAiCompletion, requestedModel: string) {
  const message = c.choices?.[0]?.message ?? {};
  return {
    text: textOf(message.content),
    ...(message.tool_calls?.length ? { tool_calls: message.tool_calls } : {}),
    ...(message.annotations?.length ? { annotations: message.annotations } : {}),
    metadata: { model: c.model ?? requestedModel, usage: toV2Usage(c.usage) },
  };
}

/** Tool calls arrive in fragments keyed by index; v2 sends them whole, once. */
function mergeToolCall(calls: { id?: string; type: string; function: { name: string; arguments: string } }[], d: ToolCallDelta) {
  const call = (calls[d.index ?? calls.length] ??= { type: d.type ?? 'function', function: { name: '', arguments: '' } });
  if (d.id) call.id = d.id;
  if (d.function?.name) call.function.name += d.function.name;
  if (d.function?.arguments) call.function.arguments += d.function.arguments;
}

/**
 * The provider's OpenAI stream as v2's: `{"chunk"}` per piece of text, then tool calls and
 * annotations if any, `{"tokenUsage"}` when the provider reported usage, and `{"done":true}`.
 * A failure after the stream began can only be told in-band: `{"error":true,"message"}`.
 */
export async function* toV2Stream(upstream: AsyncIterable<Uint8Array>, isEventStream: boolean, signal: AbortSignal): AsyncGenerator<string> {
  const toolCalls: Parameters<typeof mergeToolCall>[0] = [];
  const annotations: unknown[] = [];
  let usage: OpenAiUsage | undefined;
  try {
    if (!isEventStream) {
      // a provider that ignores stream:true answers with one whole completion
      let text = '';
      for await (const part of upstream) text += Buffer.from(part).toString('utf8');
      const c = JSON.parse(text) as OpenAiCompletion;
      const done = toV2Completion(c, '');
      if (done.text) yield sseEvent({ chunk: done.text });
      for (const call of done.tool_calls ?? []) mergeToolCall(toolCalls, call);
      annotations.push(...(done.annotations ?? []));
      usage = c.usage;
    } else {
      for await (const data of sseData(upstream)) {
        if (data.trim() === '[DONE]') break;
        let chunk: OpenAiCompletion;
        try {
          chunk = JSON.parse(data) as OpenAiCompletion;
        } catch {
          continue;
        }
        if (chunk.error) {
          yield sseEvent({ error: true, message: chunk.error.message ?? 'The AI provider failed during the stream' });
          return;
        }
        const delta = chunk.choices?.[0]?.delta;
        const text = textOf(delta?.content);
        if (text) yield sseEvent({ chunk: text });
        for (const call of delta?.tool_calls ?? []) mergeToolCall(toolCalls, call);
        annotations.push(...(delta?.annotations ?? []));
        if (chunk.usage) usage = chunk.usage;
      }
    }
  } catch (err) {
    if (signal.aborted) return; // the client left; no one to tell
    yield sseEvent({ error: true, message: (err as Error).message });
    return;
  }
  if (toolCalls.length) yield sseEvent({ tool_calls: toolCalls });
  if (annotations.length) yield sseEvent({ annotations });
  if (usage) yield sseEvent({ tokenUsage: toV2Usage(usage) });
  yield sseEvent({ done: true });
}

/** The picture's type from the first bytes of its base64 (providers rarely say). */
function imageMime(b64: string): string {
  if (b64.startsWith('/9j/')) return 'image/jpeg';
  if (b64.startsWith('UklGR')) return 'image/webp';
  if (b64.startsWith('R0lGOD')) return 'image/gif';
  return 'image/png';
}

export function toV2Images(images: OpenAiImages) {
  return (images.data ?? []).map((item) => ({
    type: 'imageUrl' as const,
    imageUrl: item.b64_json ? `data:${imageMime(item.b64_json)};base64,${item.b64_json}` : (item.url ?? ''),
  }));
}

/** A data: URL image (OpenRouter's chat output) as an images-API item. */
export function toImageItem(url: string): { b64_json: string } | { url: string } {
  const m = /^data:[^;,]+;base64,(.*)$/s.exec(url);
  return m ? { b64_json: m[1]! } : { url };
}

/** USD per million tokens; OpenRouter gives USD per token as strings, others give nothing (0). */
const perMillion = (v: string | number | undefined) => {
  const n = Number(v ?? 0);
  return Number.isFinite(n) && n > 0 ? Math.round(n * 1e6 * 1e4) / 1e4 : 0;
};

/** Without metadata (OpenAI, Ollama), image models are told by name. */
const IMAGE_MODEL = /dall-e|gpt-image|imagen|flux|stable-diffusion|sdxl|-image\b|image-preview/i;

/** A provider's /models entry in the v2 model-list shape, filled in as far as the provider tells. */
export function toV2Model(m: ProviderModel, provider: string) {
  const output = m.architecture?.output_modalities ?? (IMAGE_MODEL.test(m.id) ? ['image'] : ['text']);
  return {
    id: m.id,
    modelId: m.id,
    provider,
    name: m.name ?? m.id,
    inputModality: m.architecture?.input_modalities ?? ['text'],
    outputModality: output,
    inputPrice: perMillion(m.pricing?.prompt),
    outputPrice: perMillion(m.pricing?.completion),
    ...(m.context_length ? { contextLength: m.context_length } : {}),
    ...(m.owned_by ? { ownedBy: m.owned_by } : {}),
  };
}

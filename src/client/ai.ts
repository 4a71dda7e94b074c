import type { Readable } from 'node:stream';
import { sseData } from './sse.js';
import { BackendError } from './errors.js';

/** The one shape tools see, whichever dialect answered. */
export interface ChatResult {
  message: { role: 'assistant'; content: string };
  model: string;
  finishReason?: string;
  usage?: { promptTokens: number; completionTokens: number; totalTokens: number };
}

export interface ChatRequest {
  model: string;
  messages: { role: 'system' | 'user' | 'assistant'; content: string }[];
  temperature?: number;
  maxTokens?: number;
}

export interface GeneratedImage {
  mimeType?: string;
  base64?: string;
  url?: string;
}

interface OpenAiUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
}
interface V2Usage {
  promptTokens?: number;
  completionTokens?: number;
  totalTokens?: number;
}

const fromOpenAiUsage = (u: OpenAiUsage | undefined) =>
  u ? { promptTokens: u.prompt_tokens ?? 0, completionTokens: u.completion_tokens ?? 0, totalTokens: u.total_tokens ?? 0 } : undefined;
const fromV2Usage = (u: V2Usage | undefined) => (u ? { promptTokens: u.promptTokens ?? 0, completionTokens: u.completionTokens ?? 0, totalTokens: u.totalTokens ?? 0 } : undefined);

/** The request body each dialect expects, always streaming. */
export function chatBody(shape: 'openai' | 'v2', req: ChatRequest): Record<string, unknown> {
  const common = { model: req.model, messages: req.messages, stream: true, ...(req.temperature !== undefined ? { temperature: req.temperature } : {}) };
  if (shape === 'v2') return { ...common, ...(req.maxTokens !== undefined ? { maxTokens: req.maxTokens } : {}) };
  return { ...common, ...(req.maxTokens !== undefined ? { max_tokens: req.maxTokens } : {}), stream_options: { include_usage: true } };
}

/** A failure the stream reports in-band, after its 200: the provider's, told as such. */
const providerFailed = (message: unknown) =>
  new BackendError(502, 'AI_PROVIDER_ERROR', `The AI provider failed: ${typeof message === 'string' && message ? message : 'no reason given'}`, 'Retry; if it keeps failing, pick another model (list-ai-models).');

/** Reads either dialect's event stream, reporting text as it arrives, into one ChatResult. */
export async function readChatStream(shape: 'openai' | 'v2', model: string, body: Readable, onText: (textSoFar: string) => void): Promise<ChatResult> {
  let content = '';
  let finishReason: string | undefined;
  let usage: ChatResult['usage'];
  let answeredModel = model;
  for await (const data of sseData(body)) {
    if (data === '[DONE]') break;
    let event: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    try {
      event = JSON.parse(data);
    } catch {
      continue; // a comment or keep-alive line
    }
    if (shape === 'v2') {
      if (event.error) throw providerFailed(event.message);
      if (typeof event.chunk === 'string') content += event.chunk;
      if (event.tokenUsage) usage = fromV2Usage(event.tokenUsage);
      if (event.done) break;
    } else {
      if (event.error) throw providerFailed(event.error.message ?? event.error);
      if (typeof event.model === 'string') answeredModel = event.model;
      const choice = event.choices?.[0];
      if (typeof choice?.delta?.content === 'string') content += choice.delta.content;
      if (choice?.finish_reason) finishReason = choice.finish_reason;
      if (event.usage) usage = fromOpenAiUsage(event.usage);
    }
    onText(content);
  }
  return { message: { role: 'assistant', content }, model: answeredModel, ...(finishReason ? { finishReason } : {}), ...(usage ? { usage } : {}) };
}

/** documented: {data:[{b64_json|url}], usage?}; v2: {images:[{imageUrl: data URL}], metadata:{usage}}. */
export function imagesFrom(shape: 'openai' | 'v2', body: Record<string, any>): { images: GeneratedImage[]; usage?: ChatResult['usage'] } { // eslint-disable-line @typescript-eslint/no-explicit-any
  if (shape === 'v2') {
    const images = ((body.images ?? []) as { imageUrl?: string }[]).map((i) => fromUrl(i.imageUrl ?? ''));
    return { images, usage: fromV2Usage(body.metadata?.usage) };
  }
  const images = ((body.data ?? []) as { b64_json?: string; url?: string }[]).map((d) => (d.b64_json ? { base64: d.b64_json, mimeType: sniff(d.b64_json) } : fromUrl(d.url ?? '')));
  return { images, usage: fromOpenAiUsage(body.usage) };
}

function fromUrl(url: string): GeneratedImage {
  const m = /^data:([^;,]+)?(;base64)?,(.*)$/s.exec(url);
  if (m?.[2]) return { mimeType: m[1] ?? 'image/png', base64: m[3] };
  return { url };
}

/** Providers send bare base64 without a type; the first bytes tell. */
function sniff(base64: string): string {
  const head = Buffer.from(base64.slice(0, 16), 'base64');
  if (head[0] === 0xff && head[1] === 0xd8) return 'image/jpeg';
  if (head.subarray(0, 4).toString('latin1') === 'RIFF') return 'image/webp';
  if (head.subarray(0, 3).toString('latin1') === 'GIF') return 'image/gif';
  return 'image/png';
}

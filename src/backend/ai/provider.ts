import { request, type Dispatcher } from 'undici';
import { ApiError } from '../errors.js';

/** An OpenAI-compatible API: OpenRouter, OpenAI, Ollama, llama.cpp's server, vLLM, LM Studio… */
export interface AiProviderOptions {
  /** As OpenAI clients take it, ending in /v1: https://openrouter.ai/api/v1, http://localhost:11434/v1. */
  baseUrl?: string;
  apiKey?: string;
}

export type ProviderBody = Dispatcher.ResponseData['body'];

export interface ProviderResponse {
  status: number;
  contentType: string;
  body: ProviderBody;
}

const SETTING = '--ai-base-url (env INSFORGE_AI_BASE_URL)';
const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

/** An error body as OpenAI, OpenRouter, Ollama and llama.cpp write them. */
function errorMessage(body: unknown, text: string): string | undefined {
  const b = body as { error?: unknown; message?: unknown; detail?: unknown } | undefined;
  const e = b?.error as { message?: unknown } | string | undefined;
  const m = typeof e === 'string' ? e : (e?.message ?? b?.message ?? b?.detail);
  if (typeof m === 'string' && m) return m;
  return text.trim() ? text.trim().slice(0, 500) : undefined;
}

function codeFor(status: number): { error: string; next: string } {
  if (status === 401 || status === 403) return { error: 'AI_INVALID_API_KEY', next: 'The AI provider refused the key: check --ai-api-key (env INSFORGE_AI_API_KEY).' };
  if (status === 404) return { error: 'AI_INVALID_MODEL', next: 'Check the model id against the provider\'s list (GET /api/ai/models), and that the provider serves this endpoint.' };
  if (status === 429) return { error: 'RATE_LIMITED', next: 'The AI provider is rate limiting; wait and retry.' };
  if (status === 402) return { error: 'UPSTREAM_FAILURE', next: 'The AI provider wants payment or credits for this request.' };
  if (status < 500) return { error: 'INVALID_INPUT', next: 'The AI provider rejected the request; read the message and fix the request.' };
  return { error: 'UPSTREAM_FAILURE', next: 'The AI provider failed; retry, or try another model.' };
}

/** The provider's error status and message, in the backend's envelope. */
export async function providerError(res: ProviderResponse): Promise<ApiError> {
  const text = await res.body.text().catch(() => '');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const status = res.status >= 400 && res.status <= 599 ? res.status : 502;
  const { error, next } = codeFor(status);
  return new ApiError(status, error, errorMessage(parsed, text) ?? `The AI provider answered HTTP ${res.status}`, next);
}

/** Calls an OpenAI-compatible provider. The key goes in the Authorization header only: never logged, never returned. */
export class AiProvider {
  private readonly baseUrl?: string;
  private readonly apiKey?: string;

  constructor(opts: AiProviderOptions) {
    this.baseUrl = opts.baseUrl?.replace(/\/+$/, '');
    this.apiKey = opts.apiKey;
  }

  /** A short name for the model list: openrouter, openai, ollama, or openai-compatible. */
  get name(): string {
    if (!this.baseUrl) return 'none';
    const url = new URL(this.baseUrl);
    if (url.hostname.endsWith('openrouter.ai')) return 'openrouter';
    if (url.hostname.endsWith('openai.com')) return 'openai';
    if (url.port === '11434') return 'ollama';
    return 'openai-compatible';
  }

  private configuredUrl(): string {
    if (this.baseUrl) return this.baseUrl;
    throw new ApiError(503, 'AI_UPSTREAM_UNAVAILABLE', 'No AI provider is configured for this backend', `Start the backend with ${SETTING} set to an OpenAI-compatible API, e.g. https://openrouter.ai/api/v1 or http://localhost:11434/v1 (Ollama), and --ai-api-key (env INSFORGE_AI_API_KEY) if it needs a key.`);
  }

  /** Throws the 503 envelope when no provider is configured. */
  assertConfigured(): void {
    this.configuredUrl();
  }

  /** Sends one request; any status comes back. Network failures become 502/504 envelopes. */
  async send(method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<ProviderResponse> {
    const base = this.configuredUrl();
    const headers: Record<string, string> = { accept: 'application/json, text/event-stream' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
    try {
      const res = await request(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
      const type = res.headers['content-type'];
      return { status: res.statusCode, contentType: (Array.isArray(type) ? type[0] : type) ?? '', body: res.body };
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      const where = new URL(base).origin;
      if (code === 'UND_ERR_HEADERS_TIMEOUT') throw new ApiError(504, 'AI_UPSTREAM_TIMEOUT', `The AI provider at ${where} did not answer in time`, 'Retry, or use a faster model.');
      if (NETWORK_ERRORS.has(code)) throw new ApiError(502, 'AI_UPSTREAM_UNAVAILABLE', `The AI provider at ${where} is unreachable (${code})`, `Check that the provider is running and that ${SETTING} is right.`);
      throw err;
    }
  }

  /** A JSON answer; a non-2xx status throws the provider's error. */
  async json<T>(method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    return readJson<T>(await this.send(method, path, body, signal));
  }
}

export const isSuccess = (res: ProviderResponse) => res.status >= 200 && res.status < 300;

/** The body of a successful answer as JSON; a non-2xx status throws the provider's error. */
export async function readJson<T>(res: ProviderResponse): Promise<T> {
  if (!isSuccess(res)) throw await providerError(res);
  const text = await res.body.text();
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError(502, 'UPSTREAM_FAILURE', `The AI provider answered with something that is not JSON: ${text.slice(0, 200)}`, `Check that ${SETTING} points at an OpenAI-compatible API (ending in /v1).`);
  }
}

import type { Agent } from 'undici';
import { BackendError, errorFromResponse } from './errors.js';

// undici is most of the bundle; loading it on the first call keeps it off the start-up path.
type Undici = typeof import('undici');
let undici: Promise<Undici> | undefined;
// bundled, a dynamic import of this CommonJS package yields its exports under `default`
const loadUndici = () => (undici ??= import('undici').then((m) => ((m as { default?: Undici }).default ?? m) as Undici));

export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  json?: unknown;
  signal?: AbortSignal;
}

export interface HttpResponse<T = unknown> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
}

/** One pooled, keep-alive HTTP agent for the whole process. */
export class HttpTransport {
  private agent?: Agent;

  constructor(private readonly timeoutMs: number) {}

  async send<T = unknown>(req: HttpRequest): Promise<HttpResponse<T>> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
    const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
    let body: string | undefined;
    if (req.json !== undefined) {
      body = JSON.stringify(req.json);
      headers['content-type'] = 'application/json';
    }
    const { Agent, request } = await loadUndici();
    this.agent ??= new Agent({ keepAliveTimeout: 10_000, connections: 64, pipelining: 1 });
    let res;
    try {
      res = await request(req.url, { method: req.method, headers, body, signal, dispatcher: this.agent });
    } catch (err) {
      throw this.transportError(err, req, timeout.aborted);
    }
    let text: string;
    try {
      text = await res.body.text();
    } catch (err) {
      throw this.transportError(err, req, timeout.aborted);
    }
    const contentType = String(res.headers['content-type'] ?? '');
    if (res.statusCode >= 400) throw errorFromResponse(res.statusCode, contentType, text);
    let parsed: unknown = text;
    if (text && contentType.includes('json')) {
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new BackendError(502, 'INVALID_RESPONSE', `The backend sent malformed JSON for ${req.method} ${new URL(req.url).pathname}`);
      }
    } else if (!text) parsed = undefined;
    return { status: res.statusCode, headers: res.headers, body: parsed as T };
  }

  async close(): Promise<void> {
    await this.agent?.close();
  }

  private transportError(err: unknown, req: HttpRequest, timedOut: boolean): BackendError {
    const where = `${req.method} ${new URL(req.url).origin}`;
    if (timedOut) return new BackendError(504, 'TIMEOUT', `The backend did not answer within ${this.timeoutMs} ms (${where})`, 'Retry, narrow the request (filters, limit), or raise --timeout.');
    if (req.signal?.aborted) return new BackendError(499, 'CANCELLED', 'The request was cancelled');
    const code = (err as { code?: string }).code ?? (err as Error).name ?? 'NETWORK_ERROR';
    return new BackendError(503, 'BACKEND_UNREACHABLE', `Could not reach the backend (${where}): ${code} ${(err as Error).message ?? ''}`.trim(), 'Check that the backend is running and the --url is right, then retry.');
  }
}

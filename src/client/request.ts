import type { Readable } from 'node:stream';
import type { Agent } from 'undici';
import { BackendError, ConnectionRefused, errorFromResponse } from './errors.js';
import { retryAfterMs, retryDelay } from './retry.js';

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(new BackendError(499, 'CANCELLED', 'The request was cancelled'));
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(timer), reject(new BackendError(499, 'CANCELLED', 'The request was cancelled'))), { once: true });
  });

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
  /** Safe to send again (GET, HEAD, PUT/DELETE by key): retried on connection errors, 502/503/504 and 429. */
  idempotent?: boolean;
}

/** A request whose body or answer is a stream (uploads, downloads): no total timeout, an idle one instead. */
export interface StreamRequest {
  method: HttpRequest['method'];
  url: string;
  headers?: Record<string, string>;
  body?: Readable | string;
  signal?: AbortSignal;
  idempotent?: boolean;
}

export interface StreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
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
    const idempotent = req.idempotent ?? (req.method === 'GET' || req.method === 'HEAD');
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.sendOnce<T>(req);
      } catch (err) {
        const delay = idempotent ? retryDelay(err, attempt) : undefined;
        if (delay === undefined) throw err;
        await sleep(delay, req.signal);
      }
    }
  }

  private async sendOnce<T>(req: HttpRequest): Promise<HttpResponse<T>> {
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
    if (res.statusCode >= 400) throw errorFromResponse(res.statusCode, contentType, text, retryAfterMs(res.headers));
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

  /** Sends a streamed body and/or returns the answer as a stream; errors are read and thrown as usual. */
  async stream(req: StreamRequest): Promise<StreamResponse> {
    // a streamed body cannot be sent twice, so only bodiless requests are retried
    const idempotent = (req.idempotent ?? (req.method === 'GET' || req.method === 'HEAD')) && !req.body;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.streamOnce(req);
      } catch (err) {
        const delay = idempotent ? retryDelay(err, attempt) : undefined;
        if (delay === undefined) throw err;
        await sleep(delay, req.signal);
      }
    }
  }

  private async streamOnce(req: StreamRequest): Promise<StreamResponse> {
    const { Agent, request } = await loadUndici();
    this.agent ??= new Agent({ keepAliveTimeout: 10_000, connections: 64, pipelining: 1 });
    const http: HttpRequest = { method: req.method, url: req.url, signal: req.signal };
    let res;
    try {
      res = await request(req.url, {
        method: req.method,
        headers: req.headers,
        body: req.body,
        signal: req.signal,
        dispatcher: this.agent,
        // large transfers may take long in total; what must not happen is a long silence
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
    } catch (err) {
      throw this.transportError(err, http, (err as { code?: string }).code === 'UND_ERR_HEADERS_TIMEOUT');
    }
    if (res.statusCode >= 400) {
      const text = await res.body.text().catch(() => '');
      throw errorFromResponse(res.statusCode, String(res.headers['content-type'] ?? ''), text, retryAfterMs(res.headers));
    }
    return { status: res.statusCode, headers: res.headers, body: res.body };
  }

  /** The answer whatever its status (function invocations keep their own); only transport failures throw. */
  async raw(req: StreamRequest): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
    const { Agent, request } = await loadUndici();
    this.agent ??= new Agent({ keepAliveTimeout: 10_000, connections: 64, pipelining: 1 });
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
    try {
      const res = await request(req.url, { method: req.method, headers: req.headers, body: req.body, signal, dispatcher: this.agent });
      return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
    } catch (err) {
      throw this.transportError(err, { method: req.method, url: req.url, signal: req.signal }, timeout.aborted);
    }
  }

  async close(): Promise<void> {
    await this.agent?.close();
  }

  private transportError(err: unknown, req: HttpRequest, timedOut: boolean): BackendError {
    const where = `${req.method} ${new URL(req.url).origin}`;
    // a write that was sent may have been applied even though no answer came back: retrying blindly could do it twice
    const write = !(req.idempotent ?? (req.method === 'GET' || req.method === 'HEAD'));
    const mayHaveLanded = 'The write may have been applied before the answer was lost: check (e.g. with query-table) before retrying.';
    if (timedOut) return new BackendError(504, 'TIMEOUT', `The backend did not answer within ${this.timeoutMs} ms (${where})`, write ? `${mayHaveLanded} Or raise --timeout.` : 'Retry, narrow the request (filters, limit), or raise --timeout.');
    if (req.signal?.aborted) return new BackendError(499, 'CANCELLED', 'The request was cancelled');
    const code = (err as { code?: string }).code ?? (err as Error).name ?? 'NETWORK_ERROR';
    const neverSent = /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|UND_ERR_CONNECT_TIMEOUT)$/.test(code);
    return new (neverSent ? ConnectionRefused : BackendError)(
      503,
      'BACKEND_UNREACHABLE',
      `Could not reach the backend (${where}): ${code} ${(err as Error).message ?? ''}`.trim(),
      write && !neverSent ? `${mayHaveLanded} If the backend is down, check that it is running and the --url is right.` : 'Check that the backend is running and the --url is right, then retry.',
    );
  }
}

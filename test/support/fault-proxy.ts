import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * What the proxy does with a request that matches the fault's `match` (all requests by default).
 * Requests that do not match pass through untouched.
 */
export type Fault =
  | { kind: 'pass' }
  /** Hold the request this long before forwarding it, and forward it only if the client is still there. */
  | { kind: 'slow'; delayMs: number; match?: RegExp }
  /**
   * Answer with an HTML error page, as a failing gateway does. `after: true` forwards the request
   * first and replaces the backend's answer (the backend did the work, the gateway then failed).
   */
  | { kind: 'html'; status: 500 | 502 | 503; after?: boolean; match?: RegExp }
  /** Destroy the client's socket (and the forwarded request) once this many body bytes went through. */
  | { kind: 'reset'; afterBytes: number; match?: RegExp }
  /** Answer 429 with `Retry-After: retryAfter` to the next `times` requests, then pass. */
  | { kind: 'rate-limit'; times: number; retryAfter?: number; body?: 'json' | 'text'; match?: RegExp };

export interface FaultProxy {
  /** e.g. http://127.0.0.1:40123 (the same port across down()/up()). */
  url: string;
  /** Switches the behaviour for the requests that follow. */
  set(fault: Fault): void;
  /** Stops listening and cuts every open connection: new connections are refused. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  /** Requests received per path (no query string), faulted ones included. */
  count(path: string | RegExp): number;
  resetCounts(): void;
  /** Requests seen, in order: "METHOD /path". */
  log: string[];
  close(): Promise<void>;
}

const HTML = (status: number) =>
  `<!DOCTYPE html>\n<html><head><title>${status} ${status === 502 ? 'Bad Gateway' : 'Internal Server Error'}</title></head>` +
  `<body><center><h1>${status} ${status === 502 ? 'Bad Gateway' : 'Internal Server Error'}</h1></center><hr><center>nginx/1.25.3</center></body></html>\n`;

/**
 * A loopback HTTP proxy in front of a backend, whose behaviour a test switches at run time:
 * pass-through, down (connections refused), slow, HTML 5xx pages, a reset mid-body, 429s.
 */
export async function startFaultProxy(target: string, opts: { startDown?: boolean } = {}): Promise<FaultProxy> {
  const upstream = new URL(target);
  let fault: Fault = { kind: 'pass' };
  const counts = new Map<string, number>();
  const log: string[] = [];
  const sockets = new Set<Socket>();

  const matches = (f: Fault, path: string) => !('match' in f) || !f.match || f.match.test(path);

  /** Sends the request on to the backend; resolves with its answer, or undefined if either side went away. */
  const forward = (req: IncomingMessage, res: ServerResponse, opts: { replaceWith?: (res: ServerResponse) => void; resetAfter?: number } = {}) => {
    const out = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      if (opts.replaceWith) {
        answer.resume();
        answer.on('end', () => opts.replaceWith!(res));
        return;
      }
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    out.on('error', () => {
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(502, { 'content-type': 'text/plain' }).end('fault proxy: upstream failed');
      } else res.destroy();
    });
    // the client went away (a timeout, a cancel): the backend sees the request cut off too
    res.on('close', () => {
      if (!res.writableFinished) out.destroy();
    });
    let seen = 0;
    req.on('data', (chunk: Buffer) => {
      seen += chunk.length;
      if (opts.resetAfter !== undefined && seen >= opts.resetAfter) {
        out.destroy();
        req.socket.destroy();
        return;
      }
      if (!out.write(chunk)) {
        req.pause();
        out.once('drain', () => req.resume());
      }
    });
    req.on('end', () => out.end());
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    log.push(`${req.method} ${path}`);
    const f = fault;
    if (f.kind === 'pass' || !matches(f, path)) return forward(req, res);
    switch (f.kind) {
      case 'slow': {
        const timer = setTimeout(() => {
          if (!res.destroyed && !req.socket.destroyed) forward(req, res);
        }, f.delayMs);
        res.on('close', () => clearTimeout(timer));
        return;
      }
      case 'html': {
        const send = (r: ServerResponse) => {
          if (!r.destroyed) r.writeHead(f.status, { 'content-type': 'text/html; charset=utf-8' }).end(HTML(f.status));
        };
        if (f.after) return forward(req, res, { replaceWith: send });
        req.resume();
        return req.on('end', () => send(res));
      }
      case 'reset':
        return forward(req, res, { resetAfter: f.afterBytes });
      case 'rate-limit': {
        if (f.times <= 0) return forward(req, res);
        f.times--;
        req.resume();
        const retryAfter = String(f.retryAfter ?? 1);
        return req.on('end', () => {
          if (f.body === 'json') {
            res
              .writeHead(429, { 'content-type': 'application/json', 'retry-after': retryAfter })
              .end(JSON.stringify({ statusCode: 429, error: 'TOO_MANY_REQUESTS', message: 'Rate limit exceeded', nextActions: `Retry after ${retryAfter} s.` }));
          } else res.writeHead(429, { 'content-type': 'text/plain', 'retry-after': retryAfter }).end('Too Many Requests');
        });
      }
    }
  };

  const server: Server = createServer(handle);
  // one request per connection at a time, as clients pool them; no idle cut-off that a test did not ask for
  server.keepAliveTimeout = 30_000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });

  await listen();
  if (opts.startDown) await stop();
  return {
    url: `http://127.0.0.1:${port}`,
    set: (f) => void (fault = { ...f }),
    down: stop,
    up: async () => {
      if (!server.listening) await listen();
    },
    count: (p) => [...counts].filter(([path]) => (typeof p === 'string' ? path === p : p.test(path))).reduce((n, [, c]) => n + c, 0),
    resetCounts: () => {
      counts.clear();
      log.length = 0;
    },
    log,
    close: stop,
  };
}

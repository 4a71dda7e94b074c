/**
 * One `node:http` listener serving an MCP server over
 *   - Streamable HTTP at `/mcp` (stateful sessions, or stateless per-request servers), and
 *   - the legacy HTTP+SSE transport at `GET /sse` + `POST /messages?sessionId=…`,
 * plus `GET /health`.
 *
 * Every MCP session gets its own `McpServer` from `createServer` (the SDK binds one server to
 * one transport), so per-session state lives in that server's closure.
 *
 * A Streamable HTTP call is answered with plain JSON, written here, unless something may have to
 * reach the client before its result (progress, an elicitation): those get the SDK's SSE answer.
 *
 * It fails closed: a browser may call only from this server's own origin (or those given), stateless
 * mode needs the caller's own bearer, and sessions are capped per client (http-sessions.ts).
 *
 * Plain `node:http` on purpose: express/fastify would dominate the CLI's start-up time.
 * Never writes to stdout — in stdio mode stdout is the protocol channel; use `log`.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  ErrorCode,
  isJSONRPCNotification,
  isJSONRPCRequest,
  SUPPORTED_PROTOCOL_VERSIONS,
  type JSONRPCMessage,
  type JSONRPCRequest,
  type RequestId
} from '@modelcontextprotocol/sdk/types.js';
import { clientOf, DEFAULT_SESSION_LIMITS, SessionTable } from './http-sessions.js';

export interface McpSessionContext {
  /** Known before the factory runs, for both stateful transports; undefined when stateless. */
  sessionId?: string;
  transport: 'streamable-http' | 'sse' | 'stateless';
  /** The request's raw `Authorization` header; only provided in stateless mode. */
  authorization?: string;
}

export interface HttpServerOptions {
  /** Default `127.0.0.1`. */
  host?: string;
  /** Default 3333; 0 picks an ephemeral port. */
  port?: number;
  /**
   * Origins a browser may call from besides this server's own (`http://127.0.0.1:<port>` and
   * `http://localhost:<port>`, `http://[::1]:<port>` when bound there): exact origins
   * (`https://app.example`), `scheme://host:*` for any port, or `*` for any origin. Other pages on
   * localhost — the embedded backend's, a dev server's — are not the server's own and are refused.
   * Requests without an Origin header (clients that are not browsers) are allowed.
   */
  allowedOrigins?: string[];
  /**
   * Accepted `Host` header values (DNS-rebinding protection). An entry without a port matches
   * any port; `host:port` matches exactly; `*` disables the check.
   * Default: localhost, 127.0.0.1, [::1] — pass your own when binding a non-loopback host.
   */
  allowedHosts?: string[];
  /** When set, every MCP route (not /health) requires `Authorization: Bearer <token>`. */
  bearerToken?: string;
  /**
   * A fresh server + transport per POST /mcp; no sessions, no SSE. Each request must carry the
   * caller's own `Authorization: Bearer …` (401 otherwise), which the factory receives.
   */
  stateless?: boolean;
  createServer: (ctx: McpSessionContext) => McpServer;
  /**
   * Whether answering this request may send the client a request of its own first (an elicitation…),
   * asked only for clients that declared elicitation, sampling or roots. Such requests, and those
   * with a progressToken, are answered over SSE; the rest get a plain JSON response. Default: yes.
   */
  mayAskClient?: (request: JSONRPCRequest) => boolean;
  /** Diagnostics sink; should write to stderr. Default: silent. */
  log?: (msg: string) => void;
  /** Stateful sessions with no call and no stream open for this long are closed. Default 30 min. */
  sessionIdleTimeoutMs?: number;
  /** Sessions that make no call (a request other than initialize) are closed after this long. Default 30 s. */
  unusedSessionTimeoutMs?: number;
  /**
   * Sessions open at once. A newcomer beyond it is not refused: the session that costs least goes
   * (never used first, then the longest idle). Default 1000.
   */
  maxSessions?: number;
  /** Sessions one client address (IPv6: one /64) holds at once; beyond it, likewise one of its own goes. Default 100. */
  maxSessionsPerClient?: number;
  /** POST bodies larger than this are refused with 413. Default 4 MiB. */
  maxBodyBytes?: number;
}

export interface RunningHttpServer {
  /** e.g. `http://127.0.0.1:3333` */
  url: string;
  port: number;
  sessionCount(): number;
  close(): Promise<void>;
}

export const DEFAULT_PORT = 3333;
export const DEFAULT_ALLOWED_HOSTS: readonly string[] = ['localhost', '127.0.0.1', '[::1]'];

const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
const MCP_PATH = '/mcp';
const SSE_PATH = '/sse';
const SSE_MESSAGES_PATH = '/messages';

type SessionTransport =
  | { kind: 'streamable-http'; transport: McpHttpTransport }
  | { kind: 'sse'; transport: SSEServerTransport };

type Session = SessionTransport & { server: McpServer };

export async function startHttpServer(opts: HttpServerOptions): Promise<RunningHttpServer> {
  const host = opts.host ?? '127.0.0.1';
  const log = opts.log ?? (() => {});
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const allowedHosts = opts.allowedHosts ?? DEFAULT_ALLOWED_HOSTS;
  // this server's own origins join once the port is known (listen below)
  const allowedOrigins = [...(opts.allowedOrigins ?? [])];

  // ---------------------------------------------------------------- sessions

  const sessions = new SessionTable<Session>(
    {
      maxSessions: opts.maxSessions ?? DEFAULT_SESSION_LIMITS.maxSessions,
      maxPerClient: opts.maxSessionsPerClient ?? DEFAULT_SESSION_LIMITS.maxPerClient,
      idleTimeoutMs: opts.sessionIdleTimeoutMs ?? DEFAULT_SESSION_LIMITS.idleTimeoutMs,
      unusedTimeoutMs: opts.unusedSessionTimeoutMs ?? DEFAULT_SESSION_LIMITS.unusedTimeoutMs
    },
    (id, session, why) => {
      log(`mcp-http: closing session ${id}: ${why}`);
      void closeSession(id, session);
    }
  );

  function openSession(id: string, req: IncomingMessage, entry: SessionTransport, server: McpServer): void {
    const client = clientOf(req.socket.remoteAddress);
    sessions.open(id, client, { ...entry, server }, entry.transport);
    log(`mcp-http: ${entry.kind} session ${id} opened for ${client} (${sessions.size} open)`);
  }

  function forgetSession(id: string): void {
    if (sessions.forget(id)) log(`mcp-http: session ${id} closed (${sessions.size} open)`);
  }

  async function closeSession(id: string, session: Session): Promise<void> {
    // McpServer.close() closes its transport, whose onclose already forgets the session;
    // forgetting again covers a transport whose close() failed.
    await session.server.close().catch(err => log(`mcp-http: closing session ${id} failed: ${errorText(err)}`));
    forgetSession(id);
  }

  // ------------------------------------------------------- streamable HTTP

  async function handleStatefulMcp(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const sessionId = headerValue(req, 'mcp-session-id');
    if (sessionId !== undefined) {
      const session = sessions.get(sessionId);
      if (!session) return sendJsonRpcError(res, 404, -32001, 'Session not found');
      if (session.kind !== 'streamable-http') {
        return sendJsonRpcError(res, 400, -32000, 'Bad Request: session belongs to the SSE transport');
      }
      sessions.track(sessionId, res, req.method === 'POST');
      return handleMcpRequest(req, res, url, session.transport, session.server);
    }
    if (req.method !== 'POST') {
      return sendJsonRpcError(res, 400, -32000, 'Bad Request: Mcp-Session-Id header is required');
    }
    return handleSessionlessPost(req, res);
  }

  /**
   * A POST without a session id should be `initialize`. We let the SDK read and validate the
   * body, so the session candidate is built first and discarded if the SDK did not initialize it.
   */
  async function handleSessionlessPost(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Pre-assigning the id lets the factory know its session id before the first message.
    const id = randomUUID();
    let initialized = false;
    const transport = new McpHttpTransport({
      sessionIdGenerator: () => id,
      maxRequestBodySize: maxBodyBytes,
      onsessioninitialized: () => {
        initialized = true;
        // room is made only now, for a valid initialize: a bad POST cannot push a session out
        openSession(id, req, { kind: 'streamable-http', transport }, server);
        sessions.track(id, res, true);
      }
    });
    transport.onclose = () => forgetSession(id);
    const server = opts.createServer({ sessionId: id, transport: 'streamable-http' });
    await server.connect(transport);
    try {
      await transport.handleRequest(req, res);
    } finally {
      if (!initialized) await server.close();
    }
  }

  async function handleStatelessMcp(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      return sendJsonRpcError(res, 405, -32000, 'Method not allowed: this server is stateless');
    }
    const server = opts.createServer({ transport: 'stateless', authorization: headerValue(req, 'authorization') });
    const transport = new McpHttpTransport({ sessionIdGenerator: undefined, maxRequestBodySize: maxBodyBytes });
    res.once('close', () => {
      void server.close().catch(err => log(`mcp-http: closing stateless server failed: ${errorText(err)}`));
    });
    await server.connect(transport);
    await handleMcpRequest(req, res, url, transport, server);
  }

  /**
   * A request to an initialized (or stateless) server. A POST of one request that cannot make the
   * server send anything before its result is answered here with plain JSON; everything else, and
   * anything unusual (the SDK words those errors), goes through the SDK transport.
   */
  async function handleMcpRequest(req: IncomingMessage, res: ServerResponse, url: URL, transport: McpHttpTransport, server: McpServer): Promise<void> {
    if (req.method !== 'POST' || !isPlainMcpPost(req)) return transport.handleRequest(req, res);
    const body = await readJsonBody(req, res);
    if (!body) return;
    const { message } = body;
    if (isJSONRPCRequest(message) && message.method !== 'initialize') {
      if (!answersOverSse(message, server)) return transport.answerWithJson(message, res, { headers: req.headers, url });
      return transport.answerWithStream(message, req, res);
    }
    return transport.handleRequest(req, res, message);
  }

  /** Progress notifications and requests to the client need a stream to travel before the result. */
  function answersOverSse(request: JSONRPCRequest, server: McpServer): boolean {
    if (request.params?._meta?.progressToken !== undefined) return true;
    const client = server.server.getClientCapabilities();
    const askable = client?.elicitation ?? client?.sampling ?? client?.roots;
    return askable !== undefined && (opts.mayAskClient?.(request) ?? true);
  }

  /** The parsed body, or undefined once a 413 or parse error has been sent. */
  async function readJsonBody(req: IncomingMessage, res: ServerResponse): Promise<{ message: unknown } | undefined> {
    const body = await readBody(req, maxBodyBytes);
    if (body === undefined) return void sendPayloadTooLarge(res, maxBodyBytes);
    try {
      return { message: JSON.parse(body) };
    } catch {
      return void sendJsonRpcError(res, 400, -32700, 'Parse error: Invalid JSON');
    }
  }

  // ------------------------------------------------------------ legacy SSE

  async function handleSseStream(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const transport = new SSEServerTransport(SSE_MESSAGES_PATH, res);
    const id = transport.sessionId;
    transport.onclose = () => forgetSession(id);
    const server = opts.createServer({ sessionId: id, transport: 'sse' });
    await server.connect(transport); // writes the `endpoint` event
    openSession(id, req, { kind: 'sse', transport }, server);
    sessions.track(id, res, false);
  }

  async function handleSseMessage(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const id = url.searchParams.get('sessionId') ?? '';
    const session = sessions.get(id);
    if (!session || session.kind !== 'sse') return sendJsonRpcError(res, 404, -32001, 'Session not found');
    // The SSE transport answers oversized/invalid bodies with a bare 400, so read and parse here.
    const body = await readJsonBody(req, res);
    if (!body) return;
    sessions.track(id, res, true);
    await session.transport.handlePostMessage(req, res, body.message);
  }

  // ---------------------------------------------------------------- router

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (path === '/health') return handleHealth(req, res);
    if (path !== MCP_PATH && path !== SSE_PATH && path !== SSE_MESSAGES_PATH) {
      return sendJson(res, 404, { error: 'not_found', message: `No route for ${path}` });
    }
    if (opts.stateless && path !== MCP_PATH) {
      return sendJson(res, 404, { error: 'not_found', message: 'The SSE transport is not available in stateless mode' });
    }
    if (!isHostAllowed(req.headers.host, allowedHosts)) {
      log(`mcp-http: refused Host ${JSON.stringify(req.headers.host)}`);
      return sendJson(res, 403, { error: 'forbidden_host', message: 'Host header is not allowed' });
    }
    // the URL handlers see (requestInfo); the setter ignores a value that is not a valid host
    url.host = req.headers.host ?? url.host;
    const origin = headerValue(req, 'origin');
    if (origin !== undefined) {
      if (!isOriginAllowed(origin, allowedOrigins)) {
        log(`mcp-http: refused Origin ${JSON.stringify(origin)}`);
        return sendJson(res, 403, {
          error: 'forbidden_origin',
          message: `Origin ${origin} is not allowed: browsers may call this server only from its own origin; start it with --allowed-origins ${origin} to let that page in`
        });
      }
      setCorsHeaders(res, origin);
      // Preflights carry no Authorization header, so answer them before the bearer check.
      if (req.method === 'OPTIONS') return void res.writeHead(204).end();
    }
    if (opts.bearerToken !== undefined && !hasBearerToken(req, opts.bearerToken)) {
      return sendUnauthorized(res, 'Unauthorized: send Authorization: Bearer <the server\'s --http-token>');
    }
    // Stateless requests act with the caller's own credential, never the configured keys: none, no request.
    if (opts.stateless && bearerOf(req) === undefined) {
      return sendUnauthorized(res, 'Unauthorized: in stateless mode every request needs Authorization: Bearer <an InsForge API key, anon key or user token>');
    }
    if (req.method === 'POST' && declaredBodyTooLarge(req, maxBodyBytes)) {
      return sendPayloadTooLarge(res, maxBodyBytes);
    }

    if (path === MCP_PATH) {
      return opts.stateless ? handleStatelessMcp(req, res, url) : handleStatefulMcp(req, res, url);
    }
    if (path === SSE_PATH) {
      return req.method === 'GET' ? handleSseStream(req, res) : sendMethodNotAllowed(res, 'GET');
    }
    return req.method === 'POST' ? handleSseMessage(req, res, url) : sendMethodNotAllowed(res, 'POST');
  }

  const httpServer = createHttpServer((req, res) => {
    route(req, res).catch(err => {
      log(`mcp-http: ${req.method} ${req.url} failed: ${errorText(err)}`);
      if (!res.headersSent) sendJsonRpcError(res, 500, -32603, 'Internal server error');
      else res.end();
    });
  });

  const idleTimer = opts.stateless ? undefined : startSweep(() => sessions.sweep(), sessions.sweepIntervalMs());

  const { address, port } = await listen(httpServer, opts.port ?? DEFAULT_PORT, host);
  allowedOrigins.push(...ownOrigins(address, port));
  // bound to every address: this machine's clients reach it on loopback, the one Host allowed by default
  const reachAt = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  const url = `http://${reachAt.includes(':') ? `[${reachAt}]` : reachAt}:${port}`;
  log(`mcp-http: listening on ${host.includes(':') ? `[${host}]` : host}:${port} (${opts.stateless ? 'stateless' : 'stateful'})`);

  let closing: Promise<void> | undefined;
  async function close(): Promise<void> {
    if (idleTimer) clearInterval(idleTimer);
    const listenerClosed = new Promise<void>(resolve => httpServer.close(() => resolve()));
    await Promise.all(sessions.ids().map(id => closeSession(id, sessions.get(id)!)));
    // Open SSE streams and keep-alive sockets would otherwise hold close() forever.
    httpServer.closeAllConnections();
    await listenerClosed;
    log('mcp-http: closed');
  }

  return {
    url,
    port,
    sessionCount: () => sessions.size,
    close: () => (closing ??= close())
  };
}

// ------------------------------------------------------------ transport

/**
 * The SDK's Streamable HTTP transport plus a JSON fast path. The SDK turns every request into a web
 * `Request` and answers over SSE unless `enableJsonResponse`, which is fixed per transport and would
 * drop progress and elicitation. Here each request is answered in the cheapest form it allows:
 * `answerWithJson` writes the result straight to the Node response; the rest stays with the SDK.
 *
 * A cancelled call gets no answer (the server drops it), so its POST is ended here the moment the
 * client's `notifications/cancelled` arrives: as an SSE stream that carries nothing, on either path.
 */
class McpHttpTransport extends StreamableHTTPServerTransport {
  /** Requests being answered with JSON, until their response is sent. */
  private readonly jsonAnswers = new Map<RequestId, ServerResponse>();
  /** Requests POSTed alone and answered over an SSE stream of their own, until it ends. */
  private readonly streamedAnswers = new Set<RequestId>();

  answerWithJson(request: JSONRPCRequest, res: ServerResponse, requestInfo: { headers: IncomingMessage['headers']; url: URL }): void {
    this.jsonAnswers.set(request.id, res);
    // a client gone (or a call it cancelled, which gets no answer) must not hold the entry
    res.once('close', () => {
      if (this.jsonAnswers.get(request.id) === res) this.jsonAnswers.delete(request.id);
    });
    this.onmessage?.(request, { requestInfo });
  }

  answerWithStream(request: JSONRPCRequest, req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.streamedAnswers.add(request.id);
    res.once('close', () => this.streamedAnswers.delete(request.id));
    return this.handleRequest(req, res, request);
  }

  override async start(): Promise<void> {
    // Callbacks are installed before start(). onclose also fires when the SDK closes the transport
    // itself (DELETE); the server then aborts its handlers, so no answer will come.
    const onclose = this.onclose;
    this.onclose = () => {
      for (const [id, res] of this.jsonAnswers) sendJson(res, 200, { jsonrpc: '2.0', id, error: { code: ErrorCode.ConnectionClosed, message: 'Session closed' } });
      this.jsonAnswers.clear();
      onclose?.();
    };
    const onmessage = this.onmessage;
    this.onmessage = (message, extra) => {
      onmessage?.(message, extra); // the server aborts the call's handler
      const cancelled = cancelledRequestOf(message);
      if (cancelled !== undefined) this.endCancelled(cancelled);
    };
    return super.start();
  }

  private endCancelled(id: RequestId): void {
    const res = this.jsonAnswers.get(id);
    if (res) {
      this.jsonAnswers.delete(id);
      if (this.sessionId !== undefined) res.setHeader('Mcp-Session-Id', this.sessionId);
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' }).end();
      return;
    }
    if (!this.streamedAnswers.delete(id)) return;
    this.closeSSEStream(id);
    // The SDK forgets a request once its answer is sent, and a cancelled one gets none: an answer
    // with no stream left to go to makes it forget (it is dropped, and send says so by rejecting).
    super.send({ jsonrpc: '2.0', id, error: { code: ErrorCode.ConnectionClosed, message: 'Request cancelled' } }).catch(() => undefined);
  }

  override async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    const isResponse = 'result' in message || 'error' in message;
    const id = isResponse ? message.id : options?.relatedRequestId;
    const res = id === undefined ? undefined : this.jsonAnswers.get(id);
    if (!res) return super.send(message, options);
    // A notification or request about a call answered with JSON: the standalone GET stream is the
    // only way left to the client (without one the SDK drops it, as its JSON mode does).
    if (!isResponse) return super.send(message, { ...options, relatedRequestId: undefined });
    this.jsonAnswers.delete(id!);
    if (this.sessionId !== undefined) res.setHeader('Mcp-Session-Id', this.sessionId);
    sendJson(res, 200, message);
  }
}

/** The request a `notifications/cancelled` names, if the message is one. */
function cancelledRequestOf(message: JSONRPCMessage): RequestId | undefined {
  if (!isJSONRPCNotification(message) || message.method !== 'notifications/cancelled') return undefined;
  const id = message.params?.requestId;
  return typeof id === 'string' || typeof id === 'number' ? id : undefined;
}

/**
 * A POST the SDK would accept without comment: it accepts JSON and SSE, sends JSON, and names a
 * supported protocol version if any. Others go to the SDK, which answers with the right error.
 */
function isPlainMcpPost(req: IncomingMessage): boolean {
  const accept = headerValue(req, 'accept') ?? '';
  const contentType = headerValue(req, 'content-type')?.replace(/\s/g, '').toLowerCase();
  const version = headerValue(req, 'mcp-protocol-version');
  return (
    accept.includes('application/json') &&
    accept.includes('text/event-stream') &&
    (contentType === 'application/json' || contentType === 'application/json;charset=utf-8') &&
    (version === undefined || SUPPORTED_PROTOCOL_VERSIONS.includes(version))
  );
}

// -------------------------------------------------------------- helpers

function handleHealth(req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') return sendMethodNotAllowed(res, 'GET, HEAD');
  sendJson(res, 200, { status: 'ok' });
}

function startSweep(sweep: () => void, intervalMs: number): NodeJS.Timeout {
  const timer = setInterval(sweep, intervalMs);
  timer.unref(); // must not keep the process alive on its own
  return timer;
}

function listen(server: ReturnType<typeof createHttpServer>, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

/**
 * The origins of pages this server itself would serve: the addresses it listens on, and localhost
 * when that is loopback. Another port on localhost is another program (the embedded backend, a dev
 * server), so it is not among them.
 */
export function ownOrigins(address: string, port: number): string[] {
  const v4Loopback = address === '127.0.0.1' || address === '0.0.0.0' || address === '::';
  const v6Loopback = address === '::1' || address === '::';
  if (!v4Loopback && !v6Loopback) return [`http://${address.includes(':') ? `[${address}]` : address}:${port}`];
  return [...(v4Loopback ? ['127.0.0.1'] : []), ...(v6Loopback ? ['[::1]'] : []), 'localhost'].map(name => `http://${name}:${port}`);
}

/** `Host` header check against DNS rebinding: hostname (and port, if the entry has one) must match. */
export function isHostAllowed(hostHeader: string | undefined, allowedHosts: readonly string[]): boolean {
  if (allowedHosts.includes('*')) return true;
  const host = parseHostHeader(hostHeader);
  if (!host) return false;
  return allowedHosts.some(entry => {
    const allowed = parseHostHeader(entry);
    if (!allowed) return false;
    return allowed.hostname === host.hostname && (allowed.port === undefined || allowed.port === host.port);
  });
}

function parseHostHeader(value: string | undefined): { hostname: string; port?: string } | undefined {
  const match = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(\d{1,5}))?$/i.exec(value?.trim() ?? '');
  if (!match) return undefined;
  return { hostname: match[1]!.toLowerCase(), port: match[2] };
}

/** Entries are exact origins, `scheme://host:*` (any port) or `*`. */
export function isOriginAllowed(origin: string, allowedOrigins: readonly string[]): boolean {
  if (allowedOrigins.includes('*')) return true;
  const actual = parseOrigin(origin);
  if (!actual) return false;
  return allowedOrigins.some(entry => {
    if (entry.endsWith(':*')) {
      const allowed = parseOrigin(entry.slice(0, -2));
      return allowed !== undefined && allowed.protocol === actual.protocol && allowed.hostname === actual.hostname;
    }
    return parseOrigin(entry)?.origin === actual.origin;
  });
}

function parseOrigin(value: string): URL | undefined {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}

/** Lets browser clients on an allowed origin read responses and the session header. */
function setCorsHeaders(res: ServerResponse, origin: string): void {
  res.setHeader('Access-Control-Allow-Origin', origin);
  res.setHeader('Vary', 'Origin');
  res.setHeader('Access-Control-Allow-Methods', 'GET, POST, DELETE, OPTIONS');
  res.setHeader(
    'Access-Control-Allow-Headers',
    'Content-Type, Accept, Authorization, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID'
  );
  res.setHeader('Access-Control-Expose-Headers', 'Mcp-Session-Id, WWW-Authenticate');
}

function bearerOf(req: IncomingMessage): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(headerValue(req, 'authorization') ?? '')?.[1];
}

function hasBearerToken(req: IncomingMessage, expected: string): boolean {
  const token = bearerOf(req);
  return token !== undefined && constantTimeEqual(token, expected);
}

/** Hashing first gives equal-length inputs, so neither content nor length leaks through timing. */
function constantTimeEqual(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function declaredBodyTooLarge(req: IncomingMessage, maxBytes: number): boolean {
  return Number(req.headers['content-length'] ?? 0) > maxBytes;
}

/**
 * Reads the whole body as UTF-8, or resolves undefined as soon as it exceeds `maxBytes`
 * (the socket is left alone so a 413 can still be written).
 */
function readBody(req: IncomingMessage, maxBytes: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) return void chunks.push(chunk);
      req.off('data', onData);
      req.pause();
      resolve(undefined);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
}

function sendJsonRpcError(res: ServerResponse, status: number, code: number, message: string): void {
  sendJson(res, status, { jsonrpc: '2.0', error: { code, message }, id: null });
}

function sendUnauthorized(res: ServerResponse, message: string): void {
  res.setHeader('WWW-Authenticate', 'Bearer');
  sendJsonRpcError(res, 401, -32000, message);
}

function sendPayloadTooLarge(res: ServerResponse, maxBytes: number): void {
  // The rest of the body is never read, so the connection cannot be reused.
  res.setHeader('Connection', 'close');
  sendJsonRpcError(res, 413, -32000, `Payload Too Large: request body must not exceed ${maxBytes} bytes`);
}

function sendMethodNotAllowed(res: ServerResponse, allow: string): void {
  res.setHeader('Allow', allow);
  sendJsonRpcError(res, 405, -32000, 'Method not allowed');
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

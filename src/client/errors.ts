/** A failed backend call, normalised from either dialect's error body (or from no body at all). */
export class BackendError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly nextActions?: string,
    readonly details?: unknown,
    /** From Retry-After / X-RateLimit-Reset, when the backend said when to come back. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }

  toJSON() {
    return { status: this.status, code: this.code, message: this.message, ...(this.nextActions ? { nextActions: this.nextActions } : {}), ...(this.details !== undefined ? { details: this.details } : {}) };
  }
}

/** No connection could be made, so nothing was sent: any request, a write too, may go again (to a backend that came back). */
export class ConnectionRefused extends BackendError {}

const snippet = (text: string) =>
  text
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 200);

/** A 429 (from the backend or a gateway in front of it) says when to come back, if it was told. */
const rateLimited = (retryAfterMs?: number) =>
  retryAfterMs !== undefined ? `Rate limited: wait ${Math.ceil(retryAfterMs / 1000)} s, then retry.` : 'Rate limited: wait a little, then retry.';

/** Envelope {statusCode,error,message,nextActions}, PostgREST {code,message,details,hint}, or anything else. */
export function errorFromResponse(status: number, contentType: string, text: string, retryAfterMs?: number): BackendError {
  if (contentType.includes('json')) {
    try {
      const body = JSON.parse(text) as Record<string, unknown>;
      const message = typeof body.message === 'string' ? body.message : typeof body.error === 'string' ? body.error : `HTTP ${status}`;
      const code = typeof body.code === 'string' ? body.code : typeof body.error === 'string' ? body.error : `HTTP_${status}`;
      const next = typeof body.nextActions === 'string' ? body.nextActions : typeof body.hint === 'string' ? body.hint : status === 429 ? rateLimited(retryAfterMs) : undefined;
      const details = body.details ?? (typeof body.code === 'string' && typeof body.error === 'string' ? { error: body.error } : undefined);
      return new BackendError(status, code, message, next, details ?? undefined, retryAfterMs);
    } catch {
      /* fall through: a JSON content type with a broken body */
    }
  }
  const kind = contentType.split(';')[0] || 'no content type';
  return new BackendError(
    status,
    `HTTP_${status}`,
    `The backend answered ${status} with a non-JSON body (${kind})${text ? `: ${snippet(text)}` : ''}`,
    status === 429
      ? rateLimited(retryAfterMs)
      : status >= 500
        ? 'The backend or a proxy in front of it failed; retry shortly, and check the backend URL and its logs if it persists.'
        : 'Check the backend URL: this does not look like an InsForge API.',
    undefined,
    retryAfterMs,
  );
}

import { randomBytes } from 'node:crypto';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { BackendError } from '../client/errors.js';
import { nextActionForAgent } from './next-actions.js';

/** Caps that keep one result from flooding the model's context. */
export const MAX_RESULT_BYTES = 48 * 1024;
export const MAX_ROWS = 1000;

/**
 * Backend data (rows, file text, function output) may hold text written by anyone. It goes back
 * inside a boundary with a per-result nonce that the data cannot forge, so the model reads it as data.
 */
export function wrapUntrusted(json: string): string {
  const tag = `untrusted-data-${randomBytes(6).toString('hex')}`;
  return `<${tag}>${json}</${tag}>`;
}

/** A successful result: structuredContent for clients that read it, compact JSON text for the model. */
export function ok<T extends object>(data: T, opts: { untrusted?: boolean } = {}): CallToolResult {
  const json = JSON.stringify(data);
  return {
    content: [{ type: 'text', text: opts.untrusted ? wrapUntrusted(json) : json }],
    structuredContent: data as Record<string, unknown>,
  };
}

/** Any failure as an isError result: status, code, message and what to do next; never a crash. */
export function fail(err: unknown): CallToolResult {
  const body =
    err instanceof BackendError
      ? withNextAction(err.toJSON(), nextActionForAgent(err))
      : err instanceof URIError
        ? // encodeURIComponent refuses text with a lone surrogate (half a UTF-16 pair), e.g. in a table name or key
          { status: 400, code: 'INVALID_INPUT', message: 'An argument is not valid Unicode text (it holds a lone surrogate)', nextActions: 'Send names and keys as well-formed Unicode.' }
        : localFileError(err)
          ? { status: 400, code: 'LOCAL_FILE_ERROR', message: `Could not use the local file: ${(err as Error).message}`, nextActions: 'Check the path: it must name a file (or, for savePath, a writable place) on the machine running this server.' }
          : { status: 500, code: 'INTERNAL_ERROR', message: err instanceof Error ? err.message : String(err), nextActions: 'This is a bug in insforge-mcp; the server log has details.' };
  return { content: [{ type: 'text', text: JSON.stringify({ error: capError(body) }) }], isError: true };
}

const withNextAction = <E extends { nextActions?: string }>(body: E, next: string | undefined): E => (next === undefined ? body : { ...body, nextActions: next });

/**
 * A failed operation on this machine's disk (filePath, savePath): the OS said no (ENOENT, EACCES,
 * ENAMETOOLONG…, which carry a syscall), or Node refused the path (a NUL byte in it).
 */
export function localFileError(err: unknown): boolean {
  return err instanceof Error && (typeof (err as { syscall?: unknown }).syscall === 'string' || (err as { code?: unknown }).code === 'ERR_INVALID_ARG_VALUE');
}

/** Errors are capped too: Postgres quotes the offending token, which may be a 1 MB argument. */
const MAX_ERROR_FIELD = 2000;

function clip(text: string, max = MAX_ERROR_FIELD): string {
  if (text.length <= max) return text;
  // never cut a UTF-16 pair in two
  const end = /[\uD800-\uDBFF]/.test(text[max - 1]!) ? max - 1 : max;
  return `${text.slice(0, end)}… (${text.length - end} more characters)`;
}

function capError<E extends { message: string; nextActions?: string; details?: unknown }>(body: E): E {
  const details = body.details === undefined ? undefined : JSON.stringify(body.details);
  return {
    ...body,
    message: clip(body.message),
    ...(body.nextActions !== undefined ? { nextActions: clip(body.nextActions) } : {}),
    ...(details !== undefined && details.length > MAX_ERROR_FIELD ? { details: clip(details) } : {}),
  };
}

export interface CappedRows<R> {
  rows: R[];
  truncated: boolean;
}

/** Keeps whole rows until the row cap or the byte cap is reached. */
export function capRows<R>(rows: R[], maxRows = MAX_ROWS, maxBytes = MAX_RESULT_BYTES): CappedRows<R> {
  let bytes = 2;
  const kept: R[] = [];
  for (const row of rows) {
    if (kept.length >= maxRows) break;
    const size = Buffer.byteLength(JSON.stringify(row)) + 1;
    if (bytes + size > maxBytes && kept.length > 0) break;
    bytes += size;
    kept.push(row);
  }
  return { rows: kept, truncated: kept.length < rows.length };
}

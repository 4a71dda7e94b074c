import { randomBytes } from 'node:crypto';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { BackendError } from '../client/errors.js';

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
      ? err.toJSON()
      : { status: 500, code: 'INTERNAL_ERROR', message: err instanceof Error ? err.message : String(err), nextActions: 'This is a bug in insforge-mcp; the server log has details.' };
  return { content: [{ type: 'text', text: JSON.stringify({ error: body }) }], isError: true };
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

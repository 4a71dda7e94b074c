import type { IncomingHttpHeaders } from 'node:http';
import mime from 'mime';

/** HTTP semantics of object downloads and uploads: content types, conditional requests, byte ranges. */

// Says little: octet-stream is what clients send when they do not know, and busboy reports a part
// without Content-Type as text/plain (RFC 7578's default).
const WEAK_TYPES = new Set(['', 'application/octet-stream', 'text/plain']);
// type/subtype with optional parameters; nothing that could break out of a header line
const MEDIA_TYPE = /^[\w!#$&^.+-]+\/[\w!#$&^.+-]+(\s*;\s*[\w!#$&^.+-]+=("[^"\r\n]*"|[\w!#$&^.+-]+))*$/;

/** The part's declared type when it says something, else a guess from the key's (or file's) extension. */
export function chooseMimeType(declared: string | undefined, key: string, filename?: string): string {
  const type = declared?.trim().toLowerCase() ?? '';
  if (!WEAK_TYPES.has(type) && MEDIA_TYPE.test(type)) return type;
  const guess = mime.getType(key) ?? (filename ? mime.getType(filename) : null);
  return guess ?? (type === 'text/plain' ? type : 'application/octet-stream');
}

/** Types a browser would run as a page from our origin: always downloaded, never rendered (stored XSS). */
const ACTIVE_TYPES = new Set(['text/html', 'application/xhtml+xml', 'image/svg+xml', 'text/xml', 'application/xml']);

export const mustDownload = (mimeType: string) => ACTIVE_TYPES.has(mimeType.split(';')[0]!.trim().toLowerCase());

/** `attachment` with the key's last segment as the file name, ASCII fallback plus RFC 5987 UTF-8. */
export function attachmentDisposition(key: string): string {
  const name = key.split('/').pop() ?? 'file';
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

const header = (headers: IncomingHttpHeaders, name: string) => {
  const v = headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
};

const opaque = (tag: string) => tag.trim().replace(/^W\//, '');

/** If-None-Match (weak comparison), else If-Modified-Since, as RFC 9110 orders them. */
export function notModified(headers: IncomingHttpHeaders, etag: string, lastModified: Date): boolean {
  const ifNoneMatch = header(headers, 'if-none-match');
  if (ifNoneMatch !== undefined) {
    return ifNoneMatch.trim() === '*' || ifNoneMatch.split(',').some((t) => opaque(t) === opaque(etag));
  }
  const since = header(headers, 'if-modified-since');
  if (since === undefined) return false;
  const t = Date.parse(since);
  return !Number.isNaN(t) && Math.floor(lastModified.getTime() / 1000) <= Math.floor(t / 1000);
}

export type ByteRange = { start: number; end: number } | 'unsatisfiable';

/**
 * The one byte range asked for, inclusive, clamped to the size; undefined to send everything
 * (no Range, a malformed or multi-range one, or an If-Range that no longer matches).
 */
export function requestedRange(headers: IncomingHttpHeaders, size: number, etag: string, lastModified: Date): ByteRange | undefined {
  const range = header(headers, 'range');
  if (range === undefined) return undefined;
  const ifRange = header(headers, 'if-range');
  if (ifRange !== undefined && ifRange.trim() !== etag && ifRange.trim() !== lastModified.toUTCString()) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? Infinity : Number(m[2]);
  if (end < start) return undefined; // invalid: ignored, as RFC 9110 allows
  if (start >= size) return 'unsatisfiable';
  return { start, end: Math.min(end, size - 1) };
}

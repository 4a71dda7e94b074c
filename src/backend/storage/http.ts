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

/**
 * Served inline: what a browser shows as a picture, a sound, a film, plain text or a PDF. Everything
 * else is an attachment, whatever its type: HTML, SVG, XML and XSL (and every *\/*+xml, which Chromium
 * renders as XML, running XHTML script in it), multipart/x-mixed-replace, script types, and types not
 * known yet. An allowlist, so that a type nobody thought of is downloaded rather than rendered.
 */
const INLINE_TYPES = new Set([
  'image/png', 'image/apng', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif', 'image/bmp', 'image/x-icon', 'image/vnd.microsoft.icon',
  'text/plain',
  'application/pdf',
  'audio/mpeg', 'audio/mp4', 'audio/aac', 'audio/ogg', 'audio/opus', 'audio/wav', 'audio/wave', 'audio/x-wav', 'audio/webm', 'audio/flac', 'audio/x-flac', 'audio/x-m4a',
  'video/mp4', 'video/webm', 'video/ogg', 'video/quicktime', 'video/mpeg', 'video/x-matroska',
]);
const CHARSET = /;\s*charset=("?)([\w.:-]+)\1\s*(;|$)/i;

/**
 * The Content-Type to serve a stored type inline with, or undefined when it must be an attachment.
 * Inline types are sent as the bare type plus charset: no other parameter reaches the browser.
 */
export function inlineContentType(mimeType: string): string | undefined {
  const essence = mimeType.split(';')[0]!.trim().toLowerCase();
  if (!INLINE_TYPES.has(essence)) return undefined;
  const charset = CHARSET.exec(mimeType)?.[2];
  return charset ? `${essence}; charset=${charset.toLowerCase()}` : essence;
}

/**
 * On every response of the storage routes, errors included: no MIME sniffing, and a sandbox with no
 * script, plugin, form or same-origin access should anything still be rendered as a page.
 */
export const STORAGE_RESPONSE_HEADERS = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': "sandbox; default-src 'none'; img-src 'self'; media-src 'self'",
} as const;

/** `attachment` with the key's last segment as the file name, ASCII fallback plus RFC 8187 UTF-8. */
export function attachmentDisposition(key: string): string {
  const name = key.split('/').pop() ?? 'file';
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  // encodeURIComponent leaves ' ( ) * as they are: not attr-chars of RFC 8187, so escaped too
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
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

import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { BackendError } from '../../client/errors.js';
import { assertLocalFiles, existingFile } from '../local-files.js';
import { confirmArg, defineTool, type ToolExtra } from '../tool.js';
import { ok, wrapUntrusted } from '../results.js';

/** What a download may put in a result: text read by the model, images shown, other bytes inline. */
export const TEXT_CAP = 64 * 1024;
export const IMAGE_CAP = 5 * 1024 * 1024;
export const BINARY_CAP = 1024 * 1024;

const bucket = z.string().regex(/^[A-Za-z0-9_-]{1,63}$/, 'letters, digits, _ and - only');
const key = z.string().min(1).max(1024).describe('May contain /');
const object = z.record(z.string(), z.unknown());
const READ = { readOnlyHint: true, openWorldHint: false };

/**
 * Buffer.from(…, 'base64') skips what it cannot decode, so a typo would store garbage: refuse it.
 * Standard or URL-safe alphabet, padding optional, line breaks allowed (MIME-style wrapping).
 */
export function isBase64(text: string): boolean {
  const compact = text.replace(/[\r\n\t ]/g, '');
  const m = /^(?:[A-Za-z0-9+/]*|[A-Za-z0-9_-]*)(={0,2})$/.exec(compact);
  if (!m) return false;
  return m[1] ? compact.length % 4 === 0 : compact.length % 4 !== 1;
}

const isText = (type: string) => /^text\/|[/+](json|xml|javascript|ecmascript|csv|yaml|x-sh|sql|graphql|markdown)\b/.test(type);
const typeOf = (headers: Record<string, string | string[] | undefined>) => String(headers['content-type'] ?? 'application/octet-stream').split(';')[0]!.trim();

/** Sends notifications/progress while bytes flow, when the client asked for progress. */
function progressCounter(extra: ToolExtra, total: number): Transform {
  const token = extra._meta?.progressToken;
  let done = 0;
  let last = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, next) {
      done += chunk.length;
      const now = Date.now();
      if (token !== undefined && (now - last > 200 || done === total)) {
        last = now;
        const sent = extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: done, total } }).catch(() => undefined);
        // the stream ends only once the last one is out: the client drops progress that arrives after the result
        if (done === total) return void sent.then(() => next(null, chunk));
      }
      next(null, chunk);
    },
  });
}

async function readCapped(body: Readable, cap: number): Promise<{ bytes: Buffer; more: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk as Buffer);
    size += (chunk as Buffer).length;
    if (size > cap) {
      body.destroy();
      return { bytes: Buffer.concat(chunks).subarray(0, cap), more: true };
    }
  }
  return { bytes: Buffer.concat(chunks), more: false };
}

/** Writes beside the target and renames, so a failed or cancelled download leaves no half file. */
async function saveTo(path: string, body: Readable, progress: Transform): Promise<number> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.part`);
  let bytes = 0;
  try {
    await pipeline(body, progress, new Transform({ transform: (c: Buffer, _e, n) => ((bytes += c.length), n(null, c)) }), createWriteStream(temp, { flags: 'wx' }));
    await rename(temp, path);
    return bytes;
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

export const listBuckets = defineTool(
  {
    name: 'list-buckets',
    group: 'storage',
    description: 'List storage buckets.',
    input: {},
    output: { buckets: z.array(object) },
    annotations: READ,
  },
  async (ctx, _args, extra) => ok({ buckets: await ctx.client().listBuckets(extra.signal) }),
);

export const createBucket = defineTool(
  {
    name: 'create-bucket',
    group: 'storage',
    description: 'Create a storage bucket.',
    input: { bucketName: bucket, isPublic: z.boolean().optional().describe('Anyone with the URL can read; default false') },
    output: { bucket: object },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  },
  // private unless asked: safer than InsForge's own default of public
  async (ctx, args, extra) => ok({ bucket: await ctx.client().createBucket(args.bucketName, args.isPublic ?? false, extra.signal) }),
);

export const deleteBucket = defineTool(
  {
    name: 'delete-bucket',
    group: 'storage',
    description: 'Delete a bucket and every file in it.',
    input: { bucketName: bucket, confirm: confirmArg },
    output: { deleted: z.boolean() },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    destroys: ({ bucketName }) => `delete the bucket "${bucketName}" and all its files`,
  },
  async (ctx, args, extra) => {
    await ctx.client().deleteBucket(args.bucketName, extra.signal);
    return ok({ deleted: true });
  },
);

export const listFiles = defineTool(
  {
    name: 'list-files',
    group: 'storage',
    description: 'List files in a bucket.',
    input: { bucket, prefix: z.string().max(1024).optional().describe('Key prefix'), limit: z.number().int().min(1).max(1000).optional().describe('Default 100'), offset: z.number().int().min(0).optional() },
    output: { files: z.array(object), total: z.number().optional(), nextOffset: z.number().optional() },
    annotations: READ,
  },
  async (ctx, args, extra) => {
    const res = await ctx.client().listFiles(args.bucket, args, extra.signal);
    const offset = args.offset ?? 0;
    const total = res.pagination?.total;
    const next = total !== undefined && offset + res.data.length < total ? offset + res.data.length : undefined;
    return ok({ files: res.data, ...(total !== undefined ? { total } : {}), ...(next !== undefined ? { nextOffset: next } : {}) }, { untrusted: true });
  },
);

export const uploadFile = defineTool(
  {
    name: 'upload-file',
    group: 'storage',
    description: 'Upload from one of filePath, base64 or text; returns its url.',
    input: {
      bucket,
      key,
      filePath: z.string().min(1).optional().describe('Local file, streamed (stdio only)'),
      base64: z.string().refine(isBase64, 'not valid base64 (A-Z a-z 0-9 + / or - _, = padding); send text as text').optional(),
      text: z.string().optional(),
      contentType: z.string().max(255).optional().describe('Default: from the key'),
    },
    output: { file: object },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  },
  async (ctx, args, extra) => {
    const given = [args.filePath, args.base64, args.text].filter((v) => v !== undefined).length;
    if (given !== 1) throw new BackendError(400, 'INVALID_INPUT', 'Give exactly one of filePath, base64 or text', 'Pick the one source of the file content.');
    let source: Readable;
    let size: number;
    if (args.filePath !== undefined) {
      const file = await existingFile(ctx, 'filePath', args.filePath, 'Send the content as text or base64 instead.');
      source = createReadStream(file.path, { highWaterMark: 256 * 1024 });
      size = file.size;
    } else {
      const bytes = args.base64 !== undefined ? Buffer.from(args.base64, 'base64') : Buffer.from(args.text!, 'utf8');
      source = Readable.from([bytes]);
      size = bytes.length;
    }
    // mime's table is loaded on first use: most sessions never upload
    const contentType = args.contentType ?? (await import('mime')).default.getType(args.key) ?? (args.text !== undefined ? 'text/plain' : 'application/octet-stream');
    const counted = progressCounter(extra, size);
    // a read error or a cancel ends the counted stream too, which aborts the upload
    void pipeline(source, counted, { signal: extra.signal }).catch(() => undefined);
    const file = await ctx.client().uploadFile(args.bucket, args.key, { stream: counted, size, contentType }, extra.signal);
    return ok({ file });
  },
);

export const downloadFile = defineTool(
  {
    name: 'download-file',
    group: 'storage',
    description: 'Read a file: text as text, images as images.',
    input: {
      bucket,
      key,
      savePath: z.string().min(1).optional().describe('Stream to this local path instead (stdio only)'),
      offset: z.number().int().min(0).optional().describe('Start byte, to page through large text'),
    },
    output: { file: object },
    annotations: READ,
  },
  async (ctx, args, extra): Promise<CallToolResult> => {
    if (args.savePath !== undefined) assertLocalFiles(ctx, 'savePath', 'Leave savePath out to get the content in the result.');
    const offset = args.offset ?? 0;
    const range = args.savePath === undefined && offset > 0 ? `bytes=${offset}-` : undefined;
    const res = await ctx.client().downloadFile(args.bucket, args.key, { range, signal: extra.signal });
    const mimeType = typeOf(res.headers);
    const size = Number(res.headers['content-length'] ?? NaN);
    const meta = { bucket: args.bucket, key: args.key, mimeType, ...(Number.isFinite(size) ? { size: offset + size } : {}) };

    if (args.savePath !== undefined) {
      const path = resolve(args.savePath);
      const bytes = await saveTo(path, res.body, progressCounter(extra, size));
      return ok({ file: { ...meta, size: bytes, savedTo: path } });
    }
    if (isText(mimeType)) {
      const { bytes, more } = await readCapped(res.body, TEXT_CAP);
      // do not cut a UTF-8 character in two
      let end = bytes.length;
      if (more) while (end > 0 && (bytes[end - 1]! & 0xc0) === 0x80) end--;
      if (more && end > 0 && bytes[end - 1]! >= 0xc0) end--;
      const text = bytes.subarray(0, end).toString('utf8');
      const file = { ...meta, truncated: more, ...(more ? { nextOffset: offset + end } : {}) };
      return { content: [{ type: 'text', text: wrapUntrusted(JSON.stringify({ file, text })) }], structuredContent: { file, text } };
    }
    const cap = mimeType.startsWith('image/') ? IMAGE_CAP : BINARY_CAP;
    const { bytes, more } = await readCapped(res.body, cap);
    if (more) {
      return ok({ file: { ...meta, truncated: true, note: `Larger than ${cap} bytes: download it with savePath (stdio), or fetch it from its URL.` } });
    }
    const file = { ...meta, size: offset + bytes.length };
    const data = bytes.toString('base64');
    const block = mimeType.startsWith('image/')
      ? { type: 'image' as const, data, mimeType }
      : { type: 'resource' as const, resource: { uri: `insforge://storage/${encodeURIComponent(args.bucket)}/${encodeURIComponent(args.key)}`, mimeType, blob: data } };
    return { content: [{ type: 'text', text: JSON.stringify({ file }) }, block], structuredContent: { file } };
  },
);

export const getFileUrl = defineTool(
  {
    name: 'get-file-url',
    group: 'storage',
    description: 'A link to a file: public bucket, its URL; private, a URL signed to work without keys until it expires.',
    input: { bucket, key, expiresIn: z.number().int().min(1).max(604800).optional().describe('Seconds a signed URL works; default 3600') },
    output: { url: z.string(), expiresAt: z.string().nullable(), signed: z.boolean(), note: z.string().optional() },
    annotations: READ,
  },
  async (ctx, args, extra) => {
    const link = await ctx.client().getFileUrl(args.bucket, args.key, args.expiresIn, extra.signal);
    // InsForge with local disk storage hands out its plain URL even for a private bucket
    const note = link.signed ? undefined : 'Not signed: this URL works without keys only if the bucket is public.';
    return ok({ ...link, ...(note ? { note } : {}) });
  },
);

export const deleteFile = defineTool(
  {
    name: 'delete-file',
    group: 'storage',
    description: 'Delete one file.',
    input: { bucket, key, confirm: confirmArg },
    output: { deleted: z.boolean() },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    destroys: ({ bucket, key }) => `delete the file "${key}" of the bucket "${bucket}"`,
  },
  async (ctx, args, extra) => {
    await ctx.client().deleteFile(args.bucket, args.key, extra.signal);
    return ok({ deleted: true });
  },
);

export const storageTools = [listBuckets, createBucket, deleteBucket, listFiles, uploadFile, downloadFile, getFileUrl, deleteFile];

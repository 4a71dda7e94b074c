import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, isPgError } from '../errors.js';
import { requireAdmin, requireCaller, type Caller } from '../caller.js';
import type { BackendContext } from '../context.js';
import type { QueryRunner } from '../db/types.js';
import { attachmentDisposition, chooseMimeType, inlineContentType, notModified, requestedRange, STORAGE_RESPONSE_HEADERS } from './http.js';
import { checkBucketName, checkKey, generateKey } from './keys.js';
import { ObjectStore, OBJECT_COLUMNS, type DeleteOutcome, type ObjectRow } from './objects.js';
import { openStorageDisk } from './recovery.js';
import { receiveUpload, tooLarge } from './upload.js';
import { SIGNED_URL_DEFAULT_SECONDS, SIGNED_URL_MAX_SECONDS, signObject, verifySignedQuery } from './signed-urls.js';

export interface StorageOptions {
  /** Folder for object bytes, `<dataDir>/storage`. */
  dir: string;
  maxUploadBytes: number;
}

export const DEFAULT_MAX_UPLOAD_BYTES = 50 * 1024 * 1024;
/** Room for the multipart framing and small fields on top of the file in a Content-Length. */
const FORM_OVERHEAD_BYTES = 1024 * 1024;

/** Who reads a public bucket without sending any key: the database sees an anon request. */
const PUBLIC_READER: Caller = { role: 'anon', claims: { role: 'anon' }, rateKey: 'anon' };
/**
 * Who reads through a valid signed URL: whoever minted it was allowed to read this object then, and
 * the signature names exactly this bucket and key, so the read itself may pass RLS.
 */
const SIGNED_READER: Caller = { role: 'project_admin', claims: { role: 'project_admin' }, rateKey: 'signed-url' };

interface BucketRow {
  name: string;
  public: boolean;
  created_at: Date | string;
}
interface BucketAccess {
  public: boolean;
  /** May the caller add objects (storage.can_insert, which the insert policy also uses)? */
  writable: boolean;
}
type BucketParams = { Params: { bucket: string } };

const bucketNotFound = (bucket: string) =>
  new ApiError(404, 'STORAGE_NOT_FOUND', `Bucket "${bucket}" not found`, 'List buckets with GET /api/storage/buckets, or create it with POST /api/storage/buckets (admin key).');
const objectNotFound = (bucket: string, key: string) =>
  new ApiError(404, 'STORAGE_NOT_FOUND', `Object "${key}" not found in bucket "${bucket}"`, `List the bucket with GET /api/storage/buckets/${bucket}/objects?prefix=…`);
const privateBucket = (bucket: string) =>
  new ApiError(403, 'FORBIDDEN', `Bucket "${bucket}" is private: the anon key cannot use it`, `Use a signed-in user's access token or the admin API key, or make the bucket public (PATCH /api/storage/buckets/${bucket} {"isPublic": true}, admin key).`);
const notYours = (bucket: string, key: string, action: string) =>
  new ApiError(403, 'FORBIDDEN', `Not allowed to ${action} "${key}" in bucket "${bucket}"`, 'Users may replace or delete only objects they uploaded, and the anon key may only add new objects to public buckets. The admin API key may do anything.');
const invalidInput = (message: string, nextActions: string) => new ApiError(400, 'STORAGE_INVALID_PARAMETER', message, nextActions);

const iso = (t: Date | string) => new Date(t).toISOString();
const single = (v: unknown) => (Array.isArray(v) ? v[0] : v) as string | undefined;

function intParam(raw: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw invalidInput(`${name} must be an integer from ${min} to ${max}`, `Send e.g. ?${name}=${fallback}.`);
  return n;
}

function booleanField(value: unknown, name: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw invalidInput(`${name} must be true or false`, `Send {"${name}": true} or {"${name}": false}.`);
  return value;
}

/**
 * The key as sent after `…/{bucket}/objects/` (or another `before` part), up to `after`, percent-decoded
 * once: `a%2Fb` and `a/b` name the same key. Read from the raw URL because Fastify's wildcard drops
 * a trailing slash, which would turn the invalid key `a/` into `a`.
 */
function keyInUrl(req: FastifyRequest, before = '/objects/', after = ''): string {
  const path = req.url.split('?')[0]!;
  const bucketEnd = path.indexOf('/', '/api/storage/buckets/'.length);
  try {
    return checkKey(decodeURIComponent(path.slice(bucketEnd + before.length, path.length - after.length)));
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw invalidInput('Invalid object key: bad percent-encoding', 'Encode the key with encodeURIComponent.');
  }
}

const objectUrl = (req: FastifyRequest, bucket: string, key: string) => `${req.protocol}://${req.host}/api/storage/buckets/${bucket}/objects/${encodeURIComponent(key)}`;

const toObject = (req: FastifyRequest, row: ObjectRow) => ({
  bucket: row.bucket,
  key: row.key,
  size: Number(row.size),
  mimeType: row.mime_type,
  uploadedAt: iso(row.updated_at),
  url: objectUrl(req, row.bucket, row.key),
});

async function bucketAccess(tx: QueryRunner, bucket: string): Promise<BucketAccess> {
  const { rows } = await tx.query<BucketAccess>('SELECT public, storage.can_insert(name) AS writable FROM storage.buckets WHERE name = $1', [bucket]);
  if (!rows[0]) throw bucketNotFound(bucket);
  return rows[0];
}

/** A private bucket is closed to callers with no key (401) and to the anon key (403). */
function refusePrivate(bucket: string, access: BucketAccess, caller: Caller | undefined): void {
  if (access.public) return;
  if (requireCaller(caller).role === 'anon') throw privateBucket(bucket);
}

export function registerStorageRoutes(app: FastifyInstance, ctx: BackendContext, opts: StorageOptions): void {
  // set when the storage scope starts (after the start-up clean-up), before any route can run
  let store!: ObjectStore;

  // every answer under /api/storage, errors and unknown routes included
  app.addHook('onSend', async (req, reply) => {
    if (req.url.startsWith('/api/storage/')) reply.headers(STORAGE_RESPONSE_HEADERS);
  });

  /** POST (key from the form's `path`, else generated; 201) and PUT (key from the URL; 200). */
  async function upload(req: FastifyRequest<BucketParams>, reply: FastifyReply, keyFromUrl: string | undefined, status: number) {
    const caller = requireCaller(req.caller);
    const bucket = checkBucketName(req.params.bucket);
    if (Number(req.headers['content-length']) > opts.maxUploadBytes + FORM_OVERHEAD_BYTES) throw tooLarge(opts.maxUploadBytes);
    // refused before a byte of the body is read
    const access = await ctx.runAs(caller, (tx) => bucketAccess(tx, bucket));
    if (!access.writable) throw privateBucket(bucket);

    const received = await receiveUpload(req, store.disk, opts.maxUploadBytes);
    const key = keyFromUrl ?? received.path ?? generateKey(received.filename);
    const mimeType = chooseMimeType(received.declaredType, key, received.filename);
    const owner = typeof caller.claims.sub === 'string' ? caller.claims.sub : null;
    try {
      const row = await store.put(caller, { bucket, key, mimeType, owner }, received.temp);
      return reply.status(status).send(toObject(req, row));
    } catch (err) {
      if (isPgError(err) && err.code === '42501') throw notYours(bucket, key, 'replace');
      if (isPgError(err) && err.code === '23505') throw new ApiError(409, 'STORAGE_ALREADY_EXISTS', `An object whose key differs from "${key}" only in letter case exists`, 'Keys are unique regardless of case (files on case-insensitive disks would collide); choose another key.');
      throw err;
    } finally {
      await store.disk.discard(received.temp.path); // a no-op once it became a version file
    }
  }

  /** An object the caller may download: public buckets need no key, private ones a user or the admin. */
  async function readableObject(req: FastifyRequest, bucket: string, key: string, signed = false): Promise<ObjectRow> {
    const { access, object } = await ctx.runAs(signed ? SIGNED_READER : (req.caller ?? PUBLIC_READER), async (tx) => {
      const access = await bucketAccess(tx, bucket);
      const { rows } = await tx.query<ObjectRow>(`SELECT ${OBJECT_COLUMNS} FROM storage.objects WHERE bucket = $1 AND key = $2`, [bucket, key]);
      return { access, object: rows[0] };
    });
    if (!object) {
      if (!signed) refusePrivate(bucket, access, req.caller);
      throw objectNotFound(bucket, key);
    }
    return object;
  }

  /** GET and HEAD: public buckets need no key; conditional and range requests as RFC 9110. */
  async function download(req: FastifyRequest<BucketParams>, reply: FastifyReply) {
    const bucket = checkBucketName(req.params.bucket);
    const key = keyInUrl(req);
    const signed = verifySignedQuery(ctx.keys.urlSigningKey, bucket, key, req.query as Record<string, unknown>) === true;
    const opened = await store.open(bucket, () => readableObject(req, bucket, key, signed));
    if (!opened) throw objectNotFound(bucket, key);
    const { row: object, file } = opened;
    let streaming = false;
    try {
      const { size } = await file.stat();
      const etag = `"${object.etag}"`;
      const modified = new Date(object.updated_at);
      reply.header('ETag', etag).header('Last-Modified', modified.toUTCString()).header('Cache-Control', 'no-cache').header('Accept-Ranges', 'bytes');
      if (notModified(req.headers, etag, modified)) return reply.status(304).send();

      const range = requestedRange(req.headers, size, etag, modified);
      if (range === 'unsatisfiable') {
        reply.header('Content-Range', `bytes */${size}`);
        throw new ApiError(416, 'STORAGE_INVALID_PARAMETER', `Range not satisfiable: the object has ${size} bytes`, 'Ask for a range inside the object, e.g. Range: bytes=0-1023.');
      }
      // stored as given, but rendered by a browser only when it is a passive type (stored XSS)
      const inline = inlineContentType(object.mime_type);
      reply.header('Content-Type', inline ?? object.mime_type);
      if (!inline) reply.header('Content-Disposition', attachmentDisposition(key));
      const { start, end } = range ?? { start: 0, end: size - 1 };
      if (range) reply.status(206).header('Content-Range', `bytes ${start}-${end}/${size}`);
      reply.header('Content-Length', String(end - start + 1));
      if (req.method === 'HEAD' || end < start) return reply.send();
      streaming = true; // the stream closes the file when it ends, fails or is cut off
      return reply.send(file.createReadStream({ start, end }));
    } finally {
      if (!streaming) await file.close();
    }
  }

  void app.register(async (scope) => {
    store = new ObjectStore(ctx, await openStorageDisk(ctx, opts.dir));
    // multipart only here: other routes keep refusing multipart bodies
    await scope.register(multipart);

    scope.get('/api/storage/buckets', async (req) => {
      const caller = requireAdmin(req.caller);
      const { rows } = await ctx.runAs(caller, (tx) => tx.query<BucketRow>('SELECT name, public, created_at FROM storage.buckets ORDER BY name'));
      return rows.map((b) => ({ name: b.name, public: b.public, createdAt: iso(b.created_at) }));
    });

    scope.post('/api/storage/buckets', async (req, reply) => {
      const caller = requireAdmin(req.caller);
      const body = (req.body ?? {}) as { bucketName?: unknown; isPublic?: unknown };
      const bucket = checkBucketName(body.bucketName);
      const isPublic = booleanField(body.isPublic, 'isPublic') ?? true;
      try {
        await ctx.runAs(caller, async (tx) => {
          await tx.query('INSERT INTO storage.buckets (name, public) VALUES ($1, $2)', [bucket, isPublic]);
          await store.disk.bucketFolder(bucket); // in the transaction: a folder that cannot be made rolls the row back
        });
      } catch (err) {
        if (isPgError(err) && err.code === '23505') throw new ApiError(409, 'STORAGE_ALREADY_EXISTS', `Bucket "${bucket}" already exists`, 'Use the existing bucket, or choose another name (names are unique regardless of case).');
        throw err;
      }
      return reply.status(201).send({
        message: 'Bucket created successfully',
        bucketName: bucket,
        isPublic,
        nextActions: `Upload files with POST /api/storage/buckets/${bucket}/objects (multipart: "path" then "file").`,
      });
    });

    scope.patch('/api/storage/buckets/:bucket', async (req: FastifyRequest<BucketParams>) => {
      const caller = requireAdmin(req.caller);
      const bucket = checkBucketName(req.params.bucket);
      const isPublic = booleanField((req.body as { isPublic?: unknown } | undefined)?.isPublic, 'isPublic');
      if (isPublic === undefined) throw invalidInput('isPublic: Required', 'Send {"isPublic": true} or {"isPublic": false}.');
      const { rows } = await ctx.runAs(caller, (tx) => tx.query('UPDATE storage.buckets SET public = $2, updated_at = now() WHERE name = $1 RETURNING name', [bucket, isPublic]));
      if (!rows.length) throw bucketNotFound(bucket);
      return { message: 'Bucket visibility updated', bucket, isPublic, nextActions: isPublic ? 'Its objects can now be downloaded without a key.' : 'Its objects now need a user token or the admin key.' };
    });

    scope.delete('/api/storage/buckets/:bucket', async (req: FastifyRequest<BucketParams>) => {
      const caller = requireAdmin(req.caller);
      const bucket = checkBucketName(req.params.bucket);
      if (!(await store.deleteBucket(caller, bucket))) throw bucketNotFound(bucket);
      return { message: 'Bucket deleted successfully', nextActions: 'Its objects were deleted with it.' };
    });

    scope.get('/api/storage/buckets/:bucket/objects', async (req: FastifyRequest<BucketParams>) => {
      const caller = requireCaller(req.caller);
      const bucket = checkBucketName(req.params.bucket);
      const query = req.query as Record<string, unknown>;
      const prefix = single(query.prefix) ?? '';
      const search = single(query.search) || null;
      const limit = intParam(single(query.limit), 'limit', 100, 1, 1000);
      const offset = intParam(single(query.offset), 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
      const where = 'bucket = $1 AND starts_with(key, $2) AND ($3::text IS NULL OR strpos(lower(key), lower($3)) > 0)';
      const { rows, total } = await ctx.runAs(caller, async (tx) => {
        refusePrivate(bucket, await bucketAccess(tx, bucket), caller);
        const page = await tx.query<ObjectRow>(`SELECT ${OBJECT_COLUMNS} FROM storage.objects WHERE ${where} ORDER BY key COLLATE "C" LIMIT $4 OFFSET $5`, [bucket, prefix, search, limit, offset]);
        const count = await tx.query<{ n: number | string }>(`SELECT count(*) AS n FROM storage.objects WHERE ${where}`, [bucket, prefix, search]);
        return { rows: page.rows, total: Number(count.rows[0]?.n ?? 0) };
      });
      return { data: rows.map((r) => toObject(req, r)), pagination: { offset, limit, total } };
    });

    scope.post('/api/storage/buckets/:bucket/objects', async (req: FastifyRequest<BucketParams>, reply) => upload(req, reply, undefined, 201));
    scope.put('/api/storage/buckets/:bucket/objects/*', async (req: FastifyRequest<BucketParams>, reply) => upload(req, reply, keyInUrl(req), 200));
    // HEAD has its own route: the automatic one would read the whole file to discard it
    scope.get('/api/storage/buckets/:bucket/objects/*', { exposeHeadRoute: false }, download);
    scope.head('/api/storage/buckets/:bucket/objects/*', download);

    // InsForge v2 clients (the SDK's upload) ask first how to upload: here always straight to PUT …/objects/{key}.
    scope.post('/api/storage/buckets/:bucket/upload-strategy', async (req: FastifyRequest<BucketParams>) => {
      const caller = requireCaller(req.caller);
      const bucket = checkBucketName(req.params.bucket);
      const body = (req.body ?? {}) as { filename?: unknown; size?: unknown };
      const key = checkKey(body.filename);
      if (typeof body.size === 'number' && body.size > opts.maxUploadBytes) throw tooLarge(opts.maxUploadBytes);
      const access = await ctx.runAs(caller, (tx) => bucketAccess(tx, bucket));
      if (!access.writable) throw privateBucket(bucket);
      return { method: 'direct', uploadUrl: objectUrl(req, bucket, key), key, confirmRequired: false };
    });

    // …and how to download: a public bucket's plain URL; for a private one a URL signed for this
    // object that needs no credentials until it expires (createSignedUrl in the SDK, get-file-url).
    const downloadStrategy = async (req: FastifyRequest<BucketParams>, reply: FastifyReply, key: string) => {
      const bucket = checkBucketName(req.params.bucket);
      const asked = (req.query as Record<string, unknown>).expiresIn ?? (req.body as { expiresIn?: unknown } | undefined)?.expiresIn;
      const expiresIn = intParam(asked === undefined ? undefined : String(single(asked)), 'expiresIn', SIGNED_URL_DEFAULT_SECONDS, 1, SIGNED_URL_MAX_SECONDS);
      await readableObject(req, bucket, key);
      const { public: isPublic } = await ctx.runAs(SIGNED_READER, (tx) => bucketAccess(tx, bucket));
      reply.header('Cache-Control', 'no-store');
      if (isPublic) return { method: 'direct', url: objectUrl(req, bucket, key), expiresAt: null };
      const signed = signObject(ctx.keys.urlSigningKey, bucket, key, expiresIn);
      return { method: 'presigned', url: `${objectUrl(req, bucket, key)}?${signed.query}`, expiresAt: signed.expiresAt.toISOString() };
    };
    scope.get('/api/storage/buckets/:bucket/download-strategy/objects/*', async (req: FastifyRequest<BucketParams>, reply) => downloadStrategy(req, reply, keyInUrl(req, '/download-strategy/objects/')));
    // the older form, POST …/objects/{key}/download-strategy, which the SDK falls back to
    scope.post('/api/storage/buckets/:bucket/objects/*', async (req: FastifyRequest<BucketParams>, reply) => {
      const suffix = '/download-strategy';
      if (!req.url.split('?')[0]!.endsWith(suffix)) throw new ApiError(404, 'NOT_FOUND', `Endpoint POST ${req.url.split('?')[0]} not found`, 'Upload to a chosen key with PUT …/objects/{key}, or let the key be generated with POST …/objects.');
      return downloadStrategy(req, reply, keyInUrl(req, '/objects/', suffix));
    });

    scope.delete('/api/storage/buckets/:bucket/objects/*', async (req: FastifyRequest<BucketParams>) => {
      const caller = requireCaller(req.caller);
      const bucket = checkBucketName(req.params.bucket);
      const key = keyInUrl(req);
      refusePrivate(bucket, await ctx.runAs(caller, (tx) => bucketAccess(tx, bucket)), caller);
      const outcome = await store.delete(caller, bucket, key);
      if (outcome === 'notFound') throw objectNotFound(bucket, key);
      if (outcome === 'forbidden') throw notYours(bucket, key, 'delete');
      return { message: 'Object deleted successfully' };
    });

    scope.delete('/api/storage/buckets/:bucket/objects', async (req: FastifyRequest<BucketParams>) => {
      const caller = requireCaller(req.caller);
      const bucket = checkBucketName(req.params.bucket);
      const keys = (req.body as { keys?: unknown } | undefined)?.keys;
      if (!Array.isArray(keys) || keys.length < 1 || keys.length > 1000) throw invalidInput('keys: an array of 1 to 1000 keys is required', 'Send {"keys": ["a.txt", "folder/b.png"]}.');
      keys.forEach(checkKey);
      refusePrivate(bucket, await ctx.runAs(caller, (tx) => bucketAccess(tx, bucket)), caller);
      const results: { key: string; status: DeleteOutcome }[] = [];
      for (const key of keys as string[]) results.push({ key, status: await store.delete(caller, bucket, key) });
      return { results };
    });
  });
}

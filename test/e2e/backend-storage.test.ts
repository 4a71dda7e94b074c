import { request as httpRequest } from 'node:http';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS, sql, startTestBackend, TEST_ANON_KEY, TEST_API_KEY, type TestBackend } from '../support/backend.js';
import { TRAVERSAL_KEYS } from '../support/traversal-keys.js';

type Who = 'admin' | 'anon' | 'none' | { token: string };

const authHeaders = (who: Who): Record<string, string> =>
  who === 'admin' ? { authorization: `Bearer ${TEST_API_KEY}` } : who === 'anon' ? { apikey: TEST_ANON_KEY } : who === 'none' ? {} : { authorization: `Bearer ${who.token}` };

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** A request with the path sent exactly as given (fetch would resolve `..` and `%2e%2e` itself). */
function raw(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: Buffer): Promise<Res> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, method, path, headers: { ...headers, ...(body ? { 'content-length': String(body.length) } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        let json: unknown;
        try {
          json = JSON.parse(buf.toString());
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: buf, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A multipart body built by hand, for requests sent through `raw`. */
function multipart(parts: { name: string; value: string | Buffer; filename?: string; type?: string }[]) {
  const boundary = `----insforge${Math.random().toString(16).slice(2)}`;
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ''}`;
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${p.type ? `Content-Type: ${p.type}\r\n` : ''}\r\n`), Buffer.from(p.value), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

async function filesUnder(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1)).sort();
}

/** `<data dir>/storage/objects.<instance>`: where this backend's database keeps its version files. */
async function objectsFolder(backend: TestBackend): Promise<string> {
  const { rows } = await sql(backend, 'select id from storage.instance');
  return join(backend.dataDir, 'storage', `objects.${rows[0]!.id as string}`);
}

async function eventually(check: () => Promise<boolean>, ms = 5000) {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(45674, 7)]);

describe.each(DB_KINDS)('storage on %s', (kind) => {
  let b: TestBackend;
  let storageDir: string;
  /** `<storage>/objects.<instance>`: a folder per bucket, a file per object version. */
  let objectsDir: string;
  let alice: string;
  let bob: string;

  const api = async (method: string, path: string, who: Who = 'admin', init: { json?: unknown; headers?: Record<string, string>; form?: FormData } = {}): Promise<Res> => {
    const headers: Record<string, string> = { ...authHeaders(who), ...init.headers };
    let body: string | FormData | undefined = init.form;
    if (init.json !== undefined) {
      body = JSON.stringify(init.json);
      headers['content-type'] = 'application/json';
    }
    const res = await fetch(`${b.url}${path}`, { method, headers, body });
    const buf = Buffer.from(await res.arrayBuffer());
    let json: unknown;
    try {
      json = JSON.parse(buf.toString());
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: Object.fromEntries(res.headers), body: buf, json };
  };

  const form = (file: { content: Buffer | string; name?: string; type?: string }, path?: string, pathAfterFile = false) => {
    const fd = new FormData();
    if (path !== undefined && !pathAfterFile) fd.append('path', path);
    fd.append('file', new Blob([file.content], file.type !== undefined ? { type: file.type } : {}), file.name ?? 'upload.bin');
    if (path !== undefined && pathAfterFile) fd.append('path', path);
    return fd;
  };

  /** The version file holding an object's bytes, as its row names it. */
  const versionFile = async (bucket: string, key: string) => {
    const { rows } = await sql(b, 'select file from storage.objects where bucket = $1 and key = $2', [bucket, key]);
    expect(rows[0]?.file, `${bucket}/${key} has a version file`).toMatch(/^[0-9a-f-]{36}$/);
    return join(objectsDir, bucket, rows[0]!.file as string);
  };

  const objectRows = async (bucket: string) =>
    (await sql(b, 'select key, size::int as size, mime_type, owner from storage.objects where bucket = $1 order by key', [bucket])).rows as { key: string; size: number; mime_type: string; owner: string | null }[];

  const signUp = async (email: string) => {
    const res = await api('POST', '/api/auth/signup', 'none', { json: { email, password: 'secure_password123' } });
    expect(res.status).toBe(200);
    return res.json.accessToken as string;
  };

  beforeAll(async () => {
    b = await startTestBackend(kind);
    storageDir = join(b.dataDir, 'storage');
    objectsDir = await objectsFolder(b);
    for (const [bucketName, isPublic] of [
      ['images', true],
      ['docs', false],
    ] as const) {
      expect((await api('POST', '/api/storage/buckets', 'admin', { json: { bucketName, isPublic } })).status).toBe(201);
    }
    alice = await signUp(`alice-${kind}@example.com`);
    bob = await signUp(`bob-${kind}@example.com`);
  });
  afterAll(async () => {
    await b?.close();
  });

  describe('buckets (admin)', () => {
    it('create: 201 v2 shape, isPublic defaults to true; duplicate (any case) 409; bad name 400', async () => {
      const res = await api('POST', '/api/storage/buckets', 'admin', { json: { bucketName: 'tmp-bucket' } });
      expect(res.status).toBe(201);
      expect(res.json).toEqual({ message: 'Bucket created successfully', bucketName: 'tmp-bucket', isPublic: true, nextActions: expect.any(String) });
      expect(existsSync(join(objectsDir, 'tmp-bucket'))).toBe(true);
      for (const bucketName of ['tmp-bucket', 'TMP-Bucket']) {
        const dup = await api('POST', '/api/storage/buckets', 'admin', { json: { bucketName } });
        expect(dup.status).toBe(409);
        expect(dup.json.error).toBe('STORAGE_ALREADY_EXISTS');
      }
      for (const bucketName of ['a/b', '..', '.tmp', 'x'.repeat(64), '', 7]) {
        const bad = await api('POST', '/api/storage/buckets', 'admin', { json: { bucketName } });
        expect(bad.status).toBe(400);
        expect(bad.json.error).toBe('STORAGE_INVALID_PARAMETER');
      }
      expect((await api('POST', '/api/storage/buckets', 'admin', { json: { bucketName: 'x1', isPublic: 'yes' } })).status).toBe(400);
    });

    it('list, change visibility, delete with its objects; admin only', async () => {
      const list = await api('GET', '/api/storage/buckets');
      expect(list.status).toBe(200);
      expect(list.json).toEqual(expect.arrayContaining([{ name: 'docs', public: false, createdAt: expect.any(String) }, { name: 'images', public: true, createdAt: expect.any(String) }]));

      await api('POST', '/api/storage/buckets', 'admin', { json: { bucketName: 'doomed', isPublic: false } });
      const patched = await api('PATCH', '/api/storage/buckets/doomed', 'admin', { json: { isPublic: true } });
      expect(patched.json).toMatchObject({ message: 'Bucket visibility updated', bucket: 'doomed', isPublic: true });
      expect((await api('PATCH', '/api/storage/buckets/nope', 'admin', { json: { isPublic: true } })).status).toBe(404);
      expect((await api('PATCH', '/api/storage/buckets/doomed', 'admin', { json: {} })).status).toBe(400);

      expect((await api('POST', '/api/storage/buckets/doomed/objects', 'admin', { form: form({ content: 'x' }, 'a/b.txt') })).status).toBe(201);
      const del = await api('DELETE', '/api/storage/buckets/doomed');
      expect(del.status).toBe(200);
      expect(del.json).toMatchObject({ message: 'Bucket deleted successfully' });
      expect(existsSync(join(objectsDir, 'doomed'))).toBe(false);
      expect(await objectRows('doomed')).toEqual([]);
      expect((await api('DELETE', '/api/storage/buckets/doomed')).status).toBe(404);

      for (const who of ['anon', 'none', { token: alice }] as Who[]) {
        expect((await api('GET', '/api/storage/buckets', who)).status).toBeGreaterThanOrEqual(401);
        expect((await api('POST', '/api/storage/buckets', who, { json: { bucketName: 'nope' } })).status).toBeGreaterThanOrEqual(401);
        expect((await api('DELETE', '/api/storage/buckets/images', who)).status).toBeGreaterThanOrEqual(401);
      }
    });
  });

  describe("the seed's curl examples", () => {
    it('upload with path + file, download by encoded and plain key, delete', async () => {
      const up = await api('POST', '/api/storage/buckets/images/objects', { token: alice }, { form: form({ content: JPEG, name: 'image.jpg', type: 'image/jpeg' }, 'user/123/avatar.jpg') });
      expect(up.status).toBe(201);
      expect(up.json).toEqual({
        bucket: 'images',
        key: 'user/123/avatar.jpg',
        size: 45678,
        mimeType: 'image/jpeg',
        uploadedAt: expect.any(String),
        url: `${b.url}/api/storage/buckets/images/objects/user%2F123%2Favatar.jpg`,
      });
      const version = await versionFile('images', 'user/123/avatar.jpg');
      expect(await readFile(version)).toEqual(JPEG);

      for (const path of ['user%2F123%2Favatar.jpg', 'user/123/avatar.jpg']) {
        const down = await api('GET', `/api/storage/buckets/images/objects/${path}`, { token: alice });
        expect(down.status).toBe(200);
        expect(down.body).toEqual(JPEG);
        expect(down.headers).toMatchObject({ 'content-type': 'image/jpeg', 'content-length': '45678', 'accept-ranges': 'bytes', 'x-content-type-options': 'nosniff' });
        expect(down.headers.etag).toMatch(/^"[0-9a-f]{32}"$/);
        expect(down.headers['last-modified']).toBeDefined();
      }
      expect((await fetch(up.json.url)).status).toBe(200); // the returned url works as it is

      const del = await api('DELETE', '/api/storage/buckets/images/objects/user/123/avatar.jpg', { token: alice });
      expect(del.status).toBe(200);
      expect(del.json).toEqual({ message: 'Object deleted successfully' });
      expect((await api('GET', '/api/storage/buckets/images/objects/user/123/avatar.jpg')).status).toBe(404);
      expect((await api('DELETE', '/api/storage/buckets/images/objects/user/123/avatar.jpg')).status).toBe(404);
      expect(existsSync(version)).toBe(false); // its bytes went with it
    });
  });

  describe('objects', () => {
    it('PUT creates (200) and replaces; metadata follows the content', async () => {
      const first = await api('PUT', '/api/storage/buckets/docs/objects/reports%2F2026%2Fq1.txt', 'admin', { form: form({ content: 'first', type: 'text/plain' }) });
      expect(first.status).toBe(200);
      expect(first.json).toMatchObject({ bucket: 'docs', key: 'reports/2026/q1.txt', size: 5, mimeType: 'text/plain' });
      const etag1 = (await api('HEAD', '/api/storage/buckets/docs/objects/reports/2026/q1.txt')).headers.etag;
      const second = await api('PUT', '/api/storage/buckets/docs/objects/reports/2026/q1.txt', 'admin', { form: form({ content: 'second version' }) });
      expect(second.json).toMatchObject({ key: 'reports/2026/q1.txt', size: 14, mimeType: 'text/plain' });
      const got = await api('GET', '/api/storage/buckets/docs/objects/reports/2026/q1.txt');
      expect(got.body.toString()).toBe('second version');
      expect(got.headers.etag).not.toBe(etag1);
      expect(await objectRows('docs')).toEqual([{ key: 'reports/2026/q1.txt', size: 14, mime_type: 'text/plain', owner: null }]);
    });

    it('POST without path generates a v2-style key; path may also follow the file', async () => {
      const gen = await api('POST', '/api/storage/buckets/images/objects', 'admin', { form: form({ content: 'png!', name: 'My Photo.png' }) });
      expect(gen.status).toBe(201);
      expect(gen.json.key).toMatch(/^My-Photo-\d{13}-[a-z0-9]{6}\.png$/);
      expect(gen.json.mimeType).toBe('image/png');
      const after = await api('POST', '/api/storage/buckets/images/objects', 'admin', { form: form({ content: 'late path' }, 'late/path.txt', true) });
      expect(after.status).toBe(201);
      expect(after.json).toMatchObject({ key: 'late/path.txt', size: 9, mimeType: 'text/plain' });
    });

    it('refuses bad forms: no file, a wrong field, a missing bucket', async () => {
      const noFile = new FormData();
      noFile.append('path', 'x.txt');
      expect((await api('POST', '/api/storage/buckets/images/objects', 'admin', { form: noFile })).json).toMatchObject({ statusCode: 400, message: 'file: Required' });
      const wrong = new FormData();
      wrong.append('upload', new Blob(['x']), 'x.txt');
      const res = await api('POST', '/api/storage/buckets/images/objects', 'admin', { form: wrong });
      expect(res.status).toBe(400);
      expect(res.json.message).toContain('Unexpected field');
      expect((await api('POST', '/api/storage/buckets/images/objects', 'admin', { json: { path: 'x' } })).status).toBe(400);
      expect((await api('POST', '/api/storage/buckets/nope/objects', 'admin', { form: form({ content: 'x' }, 'x.txt') })).json).toMatchObject({ statusCode: 404, error: 'STORAGE_NOT_FOUND' });
      expect(await filesUnder(join(storageDir, '.tmp'))).toEqual([]);
    });

    it('keys are names, not paths: `a` and `a/b` may both exist (as in S3); keys are unique regardless of case', async () => {
      await api('PUT', '/api/storage/buckets/docs/objects/clash', 'admin', { form: form({ content: 'file' }) });
      const under = await api('PUT', '/api/storage/buckets/docs/objects/clash/inner.txt', 'admin', { form: form({ content: 'inner' }) });
      expect(under.status).toBe(200);
      expect((await api('GET', '/api/storage/buckets/docs/objects/clash')).body.toString()).toBe('file');
      expect((await api('GET', '/api/storage/buckets/docs/objects/clash/inner.txt')).body.toString()).toBe('inner');
      const caseTwin = await api('PUT', '/api/storage/buckets/docs/objects/CLASH', 'admin', { form: form({ content: 'x' }) });
      expect(caseTwin.status).toBe(409);
      expect((await objectRows('docs')).map((r) => r.key)).not.toContain('CLASH');
      expect(await filesUnder(join(storageDir, '.tmp'))).toEqual([]);
    });

    it('lists with prefix, limit and offset', async () => {
      for (const key of ['list/a.txt', 'list/b.txt', 'list/sub/c.txt', 'listing.txt', 'other/d.txt']) {
        expect((await api('PUT', `/api/storage/buckets/docs/objects/${key}`, 'admin', { form: form({ content: key }) })).status).toBe(200);
      }
      const all = await api('GET', '/api/storage/buckets/docs/objects?prefix=list/');
      expect(all.status).toBe(200);
      expect(all.json.pagination).toEqual({ offset: 0, limit: 100, total: 3 });
      expect(all.json.data.map((o: { key: string }) => o.key)).toEqual(['list/a.txt', 'list/b.txt', 'list/sub/c.txt']);
      expect(all.json.data[0]).toEqual({ bucket: 'docs', key: 'list/a.txt', size: 10, mimeType: 'text/plain', uploadedAt: expect.any(String), url: `${b.url}/api/storage/buckets/docs/objects/list%2Fa.txt` });

      const page = await api('GET', '/api/storage/buckets/docs/objects?prefix=list&limit=2&offset=1');
      expect(page.json.pagination).toEqual({ offset: 1, limit: 2, total: 4 });
      expect(page.json.data.map((o: { key: string }) => o.key)).toEqual(['list/b.txt', 'list/sub/c.txt']);
      expect((await api('GET', '/api/storage/buckets/docs/objects?search=SUB')).json.data.map((o: { key: string }) => o.key)).toEqual(['list/sub/c.txt']);
      for (const q of ['limit=0', 'limit=1001', 'limit=x', 'offset=-1']) expect((await api('GET', `/api/storage/buckets/docs/objects?${q}`)).status).toBe(400);
      expect((await api('GET', '/api/storage/buckets/nope/objects')).status).toBe(404);
    });

    it('bulk delete reports each key', async () => {
      await api('PUT', '/api/storage/buckets/docs/objects/bulk/1.txt', 'admin', { form: form({ content: '1' }) });
      await api('PUT', '/api/storage/buckets/docs/objects/bulk/2.txt', 'admin', { form: form({ content: '2' }) });
      const res = await api('DELETE', '/api/storage/buckets/docs/objects', 'admin', { json: { keys: ['bulk/1.txt', 'bulk/2.txt', 'bulk/none.txt'] } });
      expect(res.status).toBe(200);
      expect(res.json).toEqual({
        results: [
          { key: 'bulk/1.txt', status: 'deleted' },
          { key: 'bulk/2.txt', status: 'deleted' },
          { key: 'bulk/none.txt', status: 'notFound' },
        ],
      });
      expect(await objectRows('docs')).not.toContainEqual(expect.objectContaining({ key: expect.stringMatching(/^bulk\//) }));
      expect((await api('DELETE', '/api/storage/buckets/docs/objects', 'admin', { json: { keys: [] } })).status).toBe(400);
      expect((await api('DELETE', '/api/storage/buckets/docs/objects', 'admin', { json: { keys: ['../x'] } })).status).toBe(400);
    });
  });

  describe('downloads: ranges, validators, HEAD, types', () => {
    const body = Buffer.from('0123456789abcdefghij');
    const path = '/api/storage/buckets/images/objects/range%2Fdata.bin';
    beforeAll(async () => {
      expect((await api('PUT', path, 'admin', { form: form({ content: body }) })).status).toBe(200);
    });

    it('Range → 206 with Content-Range; unsatisfiable → 416', async () => {
      const part = await api('GET', path, 'none', { headers: { range: 'bytes=5-9' } });
      expect(part.status).toBe(206);
      expect(part.body.toString()).toBe('56789');
      expect(part.headers).toMatchObject({ 'content-range': 'bytes 5-9/20', 'content-length': '5' });
      const suffix = await api('GET', path, 'none', { headers: { range: 'bytes=-3' } });
      expect(suffix.body.toString()).toBe('hij');
      const open = await api('GET', path, 'none', { headers: { range: 'bytes=18-' } });
      expect(open.body.toString()).toBe('ij');
      const bad = await api('GET', path, 'none', { headers: { range: 'bytes=20-' } });
      expect(bad.status).toBe(416);
      expect(bad.headers['content-range']).toBe('bytes */20');
    });

    it('If-None-Match → 304; If-Range with a stale tag → the whole object', async () => {
      const full = await api('GET', path, 'none');
      const etag = full.headers.etag as string;
      const cached = await api('GET', path, 'none', { headers: { 'if-none-match': etag } });
      expect(cached.status).toBe(304);
      expect(cached.body.length).toBe(0);
      expect(cached.headers.etag).toBe(etag);
      expect((await api('GET', path, 'none', { headers: { 'if-none-match': '"other"' } })).status).toBe(200);
      const stale = await api('GET', path, 'none', { headers: { range: 'bytes=0-1', 'if-range': '"other"' } });
      expect(stale.status).toBe(200);
      expect(stale.body).toEqual(body);
    });

    it('HEAD gives the headers without the body', async () => {
      const head = await raw(b.url, 'HEAD', path);
      expect(head.status).toBe(200);
      expect(head.body.length).toBe(0);
      expect(head.headers).toMatchObject({ 'content-length': '20', 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' });
      expect((await raw(b.url, 'HEAD', '/api/storage/buckets/images/objects/missing')).status).toBe(404);
    });

    it('an empty object downloads as 0 bytes', async () => {
      await api('PUT', '/api/storage/buckets/images/objects/empty.txt', 'admin', { form: form({ content: '' }) });
      const res = await api('GET', '/api/storage/buckets/images/objects/empty.txt', 'none');
      expect(res.status).toBe(200);
      expect(res.headers['content-length']).toBe('0');
      expect((await api('GET', '/api/storage/buckets/images/objects/empty.txt', 'none', { headers: { range: 'bytes=0-' } })).status).toBe(416);
    });

    it('HTML and SVG are stored as given but served as attachments with nosniff', async () => {
      for (const [key, type] of [
        ['page.html', 'text/html'],
        ['logo.svg', 'image/svg+xml'],
      ]) {
        const up = await api('PUT', `/api/storage/buckets/images/objects/${key}`, 'admin', { form: form({ content: '<script>alert(1)</script>', type }) });
        expect(up.json.mimeType).toBe(type);
        const res = await api('GET', `/api/storage/buckets/images/objects/${key}`, 'none');
        expect(res.headers['content-type']).toBe(type);
        expect(res.headers['content-disposition']).toBe(`attachment; filename="${key}"; filename*=UTF-8''${key}`);
        expect(res.headers['x-content-type-options']).toBe('nosniff');
      }
    });
  });

  describe('who may do what', () => {
    it('public buckets are readable with no key; private ones need one', async () => {
      await api('PUT', '/api/storage/buckets/images/objects/pub.txt', 'admin', { form: form({ content: 'public' }) });
      await api('PUT', '/api/storage/buckets/docs/objects/secret.txt', 'admin', { form: form({ content: 'secret' }) });
      const pub = await api('GET', '/api/storage/buckets/images/objects/pub.txt', 'none');
      expect(pub.status).toBe(200);
      expect(pub.body.toString()).toBe('public');
      expect((await api('GET', '/api/storage/buckets/images/objects/pub.txt', 'anon')).status).toBe(200);

      expect((await api('GET', '/api/storage/buckets/docs/objects/secret.txt', 'none')).status).toBe(401);
      const anon = await api('GET', '/api/storage/buckets/docs/objects/secret.txt', 'anon');
      expect(anon.status).toBe(403);
      expect(anon.json).toMatchObject({ error: 'FORBIDDEN', nextActions: expect.any(String) });
      expect((await api('GET', '/api/storage/buckets/docs/objects?prefix=', 'anon')).status).toBe(403);
      expect((await api('GET', '/api/storage/buckets/docs/objects/secret.txt', { token: alice })).status).toBe(404); // not hers
      expect((await api('GET', '/api/storage/buckets/docs/objects/secret.txt', 'admin')).body.toString()).toBe('secret');
      expect((await api('GET', '/api/storage/buckets/images/objects', 'none')).status).toBe(401); // listing needs a key
    });

    it('anon cannot write to a private bucket, and nothing is left behind', async () => {
      const before = await filesUnder(join(objectsDir, 'docs'));
      const res = await api('POST', '/api/storage/buckets/docs/objects', 'anon', { form: form({ content: 'intruder' }, 'anon.txt') });
      expect(res.status).toBe(403);
      expect(res.json).toMatchObject({ statusCode: 403, error: 'FORBIDDEN', nextActions: expect.any(String) });
      expect((await api('PUT', '/api/storage/buckets/docs/objects/anon.txt', 'anon', { form: form({ content: 'intruder' }) })).status).toBe(403);
      expect((await api('DELETE', '/api/storage/buckets/docs/objects/secret.txt', 'anon')).status).toBe(403);
      expect((await api('POST', '/api/storage/buckets/docs/objects', 'none', { form: form({ content: 'x' }, 'none.txt') })).status).toBe(401);
      expect((await objectRows('docs')).map((r) => r.key)).not.toContain('anon.txt');
      expect(await filesUnder(join(objectsDir, 'docs'))).toEqual(before);
      expect(await filesUnder(join(storageDir, '.tmp'))).toEqual([]);
    });

    it('anon may add to a public bucket, but not replace or delete', async () => {
      const add = await api('POST', '/api/storage/buckets/images/objects', 'anon', { form: form({ content: 'by anon' }, 'anon/note.txt') });
      expect(add.status).toBe(201);
      expect((await api('PUT', '/api/storage/buckets/images/objects/anon/note.txt', 'anon', { form: form({ content: 'changed' }) })).status).toBe(403);
      expect((await api('DELETE', '/api/storage/buckets/images/objects/anon/note.txt', 'anon')).status).toBe(403);
      expect((await api('GET', '/api/storage/buckets/images/objects/anon/note.txt', 'none')).body.toString()).toBe('by anon');
    });

    it('users own what they upload: others cannot read (private), replace or delete it', async () => {
      const up = await api('POST', '/api/storage/buckets/docs/objects', { token: alice }, { form: form({ content: "alice's" }, 'alice/diary.txt') });
      expect(up.status).toBe(201);
      const [row] = (await objectRows('docs')).filter((r) => r.key === 'alice/diary.txt');
      expect(row?.owner).toMatch(/^[0-9a-f-]{36}$/);

      expect((await api('GET', '/api/storage/buckets/docs/objects/alice/diary.txt', { token: alice })).body.toString()).toBe("alice's");
      expect((await api('GET', '/api/storage/buckets/docs/objects/alice/diary.txt', { token: bob })).status).toBe(404);
      expect((await api('GET', '/api/storage/buckets/docs/objects?prefix=alice/', { token: bob })).json.data).toEqual([]);
      expect((await api('GET', '/api/storage/buckets/docs/objects?prefix=alice/', { token: alice })).json.pagination.total).toBe(1);
      expect((await api('PUT', '/api/storage/buckets/docs/objects/alice/diary.txt', { token: bob }, { form: form({ content: "bob's" }) })).status).toBe(403);
      expect((await api('DELETE', '/api/storage/buckets/docs/objects/alice/diary.txt', { token: bob })).status).toBe(404);

      // in a public bucket others can read, still not change
      await api('PUT', '/api/storage/buckets/images/objects/alice/pic.txt', { token: alice }, { form: form({ content: 'pic' }) });
      expect((await api('GET', '/api/storage/buckets/images/objects/alice/pic.txt', { token: bob })).status).toBe(200);
      expect((await api('DELETE', '/api/storage/buckets/images/objects/alice/pic.txt', { token: bob })).status).toBe(403);
      expect((await api('PUT', '/api/storage/buckets/images/objects/alice/pic.txt', { token: alice }, { form: form({ content: 'pic v2' }) })).status).toBe(200);
      expect((await api('DELETE', '/api/storage/buckets/images/objects/alice/pic.txt', { token: alice })).status).toBe(200);
      expect((await api('GET', '/api/storage/buckets/docs/objects/alice/diary.txt', { token: alice })).body.toString()).toBe("alice's");
    });
  });

  describe('failed uploads leave nothing behind', () => {
    it('over the size limit → 413, whether announced by Content-Length or streamed', async () => {
      const small = await startTestBackend(kind, { backend: { maxUploadBytes: 1024 * 1024 } });
      try {
        const smallStorage = join(small.dataDir, 'storage');
        const admin = authHeaders('admin');
        expect((await small.api('/api/storage/buckets', { method: 'POST', json: { bucketName: 'up' } })).status).toBe(201);
        const big = Buffer.alloc(1024 * 1024 + 1, 1);

        // announced: refused before the body is read
        const fd = form({ content: Buffer.alloc(3 * 1024 * 1024) }, 'big.bin');
        const early = await fetch(`${small.url}/api/storage/buckets/up/objects`, { method: 'POST', headers: admin, body: fd });
        expect(early.status).toBe(413);
        expect(await early.json()).toEqual({ statusCode: 413, error: 'STORAGE_INVALID_PARAMETER', message: 'File too large. Maximum upload size is 1 MB.', nextActions: expect.any(String) });

        // streamed (chunked, no Content-Length): cut off at the limit
        const { body, contentType } = multipart([
          { name: 'path', value: 'big.bin' },
          { name: 'file', value: big, filename: 'big.bin' },
        ]);
        const streamed = await new Promise<number>((resolve, reject) => {
          const url = new URL(small.url);
          const req = httpRequest({ host: url.hostname, port: url.port, method: 'POST', path: '/api/storage/buckets/up/objects', headers: { ...admin, 'content-type': contentType, 'transfer-encoding': 'chunked' } }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          });
          req.on('error', reject);
          for (let i = 0; i < body.length; i += 64 * 1024) req.write(body.subarray(i, i + 64 * 1024));
          req.end();
        });
        expect(streamed).toBe(413);

        // exactly at the limit is fine
        const atLimit = multipart([
          { name: 'path', value: 'ok.bin' },
          { name: 'file', value: big.subarray(1), filename: 'ok.bin' },
        ]);
        expect((await raw(small.url, 'POST', '/api/storage/buckets/up/objects', { ...admin, 'content-type': atLimit.contentType }, atLimit.body)).status).toBe(201);

        const smallObjects = await objectsFolder(small);
        expect(await filesUnder(join(smallObjects, 'up'))).toHaveLength(1); // ok.bin's one version
        expect(await filesUnder(join(smallStorage, '.tmp'))).toEqual([]);
        const rows = await raw(small.url, 'GET', '/api/storage/buckets/up/objects', admin);
        expect(rows.json.data.map((o: { key: string }) => o.key)).toEqual(['ok.bin']);
      } finally {
        await small.close();
      }
    });

    it('an aborted upload (client gone mid-body) leaves no object, no row and no temp file', async () => {
      const { body, contentType } = multipart([
        { name: 'path', value: 'aborted.bin' },
        { name: 'file', value: Buffer.alloc(8 * 1024 * 1024, 3), filename: 'aborted.bin' },
      ]);
      const versionsBefore = await filesUnder(join(objectsDir, 'images'));
      const url = new URL(b.url);
      const req = httpRequest({ host: url.hostname, port: url.port, method: 'POST', path: '/api/storage/buckets/images/objects', headers: { ...authHeaders('admin'), 'content-type': contentType, 'content-length': String(body.length) } });
      req.on('error', () => undefined);
      req.write(body.subarray(0, 2 * 1024 * 1024));
      const tmp = join(storageDir, '.tmp');
      await eventually(async () => (await filesUnder(tmp)).length > 0); // the server is writing the temp file
      req.destroy();
      await eventually(async () => (await filesUnder(tmp)).length === 0);
      expect((await objectRows('images')).map((r) => r.key)).not.toContain('aborted.bin');
      expect(await filesUnder(join(objectsDir, 'images'))).toEqual(versionsBefore);
      // and the server is fine afterwards
      expect((await api('GET', '/api/storage/buckets/images/objects/pub.txt', 'none')).status).toBe(200);
    });
  });

  describe('keys that try to leave their bucket → 400, nothing outside is read or written', () => {
    const SENTINEL = 'SENTINEL-do-not-touch';
    let sentinels: string[];
    let outsideBefore: string[];
    const filesOutsideObjects = async () => (await filesUnder(storageDir)).filter((f) => !f.startsWith(`${objectsDir.slice(storageDir.length + 1)}/`) && !f.startsWith('.tmp/'));

    beforeAll(async () => {
      // where `../x`, `../../x`, `a/../../x` and `/etc/passwd`-like keys would land
      sentinels = [join(storageDir, 'x'), join(b.dataDir, 'x'), join(storageDir, 'sentinel.txt'), join(objectsDir, 'x'), join(objectsDir, 'docs', 'x')];
      for (const s of sentinels) await writeFile(s, SENTINEL);
      outsideBefore = await filesOutsideObjects();
    });

    /** URL forms: the table's keys fully encoded, plus forms only a URL can carry. */
    const urlForms: [string, string][] = [
      ...TRAVERSAL_KEYS.filter(([, key]) => key !== '').map(([name, key]) => [`encoded ${name}`, encodeURIComponent(key)] as [string, string]),
      ['raw ../x', '../x'],
      ['raw a/../../x', 'a/../../x'],
      ['raw ../docs/x', '../docs/x'],
      ['raw ./x', './x'],
      ['%2e%2e%2fx', '%2e%2e%2fx'],
      ['%2E%2E/x', '%2E%2E/x'],
      ['..%2Fx', '..%2Fx'],
      ['..%2F..%2Fx', '..%2F..%2Fx'],
      ['%2F..%2Fsentinel.txt', '%2F..%2Fsentinel.txt'],
      ['..%5Cx', '..%5Cx'],
      ['%2Fetc%2Fpasswd', '%2Fetc%2Fpasswd'],
      ['/etc/passwd (double slash)', '/etc/passwd'],
      ['a%00b', 'a%00b'],
      ['a/%00/../x', 'a/%00/../x'],
      ['trailing slash a/', 'a/'],
      ['overlong UTF-8 dots %C0%AE%C0%AE', '%C0%AE%C0%AE/x'],
      ['bad escape %zz', '%zz'],
    ];

    it.each(urlForms)('%s: upload, download and delete are refused', async (_name, path) => {
      const base = '/api/storage/buckets/images/objects/';
      const admin = authHeaders('admin');
      const { body, contentType } = multipart([{ name: 'file', value: 'OVERWRITTEN', filename: 'x' }]);
      const put = await raw(b.url, 'PUT', base + path, { ...admin, 'content-type': contentType }, body);
      const get = await raw(b.url, 'GET', base + path, admin);
      const del = await raw(b.url, 'DELETE', base + path, admin);
      for (const res of [put, get, del]) {
        expect(res.status).toBe(400);
        expect(res.body.toString()).not.toContain(SENTINEL);
        expect(res.body.toString()).not.toContain('root:');
      }
      expect(put.json.error === 'STORAGE_INVALID_PARAMETER' || put.json.code === 'FST_ERR_BAD_URL').toBe(true);
    });

    it.each(TRAVERSAL_KEYS)('%s as the form\'s path field is refused', async (_name, key) => {
      const { body, contentType } = multipart([
        { name: 'path', value: key },
        { name: 'file', value: 'OVERWRITTEN', filename: 'x' },
      ]);
      const res = await raw(b.url, 'POST', '/api/storage/buckets/images/objects', { ...authHeaders('admin'), 'content-type': contentType }, body);
      expect(res.status).toBe(400);
      expect(res.json.error).toBe('STORAGE_INVALID_PARAMETER');
    });

    it('look-alike keys are accepted as plain names and stay inside the bucket', async () => {
      const lookAlikes: [key: string, path: string][] = [
        ['\u2024\u2024/x', encodeURIComponent('\u2024\u2024/x')],
        ['\uff0e\uff0e/x', encodeURIComponent('\uff0e\uff0e/x')],
        ['..%2Fx', '..%252Fx'],
        ['a..b/..c', 'a..b/..c'],
      ];
      for (const [key, path] of lookAlikes) {
        const put = await api('PUT', `/api/storage/buckets/images/objects/${path}`, 'admin', { form: form({ content: 'inside' }) });
        expect(put.status).toBe(200);
        expect(put.json.key).toBe(key);
        expect(await readFile(await versionFile('images', key), 'utf8')).toBe('inside');
        expect((await api('GET', `/api/storage/buckets/images/objects/${path}`)).body.toString()).toBe('inside');
        expect((await api('DELETE', `/api/storage/buckets/images/objects/${path}`)).status).toBe(200);
      }
    });

    it('a symlink planted in a bucket folder is never followed: no folder or file appears outside, nothing outside is read', async () => {
      // not something the API can create: stray links on disk, in the bucket's folder of versions and
      // where the older layout kept the bucket, plus a row naming a key through them
      const outside = join(b.dataDir, 'outside');
      await mkdir(outside);
      await writeFile(join(outside, 'sentinel.txt'), SENTINEL);
      const links = [join(objectsDir, 'images', 'escape'), join(storageDir, 'images', 'escape')];
      await mkdir(join(storageDir, 'images'), { recursive: true });
      for (const link of links) await symlink(outside, link, 'dir');
      try {
        await sql(b, "insert into storage.objects (bucket, key, size, mime_type, etag) values ('images', 'escape/sentinel.txt', 21, 'text/plain', 'x')");
        const get = await api('GET', '/api/storage/buckets/images/objects/escape/sentinel.txt');
        expect(get.status).toBe(404);
        expect(get.body.toString()).not.toContain(SENTINEL);
        // a key is a name: the PUT stores an object, and makes no folder anywhere
        const put = await api('PUT', '/api/storage/buckets/images/objects/escape/made-outside/written.txt', 'admin', { form: form({ content: 'INSIDE' }) });
        expect(put.status).toBe(200);
        expect(await readdir(outside)).toEqual(['sentinel.txt']);
        expect((await api('GET', '/api/storage/buckets/images/objects/escape/made-outside/written.txt')).body.toString()).toBe('INSIDE');
        expect((await api('DELETE', '/api/storage/buckets/images/objects/escape/made-outside/written.txt')).status).toBe(200);
        expect((await api('DELETE', '/api/storage/buckets/images/objects/escape/sentinel.txt')).status).toBe(200);
        expect(await readFile(join(outside, 'sentinel.txt'), 'utf8')).toBe(SENTINEL);
      } finally {
        await sql(b, "delete from storage.objects where bucket = 'images' and key like 'escape/%'");
        for (const link of links) await rm(link);
        await rm(outside, { recursive: true });
      }
    });

    it('a symlink in place of a bucket folder is refused, not written through', async () => {
      const outside = join(b.dataDir, 'outside-bucket');
      await mkdir(outside);
      expect((await api('POST', '/api/storage/buckets', 'admin', { json: { bucketName: 'linked' } })).status).toBe(201);
      await rm(join(objectsDir, 'linked'), { recursive: true });
      await symlink(outside, join(objectsDir, 'linked'), 'dir');
      try {
        const put = await api('PUT', '/api/storage/buckets/linked/objects/x.txt', 'admin', { form: form({ content: 'x' }) });
        expect(put.status).toBe(500);
        expect(put.json).toMatchObject({ statusCode: 500, error: 'INTERNAL_ERROR' });
        expect(await readdir(outside)).toEqual([]);
        expect(await objectRows('linked')).toEqual([]);
      } finally {
        await rm(join(objectsDir, 'linked'));
        await api('DELETE', '/api/storage/buckets/linked');
        await rm(outside, { recursive: true });
      }
    });

    afterAll(async () => {
      for (const s of sentinels) expect(await readFile(s, 'utf8')).toBe(SENTINEL);
      expect(await filesOutsideObjects()).toEqual(outsideBefore);
      expect((await objectRows('images')).map((r) => r.key)).not.toContain('x');
      expect(await filesUnder(join(storageDir, '.tmp'))).toEqual([]);
    });
  });
});

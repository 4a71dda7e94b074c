import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DB_KINDS, freshDataDir, freshPostgresDatabase, sql, startTestBackend, type DbKind, type TestBackend } from '../support/backend.js';

/**
 * Storage at start: what a killed run or a stray hand left is removed before any request, what
 * rows name is kept, nothing outside is touched, and data dirs from before versioned files keep
 * their objects.
 */

const SENTINEL = 'SENTINEL-do-not-touch';

async function objectsFolder(b: TestBackend): Promise<string> {
  const { rows } = await sql(b, 'select id from storage.instance');
  return join(b.dataDir, 'storage', `objects.${rows[0]!.id as string}`);
}

const restart = async (b: TestBackend, kind: DbKind) => {
  await b.close();
  return startTestBackend(kind, { dataDir: b.dataDir, backend: { databaseUrl: b.databaseUrl } });
};

async function upload(b: TestBackend, bucket: string, key: string, content: string) {
  const form = new FormData();
  form.append('file', new Blob([content]), 'x');
  const res = await fetch(`${b.url}/api/storage/buckets/${bucket}/objects/${encodeURIComponent(key)}`, { method: 'PUT', headers: { authorization: `Bearer ${b.keys.apiKey}` }, body: form });
  expect(res.status).toBe(200);
}

const download = (b: TestBackend, bucket: string, key: string) => b.api(`/api/storage/buckets/${bucket}/objects/${encodeURIComponent(key)}`);

describe.each(DB_KINDS)('storage at start on %s', (kind) => {
  it('removes temp files, versions no row names, folders of deleted buckets and planted symlinks; keeps named versions and all outside', async () => {
    let b = await startTestBackend(kind);
    try {
      expect((await b.api('/api/storage/buckets', { method: 'POST', json: { bucketName: 'keep' } })).status).toBe(201);
      await upload(b, 'keep', 'a.txt', 'kept');
      const objects = await objectsFolder(b);
      const named = await readdir(join(objects, 'keep'));
      expect(named).toHaveLength(1);

      const outside = join(b.dataDir, 'outside');
      await mkdir(outside);
      await writeFile(join(outside, 'sentinel.txt'), SENTINEL);
      await writeFile(join(b.dataDir, 'storage', '.tmp', `${randomUUID()}.part`), 'half an upload');
      await writeFile(join(objects, 'keep', randomUUID()), 'a version whose row never committed');
      await mkdir(join(objects, 'keep', 'stray', 'deeper'), { recursive: true });
      await writeFile(join(objects, 'keep', 'stray', 'deeper', 'x'), 'stray');
      await symlink(outside, join(objects, 'keep', 'link'), 'dir');
      await symlink(join(outside, 'sentinel.txt'), join(objects, 'keep', randomUUID()), 'file');
      await mkdir(join(objects, 'deleted-bucket'));
      await writeFile(join(objects, 'deleted-bucket', randomUUID()), 'of a bucket deleted before its folder went');
      await symlink(outside, join(objects, 'linked-bucket'), 'dir');

      b = await restart(b, kind);
      expect(await readdir(join(objects, 'keep'))).toEqual(named);
      expect((await readdir(objects)).sort()).toEqual(['keep']);
      expect(await readdir(join(b.dataDir, 'storage', '.tmp'))).toEqual([]);
      expect(await readdir(outside)).toEqual(['sentinel.txt']);
      expect(await readFile(join(outside, 'sentinel.txt'), 'utf8')).toBe(SENTINEL);
      expect((await download(b, 'keep', 'a.txt')).text).toBe('kept');
    } finally {
      await b.close();
    }
  });

  it('adopts objects of the older <bucket>/<key> layout; leaves missing ones 404 and never follows a symlink out', async () => {
    let b = await startTestBackend(kind);
    try {
      expect((await b.api('/api/storage/buckets', { method: 'POST', json: { bucketName: 'old' } })).status).toBe(201);
      const legacy = join(b.dataDir, 'storage', 'old');
      const outside = join(b.dataDir, 'outside-legacy');
      await mkdir(join(legacy, 'doc'), { recursive: true });
      await mkdir(outside);
      await writeFile(join(legacy, 'doc', 'x.txt'), 'from the old layout');
      await writeFile(join(outside, 'y.txt'), SENTINEL);
      await symlink(outside, join(legacy, 'escape'), 'dir');
      const etag = createHash('md5').update('from the old layout').digest('hex');
      await sql(
        b,
        `insert into storage.objects (bucket, key, size, mime_type, etag) values
          ('old', 'doc/x.txt', 19, 'text/plain', $1), ('old', 'missing.txt', 1, 'text/plain', 'x'), ('old', 'escape/y.txt', 21, 'text/plain', 'y')`,
        [etag],
      );

      b = await restart(b, kind);
      const adopted = await download(b, 'old', 'doc/x.txt');
      expect(adopted.status).toBe(200);
      expect(adopted.text).toBe('from the old layout');
      expect(adopted.headers.get('etag')).toBe(`"${etag}"`);
      const { rows } = await sql(b, "select key, file from storage.objects where bucket = 'old' order by key");
      expect(rows).toEqual([
        { key: 'doc/x.txt', file: expect.stringMatching(/^[0-9a-f-]{36}$/) },
        { key: 'escape/y.txt', file: null },
        { key: 'missing.txt', file: null },
      ]);
      expect(existsSync(join(legacy, 'doc'))).toBe(false); // moved, and its emptied folder pruned
      expect((await download(b, 'old', 'missing.txt')).status).toBe(404);
      const escaped = await download(b, 'old', 'escape/y.txt');
      expect(escaped.status).toBe(404);
      expect(escaped.text).not.toContain(SENTINEL);
      expect(await readFile(join(outside, 'y.txt'), 'utf8')).toBe(SENTINEL);

      // and what was adopted survives the next start's clean-up
      b = await restart(b, kind);
      expect((await download(b, 'old', 'doc/x.txt')).text).toBe('from the old layout');
    } finally {
      await b.close();
    }
  });

  it("a data dir pointed at another database keeps the first database's files", async () => {
    const dataDir = await freshDataDir();
    const firstUrl = kind === 'postgres' ? await freshPostgresDatabase() : undefined;
    let b = await startTestBackend(kind, { dataDir, backend: { databaseUrl: firstUrl } });
    let otherUrl: string | undefined;
    try {
      expect((await b.api('/api/storage/buckets', { method: 'POST', json: { bucketName: 'mine' } })).status).toBe(201);
      await upload(b, 'mine', 'precious.txt', 'first database');
      const firstObjects = await objectsFolder(b);
      const files = await readdir(join(firstObjects, 'mine'));
      await b.close();

      // the other database: a new Postgres database, or for PGlite another pgdata put in place
      if (kind === 'postgres') otherUrl = await freshPostgresDatabase();
      else {
        const other = await startTestBackend('pglite');
        // copies of one template share an id (the backend's own database login may change it; the admin key may not)
        await other.db.internal.query("update storage.instance set id = 'another' || id");
        await other.close();
        await rename(join(dataDir, 'pgdata'), join(dataDir, 'pgdata-first'));
        await rename(join(other.dataDir, 'pgdata'), join(dataDir, 'pgdata'));
      }
      b = await startTestBackend(kind, { dataDir, backend: { databaseUrl: otherUrl } });
      expect(await objectsFolder(b)).not.toBe(firstObjects);
      expect((await b.api('/api/storage/buckets', { method: 'POST', json: { bucketName: 'theirs' } })).status).toBe(201);
      await upload(b, 'theirs', 'other.txt', 'second database');
      await b.close();
      expect(await readdir(join(firstObjects, 'mine'))).toEqual(files);

      if (kind === 'pglite') {
        await rm(join(dataDir, 'pgdata'), { recursive: true });
        await rename(join(dataDir, 'pgdata-first'), join(dataDir, 'pgdata'));
      }
      b = await startTestBackend(kind, { dataDir, backend: { databaseUrl: firstUrl } });
      expect((await download(b, 'mine', 'precious.txt')).text).toBe('first database');
    } finally {
      await b.close();
    }
  });
});

import { createHash, randomBytes, randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DB_KINDS, freshDataDir, freshPostgresDatabase, TEST_API_KEY } from '../support/backend.js';
import { startBackendChild } from '../support/backend-child.js';

/**
 * kill -9 at random moments of uploads, overwrites and deletes: the built backend runs as a child
 * process, several keys are written to and deleted at once, the child is killed, started again on
 * the same data dir, and every key must be exactly the object it was or the one being written
 * (bytes, size and ETag agreeing), with no file that no row names.
 */

const ROUNDS = 24;
const KEYS = ['a.bin', 'b.bin', 'c.bin', 'dir/d.bin', 'dir/e.bin', 'f.bin'];
const BUCKET = 'crash';
const admin = { authorization: `Bearer ${TEST_API_KEY}` };
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

/** What a key holds: the md5 of its bytes, or absent. */
type State = string | 'absent';

const startChild = (dataDir: string, databaseUrl: string | undefined) => startBackendChild(['--data-dir', dataDir, ...(databaseUrl ? ['--database-url', databaseUrl] : [])]);

const put = (url: string, key: string, bytes: Buffer) => {
  const form = new FormData();
  form.append('file', new Blob([bytes]), 'x.bin');
  return fetch(`${url}/api/storage/buckets/${BUCKET}/objects/${encodeURIComponent(key)}`, { method: 'PUT', headers: admin, body: form });
};

async function rawSql(url: string, query: string, params: unknown[] = []) {
  const res = await fetch(`${url}/api/database/advance/rawsql`, { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify({ query, params }) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { rows: Record<string, unknown>[] }).rows;
}

describe.each(DB_KINDS)('storage under kill -9 on %s', (kind) => {
  it(`${ROUNDS} rounds of kill -9 during uploads, overwrites and deletes leave each object old or new, and no orphan file`, async () => {
    const dataDir = await freshDataDir();
    const databaseUrl = kind === 'postgres' ? await freshPostgresDatabase() : undefined;
    const committed = new Map<string, State>(KEYS.map((k) => [k, 'absent']));
    let inFlightAtKill = 0;
    let checks = 0;

    let { url, child } = await startChild(dataDir, databaseUrl);
    expect((await fetch(`${url}/api/storage/buckets`, { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify({ bucketName: BUCKET }) })).status).toBe(201);

    for (let round = 0; round < ROUNDS; round++) {
      // writers: one chain of operations per key, so each key has at most one in flight
      const inFlight = new Map<string, State>();
      const unexpected: string[] = [];
      let killed = false;
      const writers = KEYS.map(async (key) => {
        while (!killed) {
          // mostly small files, so that much of the time goes to the steps around COMMIT, where a kill is worst
          const bytes = randomInt(5) === 0 ? undefined : randomBytes(randomInt(1, randomInt(6) === 0 ? 1024 * 1024 : 4 * 1024));
          inFlight.set(key, bytes ? md5(bytes) : 'absent');
          let status: number;
          try {
            const res = bytes ? await put(url, key, bytes) : await fetch(`${url}/api/storage/buckets/${BUCKET}/objects/${encodeURIComponent(key)}`, { method: 'DELETE', headers: admin });
            await res.arrayBuffer();
            status = res.status;
          } catch {
            return; // the backend is gone
          }
          // 404: a delete of what is not there
          if (status === 200 || (status === 404 && !bytes)) committed.set(key, inFlight.get(key)!);
          else unexpected.push(`round ${round}, ${bytes ? 'PUT' : 'DELETE'} ${key}: ${status}`);
          inFlight.delete(key);
        }
      });
      await new Promise((r) => setTimeout(r, randomInt(20, 700)));
      killed = true;
      inFlightAtKill += inFlight.size;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
      await Promise.all(writers);
      expect(unexpected).toEqual([]);

      ({ url, child } = await startChild(dataDir, databaseUrl));
      const rows = await rawSql(url, 'select key, size::int as size, etag, file from storage.objects where bucket = $1', [BUCKET]);
      for (const key of KEYS) {
        const allowed = new Set([committed.get(key)!, ...(inFlight.has(key) ? [inFlight.get(key)!] : [])]);
        const res = await fetch(`${url}/api/storage/buckets/${BUCKET}/objects/${encodeURIComponent(key)}`, { headers: admin });
        const body = Buffer.from(await res.arrayBuffer());
        const row = rows.find((r) => r.key === key);
        const state: State = res.status === 404 ? 'absent' : md5(body);
        checks++;
        expect([200, 404], `round ${round}, ${key}`).toContain(res.status);
        expect(allowed, `round ${round}, ${key}: neither the old object nor the new one`).toContain(state);
        if (res.status === 200) {
          // bytes, ETag, size and the row agree
          expect(res.headers.get('etag'), `round ${round}, ${key}: ETag`).toBe(`"${state}"`);
          expect(Number(res.headers.get('content-length'))).toBe(body.length);
          expect(row).toMatchObject({ size: body.length, etag: state });
        } else {
          expect(row, `round ${round}, ${key}: a row without its bytes`).toBeUndefined();
        }
        committed.set(key, state);
      }
      // no file that no row names, no temp file left
      const [{ id }] = (await rawSql(url, 'select id from storage.instance')) as [{ id: string }];
      const folder = join(dataDir, 'storage', `objects.${id}`, BUCKET);
      const files = existsSync(folder) ? (await readdir(folder)).sort() : [];
      expect(files, `round ${round}: version files`).toEqual(rows.map((r) => r.file as string).sort());
      expect(await readdir(join(dataDir, 'storage', '.tmp'))).toEqual([]);
      // and a key under an object's key is a new object, whatever was left before
      const parent = KEYS[round % KEYS.length]!;
      const childPut = await put(url, `${parent}/child.txt`, Buffer.from('child'));
      expect(childPut.status, `round ${round}: PUT ${parent}/child.txt`).toBe(200);
      expect((await fetch(`${url}/api/storage/buckets/${BUCKET}/objects/${encodeURIComponent(`${parent}/child.txt`)}`, { method: 'DELETE', headers: admin })).status).toBe(200);
    }

    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    process.stderr.write(`FIGURE storage-crash (${kind}): ${ROUNDS} kill -9 rounds, ${inFlightAtKill} operations in flight at the kill, ${checks} objects checked after restart: each old or new, no orphan file\n`);
  }, 900_000);
});

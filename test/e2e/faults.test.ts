import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { sql, startTestBackend, TEST_ANON_KEY, TEST_API_KEY, type TestBackend } from '../support/backend.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { call, CLI, serverEnv, type ToolOutcome } from '../support/mcp.js';
import { MAX_RETRIES } from '../../src/client/retry.js';

const TIMEOUT_MS = 1500;
/** The records route of the table, in either dialect. */
const RECORDS = /^\/api\/(db|database\/records)\/faults$/;
const STORAGE = /^\/api\/storage\//;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until check() passes (the backend cleans up after a cut request asynchronously). */
async function eventually(check: () => Promise<void>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > end) throw err;
      await sleep(100);
    }
  }
}

/**
 * The spawned stdio server talks to the embedded backend (in this process) through a fault
 * proxy. Each scenario breaks the proxy, checks the agent's error, then that the server is alive,
 * answers, and left no partial row or file.
 */
describe('faults between the MCP server and its backend', () => {
  let backend: TestBackend;
  let proxy: FaultProxy;
  let client: Client;
  let transport: StdioClientTransport;
  let stderr = '';
  const outputs: string[] = [];
  const survived: string[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];

  const tool = async (name: string, args: Record<string, unknown> = {}, opts: { allowError?: boolean } = {}): Promise<ToolOutcome> => {
    const out = await call(client, name, args, opts);
    outputs.push(out.text);
    return out;
  };
  const failing = async (name: string, args: Record<string, unknown>) => {
    const out = await tool(name, args, { allowError: true });
    expect(out.result.isError, `${name} should fail: ${out.text}`).toBe(true);
    expect(out.data?.error, out.text).toMatchObject({ status: expect.any(Number), code: expect.any(String), message: expect.any(String), nextActions: expect.any(String) });
    return out.data.error as { status: number; code: string; message: string; nextActions: string };
  };
  const rowCount = async (where = 'true') => Number((await sql(backend, `select count(*)::int as n from faults where ${where}`)).rows[0]!.n);

  /** The process is still there and a normal call goes through the (healed) proxy. */
  const survives = async (scenario: string) => {
    proxy.set({ kind: 'pass' });
    await proxy.up();
    expect(transport.pid).toBeDefined();
    expect(() => process.kill(transport.pid!, 0), 'server process alive').not.toThrow();
    const res = await tool('query-table', { table: 'faults', select: 'id', limit: 1 });
    expect(res.data.rows).toBeInstanceOf(Array);
    survived.push(scenario);
  };

  beforeAll(async () => {
    backend = await startTestBackend('pglite');
    await sql(backend, 'create table faults (id serial primary key, v text not null)');
    await backend.api('/api/storage/buckets', { method: 'POST', json: { bucketName: 'faults', isPublic: false } });
    proxy = await startFaultProxy(backend.url, { startDown: true });
    transport = new StdioClientTransport({ command: process.execPath, args: [CLI, '--url', proxy.url, '--timeout', String(TIMEOUT_MS)], env: serverEnv(), stderr: 'pipe' });
    transport.stderr?.on('data', (d) => (stderr += d));
    client = new Client({ name: 'faults-test', version: '1' });
    await client.connect(transport).catch((err: Error) => {
      throw new Error(`${err.message}; server stderr:\n${stderr}`);
    });
  });
  afterAll(async () => {
    await client?.close();
    await proxy?.close();
    await backend?.close();
    for (const c of cleanups) await c();
    process.stderr.write(`FIGURE faults: ${survived.length} scenarios survived (${survived.join('; ')}); server alive after each, no partial row or file\n`);
    const everything = outputs.join('\n') + stderr;
    expect(everything).not.toContain(TEST_API_KEY);
    expect(everything).not.toContain(TEST_ANON_KEY);
  });

  it('backend down at start: tools/list works, a call says what to do, and works once the backend is up', async () => {
    expect((await client.listTools()).tools.length).toBeGreaterThan(5);
    const err = await failing('query-table', { table: 'faults' });
    expect(err).toMatchObject({ status: 503, code: 'BACKEND_UNREACHABLE', nextActions: expect.stringContaining('--url') });
    expect(err.message).toMatch(/ECONNREFUSED/);
    const insert = await failing('insert-records', { table: 'faults', records: [{ v: 'while down' }] });
    expect(insert.code).toBe('BACKEND_UNREACHABLE');

    await proxy.up();
    await tool('insert-records', { table: 'faults', records: [{ v: 'after start' }] });
    expect(await rowCount("v = 'while down'")).toBe(0);
    expect(await rowCount("v = 'after start'")).toBe(1);
    await survives('down at start');
  });

  it('backend down mid-session', async () => {
    await tool('query-table', { table: 'faults' });
    await proxy.down();
    const started = Date.now();
    expect(await failing('query-table', { table: 'faults' })).toMatchObject({ status: 503, code: 'BACKEND_UNREACHABLE' });
    // a read is retried (with backoff) before giving up, but not for long
    expect(Date.now() - started).toBeLessThan(10_000);
    expect((await failing('insert-records', { table: 'faults', records: [{ v: 'mid-session' }] })).code).toBe('BACKEND_UNREACHABLE');
    expect((await failing('upload-file', { bucket: 'faults', key: 'down.txt', text: 'x' })).code).toBe('BACKEND_UNREACHABLE');
    await proxy.up();
    expect(await rowCount("v = 'mid-session'")).toBe(0);
    await survives('down mid-session');
  });

  it('backend slower than --timeout: TIMEOUT, not retried, and the next call works', async () => {
    proxy.set({ kind: 'slow', delayMs: TIMEOUT_MS * 3, match: RECORDS });
    proxy.resetCounts();
    let started = Date.now();
    const err = await failing('query-table', { table: 'faults' });
    expect(err).toMatchObject({ status: 504, code: 'TIMEOUT', nextActions: expect.stringContaining('--timeout') });
    expect(err.message).toContain(`${TIMEOUT_MS} ms`);
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS * 3);
    expect(proxy.count(RECORDS)).toBe(1);

    const write = await failing('insert-records', { table: 'faults', records: [{ v: 'slow' }] });
    expect(write.code).toBe('TIMEOUT');
    // a write that timed out may still have landed: the agent must not be told to simply retry it
    expect(write.nextActions).toMatch(/check/i);

    proxy.set({ kind: 'slow', delayMs: TIMEOUT_MS * 3, match: STORAGE });
    started = Date.now();
    expect((await failing('upload-file', { bucket: 'faults', key: 'slow.txt', text: 'slow' })).code).toBe('TIMEOUT');
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS * 3);

    await survives('slow beyond the timeout');
    expect(await rowCount("v = 'slow'")).toBe(0);
    expect((await tool('download-file', { bucket: 'faults', key: 'slow.txt' }, { allowError: true })).data.error.status).toBe(404);
  });

  it('HTML 502 page: a clean error; a read is retried, an insert is not', async () => {
    proxy.set({ kind: 'html', status: 502, match: RECORDS });
    proxy.resetCounts();
    const err = await failing('query-table', { table: 'faults' });
    expect(err).toMatchObject({ status: 502, code: 'HTTP_502' });
    expect(err.message).toContain('The backend answered 502 with a non-JSON body (text/html)');
    expect(err.message).not.toMatch(/<\w+/); // the markup is gone
    expect(err.nextActions).toMatch(/retry/i);
    expect(proxy.count(RECORDS)).toBe(1 + MAX_RETRIES);

    proxy.resetCounts();
    const insert = await failing('insert-records', { table: 'faults', records: [{ v: 'html 502' }] });
    expect(insert).toMatchObject({ status: 502, code: 'HTTP_502' });
    expect(proxy.count(RECORDS)).toBe(1);
    expect(await rowCount("v = 'html 502'")).toBe(0);

    // the gateway fails after the backend did the work: not retrying is what keeps it to one row
    proxy.set({ kind: 'html', status: 502, after: true, match: RECORDS });
    proxy.resetCounts();
    expect((await failing('insert-records', { table: 'faults', records: [{ v: 'html 502 after' }] })).status).toBe(502);
    expect(proxy.count(RECORDS)).toBe(1);
    expect(await rowCount("v = 'html 502 after'")).toBe(1);
    await survives('HTML 502');
  });

  it('HTML 500 page: a clean error, not retried', async () => {
    proxy.set({ kind: 'html', status: 500, match: RECORDS });
    proxy.resetCounts();
    const err = await failing('query-table', { table: 'faults' });
    expect(err).toMatchObject({ status: 500, code: 'HTTP_500' });
    expect(err.message).toContain('The backend answered 500 with a non-JSON body (text/html)');
    expect(proxy.count(RECORDS)).toBe(1);
    proxy.resetCounts();
    expect((await failing('insert-records', { table: 'faults', records: [{ v: 'html 500' }] })).status).toBe(500);
    expect(proxy.count(RECORDS)).toBe(1);
    expect(await rowCount("v = 'html 500'")).toBe(0);
    await survives('HTML 500');
  });

  it('connection reset mid-upload: an error, and no object, row or temp file is left', async () => {
    const storage = join(backend.dataDir, 'storage');
    const work = await mkdtemp(join(tmpdir(), 'insforge-faults-'));
    cleanups.push(() => rm(work, { recursive: true, force: true }));
    const local = join(work, 'three-mib.bin');
    await writeFile(local, randomBytes(3 * 1024 * 1024));
    proxy.set({ kind: 'reset', afterBytes: 1024 * 1024, match: STORAGE });
    proxy.resetCounts();

    const viaBase64 = await failing('upload-file', { bucket: 'faults', key: 'cut/base64.bin', base64: randomBytes(4 * 1024 * 1024).toString('base64') });
    expect(viaBase64).toMatchObject({ status: 503, code: 'BACKEND_UNREACHABLE' });
    const viaPath = await failing('upload-file', { bucket: 'faults', key: 'cut/path.bin', filePath: local });
    expect(viaPath.code).toBe('BACKEND_UNREACHABLE');
    // a streamed body cannot be sent twice: one request each
    expect(proxy.count(STORAGE)).toBe(2);

    await survives('connection reset mid-upload');
    for (const key of ['cut/base64.bin', 'cut/path.bin']) {
      expect((await tool('download-file', { bucket: 'faults', key }, { allowError: true })).data.error.status).toBe(404);
    }
    expect((await sql(backend, "select count(*)::int as n from storage.objects where bucket = 'faults' and key like 'cut/%'")).rows[0]!.n).toBe(0);
    // the bucket's version files (storage/objects.<instance>/<bucket>/<uuid>) are exactly those its rows name
    const [{ id }] = (await sql(backend, 'select id from storage.instance')).rows as [{ id: string }];
    const versions = join(storage, `objects.${id}`, 'faults');
    const named = async () => ((await sql(backend, "select file from storage.objects where bucket = 'faults' order by file")).rows as { file: string }[]).map((r) => r.file);
    await eventually(async () => {
      expect(await readdir(join(storage, '.tmp'))).toEqual([]);
      expect((await readdir(versions)).sort()).toEqual(await named());
    });

    // the same upload through a healthy proxy lands whole
    const up = await tool('upload-file', { bucket: 'faults', key: 'whole.bin', filePath: local });
    expect(up.data.file.size).toBe(3 * 1024 * 1024);
    const [whole] = (await sql(backend, "select file from storage.objects where bucket = 'faults' and key = 'whole.bin'")).rows as [{ file: string }];
    expect((await stat(join(versions, whole.file))).size).toBe(3 * 1024 * 1024);
  });

  it('429 with Retry-After: a read waits and succeeds; an insert is not retried', async () => {
    proxy.set({ kind: 'rate-limit', times: 1, retryAfter: 1, match: RECORDS });
    proxy.resetCounts();
    const started = Date.now();
    const read = await tool('query-table', { table: 'faults', select: 'v', order: [{ column: 'id' }] });
    expect(read.data.rows.length).toBeGreaterThan(0);
    expect(proxy.count(RECORDS)).toBeGreaterThanOrEqual(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950); // Retry-After: 1 was honoured

    proxy.set({ kind: 'rate-limit', times: 1, retryAfter: 1, match: RECORDS });
    proxy.resetCounts();
    const err = await failing('insert-records', { table: 'faults', records: [{ v: 'rate limited' }] });
    expect(err.status).toBe(429);
    expect(err.nextActions).toMatch(/1 s/);
    expect(proxy.count(RECORDS)).toBe(1);
    expect(await rowCount("v = 'rate limited'")).toBe(0);

    // the backend's own JSON 429 keeps its envelope
    proxy.set({ kind: 'rate-limit', times: 1, retryAfter: 1, body: 'json', match: RECORDS });
    expect(await failing('insert-records', { table: 'faults', records: [{ v: 'rate limited' }] })).toMatchObject({ status: 429, code: 'TOO_MANY_REQUESTS', nextActions: 'Retry after 1 s.' });
    expect(await rowCount("v = 'rate limited'")).toBe(0);
    await survives('429 with Retry-After');
    // once the limit is over, the insert goes through, once
    await tool('insert-records', { table: 'faults', records: [{ v: 'rate limited' }] });
    expect(await rowCount("v = 'rate limited'")).toBe(1);
  });
});

import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { deflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { freshDataDir } from '../support/backend.js';
import { call, CLI, serverEnv } from '../support/mcp.js';

/** A real 2×2 PNG, built here so the test needs no fixture file. */
function tinyPng(): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf: Buffer) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(2, 0);
  ihdr.writeUInt32BE(2, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const raw = Buffer.from([0, 255, 0, 0, 0, 255, 0, 0, 0, 0, 255, 255, 255, 255]);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

const sha256File = (path: string) =>
  new Promise<string>((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path).on('data', (d) => hash.update(d)).on('end', () => resolve(hash.digest('hex'))).on('error', reject);
  });

/** Peak resident memory of a process since the last reset (Linux: VmHWM, reset through clear_refs). */
const peakRssKb = (pid: number) => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
const rssKb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
const resetPeak = (pid: number) => writeFileSync(`/proc/${pid}/clear_refs`, '5');

describe('storage through MCP over stdio', () => {
  let client: Client;
  let transport: StdioClientTransport;
  let work: string;
  let dataDir: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'insforge-storage-'));
    dataDir = await freshDataDir();
    transport = new StdioClientTransport({ command: process.execPath, args: [CLI, '--data-dir', dataDir, '--max-upload-mb', '300'], env: serverEnv(), stderr: 'ignore' });
    client = new Client({ name: 'storage-test', version: '1' });
    await client.connect(transport);
    await call(client, 'create-bucket', { bucketName: 'docs' });
    await call(client, 'create-bucket', { bucketName: 'images', isPublic: true });
  });
  afterAll(async () => {
    await client?.close();
  });

  it('lists buckets', async () => {
    const { data } = await call(client, 'list-buckets');
    expect(data.buckets).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'docs', public: false }), expect.objectContaining({ name: 'images', public: true })]));
  });

  it('uploads text, lists it, reads it back as text, deletes it', async () => {
    const up = await call(client, 'upload-file', { bucket: 'docs', key: 'notes/hello.txt', text: 'Hello, storage! ünïcödé' });
    expect(up.data.file).toMatchObject({ bucket: 'docs', key: 'notes/hello.txt', mimeType: 'text/plain', size: Buffer.byteLength('Hello, storage! ünïcödé') });
    expect(up.data.file.url).toMatch(/\/api\/storage\/buckets\/docs\/objects\/notes%2Fhello\.txt/);
    const list = await call(client, 'list-files', { bucket: 'docs', prefix: 'notes/' });
    expect(list.data.files.map((f: { key: string }) => f.key)).toEqual(['notes/hello.txt']);
    const down = await call(client, 'download-file', { bucket: 'docs', key: 'notes/hello.txt' });
    expect(down.data).toMatchObject({ text: 'Hello, storage! ünïcödé', file: { truncated: false } });
    expect(down.text).toMatch(/^<untrusted-data-/);
    expect((await call(client, 'delete-file', { bucket: 'docs', key: 'notes/hello.txt', confirm: true })).data).toEqual({ deleted: true });
    const gone = await call(client, 'download-file', { bucket: 'docs', key: 'notes/hello.txt' }, { allowError: true });
    expect(gone.data.error.status).toBe(404);
  });

  it('pages through text larger than the cap with offset', async () => {
    const big = 'abcdefghij'.repeat(10_000); // 100 kB
    await call(client, 'upload-file', { bucket: 'docs', key: 'big.txt', text: big });
    const first = await call(client, 'download-file', { bucket: 'docs', key: 'big.txt' });
    expect(first.data.file).toMatchObject({ truncated: true, nextOffset: 65536 });
    const rest = await call(client, 'download-file', { bucket: 'docs', key: 'big.txt', offset: first.data.file.nextOffset });
    expect(first.data.text + rest.data.text).toBe(big);
    expect(rest.data.file.truncated).toBe(false);
  });

  it('returns a PNG as an image content block', async () => {
    const png = tinyPng();
    await call(client, 'upload-file', { bucket: 'images', key: 'pixel.png', base64: png.toString('base64') });
    const res = (await client.callTool({ name: 'download-file', arguments: { bucket: 'images', key: 'pixel.png' } })) as CallToolResult;
    const image = res.content.find((c) => c.type === 'image');
    expect(image).toMatchObject({ type: 'image', mimeType: 'image/png', data: png.toString('base64') });
  });

  it('returns other binaries as a resource, or saves them to a path', async () => {
    const bytes = randomBytes(3000);
    await call(client, 'upload-file', { bucket: 'docs', key: 'blob.bin', base64: bytes.toString('base64') });
    const res = (await client.callTool({ name: 'download-file', arguments: { bucket: 'docs', key: 'blob.bin' } })) as CallToolResult;
    const resource = res.content.find((c) => c.type === 'resource') as { resource: { blob: string; mimeType: string } };
    expect(Buffer.from(resource.resource.blob, 'base64').equals(bytes)).toBe(true);
    const savePath = join(work, 'saved.bin');
    const saved = await call(client, 'download-file', { bucket: 'docs', key: 'blob.bin', savePath });
    expect(saved.data.file).toMatchObject({ savedTo: savePath, size: 3000 });
    expect((await readFile(savePath)).equals(bytes)).toBe(true);
  });

  it('needs exactly one source, and refuses a missing file cleanly', async () => {
    const none = await call(client, 'upload-file', { bucket: 'docs', key: 'x' }, { allowError: true });
    expect(none.data.error).toMatchObject({ status: 400, message: expect.stringContaining('exactly one') });
    const two = await call(client, 'upload-file', { bucket: 'docs', key: 'x', text: 'a', base64: 'YQ==' }, { allowError: true });
    expect(two.result.isError).toBe(true);
    const missing = await call(client, 'upload-file', { bucket: 'docs', key: 'x', filePath: join(work, 'nope') }, { allowError: true });
    expect(missing.data.error.message).toContain('no such file');
  });

  it('refuses invalid base64 with an error naming the field, and stores nothing', async () => {
    for (const base64 of ['not base64!', 'aGVsbG8gd29ybGQ=x', 'a']) {
      const bad = await call(client, 'upload-file', { bucket: 'images', key: 'bad.png', base64 }, { allowError: true });
      expect(bad.result.isError).toBe(true);
      expect(bad.text).toMatch(/base64/);
      expect(bad.text).toMatch(/not valid base64/);
    }
    const list = await call(client, 'list-files', { bucket: 'images', prefix: 'bad' });
    expect(list.data.files).toEqual([]);
    // wrapped, URL-safe and unpadded base64 still go through
    const bytes = randomBytes(100);
    const wrapped = bytes.toString('base64').replace(/.{40}/g, '$&\n');
    expect((await call(client, 'upload-file', { bucket: 'docs', key: 'wrapped.bin', base64: wrapped })).data.file.size).toBe(100);
    expect((await call(client, 'upload-file', { bucket: 'docs', key: 'url.bin', base64: bytes.toString('base64url') })).data.file.size).toBe(100);
  });

  it('delete-bucket needs confirmation', async () => {
    await call(client, 'create-bucket', { bucketName: 'scratch' });
    const refused = await call(client, 'delete-bucket', { bucketName: 'scratch' }, { allowError: true });
    expect(refused.data.error.code).toBe('CONFIRMATION_REQUIRED');
    expect((await call(client, 'delete-bucket', { bucketName: 'scratch', confirm: true })).data).toEqual({ deleted: true });
  });

  it('streams a 200 MiB file up and down with bounded memory, reporting progress', async () => {
    const source = join(work, 'big.bin');
    const chunk = randomBytes(1024 * 1024);
    await writeFile(source, Buffer.alloc(0));
    const { open } = await import('node:fs/promises');
    const handle = await open(source, 'w');
    for (let i = 0; i < 200; i++) await handle.write(chunk, 0, chunk.length, null);
    await handle.close();
    const pid = transport.pid!;
    const before = rssKb(pid);
    resetPeak(pid);

    const progress: number[] = [];
    const up = (await client.callTool({ name: 'upload-file', arguments: { bucket: 'docs', key: 'big/blob.bin', filePath: source } }, undefined, {
      onprogress: (p) => progress.push(p.progress),
      timeout: 300_000,
    })) as CallToolResult;
    expect(up.isError, JSON.stringify(up.content)).toBeFalsy();
    expect((up.structuredContent as { file: { size: number } }).file.size).toBe(200 * 1024 * 1024);
    expect(progress.length).toBeGreaterThan(2);
    expect(progress.at(-1)).toBe(200 * 1024 * 1024);

    const savePath = join(work, 'big-copy.bin');
    const down = await client.callTool({ name: 'download-file', arguments: { bucket: 'docs', key: 'big/blob.bin', savePath } }, undefined, { timeout: 300_000 });
    expect(down.isError).toBeFalsy();
    const growthMiB = (peakRssKb(pid) - before) / 1024;
    expect(growthMiB).toBeLessThan(128);
    expect((await stat(savePath)).size).toBe(200 * 1024 * 1024);
    expect(await sha256File(savePath)).toBe(await sha256File(source));
    // no temp file left beside the saved one
    expect((await readdir(work)).filter((f) => f.endsWith('.part'))).toEqual([]);
  });

  it('cancelling the MCP request aborts the upload, leaving nothing behind', async () => {
    const source = join(work, 'cancel.bin');
    const { open } = await import('node:fs/promises');
    const handle = await open(source, 'w');
    const chunk = randomBytes(1024 * 1024);
    for (let i = 0; i < 150; i++) await handle.write(chunk, 0, chunk.length, null);
    await handle.close();
    const controller = new AbortController();
    const call$ = client.callTool({ name: 'upload-file', arguments: { bucket: 'docs', key: 'cancelled.bin', filePath: source } }, undefined, {
      signal: controller.signal,
      onprogress: (p) => {
        if (p.progress > 10 * 1024 * 1024) controller.abort();
      },
      timeout: 120_000,
    });
    await expect(call$).rejects.toThrow();
    // the server hears notifications/cancelled and aborts; give it a moment to clean up
    const leftovers = async () => {
      const files = await readdir(join(dataDir, 'storage'), { recursive: true }).catch(() => [] as string[]);
      return files.filter((f) => String(f).includes('cancelled') || String(f).startsWith('.tmp/') && String(f).length > 5);
    };
    for (let i = 0; i < 50 && (await leftovers()).length; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await leftovers()).toEqual([]);
    const gone = await call(client, 'download-file', { bucket: 'docs', key: 'cancelled.bin' }, { allowError: true });
    expect(gone.data.error.status).toBe(404);
    // and the server still serves
    expect((await call(client, 'list-buckets')).data.buckets.length).toBeGreaterThan(0);
  });
});

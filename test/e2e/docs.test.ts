/**
 * get-docs and the docs resources (issue 17). Every code block of every guide is taken from the
 * guides' source (src/docs/*.md) and run against the embedded backend: SQL as the admin, `js function
 * <slug>` blocks deployed as functions, app code (`js`) with the real @insforge/sdk. A guide whose
 * code no longer works fails here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '@insforge/sdk';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { DB_KINDS, startTestBackend, TEST_ANON_KEY, type TestBackend } from '../support/backend.js';
import { startAiStandin, type AiStandin } from '../support/ai-standin.js';
import { call, stdioClient } from '../support/mcp.js';
import { renderGuide, TOPICS } from '../../src/docs/index.js';

const DOCS_DIR = 'src/docs';
const FILES = readdirSync(DOCS_DIR).filter((f) => f.endsWith('.md'));
const SDK_IMPORT = /^import \{ createClient \} from '@insforge\/sdk';\n/m;

interface Block {
  kind: string;
  arg: string;
  code: string;
}
const blocksOf = (text: string): Block[] => [...text.matchAll(/^```(\w+)(?: (\w+) ([\w-]+))?\n([\s\S]*?)^```$/gm)].map((m) => ({ kind: m[2] ? `${m[1]} ${m[2]}` : m[1]!, arg: m[3] ?? '', code: m[4]! }));
/** `<!-- test setup: buckets a=private b=public -->`, `<!-- test setup: secret NAME=value -->`: what a guide tells the reader to make with tools first. */
const setupOf = (text: string) => [...text.matchAll(/<!-- test setup: (\w+) ([^>]*?) -->/g)].map((m) => ({ what: m[1]!, pairs: m[2]!.split(/\s+/).map((p) => p.split('=') as [string, string]) }));

const AsyncFunction = Object.getPrototypeOf(async () => undefined).constructor as new (...args: string[]) => (...args: unknown[]) => Promise<unknown>;

it('every guide is a topic, under 4 KB, with code blocks of the kinds this test runs', () => {
  expect(FILES.map((f) => f.replace(/\.md$/, '')).sort()).toEqual([...TOPICS].sort());
  for (const file of FILES) {
    const text = readFileSync(join(DOCS_DIR, file), 'utf8');
    expect(Buffer.byteLength(text), file).toBeLessThan(4096);
    const blocks = blocksOf(text);
    expect(blocks.filter((b) => b.kind === 'js').length, `${file} has app code`).toBeGreaterThan(0);
    for (const b of blocks) expect(['js', 'sql', 'bash', 'js function'], `${file}: a code block of kind ${b.kind}`).toContain(b.kind);
    for (const b of blocks.filter((b) => b.kind === 'bash')) expect(b.code.trim(), file).toBe('npm install @insforge/sdk');
    // every fence is one this test parsed: none is left unrun
    expect((text.match(/^```/gm) ?? []).length, file).toBe(blocks.length * 2);
  }
});

describe.each(DB_KINDS)('the guides run as written on %s', (kind) => {
  let b: TestBackend;
  let ai: AiStandin;
  let mcp: Client;

  beforeAll(async () => {
    ai = await startAiStandin();
    b = await startTestBackend(kind, { backend: { aiBaseUrl: ai.baseUrl } });
    ({ client: mcp } = await stdioClient(['--url', b.url]));
  });
  afterAll(async () => {
    await mcp?.close();
    await b?.close();
    await ai?.close();
  });

  it.each(FILES)('%s', async (file) => {
    const source = readFileSync(join(DOCS_DIR, file), 'utf8');
    const text = renderGuide({ topic: file, title: '', text: source }, { baseUrl: b.url, anonKey: TEST_ANON_KEY });
    for (const { what, pairs } of setupOf(source)) {
      for (const [name, value] of pairs) {
        if (what === 'buckets') expect((await b.api('/api/storage/buckets', { method: 'POST', json: { bucketName: name, isPublic: value === 'public' } })).status).toBe(201);
        else if (what === 'secret') expect((await b.api('/api/secrets', { method: 'POST', json: { key: name, value } })).status).toBe(201);
        else throw new Error(`${file}: unknown test setup "${what}"`);
      }
    }
    const blocks = blocksOf(text);
    for (const block of blocks.filter((x) => x.kind === 'sql')) {
      const res = await b.api('/api/database/advance/rawsql', { method: 'POST', json: { query: block.code } });
      expect(res.status, `${file}: ${res.text}`).toBe(200);
    }
    for (const block of blocks.filter((x) => x.kind === 'js function')) {
      const res = await b.api('/api/functions', { method: 'POST', json: { name: block.arg, slug: block.arg, code: block.code } });
      expect(res.status, `${file}: ${res.text}`).toBe(201);
    }
    const app = blocks
      .filter((x) => x.kind === 'js')
      .map((x) => x.code.replace(SDK_IMPORT, ''))
      .join('\n;\n');
    await new AsyncFunction('createClient', app)(createClient);
  });

  it('get-docs lists the topics, and gives a guide with this backend\'s URL and anon key in place', async () => {
    const list = await call(mcp, 'get-docs');
    expect(list.data.topics.map((t: { topic: string }) => t.topic)).toEqual([...TOPICS]);
    expect(list.data.topics.every((t: { title: string }) => t.title.length > 0)).toBe(true);
    const { data } = await call(mcp, 'get-docs', { topic: 'setup' });
    expect(data).toEqual({ topic: 'setup', source: 'insforge-mcp', text: expect.stringContaining(`createClient({ baseUrl: '${b.url}', anonKey: '${TEST_ANON_KEY}' })`) });
    expect(data.text).not.toContain('{{');
    expect(data.text).not.toContain('test setup');
    const bad = await call(mcp, 'get-docs', { topic: 'nope' }, { allowError: true });
    expect(bad.text).toContain('topic');
  });

  it('get-backend-metadata gives the anon key (public), never the admin key', async () => {
    const { data, text } = await call(mcp, 'get-backend-metadata');
    expect(data.backend.anonKey).toBe(TEST_ANON_KEY);
    expect(text).not.toContain(b.keys.apiKey);
  });

  it('the guides are MCP resources too', async () => {
    const { resources } = await mcp.listResources();
    expect(resources.map((r) => r.uri)).toEqual(TOPICS.map((t) => `insforge://docs/${t}`));
    expect(resources.every((r) => r.mimeType === 'text/markdown' && r.title)).toBe(true);
    const read = await mcp.readResource({ uri: 'insforge://docs/database' });
    expect(read.contents).toEqual([{ uri: 'insforge://docs/database', mimeType: 'text/markdown', text: (await call(mcp, 'get-docs', { topic: 'database' })).data.text }]);
    await expect(mcp.readResource({ uri: 'insforge://docs/nope' })).rejects.toThrow();
  });
});

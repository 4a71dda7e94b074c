/**
 * npm run bench: each figure is a ratio of medians measured in this run against a baseline
 * measured alongside it; absolute times are printed for context only.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir, open } from 'node:fs/promises';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { startBackend, type RunningBackend } from '../src/backend/server.js';
import { FunctionRunner } from '../src/backend/functions/runner.js';
import { FunctionRunner as WorkerThreadRunner } from './baselines/worker-threads/runner.js';
import { fmt, summarize, timeEach, timePair, type Summary } from './stats.js';

const API_KEY = 'ik_bench_admin_key_0123456789';
const ANON_KEY = 'anon_bench_anon_key_0123456789';
const quick = process.argv.includes('--quick');
/** `--only=functions` runs just that figure (printed, not written to bench/results). */
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
const N = quick ? 50 : 300;
/** The Node that runs the servers under test (both ours and the official one): BENCH_NODE=/path/to/node to compare versions. */
const serverNode = process.env.BENCH_NODE ?? process.execPath;
const serverNodeVersion = () => execFileSync(serverNode, ['--version'], { encoding: 'utf8' }).trim();
const COLD_RUNS = quick ? 5 : 15;

interface Row {
  figure: string;
  ratio: number;
  spread: string;
  detail: string;
  goal?: string;
}
const rows: Row[] = [];

/** A figure that is a measured quantity of its own (bytes, MB), not a ratio of two timings. */
function recordValue(figure: string, value: number, detail: string, goal?: string) {
  rows.push({ figure, ratio: value, spread: '–', detail, goal });
  process.stderr.write(`  ${figure}: ${fmt(value)} (${detail})\n`);
}

function record(figure: string, subject: Summary, baseline: Summary, detail: string, goal?: string) {
  const ratio = subject.median / baseline.median;
  // spread: the ratio at the 10th and 90th percentiles of the subject against the baseline median
  const spread = `${fmt(subject.p10 / baseline.median)}–${fmt(subject.p90 / baseline.median)}`;
  rows.push({ figure, ratio, spread, detail, goal });
  process.stderr.write(`  ${figure}: ${fmt(ratio)} (${detail})\n`);
}

async function spawnToExit(args: string[]): Promise<number> {
  const t0 = performance.now();
  await new Promise((resolve, reject) => {
    const child = spawn(serverNode, args, { stdio: 'ignore' });
    child.on('exit', resolve);
    child.on('error', reject);
  });
  return performance.now() - t0;
}

interface ServerCommand {
  args: string[];
  env: Record<string, string>;
}
const ours = (url: string): ServerCommand => ({ args: ['dist/cli.js', '--url', url], env: { ...process.env, INSFORGE_API_KEY: API_KEY } as Record<string, string> });
/** The official InsForge MCP server from npm (installed in devtools/: scripts/devtools.mjs), pointed at the same backend. */
const theirs = (url: string): ServerCommand => ({ args: ['devtools/node_modules/@insforge/mcp/dist/index.js', '--api_key', API_KEY, '--api_base_url', url], env: { ...process.env } as Record<string, string> });

async function connect(cmd: ServerCommand): Promise<{ client: Client; transport: StdioClientTransport }> {
  const transport = new StdioClientTransport({ command: serverNode, args: cmd.args, env: cmd.env, stderr: 'ignore' });
  const client = new Client({ name: 'bench', version: '1' });
  await client.connect(transport);
  return { client, transport };
}

async function coldStart(cmd: ServerCommand): Promise<number> {
  const t0 = performance.now();
  const { client } = await connect(cmd);
  await client.listTools();
  const t = performance.now() - t0;
  await client.close();
  return t;
}

async function toolList(cmd: ServerCommand): Promise<{ bytes: number; count: number }> {
  const { client } = await connect(cmd);
  const list = await client.listTools();
  await client.close();
  return { bytes: Buffer.byteLength(JSON.stringify(list)), count: list.tools.length };
}

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const peakMb = (pid: number) => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

async function main() {
  const root = await mkdtemp(join(tmpdir(), 'insforge-bench-'));
  let backend: RunningBackend | undefined;
  try {
    process.stderr.write('starting the embedded backend…\n');
    backend = await startBackend({ dataDir: join(root, 'data'), host: '127.0.0.1', port: 0, apiKey: API_KEY, anonKey: ANON_KEY, rateLimit: 1e9, adminRateLimit: 1e9, maxUploadBytes: 2 * 1024 ** 3, log: () => undefined });
    const { url } = backend;
    if (only === 'functions') {
      await functionLatency(url);
      printTable();
      return;
    }
    const admin = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };
    const rawsql = async (query: string) => {
      const r = await request(`${url}/api/database/advance/rawsql`, { method: 'POST', headers: admin, body: JSON.stringify({ query }) });
      if (r.statusCode !== 200) throw new Error(await r.body.text());
      await r.body.dump();
    };
    const schema = `create table items (id int primary key, name text not null, price numeric, tags text[], created_at timestamptz default now());
                  insert into items select g, 'item ' || g, g * 1.5, array['a','b'], now() from generate_series(1, 10000) g;
                  create table bulk (id serial primary key, name text, qty int, note text);`;
    await rawsql(schema);
    // the baseline of the backend figures: the same tables in a PGlite of this process, queried directly
    // (the backend's own PGlite runs in a worker thread and cannot be shared)
    const { PGlite } = await import('@electric-sql/pglite');
    const db = new PGlite();
    await db.exec(schema);

    process.stderr.write('cold start…\n');
    const nodeFloor: number[] = [];
    const cold: number[] = [];
    const official: number[] = [];
    for (let i = 0; i < COLD_RUNS; i++) {
      nodeFloor.push(await spawnToExit(['-e', '']));
      cold.push(await coldStart(ours(url)));
      official.push(await coldStart(theirs(url)));
    }
    record('Cold start: spawn → `tools/list` over stdio ÷ the official `@insforge/mcp` on the same backend', summarize(cold), summarize(official), `${fmt(summarize(cold).median, 0)} ms vs ${fmt(summarize(official).median, 0)} ms`, '≤ 0.4');
    record('Cold start ÷ a bare `node -e ""` spawn (the floor)', summarize(cold), summarize(nodeFloor), `${fmt(summarize(cold).median, 0)} ms vs ${fmt(summarize(nodeFloor).median, 0)} ms`);

    process.stderr.write('tokens…\n');
    const ourList = await toolList(ours(url));
    const theirList = await toolList(theirs(url));
    const perTool = (l: { bytes: number; count: number }) => l.bytes / l.count;
    recordValue('`tools/list` bytes per tool (ours; the official server in the detail)', perTool(ourList), `${ourList.count} tools, ${fmt(perTool(ourList), 0)} B/tool; official: ${theirList.count} tools, ${fmt(perTool(theirList), 0)} B/tool`, '≤ 450');

    process.stderr.write('query-table overhead…\n');
    const { client, transport } = await connect(ours(url));
    let i = 0;
    const viaMcp = () => client.callTool({ name: 'query-table', arguments: { table: 'items', where: [{ column: 'id', op: 'eq', value: (i++ % 10000) + 1 }] } });
    const direct = async () => {
      const r = await request(`${url}/api/db/items?id=eq.${(i++ % 10000) + 1}&limit=101`, { headers: { authorization: `Bearer ${API_KEY}` } });
      await r.body.json();
    };
    const [mcpTimes, directTimes] = await timePair(N, viaMcp, direct);
    record('`query-table` one row by PK, MCP stdio ÷ the same REST request with undici', summarize(mcpTimes), summarize(directTimes), `${fmt(summarize(mcpTimes).median)} ms vs ${fmt(summarize(directTimes).median)} ms`, '≤ 1.15');

    // the floor of any MCP call: one stdio round trip that does no work
    const [pingTimes, directTimes2] = await timePair(N, () => client.ping(), direct);
    record('MCP `ping` over stdio ÷ the same direct REST request (the transport\'s share of a call)', summarize(pingTimes), summarize(directTimes2), `${fmt(summarize(pingTimes).median)} ms vs ${fmt(summarize(directTimes2).median)} ms`);

    const hundred = (await client.callTool({ name: 'query-table', arguments: { table: 'items', order: [{ column: 'id' }], limit: 100 } })) as unknown as { content: { text: string }[]; structuredContent: { rows: unknown[] } };
    const resultBytes = Buffer.byteLength(hundred.content[0]!.text);
    const rowsBytes = Buffer.byteLength(JSON.stringify(hundred.structuredContent.rows));
    recordValue('100-row `query-table` result text ÷ the compact JSON of those rows', resultBytes / rowsBytes, `${resultBytes} B vs ${rowsBytes} B`, '≤ 1.1');

    await new Promise((r) => setTimeout(r, 500));
    recordValue('Idle RSS of the MCP server (stdio, remote backend), MB', rssMb(transport.pid!), 'after initialize, tools/list and calls', '≤ 70');
    await client.close();

    process.stderr.write('HTTP throughput…\n');
    await httpThroughput(url);

    process.stderr.write('backend overhead…\n');
    const [httpTimes, pgliteTimes] = await timePair(
      N,
      async () => {
        const r = await request(`${url}/api/db/items?id=eq.${(i++ % 10000) + 1}`, { headers: { apikey: ANON_KEY } });
        await r.body.json();
      },
      () => db.query('SELECT * FROM items WHERE id = $1', [(i++ % 10000) + 1]),
    );
    record('Backend GET one row by PK over HTTP ÷ same query on PGlite directly', summarize(httpTimes), summarize(pgliteTimes), `${fmt(summarize(httpTimes).median)} ms vs ${fmt(summarize(pgliteTimes).median)} ms`, '≤ 1.5');
    // the floor under that figure: an HTTP round trip to a route that touches no database
    const [healthTimes, pgliteTimes2] = await timePair(
      N,
      async () => {
        const r = await request(`${url}/api/health`);
        await r.body.dump();
      },
      () => db.query('SELECT * FROM items WHERE id = $1', [(i++ % 10000) + 1]),
    );
    record('Backend HTTP floor: GET /api/health (no database) ÷ the same PGlite query', summarize(healthTimes), summarize(pgliteTimes2), `${fmt(summarize(healthTimes).median)} ms vs ${fmt(summarize(pgliteTimes2).median)} ms`);

    process.stderr.write('10k-row insert…\n');
    const rowsToInsert = Array.from({ length: 10_000 }, (_, k) => ({ name: `row ${k}`, qty: k, note: k % 3 ? null : 'note' }));
    const body = JSON.stringify(rowsToInsert);
    const insertTimes = await timeEach(quick ? 3 : 7, async () => {
      const r = await request(`${url}/api/db/bulk`, { method: 'POST', headers: admin, body });
      if (r.statusCode !== 201) throw new Error(await r.body.text());
      await r.body.dump();
    }, 1);
    const sqlInsertTimes = await timeEach(quick ? 3 : 7, () => db.query('INSERT INTO bulk (name, qty, note) SELECT name, qty, note FROM json_populate_recordset(null::bulk, $1::json)', [body]), 1);
    record('10k-row insert in one request ÷ the same rows in one SQL statement on PGlite', summarize(insertTimes), summarize(sqlInsertTimes), `${fmt(summarize(insertTimes).median, 0)} ms vs ${fmt(summarize(sqlInsertTimes).median, 0)} ms`);

    await functionLatency(url);

    process.stderr.write('large upload…\n');
    await largeUpload(url, root);

    printTable();
    await mkdir('bench/results', { recursive: true });
    const file = process.env.BENCH_NODE ? `bench/results/latest-node-${serverNodeVersion()}.json` : 'bench/results/latest.json';
    await writeFile(file, JSON.stringify({ date: new Date().toISOString(), node: process.version, serverNode: serverNodeVersion(), quick, rows }, null, 2) + '\n');
  } finally {
    await backend?.close();
    await rm(root, { recursive: true, force: true });
  }
}

/**
 * One function invocation in the sandbox (a Deno process per call, one kept booted ahead) against
 * the runner this backend had before (a worker thread per call, one kept started ahead), kept in
 * bench/baselines/worker-threads. Both are called directly, without HTTP, one call at a time.
 */
async function functionLatency(url: string) {
  process.stderr.write('function invocation…\n');
  const code = 'export default async (req) => Response.json({ hello: (await req.json()).name })';
  const limits = { timeoutMs: 10_000, memoryMb: 64, maxConcurrent: 8 };
  const deno = new FunctionRunner(limits, { allowNet: () => [new URL(url).host] }, () => undefined);
  const threads = new WorkerThreadRunner(limits, () => undefined);
  const request = { method: 'POST', url: `${url}/functions/hello`, headers: [['content-type', 'application/json']] as [string, string][], body: new TextEncoder().encode('{"name":"bench"}') };
  const env = { INSFORGE_BASE_URL: url };
  try {
    const [denoTimes, threadTimes] = await timePair(quick ? 20 : 100, () => deno.invoke('hello', code, request, env), () => threads.invoke('hello', code, request, env));
    record(
      'Function invocation, one at a time: a Deno process per call (the sandbox) ÷ a worker thread per call (the runner before)',
      summarize(denoTimes),
      summarize(threadTimes),
      `${fmt(summarize(denoTimes).median)} ms vs ${fmt(summarize(threadTimes).median)} ms`,
    );
  } finally {
    await deno.close();
    await threads.close();
  }
}

/** 50 Streamable-HTTP sessions calling query-table, against the backend's own rate for the same request at the same concurrency. */
async function httpThroughput(url: string) {
  const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
  const child = spawn(serverNode, ['dist/cli.js', '--http', '--port', '0', '--url', url], { env: { ...process.env, INSFORGE_API_KEY: API_KEY }, stdio: ['ignore', 'ignore', 'pipe'] });
  const mcpUrl = await new Promise<string>((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d) => {
      err += d;
      const m = /Streamable HTTP at (\S+)\/mcp/.exec(err);
      if (m) resolve(`${m[1]}/mcp`);
    });
    child.on('exit', () => reject(new Error(err)));
  });
  const SESSIONS = 50;
  const CALLS = quick ? 20 : 60;
  const clients = await Promise.all(
    Array.from({ length: SESSIONS }, async () => {
      const c = new Client({ name: 'bench', version: '1' });
      await c.connect(new StreamableHTTPClientTransport(new URL(mcpUrl)));
      return c;
    }),
  );
  let k = 0;
  const viaMcp = async () => {
    const t0 = performance.now();
    await Promise.all(clients.map(async (c) => {
      for (let j = 0; j < CALLS; j++) await c.callTool({ name: 'query-table', arguments: { table: 'items', where: [{ column: 'id', op: 'eq', value: (k++ % 10000) + 1 }] } });
    }));
    return (SESSIONS * CALLS) / ((performance.now() - t0) / 1000);
  };
  const direct = async () => {
    const t0 = performance.now();
    await Promise.all(Array.from({ length: SESSIONS }, async () => {
      for (let j = 0; j < CALLS; j++) {
        const r = await request(`${url}/api/db/items?id=eq.${(k++ % 10000) + 1}&limit=101`, { headers: { authorization: `Bearer ${API_KEY}` } });
        await r.body.json();
      }
    }));
    return (SESSIONS * CALLS) / ((performance.now() - t0) / 1000);
  };
  await viaMcp();
  await direct();
  const mcpRates: number[] = [];
  const directRates: number[] = [];
  for (let r = 0; r < (quick ? 2 : 4); r++) {
    mcpRates.push(await viaMcp());
    directRates.push(await direct());
  }
  const m = summarize(mcpRates);
  const d = summarize(directRates);
  rows.push({ figure: `HTTP throughput: ${SESSIONS} Streamable-HTTP sessions calling \`query-table\`, calls/s ÷ the backend's own requests/s at the same concurrency`, ratio: m.median / d.median, spread: `${fmt(m.p10 / d.median)}–${fmt(m.p90 / d.median)}`, detail: `${fmt(m.median, 0)}/s vs ${fmt(d.median, 0)}/s`, goal: '≥ 0.8' });
  await Promise.all(clients.map((c) => c.close()));
  child.kill('SIGTERM');
}

/** A large file through upload-file (stdio, streamed from disk) against a direct undici multipart upload of the same file. */
async function largeUpload(url: string, root: string) {
  const size = (quick ? 256 : 1024) * 1024 * 1024;
  const path = join(root, 'large.bin');
  const handle = await open(path, 'w');
  const chunk = Buffer.alloc(8 * 1024 * 1024, 7);
  for (let written = 0; written < size; written += chunk.length) await handle.write(chunk);
  await handle.close();
  // the backend in this process would share its memory with a direct upload: the server under test runs its own
  const { client, transport } = await connect({ args: ['dist/cli.js', '--url', url], env: { ...process.env, INSFORGE_API_KEY: API_KEY } as Record<string, string> });
  await client.callTool({ name: 'create-bucket', arguments: { bucketName: 'bench' } }).catch(() => undefined);
  const pid = transport.pid!;
  const before = rssMb(pid);
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
  let t0 = performance.now();
  const res = await client.callTool({ name: 'upload-file', arguments: { bucket: 'bench', key: 'via-mcp.bin', filePath: path } }, undefined, { timeout: 600_000 });
  const mcpSeconds = (performance.now() - t0) / 1000;
  if (res.isError) throw new Error(JSON.stringify(res.content));
  const growth = peakMb(pid) - before;
  await client.close();

  const { openAsBlob } = await import('node:fs');
  const { FormData } = await import('undici');
  const form = new FormData();
  form.set('path', 'direct.bin');
  form.set('file', await openAsBlob(path), 'direct.bin');
  t0 = performance.now();
  const r = await request(`${url}/api/storage/buckets/bench/objects`, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}` }, body: form });
  await r.body.dump();
  if (r.statusCode !== 201) throw new Error(`direct upload: ${r.statusCode}`);
  const directSeconds = (performance.now() - t0) / 1000;
  const mb = size / 1024 / 1024;
  rows.push({ figure: `${mb} MiB upload through \`upload-file\`: throughput ÷ a direct undici multipart upload`, ratio: directSeconds / mcpSeconds, spread: '–', detail: `${fmt(mb / mcpSeconds, 0)} MiB/s vs ${fmt(mb / directSeconds, 0)} MiB/s` });
  recordValue(`${mb} MiB upload: peak RSS growth of the MCP server, MB`, growth, 'VmHWM after the upload − RSS before', '≤ 64');
}

function printTable() {
  const lines = ['| Figure | Ratio (median) | Spread (p10–p90) | Absolute, for context | Goal |', '|---|---|---|---|---|'];
  for (const r of rows) lines.push(`| ${r.figure} | ${fmt(r.ratio)} | ${r.spread} | ${r.detail} | ${r.goal ?? '–'} |`);
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});

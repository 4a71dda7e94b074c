/**
 * npm run bench: each figure is a ratio of medians measured in this run against a baseline
 * measured alongside it; absolute times are printed for context only.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { startBackend, type RunningBackend } from '../src/backend/server.js';
import { fmt, summarize, timeEach, timePair, type Summary } from './stats.js';

const API_KEY = 'ik_bench_admin_key_0123456789';
const ANON_KEY = 'anon_bench_anon_key_0123456789';
const quick = process.argv.includes('--quick');
const N = quick ? 50 : 300;
const COLD_RUNS = quick ? 5 : 15;

interface Row {
  figure: string;
  ratio: number;
  spread: string;
  detail: string;
  goal?: string;
}
const rows: Row[] = [];

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
    const child = spawn(process.execPath, args, { stdio: 'ignore' });
    child.on('exit', resolve);
    child.on('error', reject);
  });
  return performance.now() - t0;
}

async function coldStart(url: string): Promise<number> {
  const t0 = performance.now();
  const transport = new StdioClientTransport({ command: process.execPath, args: ['dist/cli.js', '--url', url], env: { ...process.env, INSFORGE_API_KEY: API_KEY } as Record<string, string>, stderr: 'ignore' });
  const client = new Client({ name: 'bench', version: '1' });
  await client.connect(transport);
  await client.listTools();
  const t = performance.now() - t0;
  await client.close();
  return t;
}

async function main() {
  const root = await mkdtemp(join(tmpdir(), 'insforge-bench-'));
  let backend: RunningBackend | undefined;
  try {
    process.stderr.write('starting the embedded backend…\n');
    backend = await startBackend({ dataDir: join(root, 'data'), host: '127.0.0.1', port: 0, apiKey: API_KEY, anonKey: ANON_KEY, rateLimit: 1e9, adminRateLimit: 1e9, log: () => undefined });
    const { url, db } = backend;
    const admin = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };
    const rawsql = async (query: string) => {
      const r = await request(`${url}/api/database/advance/rawsql`, { method: 'POST', headers: admin, body: JSON.stringify({ query }) });
      if (r.statusCode !== 200) throw new Error(await r.body.text());
      await r.body.dump();
    };
    await rawsql(`create table items (id int primary key, name text not null, price numeric, tags text[], created_at timestamptz default now());
                  insert into items select g, 'item ' || g, g * 1.5, array['a','b'], now() from generate_series(1, 10000) g;
                  create table bulk (id serial primary key, name text, qty int, note text);`);

    process.stderr.write('cold start…\n');
    const nodeFloor: number[] = [];
    const cold: number[] = [];
    for (let i = 0; i < COLD_RUNS; i++) {
      nodeFloor.push(await spawnToExit(['-e', '']));
      cold.push(await coldStart(url));
    }
    record('Cold start: spawn → tools/list over stdio ÷ bare `node -e ""` spawn', summarize(cold), summarize(nodeFloor), `${fmt(summarize(cold).median, 0)} ms vs ${fmt(summarize(nodeFloor).median, 0)} ms`);

    process.stderr.write('query-table overhead…\n');
    const transport = new StdioClientTransport({ command: process.execPath, args: ['dist/cli.js', '--url', url], env: { ...process.env, INSFORGE_API_KEY: API_KEY } as Record<string, string>, stderr: 'ignore' });
    const client = new Client({ name: 'bench', version: '1' });
    await client.connect(transport);
    let i = 0;
    const viaMcp = () => client.callTool({ name: 'query-table', arguments: { table: 'items', where: [{ column: 'id', op: 'eq', value: (i++ % 10000) + 1 }] } });
    const direct = async () => {
      const r = await request(`${url}/api/db/items?id=eq.${(i++ % 10000) + 1}&limit=101`, { headers: { authorization: `Bearer ${API_KEY}` } });
      await r.body.json();
    };
    const [mcpTimes, directTimes] = await timePair(N, viaMcp, direct);
    record('query-table one row by PK, MCP stdio ÷ direct REST (undici)', summarize(mcpTimes), summarize(directTimes), `${fmt(summarize(mcpTimes).median)} ms vs ${fmt(summarize(directTimes).median)} ms`, '≤ 1.15');
    await client.close();

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

    printTable();
    await mkdir('bench/results', { recursive: true });
    await writeFile('bench/results/latest.json', JSON.stringify({ date: new Date().toISOString(), node: process.version, quick, rows }, null, 2) + '\n');
  } finally {
    await backend?.close();
    await rm(root, { recursive: true, force: true });
  }
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

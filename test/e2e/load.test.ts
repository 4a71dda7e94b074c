import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { freshDataDir, freshPostgresDatabase, TEST_ANON_KEY, TEST_API_KEY } from '../support/backend.js';
import { call, serverEnv, spawnHttpServer } from '../support/mcp.js';

/** The figure by default; LOAD_SESSIONS / LOAD_CALLS make a quicker local run. */
const SESSIONS = Number(process.env.LOAD_SESSIONS ?? 50);
const CALLS = Number(process.env.LOAD_CALLS ?? 200);
/**
 * The embedded backend's database: Postgres when the suite has one (CI does), else PGlite.
 * PGlite (in a worker thread, one session for everyone) is the bottleneck: about half as many calls per second.
 */
const DB = (process.env.LOAD_DB ?? (process.env.TEST_DATABASE_URL ? 'postgres' : 'pglite')) as 'pglite' | 'postgres';
/** Calls in flight per session at once. */
const CONCURRENCY = 4;
/** A field of /proc/<pid>/status (given in kB), in MiB. */
const status = (pid: number, field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
/** CPU seconds a process has used (user + system; clock ticks are 1/100 s on Linux). */
const cpuSeconds = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const GC_HOOK = fileURLToPath(new URL('../support/gc-hook.cjs', import.meta.url));

interface Outcome {
  lost: string[];
  misrouted: string[];
  leaked: number;
  /** Milliseconds each call took, client side. */
  latencies: number[];
}

/** Processes that keep a core each busy the whole run: the load must hold on a busy machine too. */
const BURNERS = Number(process.env.LOAD_BURNERS ?? 2);
const burnCpu = () => Array.from({ length: BURNERS }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/**
 * One planned call: its arguments and how to tell that the answer is this very call's, in this
 * very session (each carries the session's tag, and most the call's number too).
 */
function plan(tag: string, i: number): { name: string; args: Record<string, unknown>; mine: (data: any, text: string) => boolean } { // eslint-disable-line @typescript-eslint/no-explicit-any
  const id = `${tag}:${i}`;
  switch (i % 7) {
    case 0:
      return {
        name: 'insert-records',
        args: { table: 'load_shared', records: [{ session: tag, seq: i, note: id }] },
        mine: (d) => d.inserted === 1 && d.rows[0].session === tag && d.rows[0].note === id,
      };
    case 1:
      return {
        name: 'query-table',
        args: { table: 'load_shared', select: `session,seq,c${i}:note`, where: [{ column: 'session', op: 'eq', value: tag }], order: [{ column: 'seq', ascending: false }], limit: 5 },
        mine: (d) => d.rows.every((r: Record<string, unknown>) => r.session === tag && `c${i}` in r),
      };
    case 2:
      return { name: 'insert-records', args: { table: `load_${tag}`, records: [{ seq: i }] }, mine: (d) => d.rows[0].seq === i && d.rows[0].owner === tag };
    case 3:
      return { name: 'describe-table', args: { table: `load_${tag}` }, mine: (_d, text) => text.includes(`load_${tag}`) };
    case 4:
      return { name: 'get-current-user', args: {}, mine: (d) => d.signedIn === false };
    case 5:
      return { name: 'list-files', args: { bucket: 'load', prefix: `${tag}/` }, mine: (d) => d.files.length === 1 && d.files[0].key === `${tag}/readme.txt` };
    default:
      return { name: 'call-rpc', args: { function: 'echo', args: { v: id } }, mine: (d) => d.result === id };
  }
}

async function runSession(client: Client, tag: string, out: Outcome): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < CALLS) {
      const i = next++;
      const { name, args, mine } = plan(tag, i);
      const began = performance.now();
      try {
        const result = (await client.callTool({ name, arguments: args }, undefined, { timeout: 45_000 })) as CallToolResult;
        out.latencies.push(performance.now() - began);
        const text = result.content.map((c) => (c.type === 'text' ? c.text : '')).join('');
        if (text.includes(TEST_API_KEY) || text.includes(TEST_ANON_KEY)) out.leaked++;
        if (result.isError) out.lost.push(`${tag} #${i} ${name}: ${text.slice(0, 200)}`);
        else if (!mine(result.structuredContent, text)) out.misrouted.push(`${tag} #${i} ${name}: ${text.slice(0, 200)}`);
      } catch (err) {
        out.lost.push(`${tag} #${i} ${name}: ${(err as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

describe(`load: ${SESSIONS} Streamable HTTP sessions × ${CALLS} mixed calls (embedded backend on ${DB})`, () => {
  let server: Awaited<ReturnType<typeof spawnHttpServer>>;
  const tags = Array.from({ length: SESSIONS }, (_, i) => `s${String(i).padStart(3, '0')}`);

  const connect = async () => {
    const client = new Client({ name: 'load-test', version: '1' });
    const transport = new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`));
    await client.connect(transport);
    return { client, transport };
  };
  /** Ends the session on the server too (DELETE /mcp), as a well-behaved client does. */
  const disconnect = async ({ client, transport }: Awaited<ReturnType<typeof connect>>) => {
    await transport.terminateSession();
    await client.close();
  };

  beforeAll(async () => {
    // the hook lets the test ask for a full GC, to tell held memory from uncollected garbage
    const database = DB === 'postgres' ? ['--database-url', await freshPostgresDatabase()] : [];
    server = await spawnHttpServer(['--data-dir', await freshDataDir(), ...database], serverEnv({ NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${GC_HOOK}`.trim() }));
    const admin = await connect();
    await call(admin.client, 'run-sql', {
      query:
        `create table load_shared (id bigserial primary key, session text not null, seq int not null, note text);
         create function echo(v text) returns text language sql immutable as $$ select v $$;` +
        tags.map((t) => `create table load_${t} (id bigserial primary key, owner text not null default '${t}', seq int not null);`).join('\n'),
    });
    await call(admin.client, 'create-bucket', { bucketName: 'load' });
    for (const t of tags) await call(admin.client, 'upload-file', { bucket: 'load', key: `${t}/readme.txt`, text: `file of ${t}` });
    // warm every path once, so lazy loading is in the baseline and not counted as growth
    for (let i = 0; i < 7; i++) {
      const { name, args } = plan(tags[0]!, 1000 + i);
      await call(admin.client, name, args);
    }
    await disconnect(admin);
  });
  afterAll(async () => {
    if (!server) return;
    await server.stop();
    expect(server.stderr()).not.toContain(TEST_API_KEY);
    expect(server.stderr()).not.toContain(TEST_ANON_KEY);
  });

  /** Memory after a full garbage collection in the server (MiB): RSS and the V8 heap in use. */
  const afterGc = async (pid: number) => {
    const seen = server.stderr().length;
    process.kill(pid, 'SIGUSR2');
    let line: RegExpExecArray | null = null;
    await expect.poll(() => (line = /gc-hook: (\{.*\})/.exec(server.stderr().slice(seen))), { timeout: 10_000 }).toBeTruthy();
    const usage = JSON.parse(line![1]!) as NodeJS.MemoryUsage;
    // V8 hands the freed pages back shortly after the collection, not during it
    await sleep(1500);
    return { rss: status(pid, 'VmRSS'), heapUsed: usage.heapUsed / 2 ** 20 };
  };

  it('loses and misroutes nothing, and memory comes back near its start', async () => {
    const pid = server.child.pid!;
    await sleep(500);
    const startRss = status(pid, 'VmRSS');
    const startGc = await afterGc(pid);
    const out: Outcome = { lost: [], misrouted: [], leaked: 0, latencies: [] };

    const burners = burnCpu();
    const started = Date.now();
    const cpuBefore = cpuSeconds(pid);
    const clientCpuBefore = process.cpuUsage();
    const sessions = await Promise.all(tags.map(() => connect()));
    try {
      await Promise.all(sessions.map((s, i) => runSession(s.client, tags[i]!, out)));
    } finally {
      for (const b of burners) b.kill('SIGKILL');
    }
    const seconds = (Date.now() - started) / 1000;
    const serverCpu = cpuSeconds(pid) - cpuBefore;
    const clientCpu = process.cpuUsage(clientCpuBefore);
    const peakRss = status(pid, 'VmHWM');
    await Promise.all(sessions.map(disconnect));

    // every session is gone on the server side
    await expect.poll(() => [...server.stderr().matchAll(/session \S+ closed \((\d+) open\)/g)].at(-1)?.[1], { timeout: 10_000 }).toBe('0');
    await sleep(3000);
    const endRss = status(pid, 'VmRSS');
    const endGc = await afterGc(pid);
    const total = SESSIONS * CALLS;
    const mib = (n: number) => `${n >= 0 ? '+' : ''}${n.toFixed(0)} MiB`;
    const sorted = [...out.latencies].sort((a, b) => a - b);
    process.stderr.write(
      `FIGURE load (${DB}, ${BURNERS} CPU-burning processes beside it): ${SESSIONS} Streamable HTTP sessions × ${CALLS} mixed calls = ${total} calls in ${seconds.toFixed(1)} s (${Math.round(total / seconds)} calls/s, latency p50 ${percentile(sorted, 50).toFixed(0)} ms, p99 ${percentile(sorted, 99).toFixed(0)} ms, server CPU ${serverCpu.toFixed(1)} s, test clients' CPU ${((clientCpu.user + clientCpu.system) / 1e6).toFixed(1)} s); ` +
        `lost ${out.lost.length}, misrouted ${out.misrouted.length}; server RSS ${startRss.toFixed(0)} MiB at start, peak ${peakRss.toFixed(0)} MiB, ` +
        `${endRss.toFixed(0)} MiB 3 s after the sessions closed (${mib(endRss - startRss)}); after a full GC: RSS ${mib(endGc.rss - startGc.rss)}, V8 heap in use ${mib(endGc.heapUsed - startGc.heapUsed)}\n`,
    );
    expect(out.lost.slice(0, 5)).toEqual([]);
    expect(out.misrouted.slice(0, 5)).toEqual([]);
    expect(out.leaked).toBe(0);
    // garbage V8 has not collected yet is not held memory: compare after a full GC
    expect(endGc.rss - startGc.rss).toBeLessThan(64);
    expect(endGc.heapUsed - startGc.heapUsed).toBeLessThan(16);

    // and the server still answers
    const after = await connect();
    const rows = await call(after.client, 'query-table', { table: 'load_shared', count: true, limit: 1 });
    expect(rows.data.count).toBe(SESSIONS * Math.ceil(CALLS / 7) + 1);
    await disconnect(after);
  }, 600_000);
});

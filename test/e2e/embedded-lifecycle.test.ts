import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { freshDataDir, TEST_ANON_KEY, TEST_API_KEY } from '../support/backend.js';
import { call, CLI, serverEnv, spawnHttpServer } from '../support/mcp.js';

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/** Another program holding a port. */
async function holdPort(port: number): Promise<Server> {
  const server = createServer();
  await new Promise<void>((r, reject) => server.once('error', reject).listen(port, '127.0.0.1', r));
  return server;
}

/** The environment of a server that keeps its backend port (the suite's default is a random one). */
const keepingPort = (extra: Record<string, string> = {}) => {
  const env = serverEnv(extra);
  if (!('INSFORGE_BACKEND_PORT' in extra)) delete env.INSFORGE_BACKEND_PORT;
  return env;
};

interface Server_ {
  client: Client;
  transport: StdioClientTransport;
  stderr: () => string;
}

async function stdio(args: string[], env: Record<string, string>): Promise<Server_> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, ...args], env, stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (d) => (stderr += d));
  const client = new Client({ name: 'lifecycle', version: '1.0.0' });
  await client.connect(transport);
  return { client, transport, stderr: () => stderr };
}

const backendOf = async (client: Client) => (await call(client, 'get-backend-metadata')).data.backend as { url: string; notes?: string[] };
const portOf = (url: string) => Number(new URL(url).port);

describe('the embedded backend keeps one address per data dir', () => {
  it('keeps its port across restarts, and says so when another program holds it', { timeout: 240_000 }, async () => {
    const dataDir = await freshDataDir();
    const port = await freePort();
    const first = await stdio(['--data-dir', dataDir, '--backend-port', String(port)], keepingPort());
    expect(portOf((await backendOf(first.client)).url)).toBe(port);
    await first.client.close();
    expect(JSON.parse(await readFile(join(dataDir, 'backend.json'), 'utf8'))).toEqual({ port });

    // no --backend-port: the kept one
    const second = await stdio(['--data-dir', dataDir], keepingPort());
    const again = await backendOf(second.client);
    expect(portOf(again.url)).toBe(port);
    expect(again.notes).toBeUndefined();
    await second.client.close();

    // taken by another program: a free one for now, said on stderr and in the metadata
    const holder = await holdPort(port);
    try {
      const third = await stdio(['--data-dir', dataDir], keepingPort());
      const moved = await backendOf(third.client);
      expect(portOf(moved.url)).not.toBe(port);
      expect(moved.notes?.join(' ')).toMatch(new RegExp(`Port ${port}\\b.*taken by another program.*listens on ${portOf(moved.url)}.*--backend-port`));
      expect(third.stderr()).toContain(`Port ${port}, where this data dir's backend is kept, is taken`);
      await third.client.close();
    } finally {
      await new Promise((r) => holder.close(r));
    }

    // the kept port did not move with it
    const fourth = await stdio(['--data-dir', dataDir], keepingPort());
    expect(portOf((await backendOf(fourth.client)).url)).toBe(port);
    await fourth.client.close();
  });

  it('an MCP port in use stops the server with a message naming the port and --port (exit 2)', async () => {
    const port = await freePort();
    const holder = await holdPort(port);
    try {
      const child = spawn(process.execPath, [CLI, '--http', '--port', String(port), '--data-dir', await freshDataDir()], { env: serverEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const code = await new Promise((r) => child.on('exit', r));
      expect(code).toBe(2);
      expect(stderr).toContain(`Port ${port}`);
      expect(stderr).toContain('--port');
      expect(stderr).not.toMatch(/EADDRINUSE/);
    } finally {
      await new Promise((r) => holder.close(r));
    }
  });
});

describe('a shared backend survives its owner', () => {
  it('two stdio servers on one data dir: the first is killed, the second takes the backend over on the same port', { timeout: 120_000 }, async () => {
    const dataDir = await freshDataDir();
    const port = await freePort();
    const first = await stdio(['--data-dir', dataDir, '--backend-port', String(port)], keepingPort());
    await call(first.client, 'run-sql', { query: 'create table notes (id serial primary key, body text not null)' });
    await call(first.client, 'insert-records', { table: 'notes', records: [{ body: 'written through the first' }] });

    // the second uses the first's backend, and says its own --ai-base-url does not apply
    const second = await stdio(['--data-dir', dataDir, '--ai-base-url', 'http://127.0.0.1:9/v1'], keepingPort());
    const shared = await backendOf(second.client);
    expect(shared.url).toBe(`http://127.0.0.1:${port}`);
    expect(shared.notes?.join(' ')).toMatch(/--ai-base-url: http:\/\/127\.0\.0\.1:9\/v1 here, not set in the running backend/);
    expect(second.stderr()).toMatch(/settings differ.*--ai-base-url/);

    const killedAt = Date.now();
    process.kill(first.transport.pid!, 'SIGKILL');
    const rows = await call(second.client, 'query-table', { table: 'notes', select: 'body' });
    const tookMs = Date.now() - killedAt;
    expect(rows.data.rows).toEqual([{ body: 'written through the first' }]);
    // the aim is 5 s (1–5 s measured on a quiet machine; PGlite's reopen is most of it); the bound is loose
    // for a loaded CI machine, and far below "never" (before, calls still failed 17 s after the kill)
    console.log(`FIGURE takeover: the first call after the owner was killed answered after ${tookMs} ms`);
    expect(tookMs, `the call after the kill took ${tookMs} ms`).toBeLessThan(30_000);
    const taken = await backendOf(second.client);
    expect(taken.url).toBe(`http://127.0.0.1:${port}`); // the same address for the app
    expect(taken.notes).toBeUndefined(); // its own settings apply now
    // a write goes through too (a refused connection sent nothing, so it is safe to send again)
    await call(second.client, 'insert-records', { table: 'notes', records: [{ body: 'written after the takeover' }] });
    expect(second.stderr()).toMatch(/taking the backend over on port/);
    await second.client.close();
    await first.client.close().catch(() => undefined);
  });
});

describe('a server whose keys the shared backend would refuse', () => {
  it('says so on its calls, naming the flag, instead of answering 401 on each', { timeout: 120_000 }, async () => {
    const dataDir = await freshDataDir();
    const first = await stdio(['--data-dir', dataDir], serverEnv());
    await call(first.client, 'get-backend-metadata');
    const second = await stdio(['--data-dir', dataDir], serverEnv({ INSFORGE_API_KEY: 'ik_another_key_for_this_data_dir_0123456789' }));
    try {
      const res = await second.client.callTool({ name: 'get-backend-metadata', arguments: {} });
      expect(res.isError).toBe(true);
      const text = JSON.stringify(res.content);
      expect(text).toMatch(/already runs the backend of .* with another --api-key than this server's/);
      expect(text).not.toContain('ik_another_key'); // the key itself is never said
    } finally {
      await second.client.close();
      await first.client.close();
    }
  });
});

describe('what npm start prints', () => {
  it('MCP URLs, HTTP and stdio configs, how to pass flags, then the backend URL, anon key and a .env for app code', { timeout: 120_000 }, async () => {
    const dataDir = await freshDataDir();
    // keys as a newcomer has them: generated into the data dir (not the suite's fixed ones, which are never printed)
    const env = serverEnv();
    delete env.INSFORGE_API_KEY;
    delete env.INSFORGE_ANON_KEY;
    const stored = JSON.parse(await readFile(join(dataDir, 'keys.json'), 'utf8')) as { apiKey: string; anonKey: string };
    const server = await spawnHttpServer(['--data-dir', dataDir], env);
    try {
      await until(async () => server.stderr().includes('INSFORGE_ANON_KEY='), 110_000);
      const out = server.stderr();
      expect(out).toContain(`Streamable HTTP at ${server.url}/mcp, legacy SSE at ${server.url}/sse`);
      expect(out).toContain(`claude mcp add --transport http insforge ${server.url}/mcp`);
      const desktop = /Claude Desktop \(claude_desktop_config\.json\): (\{.*\})/.exec(out);
      expect(JSON.parse(desktop![1]!)).toEqual({ mcpServers: { insforge: { command: process.execPath, args: [resolve(CLI), '--data-dir', dataDir] } } });
      expect(out).toContain('npm start -- --port 4000');
      const backendUrl = /Embedded backend for your app: (http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]!;
      expect(out).toContain(`anon key: ${stored.anonKey}`);
      expect(out).toContain(`    INSFORGE_BASE_URL=${backendUrl}\n    INSFORGE_ANON_KEY=${stored.anonKey}\n`);
      expect(out).toContain(`The admin API key is kept in ${join(dataDir, 'keys.json')}`);
      expect(out.includes(stored.apiKey), 'the admin key is never printed').toBe(false);
    } finally {
      await server.stop();
    }
  });

  it('does not echo an anon key given with --anon-key (or INSFORGE_ANON_KEY)', { timeout: 120_000 }, async () => {
    const server = await spawnHttpServer(['--data-dir', await freshDataDir()]);
    try {
      await until(async () => server.stderr().includes('INSFORGE_ANON_KEY='), 110_000);
      expect(server.stderr()).toContain('INSFORGE_ANON_KEY=<the --anon-key you gave>');
      expect(server.stderr().includes(TEST_ANON_KEY)).toBe(false);
      expect(server.stderr().includes(TEST_API_KEY)).toBe(false);
    } finally {
      await server.stop();
    }
  });
});

describe('warm-up', () => {
  it('the first call waits for the backend to start, reporting what it does when asked for progress', { timeout: 240_000 }, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'insforge-mcp-warm-'));
    const server = await stdio(['--data-dir', dataDir], serverEnv());
    const progress: { progress: number; message?: string }[] = [];
    const result = await server.client.callTool({ name: 'get-backend-metadata', arguments: {} }, undefined, { onprogress: (p) => void progress.push(p), timeout: 220_000 });
    expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
    expect(progress[0]?.message).toBe('waiting for the embedded backend to start');
    expect(progress.map((p) => p.message)).toContain('creating the database (first start of this data dir)');
    const values = progress.map((p) => p.progress);
    expect(values).toEqual([...values].sort((a, b) => a - b));
    expect(new Set(values).size).toBe(values.length);
    expect(Math.max(...values)).toBeLessThan(1);
    // once it is up, calls carry no start-up progress
    const later: unknown[] = [];
    await server.client.callTool({ name: 'get-backend-metadata', arguments: {} }, undefined, { onprogress: (p) => void later.push(p) });
    expect(later).toEqual([]);
    await server.client.close();
  });
});

/** Spawns the stdio server with raw pipes (the SDK client would escalate to signals itself), past the handshake. */
function rawStdio(dataDir: string) {
  const child = spawn(process.execPath, [CLI, '--data-dir', dataDir], { env: serverEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  let nextId = 1;
  /** Sends a message; a request (with params) gets the next id, which is returned. */
  const send = (msg: { method: string; params?: object }) => {
    const id = msg.method.startsWith('notifications/') ? undefined : nextId++;
    child.stdin.write(JSON.stringify({ jsonrpc: '2.0', ...(id !== undefined ? { id } : {}), ...msg }) + '\n');
    return id;
  };
  const answer = (id: number | undefined) => until(async () => stdout.includes(`"id":${id}`), 120_000);
  send({ method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
  send({ method: 'notifications/initialized' });
  const exited = new Promise<number | string>((r) => child.on('exit', (code, signal) => r(code ?? signal!)));
  return { child, send, answer, exited, stderr: () => stderr };
}

const until = async (what: () => Promise<boolean>, timeoutMs: number) => {
  const end = Date.now() + timeoutMs;
  while (!(await what())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};
const creating = (dataDir: string) => async () => (await readdir(dataDir).catch(() => [] as string[])).some((n) => n.startsWith('pgdata.init-'));

describe('stopping', () => {
  it('exits within 1 s once stdin closes, and on SIGTERM, with its backend up; the next start works', { timeout: 120_000 }, async () => {
    const dataDir = await freshDataDir();
    for (const how of ['stdin', 'SIGTERM'] as const) {
      const server = rawStdio(dataDir);
      await server.answer(server.send({ method: 'tools/call', params: { name: 'get-backend-metadata', arguments: {} } })); // the backend is up
      const t0 = Date.now();
      if (how === 'SIGTERM') server.child.kill('SIGTERM');
      else server.child.stdin.end();
      expect(await server.exited).toBe(0);
      const tookMs = Date.now() - t0;
      console.log(`FIGURE exit: ${tookMs} ms after ${how}, backend up`);
      expect(tookMs, `exit after ${how}`).toBeLessThan(1000);
    }
    const next = await stdio(['--data-dir', dataDir], serverEnv());
    await call(next.client, 'get-backend-metadata');
    await next.client.close();
  });

  it('a first start killed while it creates the data dir leaves nothing that stops the next one', { timeout: 240_000 }, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'insforge-mcp-creation-'));
    const cut = rawStdio(dataDir);
    await until(creating(dataDir), 120_000);
    cut.child.kill('SIGKILL');
    await cut.exited;
    expect(await readdir(dataDir)).not.toContain('pgdata'); // cut mid-creation indeed

    const next = await stdio(['--data-dir', dataDir], serverEnv());
    // creating the database again takes a while on a busy machine: more than the SDK's default 60 s
    const made = await next.client.callTool({ name: 'run-sql', arguments: { query: 'create table after_cut (id int)' } }, undefined, { timeout: 180_000 });
    expect(made.isError, JSON.stringify(made.content)).toBeFalsy();
    await next.client.close();
    const left = await readdir(dataDir);
    expect(left).toContain('pgdata');
    expect(left.filter((n) => n.startsWith('pgdata.init-'))).toEqual([]); // the cut one's staging dir is cleared
    expect(left).not.toContain('backend.lock');
  });

  // PGlite runs in a worker thread, so its initdb (19–29 s on a busy machine) does not hold the event
  // loop: the end of stdin is seen at once (16 ms measured)
  it('exits within 1 s once stdin closes while a new data dir is being created; the next start works', { timeout: 240_000 }, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'insforge-mcp-creation-'));
    const server = rawStdio(dataDir);
    await until(creating(dataDir), 120_000);
    const t0 = Date.now();
    server.child.stdin.end();
    await server.exited;
    const tookMs = Date.now() - t0;
    console.log(`FIGURE exit: ${tookMs} ms after stdin closed, while the data dir was being created`);
    expect(tookMs).toBeLessThan(1000);
    const next = await stdio(['--data-dir', dataDir], serverEnv());
    await call(next.client, 'get-backend-metadata');
    await next.client.close();
  });
});

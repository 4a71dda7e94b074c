import { spawn, type ChildProcess } from 'node:child_process';
import { expect } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { TEST_ANON_KEY, TEST_API_KEY } from './backend.js';

export const CLI = 'dist/cli.js';

/** Environment for a spawned server: fixed keys, and no INSFORGE_* leaking in from the shell. */
export function serverEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('INSFORGE_') && k !== 'DATABASE_URL') env[k] = v;
  return { ...env, INSFORGE_API_KEY: TEST_API_KEY, INSFORGE_ANON_KEY: TEST_ANON_KEY, INSFORGE_BACKEND_PORT: '0', ...extra };
}

/** The SDK client over stdio, spawning the built bin as an MCP host would. */
export async function stdioClient(args: string[], env: Record<string, string> = serverEnv()): Promise<{ client: Client; stderr: () => string }> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, ...args], env, stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (d) => (stderr += d));
  const client = new Client({ name: 'test', version: '1.0.0' });
  await client.connect(transport);
  return { client, stderr: () => stderr };
}

export interface SpawnedServer {
  url: string;
  child: ChildProcess;
  stderr: () => string;
  /** Stops it with SIGTERM and checks that it wrote nothing to stdout. */
  stop: () => Promise<void>;
}

/** Spawns the built CLI and waits until its log (stderr) names the URL it serves. */
async function spawnServer(args: string[], env: Record<string, string>, urlFrom: (stderr: string) => string | undefined): Promise<SpawnedServer> {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stdout!.on('data', (d) => (stdout += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${stderr}`)), 60_000);
    child.stderr!.on('data', (d) => {
      stderr += d;
      const found = urlFrom(stderr);
      if (found) {
        clearTimeout(timer);
        resolve(found);
      }
    });
    child.on('exit', (code) => reject(new Error(`server exited ${code}:\n${stderr}`)));
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.on('exit', r));
    child.kill('SIGTERM');
    await exited;
    expect(stdout, 'nothing may be written to stdout').toBe('');
  };
  return { url, child, stderr: () => stderr, stop };
}

/** Spawns `insforge-mcp --http` and waits for the URL it prints. */
export function spawnHttpServer(args: string[], env: Record<string, string> = serverEnv()): Promise<SpawnedServer> {
  return spawnServer(['--http', '--port', '0', ...args], env, (stderr) => {
    const m = /Streamable HTTP at (http:\/\/[^\s]+)\/mcp/.exec(stderr);
    return m && /Client configs/.test(stderr) ? m[1] : undefined;
  });
}

/** Spawns `insforge-mcp backend` on a free port and waits for the URL it prints. */
export function spawnCliBackend(args: string[], env: Record<string, string> = serverEnv()): Promise<SpawnedServer> {
  return spawnServer(['backend', '--port', '0', ...args], env, (stderr) => /backend ready at (http:\/\/\S+)/.exec(stderr)?.[1]);
}

export interface ToolOutcome {
  result: CallToolResult;
  data: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
}

/** Calls a tool and returns its structured content; fails the test on isError unless allowed. */
export async function call(client: Client, name: string, args: Record<string, unknown> = {}, opts: { allowError?: boolean } = {}): Promise<ToolOutcome> {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  const text = result.content.map((c) => (c.type === 'text' ? c.text : '')).join('');
  if (!opts.allowError) expect(result.isError, `${name} failed: ${text}`).toBeFalsy();
  // a result this server could not shape is its own bug, whatever the test expected
  expect(text, `${name}: result does not match its output schema`).not.toContain('"OUTPUT_MISMATCH"');
  return { result, data: result.isError ? parseOrUndefined(text) : result.structuredContent, text };
}

/** Our own errors are JSON; the SDK's input-validation errors are plain text. */
function parseOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The walking-skeleton scenario every transport must pass, end to end through the tools. */
export async function databaseScenario(client: Client): Promise<void> {
  const tools = await client.listTools();
  const names = tools.tools.map((t) => t.name);
  for (const n of ['get-backend-metadata', 'describe-table', 'query-table', 'insert-records', 'update-records', 'delete-records', 'call-rpc', 'run-sql']) expect(names).toContain(n);

  await call(client, 'run-sql', {
    query: `create table tasks (id serial primary key, title text not null, priority int, done boolean not null default false, created_at timestamptz default now());
            create function count_open() returns int language sql stable as $$ select count(*)::int from tasks where not done $$;`,
  });

  const inserted = await call(client, 'insert-records', {
    table: 'tasks',
    records: [
      { title: 'write spec', priority: 2 },
      { title: 'build it', priority: 1 },
      { title: 'ship it', priority: 3 },
      { title: 'celebrate', priority: null },
    ],
  });
  expect(inserted.data.inserted).toBe(4);
  expect(inserted.data.rows[0]).toMatchObject({ id: expect.any(Number), title: 'write spec', done: false });

  const meta = await call(client, 'get-backend-metadata');
  expect(meta.data.tables.tasks).toContain('title:text');

  const page = await call(client, 'query-table', {
    table: 'tasks',
    select: 'title,priority',
    where: [{ column: 'priority', op: 'is', value: null, not: true }],
    order: [{ column: 'priority', ascending: false }],
    limit: 2,
    count: true,
  });
  expect(page.data.rows).toEqual([
    { title: 'ship it', priority: 3 },
    { title: 'write spec', priority: 2 },
  ]);
  expect(page.data).toMatchObject({ count: 3, truncated: true, nextOffset: 2 });
  expect(page.text).toMatch(/^<untrusted-data-[0-9a-f]+>.*<\/untrusted-data-[0-9a-f]+>$/s);

  const either = await call(client, 'query-table', {
    table: 'tasks',
    select: 'title',
    or: [
      { column: 'title', op: 'ilike', value: '*SHIP*' },
      { column: 'priority', op: 'in', value: [1] },
    ],
    order: [{ column: 'title' }],
  });
  expect(either.data.rows).toEqual([{ title: 'build it' }, { title: 'ship it' }]);
  expect(either.data.truncated).toBe(false);

  const updated = await call(client, 'update-records', { table: 'tasks', where: [{ column: 'title', op: 'eq', value: 'build it' }], values: { done: true } });
  expect(updated.data.updated).toBe(1);
  expect(updated.data.rows[0]).toMatchObject({ title: 'build it', done: true });

  const rpc = await call(client, 'call-rpc', { function: 'count_open' });
  expect(rpc.data.result).toBe(3);

  const unconfirmed = await call(client, 'delete-records', { table: 'tasks', where: [{ column: 'priority', op: 'is', value: null }] }, { allowError: true });
  expect(unconfirmed.data.error).toMatchObject({ status: 428, code: 'CONFIRMATION_REQUIRED', nextActions: expect.stringContaining('confirm') });
  const deleted = await call(client, 'delete-records', { table: 'tasks', where: [{ column: 'priority', op: 'is', value: null }], confirm: true });
  expect(deleted.data.deleted).toBe(1);

  const refused = await call(client, 'delete-records', { table: 'tasks', where: [] }, { allowError: true });
  expect(refused.result.isError).toBe(true);
  expect(refused.text).toMatch(/where/);

  const missing = await call(client, 'query-table', { table: 'no_such_table' }, { allowError: true });
  expect(missing.result.isError).toBe(true);
  expect(missing.data.error).toMatchObject({ status: 404, code: '42P01', nextActions: expect.any(String) });

  // select passes PostgREST's embedded resources through: rows of a related table along its foreign key
  await call(client, 'run-sql', {
    query: `create table task_notes (id serial primary key, task_id int references tasks(id), body text);
            insert into task_notes (task_id, body) select id, 'note on ' || title from tasks where title = 'ship it';`,
  });
  const embedded = await call(client, 'query-table', { table: 'tasks', select: 'title,task_notes(body)', where: [{ column: 'title', op: 'eq', value: 'ship it' }] });
  expect(embedded.data.rows).toEqual([{ title: 'ship it', task_notes: [{ body: 'note on ship it' }] }]);
  await call(client, 'run-sql', { query: 'drop table task_notes', confirm: true }); // leave only tasks, as callers expect

  const left = await call(client, 'query-table', { table: 'tasks', select: 'title', order: [{ column: 'id' }] });
  expect(left.data.rows.map((r: { title: string }) => r.title)).toEqual(['write spec', 'build it', 'ship it']);
}

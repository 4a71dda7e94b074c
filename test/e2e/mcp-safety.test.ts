import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { freshDataDir } from '../support/backend.js';
import { call, CLI, serverEnv, stdioClient } from '../support/mcp.js';

const WRITE_TOOLS = ['insert-records', 'update-records', 'delete-records', 'call-rpc', 'sign-up'];

async function exitOf(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { env: serverEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, stderr };
}

describe('read-only mode and feature groups', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanups) await c();
  });

  it('--read-only offers no write tool, says so, and run-sql cannot write', async () => {
    const dataDir = await freshDataDir();
    const writer = await stdioClient(['--data-dir', dataDir]);
    await call(writer.client, 'run-sql', { query: "create table kept (v text); insert into kept values ('original')" });
    await writer.client.close();

    const { client, stderr } = await stdioClient(['--data-dir', dataDir, '--read-only']);
    cleanups.push(() => client.close());
    const tools = (await client.listTools()).tools;
    const names = tools.map((t) => t.name);
    for (const w of WRITE_TOOLS) expect(names).not.toContain(w);
    expect(names).toEqual(expect.arrayContaining(['query-table', 'get-backend-metadata', 'run-sql', 'sign-in']));
    expect(tools.every((t) => t.annotations?.readOnlyHint === true)).toBe(true);
    expect(client.getInstructions()).toContain('READ-ONLY');
    expect(stderr()).toContain('READ-ONLY');

    expect((await call(client, 'run-sql', { query: 'select v from kept' })).data.rows).toEqual([{ v: 'original' }]);
    for (const query of ["update kept set v = 'changed'", "insert into kept values ('x')", 'drop table kept', "commit; update kept set v = 'changed'"]) {
      const res = await call(client, 'run-sql', { query }, { allowError: true });
      expect(res.result.isError, query).toBe(true);
    }
    expect((await call(client, 'query-table', { table: 'kept' })).data.rows).toEqual([{ v: 'original' }]);
  });

  it('--features registers only the named groups', async () => {
    const { client, stderr } = await stdioClient(['--data-dir', await freshDataDir(), '--features', 'metadata,auth']);
    cleanups.push(() => client.close());
    const names = (await client.listTools()).tools.map((t) => t.name).sort();
    expect(names).toEqual(['describe-table', 'get-backend-metadata', 'get-current-user', 'get-docs', 'get-logs', 'sign-in', 'sign-out', 'sign-up']);
    expect(stderr()).toContain('tool groups: metadata, auth');
  });

  it.each([
    [['--features', 'databse'], /unknown group "databse"/],
    [['--features', ''], /--features/],
    [['--read-only', '--bogus'], /Unknown option '--bogus'/],
  ])('%j is a startup error, not a silent default', async (args, message) => {
    const { code, stderr } = await exitOf(args);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
  });

  it('an env typo is caught too', async () => {
    const child = spawn(process.execPath, [CLI], { env: serverEnv({ INSFORGE_READ_ONLY: 'yes please' }), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    expect(await new Promise((r) => child.on('exit', r))).toBe(2);
    expect(stderr).toContain('--read-only (INSFORGE_READ_ONLY)');
  });
});

describe('destructive calls ask the user through elicitation', () => {
  it('runs on accept, and not on decline', async () => {
    const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, '--data-dir', await freshDataDir()], env: serverEnv(), stderr: 'ignore' });
    const client = new Client({ name: 'elicit', version: '1' }, { capabilities: { elicitation: {} } });
    const asked: string[] = [];
    let answer: 'accept' | 'decline' = 'decline';
    client.setRequestHandler(ElicitRequestSchema, async (req) => {
      asked.push(req.params.message);
      return answer === 'accept' ? { action: 'accept', content: { confirm: true } } : { action: 'decline' };
    });
    await client.connect(transport);
    try {
      await call(client, 'run-sql', { query: "create table t (v text); insert into t values ('a'), ('b')" });
      const declined = await call(client, 'delete-records', { table: 't', where: [{ column: 'v', op: 'eq', value: 'a' }] }, { allowError: true });
      expect(declined.data.error.code).toBe('NOT_CONFIRMED');
      expect(asked[0]).toContain('delete the rows of t where v eq "a"');
      // confirm: true in the arguments does not bypass a client that can ask
      const stillAsked = await call(client, 'run-sql', { query: 'truncate t', confirm: true }, { allowError: true });
      expect(stillAsked.data.error.code).toBe('NOT_CONFIRMED');
      expect((await call(client, 'query-table', { table: 't' })).data.rows).toHaveLength(2);

      answer = 'accept';
      expect((await call(client, 'delete-records', { table: 't', where: [{ column: 'v', op: 'eq', value: 'a' }] })).data.deleted).toBe(1);
      expect(asked).toHaveLength(3);
      // harmless SQL is not asked about
      await call(client, 'run-sql', { query: 'select 1' });
      expect(asked).toHaveLength(3);
    } finally {
      await client.close();
    }
  });
});

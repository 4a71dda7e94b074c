/**
 * The MCP server while the embedded database is busy (issue 13): the database runs off the main
 * thread, so a long statement does not hold up pings, tools/list, calls that need no database or
 * cancellations; a cancelled call's result is never sent. Driven over raw stdio to see every line.
 * Also: query-table's `select` refuses the cast injection.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDataDir } from '../support/backend.js';
import { CLI, serverEnv } from '../support/mcp.js';

interface Line {
  id?: number;
  result?: Record<string, unknown>;
  error?: unknown;
  at: number;
}

/** The built bin on raw pipes: send JSON-RPC, wait for the answer to an id, see everything it wrote. */
class RawStdio {
  readonly lines: Line[] = [];
  private buffer = '';
  private waiters = new Map<number, (l: Line) => void>();
  stderr = '';
  constructor(readonly child: ChildProcess) {
    child.stdout!.on('data', (d: Buffer) => {
      this.buffer += d.toString('utf8');
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        const text = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        const line = { ...(JSON.parse(text) as object), at: Date.now() } as Line;
        this.lines.push(line);
        if (line.id !== undefined) this.waiters.get(line.id)?.(line);
      }
    });
    child.stderr!.on('data', (d: Buffer) => (this.stderr += d));
  }
  send(message: object) {
    this.child.stdin!.write(`${JSON.stringify({ jsonrpc: '2.0', ...message })}\n`);
  }
  request(id: number, method: string, params: object = {}): Promise<Line> {
    const answered = new Promise<Line>((resolve) => this.waiters.set(id, resolve));
    this.send({ id, method, params });
    return answered;
  }
  answered(id: number): Line | undefined {
    return this.lines.find((l) => l.id === id);
  }
}

describe('the MCP server while the embedded database is busy', () => {
  let io: RawStdio;

  beforeAll(async () => {
    const dataDir = await freshDataDir();
    const child = spawn(process.execPath, [CLI, '--data-dir', dataDir, '--statement-timeout-ms', '60000'], { env: serverEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    io = new RawStdio(child);
    const init = await io.request(1, 'initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } });
    expect(init.result).toBeDefined();
    io.send({ method: 'notifications/initialized' });
    // the database is up before the test starts timing
    expect((await io.request(2, 'tools/call', { name: 'run-sql', arguments: { query: 'select 1 as one' } })).result?.isError).toBeFalsy();
  });
  afterAll(() => {
    io?.child.stdin!.end();
  });

  it('answers ping, tools/list and a call that needs no database while a statement runs for 8 s', async () => {
    const sleeping = io.request(10, 'tools/call', { name: 'run-sql', arguments: { query: 'select pg_sleep(8)' } });
    await new Promise((r) => setTimeout(r, 500));
    const sent = Date.now();
    const ping = await io.request(11, 'ping');
    const list = await io.request(12, 'tools/list');
    // list-ai-models asks the backend's AI route, which touches no database (503: no provider set)
    const ai = await io.request(13, 'tools/call', { name: 'list-ai-models', arguments: {} });
    expect(ping.result).toEqual({});
    expect((list.result?.tools as unknown[]).length).toBeGreaterThan(20);
    expect(ai.result?.isError).toBe(true);
    expect(JSON.stringify(ai.result)).toMatch(/ai-base-url|AI provider/i);
    // all three came back while the statement was still running
    expect(io.answered(10), 'the statement ended before the other calls were answered').toBeUndefined();
    process.stdout.write(`FIGURE mcp-busy-database: ping, tools/list and a no-database call answered in ${Date.now() - sent} ms while a statement ran\n`);
    const slept = await sleeping;
    expect(slept.result?.isError).toBeFalsy();
  }, 30_000);

  it('a cancelled call is dropped at once: no result is ever sent for it', async () => {
    void io.request(20, 'tools/call', { name: 'run-sql', arguments: { query: 'select pg_sleep(4)' } });
    await new Promise((r) => setTimeout(r, 500));
    io.send({ method: 'notifications/cancelled', params: { requestId: 20, reason: 'test' } });
    const ping = await io.request(21, 'ping');
    expect(ping.result).toEqual({});
    // past the time the statement takes, and a call that needs the database again works
    const after = await io.request(22, 'tools/call', { name: 'run-sql', arguments: { query: 'select 2 as two' } });
    expect(after.result?.isError, JSON.stringify(after.result)).toBeFalsy();
    await new Promise((r) => setTimeout(r, 500));
    expect(io.answered(20), 'a result was sent for the cancelled call').toBeUndefined();
  }, 30_000);

  it('query-table refuses SQL smuggled in through a cast', async () => {
    await io.request(30, 'tools/call', { name: 'run-sql', arguments: { query: "create table open_t (name text); insert into open_t values ('a')" } });
    const res = await io.request(31, 'tools/call', { name: 'query-table', arguments: { table: 'open_t', select: 'name::text from open_t _t union select session_user union select name' } });
    expect(res.result?.isError).toBe(true);
    const text = JSON.stringify(res.result);
    expect(text).toContain('PGRST100');
    expect(text).not.toContain('"postgres"');
  });

  it('wrote nothing but JSON-RPC to stdout', () => {
    expect(io.lines.length).toBeGreaterThan(5);
  });
});

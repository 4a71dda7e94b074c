import { describe, expect, it } from 'vitest';
import { freshDataDir, TEST_ANON_KEY, TEST_API_KEY } from '../support/backend.js';
import { inspectorCli } from '../support/inspector.js';
import { CLI } from '../support/mcp.js';

/** The MCP Inspector CLI, once over stdio: each call spawns the bin afresh on the same data dir. */
describe('MCP Inspector CLI over stdio', () => {
  it('finds every input field typed: --strict reports no schema warning, in either mode', { timeout: 120_000 }, async () => {
    const dataDir = await freshDataDir();
    const env = { INSFORGE_API_KEY: TEST_API_KEY, INSFORGE_ANON_KEY: TEST_ANON_KEY, INSFORGE_BACKEND_PORT: '0' };
    for (const mode of [[], ['--read-only']]) {
      const r = await inspectorCli([process.execPath, CLI, '--data-dir', dataDir, ...mode], ['--method', 'tools/list', '--strict'], env);
      expect(r.code, r.stderr).toBe(0);
      const listed = r.json as { result: { tools: unknown[] }; schemaFindings?: unknown[] };
      expect(listed.result.tools.length).toBeGreaterThan(10);
      expect(listed.schemaFindings, JSON.stringify(listed.schemaFindings, null, 1)).toBeUndefined();
      expect(r.stderr).not.toMatch(/Warning: tool|Schema portability/);
    }
  });

  it('runs the database walk-through', { timeout: 240_000 }, async () => {
    const dataDir = await freshDataDir();
    const server = [process.execPath, CLI, '--data-dir', dataDir];
    const env = { INSFORGE_API_KEY: TEST_API_KEY, INSFORGE_ANON_KEY: TEST_ANON_KEY, INSFORGE_BACKEND_PORT: '0' };
    const tool = async (name: string, args: Record<string, unknown>) => {
      const r = await inspectorCli(server, ['--method', 'tools/call', '--tool-name', name, '--tool-args-json', JSON.stringify(args)], env);
      expect(r.code, `${name}: ${r.stderr}\n${r.stdout}`).toBe(0);
      return (r.json as { result: { structuredContent: any } }).result.structuredContent; // eslint-disable-line @typescript-eslint/no-explicit-any
    };

    const list = await inspectorCli(server, ['--method', 'tools/list'], env);
    expect(list.code, list.stderr).toBe(0);
    const names = (list.json as { result: { tools: { name: string }[] } }).result.tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['run-sql', 'insert-records', 'query-table', 'update-records', 'delete-records', 'call-rpc']));

    await tool('run-sql', { query: 'create table books (id serial primary key, title text, year int); create function books_after(y int) returns setof books language sql stable as $$ select * from books where year > y order by year $$;' });
    const inserted = await tool('insert-records', { table: 'books', records: [{ title: 'Dune', year: 1965 }, { title: 'Neuromancer', year: 1984 }, { title: 'Hyperion', year: 1989 }] });
    expect(inserted.inserted).toBe(3);
    const queried = await tool('query-table', { table: 'books', select: 'title', where: [{ column: 'year', op: 'gt', value: 1970 }], order: [{ column: 'year', ascending: false }], limit: 1 });
    expect(queried).toMatchObject({ rows: [{ title: 'Hyperion' }], truncated: true, nextOffset: 1 });
    const updated = await tool('update-records', { table: 'books', where: [{ column: 'title', op: 'eq', value: 'Dune' }], values: { year: 1966 } });
    expect(updated.rows[0]).toMatchObject({ title: 'Dune', year: 1966 });
    const deleted = await tool('delete-records', { table: 'books', where: [{ column: 'title', op: 'like', value: 'Neuro*' }], confirm: true });
    expect(deleted.deleted).toBe(1);
    const rpc = await tool('call-rpc', { function: 'books_after', args: { y: 1900 } });
    expect(rpc.result.map((b: { title: string }) => b.title)).toEqual(['Dune', 'Hyperion']);
  });
});

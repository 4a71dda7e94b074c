import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { defineTool, registerTools } from '../../src/mcp/tool.js';
import type { ToolContext } from '../../src/mcp/context.js';
import { ok } from '../../src/mcp/results.js';

/** A tool whose output schema says a number where the backend sent null (as InsForge's rowCount of a DDL statement). */
const mismatched = defineTool(
  { name: 'count-things', group: 'database', description: 'test', input: {}, output: { rowCount: z.number() }, annotations: { readOnlyHint: true } },
  async () => ok({ rowCount: null }),
);
const fitting = defineTool(
  { name: 'fits', group: 'database', description: 'test', input: {}, output: { rowCount: z.number() }, annotations: { readOnlyHint: true } },
  async () => ok({ rowCount: 1 }),
);

describe('a result that does not match its output schema', () => {
  it('is a tool result that says the call went through and shows the answer, never a protocol error; the bug is logged', async () => {
    const logged: string[] = [];
    const ctx = { session: {}, stateless: false, localFiles: false, client: () => undefined as never, log: (m: string) => logged.push(m) } satisfies ToolContext;
    const server = new McpServer({ name: 't', version: '1' }, { capabilities: { tools: {} } });
    registerTools(server, ctx, [mismatched, fitting]);
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    const client = new Client({ name: 't', version: '1' });
    await Promise.all([server.connect(serverSide), client.connect(clientSide)]);

    const result = (await client.callTool({ name: 'count-things', arguments: {} })) as CallToolResult;
    expect(result.isError).toBe(true);
    const [error, answer] = result.content.map((c) => (c as { text: string }).text);
    expect(error).not.toMatch(/^MCP error/);
    expect(JSON.parse(error!).error).toMatchObject({ status: 500, code: 'OUTPUT_MISMATCH', nextActions: expect.stringContaining('Do not repeat') });
    expect(answer).toBe('{"rowCount":null}');
    expect(logged.join('\n')).toMatch(/count-things: bug: its result does not match its output schema[\s\S]*rowCount/);

    expect(await client.callTool({ name: 'fits', arguments: {} })).toMatchObject({ structuredContent: { rowCount: 1 } });
    await client.close();
  });
});

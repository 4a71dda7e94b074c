import { z } from 'zod';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { GUIDES, renderGuide, TOPICS, type Guide } from '../../docs/index.js';
import type { ToolContext } from '../context.js';
import { defineTool } from '../tool.js';
import { ok } from '../results.js';

const DOCS_URI = 'insforge://docs/';

/** A guide with this backend's URL and anon key in place, so its code runs as written. */
async function rendered(ctx: ToolContext, guide: Guide, signal?: AbortSignal): Promise<string> {
  const client = ctx.client();
  const [baseUrl, anonKey] = await Promise.all([client.baseUrl(), client.anonKey(signal).catch(() => undefined)]);
  return renderGuide(guide, { baseUrl, anonKey });
}

export const getDocs = defineTool(
  {
    name: 'get-docs',
    group: 'metadata',
    description: 'How to build an app on this backend: task-first guides with code. No topic: the list.',
    input: { topic: z.enum(TOPICS).optional() },
    output: { topics: z.array(z.object({ topic: z.string(), title: z.string() })).optional(), topic: z.string().optional(), source: z.string().optional(), text: z.string().optional(), note: z.string().optional() },
    annotations: { readOnlyHint: true, openWorldHint: false },
  },
  async (ctx, { topic }, extra) => {
    if (!topic) return ok({ topics: GUIDES.map(({ topic, title }) => ({ topic, title })) });
    // a real InsForge backend's own guide, where it has one and it answers
    const own = await ctx.client().backendDocs(topic, extra.signal);
    if (own && 'text' in own) return ok({ topic, source: 'backend', text: own.text }, { untrusted: true });
    const text = await rendered(ctx, GUIDES.find((g) => g.topic === topic)!, extra.signal);
    const note = own ? `The backend's own guide did not answer (${own.failed}): this is insforge-mcp's guide.` : undefined;
    return ok({ topic, source: 'insforge-mcp', text, ...(note ? { note } : {}) });
  },
);

/** The guides as MCP resources too (insforge://docs/{topic}), for clients that attach them as context. */
export function registerDocResources(server: McpServer, ctx: ToolContext): void {
  for (const guide of GUIDES) {
    server.registerResource(guide.topic, `${DOCS_URI}${guide.topic}`, { title: guide.title, mimeType: 'text/markdown' }, async (uri, extra) => ({
      contents: [{ uri: uri.href, mimeType: 'text/markdown', text: await rendered(ctx, guide, extra.signal) }],
    }));
  }
}

export const docTools = [getDocs];

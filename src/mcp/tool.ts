import { z, type ZodRawShape } from 'zod';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { ListToolsRequestSchema, type CallToolResult, type ServerNotification, type ServerRequest, type Tool as ToolDefinition, type ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import type { ToolContext } from './context.js';
import { fail } from './results.js';

export type ToolExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

export interface ToolSpec<I extends ZodRawShape = ZodRawShape> {
  name: string;
  description: string;
  input: I;
  output: ZodRawShape;
  annotations: ToolAnnotations;
}

type Handler<I extends ZodRawShape> = (ctx: ToolContext, args: z.output<z.ZodObject<I>>, extra: ToolExtra) => Promise<CallToolResult>;

/** A tool: a static spec (shared by every session) and a handler that runs in a session's context. */
export interface Tool {
  spec: ToolSpec;
  handler: Handler<ZodRawShape>;
}

export function defineTool<I extends ZodRawShape>(spec: ToolSpec<I>, handler: Handler<I>): Tool {
  return { spec, handler: handler as unknown as Handler<ZodRawShape> };
}

/**
 * Registers tools on a session's server. Handlers never throw: any failure becomes an isError
 * result. tools/list is answered from compact definitions built once per process.
 */
export function registerTools(server: McpServer, ctx: ToolContext, tools: Tool[]): void {
  for (const { spec, handler } of tools) {
    server.registerTool(spec.name, { description: spec.description, inputSchema: spec.input, outputSchema: spec.output, annotations: spec.annotations }, (async (args: never, extra: ToolExtra) => {
      try {
        return await handler(ctx, args, extra);
      } catch (err) {
        return fail(err);
      }
    }) as never);
  }
  server.server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: tools.map((t) => compactDefinition(t.spec)) }));
}

const definitions = new WeakMap<ToolSpec, ToolDefinition>();

/** The definition as the model reads it: every token counts, so validation-only detail is left out. */
function compactDefinition(spec: ToolSpec): ToolDefinition {
  let def = definitions.get(spec);
  if (!def) {
    def = {
      name: spec.name,
      description: spec.description,
      inputSchema: jsonSchema(spec.input, 'input') as ToolDefinition['inputSchema'],
      outputSchema: jsonSchema(spec.output, 'output') as ToolDefinition['outputSchema'],
      annotations: spec.annotations,
    };
    definitions.set(spec, def);
  }
  return def;
}

/** Keys that only restate limits the server enforces anyway, or defaults of JSON Schema. */
const DROPPED = new Set(['$schema', 'propertyNames', 'maxLength', 'minLength', 'maxItems']);
const UNBOUNDED = new Set([Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]);

/** Schemas listed by their description alone: the server still validates them in full. */
const describedOnly = new WeakSet<object>();

export function listedAsDescription<T extends z.ZodType>(schema: T, description: string): T {
  const described = schema.describe(description);
  describedOnly.add(described);
  return described;
}

function jsonSchema(shape: ZodRawShape, io: 'input' | 'output'): unknown {
  return prune(
    z.toJSONSchema(z.object(shape), {
      target: 'draft-7',
      io,
      unrepresentable: 'any',
      override: (ctx) => {
        if (!describedOnly.has(ctx.zodSchema)) return;
        for (const key of Object.keys(ctx.jsonSchema)) if (key !== 'description') delete (ctx.jsonSchema as Record<string, unknown>)[key];
      },
    }),
  );
}

function prune(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(prune);
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (DROPPED.has(key)) continue;
    if ((key === 'maximum' || key === 'minimum') && UNBOUNDED.has(value as number)) continue;
    if (key === 'additionalProperties' && (value === false || (value && typeof value === 'object' && Object.keys(value).length === 0))) continue;
    out[key] = prune(value);
  }
  return out;
}

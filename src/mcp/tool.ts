import { z, type ZodRawShape } from 'zod';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { ListToolsRequestSchema, type CallToolResult, type ServerNotification, type ServerRequest, type ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import type { ToolContext } from './context.js';
import { fail, localFileError } from './results.js';
import { listedDefinition } from './listing.js';
import { BackendError } from '../client/errors.js';

export type ToolExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

export { FEATURE_NAMES as FEATURES } from '../config.js';
export type Feature = (typeof import('../config.js').FEATURE_NAMES)[number];

export interface ToolSpec<I extends ZodRawShape = ZodRawShape> {
  name: string;
  group: Feature;
  description: string;
  input: I;
  /** What structuredContent must match: checked by the server on every result, not listed (listing.ts). */
  output: ZodRawShape;
  /** All four hints, spelt out; tools/list leaves out those equal to the spec's defaults. */
  annotations: ToolAnnotations;
  /** For destructive calls: what this call would destroy (undefined: nothing, go ahead). */
  destroys?: (args: z.output<z.ZodObject<I>>) => string | undefined;
}

type Handler<I extends ZodRawShape> = (ctx: ToolContext, args: z.output<z.ZodObject<I>>, extra: ToolExtra) => Promise<CallToolResult>;

/** A tool: a static spec (shared by every session) and a handler that runs in a session's context. */
export interface Tool {
  spec: ToolSpec;
  handler: Handler<ZodRawShape>;
}

export function defineTool<I extends ZodRawShape>(spec: ToolSpec<I>, handler: Handler<I>): Tool {
  return { spec: spec as unknown as ToolSpec, handler: handler as unknown as Handler<ZodRawShape> };
}

/** The argument destructive tools take when the client cannot ask the user itself. */
export const confirmArg = z.boolean().optional().describe('true only once the user has agreed');

/** The call was cancelled or its session closed: the handler's signal aborted what it was doing. */
const cancelled = (err: unknown) => err instanceof Error && err.name === 'AbortError';

/** A tool's zod objects, built once and shared by every session (HTTP creates a server per session). */
const schemas = new WeakMap<ToolSpec, { input: z.ZodObject; output: z.ZodObject }>();

function schemasOf(spec: ToolSpec) {
  let built = schemas.get(spec);
  // strict: a misspelt argument ("limt") is an error naming it, not silently ignored
  if (!built) schemas.set(spec, (built = { input: z.object(spec.input).strict(), output: z.object(spec.output) }));
  return built;
}

/**
 * Registers tools on a session's server. Handlers never throw: any failure becomes an isError
 * result. tools/list is answered from compact definitions built once per process (listing.ts).
 */
export function registerTools(server: McpServer, ctx: ToolContext, tools: Tool[]): void {
  for (const { spec, handler } of tools) {
    const { input, output } = schemasOf(spec);
    // The output schema is checked here, not by the SDK: a result it rejects would reach the
    // agent as a protocol error, although the backend answered and the call went through.
    server.registerTool(spec.name, { description: spec.description, inputSchema: input, annotations: spec.annotations }, (async (args: Record<string, unknown>, extra: ToolExtra) => {
      try {
        const what = spec.destroys?.(args);
        if (what) {
          const refusal = await confirmDestruction(server, spec.name, what, args.confirm === true, extra);
          if (refusal) return refusal;
        }
        const result = await handler(ctx, args, extra);
        if (result.isError) return result;
        const checked = output.safeParse(result.structuredContent);
        if (checked.success) return result;
        ctx.log(`${spec.name}: bug: its result does not match its output schema: ${z.prettifyError(checked.error)}`);
        return outputMismatch(spec.name, result);
      } catch (err) {
        // fail() tells the agent a bug's details are in the log: put them there
        if (!(err instanceof BackendError) && !(err instanceof URIError) && !localFileError(err) && !cancelled(err)) ctx.log(`${spec.name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        return fail(err);
      }
    }) as never);
  }
  server.server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: tools.map((t) => listedDefinition(t.spec)) }));
}

/**
 * A result whose shape this server got wrong: still a tool result, with the backend's answer as it
 * came, and worded so that the agent does not repeat a call that went through.
 */
function outputMismatch(tool: string, result: CallToolResult): CallToolResult {
  const error = new BackendError(500, 'OUTPUT_MISMATCH', `${tool} ran and the backend answered, but insforge-mcp could not shape the answer (a bug, logged on stderr); the answer follows as received.`, 'Do not repeat the call: it went through. Read the answer below.');
  return { content: [...fail(error).content, ...result.content], isError: true };
}

/** One object for every question, so the validator converts it to zod once (json-schema-validator.ts). */
const CONFIRM_FORM = { type: 'object' as const, properties: { confirm: { type: 'boolean' as const, title: 'Yes, do it' } }, required: ['confirm'] };

/** Whether calling the tool may send the client a request first: destructive tools ask for confirmation. */
export const asksTheClient = (spec: ToolSpec) => spec.destroys !== undefined;

/**
 * Destructive calls need the user's yes: asked through MCP elicitation when the client supports
 * its form mode, otherwise given as confirm: true. (URL mode only sends the user to a page; the SDK
 * reads a bare `elicitation: {}` as form mode.) Returns a result to send instead of running, or undefined.
 */
async function confirmDestruction(server: McpServer, tool: string, what: string, confirmed: boolean, extra: ToolExtra): Promise<CallToolResult | undefined> {
  if (server.server.getClientCapabilities()?.elicitation?.form) {
    const answer = await server.server.elicitInput(
      {
        message: `${tool} will ${what}. This cannot be undone. Go ahead?`,
        requestedSchema: CONFIRM_FORM,
      },
      { relatedRequestId: extra.requestId, signal: extra.signal },
    );
    if (answer.action === 'accept' && answer.content?.confirm === true) return undefined;
    return fail(new BackendError(409, 'NOT_CONFIRMED', `The user did not confirm: ${tool} was not run.`, 'Ask the user what to do instead.'));
  }
  if (confirmed) return undefined;
  return fail(new BackendError(428, 'CONFIRMATION_REQUIRED', `${tool} would ${what}. It needs the user's agreement.`, 'Ask the user; if they agree, call again with "confirm": true.'));
}

import { z, type ZodRawShape } from 'zod';
import type { Tool as ToolDefinition, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import type { ToolSpec } from './tool.js';
import { PRECOMPUTED } from './listing-precomputed.js';

/**
 * How a tool reads in tools/list: the model pays for every byte on every turn, so the listing
 * carries what an agent needs to pick the tool and fill its arguments, and nothing the server
 * enforces or the spec implies anyway. The server still validates arguments with the full zod
 * schema, and results with the output schema, whatever is listed.
 */
const definitions = new WeakMap<ToolSpec, ToolDefinition>();

/** Two specs may share a name (run-sql and its read-only form), not name and description. */
export const listingKey = (spec: ToolSpec) => `${spec.name}\n${spec.description}`;

/** Built once per process (or at build time: listing-precomputed.ts), shared by every session. */
export function listedDefinition(spec: ToolSpec): ToolDefinition {
  let def = definitions.get(spec);
  if (!def) {
    def = PRECOMPUTED[listingKey(spec)] ?? buildDefinition(spec);
    definitions.set(spec, def);
  }
  return def;
}

export function buildDefinition(spec: ToolSpec): ToolDefinition {
  const annotations = listedAnnotations(spec.annotations);
  // No outputSchema: results carry structuredContent and the same JSON as text, and the server
  // checks structuredContent against spec.output before sending it; listing the schema would
  // add a third of the bytes for shapes that are mostly "an object" and that the model reads anyway.
  return { name: spec.name, description: spec.description, inputSchema: jsonSchema(spec.input) as ToolDefinition['inputSchema'], ...(annotations ? { annotations } : {}) };
}

/** The spec's defaults of the hints (MCP 2025-11-25): a hint with its default value says nothing. */
const HINT_DEFAULTS: Record<string, boolean> = { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true };
/** The spec gives these meaning only when readOnlyHint is false. */
const WRITE_HINTS = new Set(['destructiveHint', 'idempotentHint']);

function listedAnnotations(annotations: ToolAnnotations): ToolAnnotations | undefined {
  const listed = Object.entries(annotations).filter(([key, value]) => HINT_DEFAULTS[key] !== value && !(annotations.readOnlyHint && WRITE_HINTS.has(key)));
  return listed.length ? Object.fromEntries(listed) : undefined;
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

function jsonSchema(shape: ZodRawShape): unknown {
  return prune(
    z.toJSONSchema(z.object(shape), {
      target: 'draft-7',
      io: 'input',
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
    // {} allows anything, as does leaving the key out; false is enforced by the strict zod schema
    if (key === 'additionalProperties' && (value === false || isEmpty(value))) continue;
    out[key] = prune(value);
  }
  return out;
}

const isEmpty = (value: unknown) => Boolean(value) && typeof value === 'object' && !Array.isArray(value) && Object.keys(value as object).length === 0;

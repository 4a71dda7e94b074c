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

/**
 * Schemas listed in short: the server still validates them in full. Each is listed as its
 * description plus the JSON Schema given here; a listed node always says what type it takes
 * (a client such as the Inspector's --strict warns about a schema that accepts anything).
 */
const listedShort = new WeakMap<object, Record<string, unknown>>();

/** Listed as its description and its JSON type (e.g. an array of filters: no item schema). */
export function listedAsDescription<T extends z.ZodType>(schema: T, description: string): T {
  const described = schema.describe(description);
  listedShort.set(described, {});
  return described;
}

/** Listed as its description and the given JSON Schema, for shapes zod spells at length or not at all. */
export function listedAs<T extends z.ZodType>(schema: T, listed: Record<string, unknown>): T {
  const copy = schema.clone(); // its own identity, so that other uses of `schema` list in full
  listedShort.set(copy, listed);
  return copy as T;
}

const branches = (types: string[]) => ({ anyOf: types.map((type) => ({ type })) });
/** Any JSON value, each type spelt out as its own branch (portable, unlike a list in `type`). */
export const ANY_JSON = branches(['object', 'array', 'string', 'number', 'boolean', 'null']);
/** A scalar, or a list of them. */
export const SCALAR_OR_LIST = branches(['string', 'number', 'boolean', 'null', 'array']);

function jsonSchema(shape: ZodRawShape): unknown {
  return prune(
    z.toJSONSchema(z.object(shape), {
      target: 'draft-7',
      io: 'input',
      unrepresentable: 'any',
      override: (ctx) => {
        const listed = listedShort.get(ctx.zodSchema);
        if (!listed) return;
        const json = ctx.jsonSchema as Record<string, unknown>;
        for (const key of Object.keys(json)) if (key !== 'description' && key !== 'type') delete json[key];
        Object.assign(json, listed);
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
    // zod writes a union of plain types as a list in `type`; some clients take one type a node, so: branches
    if (key === 'type' && Array.isArray(value)) {
      out.anyOf = value.map((type) => ({ type }));
      continue;
    }
    // {} allows anything, as does leaving the key out; false is enforced by the strict zod schema
    if (key === 'additionalProperties' && (value === false || isEmpty(value))) continue;
    out[key] = prune(value);
  }
  return out;
}

const isEmpty = (value: unknown) => Boolean(value) && typeof value === 'object' && !Array.isArray(value) && Object.keys(value as object).length === 0;

import type { Tool as ToolDefinition } from '@modelcontextprotocol/sdk/types.js';

/**
 * The listed definition of every tool, keyed by listingKey(spec). Empty when running from source;
 * the bundle's copy is filled in at build time (scripts/build.mjs), so a start does not convert
 * 35 zod schemas to JSON Schema before it can answer tools/list.
 */
export const PRECOMPUTED: Record<string, ToolDefinition> = {};

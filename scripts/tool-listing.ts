// Bundled and run by build.mjs: the tools/list definition of every tool, computed once at build time.
import { EVERY_TOOL } from '../src/mcp/toolsets.js';
import { buildDefinition, listingKey } from '../src/mcp/listing.js';

export const listing = Object.fromEntries(EVERY_TOOL.map(({ spec }) => [listingKey(spec), buildDefinition(spec)]));

// Bundles the CLI so that start-up does not pay for resolving hundreds of SDK/zod modules.
// Heavy parts that only the embedded backend needs stay external and load lazily (dynamic import).
import * as esbuild from 'esbuild';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { bundleFunctionsRuntime } from './functions-runtime.mjs';

const { build } = esbuild;

/**
 * Code every start would compile but this server never runs: zod's 40-odd message locales (only
 * English is used), the SDK's Ajv validator (src/mcp/json-schema-validator.ts replaces it) and the
 * SDK's support for zod v3 schemas (all schemas here are zod v4). Together ~460 kB of the start path.
 */
const leaveOutUnusedCode = {
  name: 'leave-out-unused-code',
  setup(b) {
    b.onResolve({ filter: /\/locales\/index\.js$/ }, (args) => (args.importer.includes('/zod/') ? { path: 'zod-locales', namespace: 'trimmed' } : undefined));
    b.onResolve({ filter: /\/validation\/ajv-provider\.js$/ }, (args) => (args.importer.includes('@modelcontextprotocol/sdk') ? { path: 'ajv-provider', namespace: 'trimmed' } : undefined));
    // the SDK's helpers for zod v3 schemas: every schema here is zod v4
    b.onResolve({ filter: /^(zod\/v3|zod-to-json-schema)$/ }, (args) => (args.importer.includes('@modelcontextprotocol/sdk') ? { path: args.path, namespace: 'trimmed' } : undefined));
    b.onLoad({ filter: /^zod\/v3$/, namespace: 'trimmed' }, () => ({ contents: "export function object() { throw new Error('zod v3 is not bundled: use zod v4 schemas'); }" }));
    b.onLoad({ filter: /^zod-to-json-schema$/, namespace: 'trimmed' }, () => ({ contents: "export function zodToJsonSchema() { throw new Error('zod v3 is not bundled: use zod v4 schemas'); }" }));
    b.onLoad({ filter: /^zod-locales$/, namespace: 'trimmed' }, () => ({ contents: "export { default as en } from 'zod/v4/locales/en.js';", resolveDir: process.cwd() }));
    b.onLoad({ filter: /^ajv-provider$/, namespace: 'trimmed' }, () => ({
      contents: "export class AjvJsonSchemaValidator { constructor() { throw new Error('Ajv is not bundled: pass jsonSchemaValidator (src/mcp/json-schema-validator.ts)'); } }",
    }));
  },
};

/** Runs scripts/tool-listing.ts once: the tools/list definitions, as the server would compute them. */
async function computeToolListing() {
  const dir = await mkdtemp(join(tmpdir(), 'insforge-mcp-build-'));
  try {
    const { outputFiles } = await build({ entryPoints: ['scripts/tool-listing.ts'], bundle: true, format: 'esm', platform: 'node', write: false, logLevel: 'warning', loader: { '.md': 'text' } });
    const file = join(dir, 'tool-listing.mjs');
    await writeFile(file, outputFiles[0].text);
    return (await import(pathToFileURL(file).href)).listing;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The bundle's src/mcp/listing-precomputed.ts holds the listing computed above. */
const precomputedListing = (listing) => ({
  name: 'precomputed-tool-listing',
  setup(b) {
    b.onLoad({ filter: /src[\\/]mcp[\\/]listing-precomputed\.ts$/ }, () => ({ contents: `export const PRECOMPUTED = ${JSON.stringify(listing)};`, loader: 'js' }));
  },
});

const listing = await computeToolListing();
await rm('dist', { recursive: true, force: true });
await build({
  // worker threads need a file of their own: dist/pglite-worker.js
  entryPoints: { cli: 'src/cli.ts', 'pglite-worker': 'src/backend/db/pglite-worker.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  chunkNames: 'chunks/[name]-[hash]',
  // esbuild: only imported when running from source, to bundle the functions runtime (functions/runner.ts)
  external: ['@electric-sql/pglite', 'pg', 'fastify', '@fastify/*', 'esbuild'],
  // bundled CommonJS dependencies call require() for Node built-ins
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  sourcemap: 'linked',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
  // the guides of get-docs (src/docs/*.md), as text
  loader: { '.md': 'text' },
  plugins: [leaveOutUnusedCode, precomputedListing(listing)],
});
await chmod('dist/cli.js', 0o755);
// functions run in Deno, which loads this one self-contained file as its main module
await writeFile('dist/functions-runtime.js', await bundleFunctionsRuntime(esbuild));

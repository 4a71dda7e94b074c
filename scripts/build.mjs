// Bundles the CLI so that start-up does not pay for resolving hundreds of SDK/zod modules.
// Heavy parts that only the embedded backend needs stay external and load lazily (dynamic import).
import { build } from 'esbuild';
import { chmod, rm } from 'node:fs/promises';

await rm('dist', { recursive: true, force: true });
await build({
  // functions run in worker threads, which need a file of their own: dist/functions-worker.js
  entryPoints: { cli: 'src/cli.ts', 'functions-worker': 'src/backend/functions-worker.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  chunkNames: 'chunks/[name]-[hash]',
  // esbuild: only imported when running from source, to compile the function worker (functions-runner.ts)
  external: ['@electric-sql/pglite', 'pg', 'fastify', '@fastify/*', 'esbuild'],
  // bundled CommonJS dependencies call require() for Node built-ins
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  sourcemap: 'linked',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
});
await chmod('dist/cli.js', 0o755);

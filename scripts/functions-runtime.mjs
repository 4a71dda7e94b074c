// Bundles src/backend/functions/runtime.ts, the program Deno runs for each function invocation, into
// one self-contained ES module: the build writes it to dist/functions-runtime.js, and running from
// source (tsx, vitest) the runner calls this to make it on the fly. Only node: built-ins stay imports.
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * @insforge/sdk (Apache-2.0) for InsForge's `createClient` global, as script text that the runtime
 * compiles on first use only: compiling ~220 kB on every start would cost each invocation ~40 ms.
 * @param {typeof import('esbuild')} esbuild
 */
async function sdkSource(esbuild) {
  const { outputFiles } = await esbuild.build({
    stdin: { contents: "export { createClient } from '@insforge/sdk';", resolveDir: root },
    bundle: true,
    write: false,
    format: 'iife',
    globalName: '__insforgeSdk',
    platform: 'browser',
    target: 'es2022',
    // its one Node import is a fallback for runtimes without globalThis.crypto (Deno has it)
    alias: { crypto: 'node:crypto' },
    external: ['node:*'],
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  return `/* @insforge/sdk — Apache License 2.0, https://github.com/InsForge/insforge-sdk-js */\n${outputFiles[0].text}`;
}

/**
 * @param {typeof import('esbuild')} esbuild
 * @returns {Promise<string>} the runtime's source
 */
export async function bundleFunctionsRuntime(esbuild) {
  const sdk = await sdkSource(esbuild);
  const { outputFiles } = await esbuild.build({
    entryPoints: [fileURLToPath(new URL('../src/backend/functions/runtime.ts', import.meta.url))],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    external: ['node:*'],
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
    plugins: [
      {
        name: 'insforge-sdk-source',
        setup(b) {
          b.onResolve({ filter: /^insforge-sdk-source$/ }, () => ({ path: 'insforge-sdk-source', namespace: 'sdk-source' }));
          b.onLoad({ filter: /.*/, namespace: 'sdk-source' }, () => ({ contents: `export default ${JSON.stringify(sdk)};`, loader: 'js' }));
        },
      },
    ],
  });
  return outputFiles[0].text;
}

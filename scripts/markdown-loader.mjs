// `npm run dev` runs the source with tsx, which does not know .md imports (src/docs/*.md): this Node
// module hook loads them as text, as the build's esbuild text loader and vitest.config.ts do.
import { readFile } from 'node:fs/promises';
import { register } from 'node:module';

export async function load(url, context, next) {
  if (!url.endsWith('.md')) return next(url, context);
  const text = await readFile(new URL(url), 'utf8');
  return { format: 'module', source: `export default ${JSON.stringify(text)};`, shortCircuit: true };
}

if (!import.meta.url.includes('?hooks')) register(`${import.meta.url}?hooks`);

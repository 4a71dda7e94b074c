import { describe, expect, it } from 'vitest';
import { runnableSource } from '../../src/client/function-source.js';

/** What InsForge's self-hosted runtime does with a function's code (functions/worker-template.js). */
function runLikeInsForge(code: string): unknown {
  const module = { exports: {} as unknown };
  new Function('exports', 'module', 'createClient', 'Deno', code)(module.exports, module, undefined, undefined);
  return module.exports;
}

describe('function source for every runtime (D8)', () => {
  it.each([
    'export default async (req) => new Response(req.method)',
    'export default async function handler(req) {\n  return new Response(req.method);\n}',
    'const handler = async (req) => new Response(req.method);\nexport default handler;',
    '// a comment\n  export   default async function (req) { return new Response(req.method) }',
  ])('turns a single export default into module.exports: %s', async (code) => {
    expect(() => runLikeInsForge(code)).toThrow(SyntaxError);
    const { code: runnable, note } = runnableSource(code);
    expect(note).toContain('module.exports');
    const handler = runLikeInsForge(runnable) as (req: Request) => Promise<Response>;
    expect(await (await handler(new Request('http://x/', { method: 'PUT' }))).text()).toBe('PUT');
  });

  it('leaves module.exports code as it is', () => {
    const code = 'module.exports = async function (req) { return new Response("ok") }';
    expect(runnableSource(code)).toEqual({ code });
  });

  it('leaves code with imports or named exports as it is, and says where it will not run', () => {
    for (const code of ["import { createClient } from 'npm:@insforge/sdk';\nexport default async () => new Response('x')", 'export const a = 1;\nexport default async () => new Response(String(a))']) {
      const out = runnableSource(code);
      expect(out.code).toBe(code);
      expect(out.note).toMatch(/import\/export statements.*self-hosted/);
    }
  });

  it('takes a line that starts with a name like "important" for code, not an import', () => {
    expect(runnableSource('const n = 1;\nimportantWork(n);\nexport default async () => new Response(String(n))').code).toContain('module.exports = async');
  });

  it('does not touch "export default" inside a string on the same line as other code', () => {
    const code = "module.exports = async () => new Response('export default x')";
    expect(runnableSource(code)).toEqual({ code });
  });
});

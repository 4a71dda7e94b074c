import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { BackendError } from '../../client/errors.js';
import { confirmArg, defineTool } from '../tool.js';
import { ok } from '../results.js';
import { ANY_JSON, listedAs } from '../listing.js';
import { existingFile } from '../local-files.js';

const slug = z.string().regex(/^[A-Za-z0-9_-]{1,63}$/, 'letters, digits, _ and - only');
const MAX_CODE_BYTES = 1024 * 1024;
/** Response headers worth showing the agent: the function's own, not what the backend's stack adds. */
const SHOWN_HEADERS = /^(content-type|content-disposition|location|cache-control|set-cookie|www-authenticate|retry-after|x-.*)$/i;
/** How the runtimes say there is no such function: the embedded backend, InsForge's Deno runtime, InsForge cloud's router. */
const RUNTIME_NOT_FOUND = /^(FUNCTION_NOT_FOUND|Function not found( or not active)?)$/;
const TRANSPORT_HEADERS = /^x-(powered-by|ratelimit-.*|request-id|content-type-options|frame-options|xss-protection|dns-prefetch-control|download-options|permitted-cross-domain-policies)$/i;

export const listFunctions = defineTool(
  {
    name: 'list-functions',
    group: 'functions',
    description: 'List deployed functions.',
    input: {},
    output: { functions: z.array(z.record(z.string(), z.unknown())) },
    annotations: { readOnlyHint: true, openWorldHint: false },
  },
  async (ctx, _args, extra) => ok({ functions: await ctx.client().listFunctions(extra.signal) }),
);

export const deployFunction = defineTool(
  {
    name: 'deploy-function',
    group: 'functions',
    description: 'Create or update a function from code or filePath: module.exports = async function (req) { return new Response(…) }.',
    input: {
      slug,
      name: z.string().max(200).optional(),
      description: z.string().max(2000).optional(),
      code: z.string().min(1).max(MAX_CODE_BYTES).optional(),
      filePath: z.string().min(1).optional().describe('Local source file (stdio only)'),
    },
    output: { function: z.record(z.string(), z.unknown()), created: z.boolean(), note: z.string().optional() },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  },
  async (ctx, args, extra) => {
    if ((args.code === undefined) === (args.filePath === undefined)) throw new BackendError(400, 'INVALID_INPUT', 'Give exactly one of code or filePath', 'Send the source as code, or a local file path.');
    let code = args.code;
    if (args.filePath !== undefined) {
      const file = await existingFile(ctx, 'filePath', args.filePath, 'Send the source as code.');
      if (file.size > MAX_CODE_BYTES) throw new BackendError(413, 'INVALID_INPUT', `filePath: ${file.size} bytes is over the ${MAX_CODE_BYTES}-byte limit`, 'Bundle or trim the function source.');
      code = await readFile(file.path, 'utf8');
    }
    return ok(await ctx.client().deployFunction(args.slug, { code: code!, name: args.name, description: args.description }, extra.signal));
  },
);

export const deleteFunction = defineTool(
  {
    name: 'delete-function',
    group: 'functions',
    description: 'Delete a function.',
    input: { slug, confirm: confirmArg },
    output: { deleted: z.boolean() },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    destroys: ({ slug }) => `delete the function "${slug}"`,
  },
  async (ctx, args, extra) => {
    await ctx.client().deleteFunction(args.slug, extra.signal);
    return ok({ deleted: true });
  },
);

export const invokeFunction = defineTool(
  {
    name: 'invoke-function',
    group: 'functions',
    description: 'Call a function as the signed-in user, else with the anon key; returns its status, headers and body, errors included.',
    input: {
      slug,
      method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).optional().describe('Default POST'),
      body: listedAs(z.unknown(), ANY_JSON).optional().describe('JSON, or a string sent as is'),
      headers: z.record(z.string().regex(/^[A-Za-z0-9-]{1,100}$/), z.string().max(8192)).optional(),
    },
    output: { status: z.number(), headers: z.record(z.string(), z.string()), body: z.unknown() },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  },
  async (ctx, args, extra) => {
    const res = await ctx.client().invokeFunction(args.slug, { method: args.method ?? 'POST', body: args.body, headers: args.headers }, extra.signal);
    const shown = (k: string) => SHOWN_HEADERS.test(k) && !TRANSPORT_HEADERS.test(k);
    const headers = Object.fromEntries(Object.entries(res.headers).flatMap(([k, v]) => (shown(k) && v !== undefined ? [[k, Array.isArray(v) ? v.join(', ') : v]] : [])));
    let body: unknown = res.text;
    if (String(res.headers['content-type'] ?? '').includes('json')) {
      try {
        body = JSON.parse(res.text);
      } catch {
        /* not JSON after all: keep the text */
      }
    }
    // the backend's own "no such function" is a failed call, unlike a 404 the function itself returns
    if (res.status === 404 && RUNTIME_NOT_FOUND.test(String((body as { error?: unknown } | null)?.error))) {
      throw new BackendError(404, 'FUNCTION_NOT_FOUND', `No active function "${args.slug}"`, 'List them with list-functions, or deploy it with deploy-function.');
    }
    return ok({ status: res.status, headers, body }, { untrusted: true });
  },
);

export const functionTools = [listFunctions, deployFunction, deleteFunction, invokeFunction];

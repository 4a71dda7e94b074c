import { z } from 'zod';
import { confirmArg, defineTool } from '../tool.js';
import { ok } from '../results.js';

/** InsForge's rule: secrets become environment variables. */
const name = z.string().regex(/^[A-Z0-9_]{1,128}$/, 'uppercase letters, digits and _ only (e.g. STRIPE_API_KEY)');

export const listSecrets = defineTool(
  {
    name: 'list-secrets',
    group: 'functions',
    description: 'Secret names for functions (values are never shown).',
    input: {},
    output: { secrets: z.array(z.record(z.string(), z.unknown())) },
    annotations: { readOnlyHint: true, openWorldHint: false },
  },
  async (ctx, _args, extra) => ok({ secrets: await ctx.client().listSecrets(extra.signal) }),
);

export const setSecret = defineTool(
  {
    name: 'set-secret',
    group: 'functions',
    description: "Create or replace a secret; functions read it as Deno.env.get('NAME'). Write-only.",
    input: { key: name, value: z.string().min(1).max(64 * 1024) },
    output: { key: z.string(), created: z.boolean() },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  },
  // the value goes to the backend and nowhere else: not into the result, not into the log
  async (ctx, args, extra) => ok({ key: args.key, ...(await ctx.client().setSecret(args.key, args.value, extra.signal)) }),
);

export const deleteSecret = defineTool(
  {
    name: 'delete-secret',
    group: 'functions',
    description: 'Delete a secret.',
    input: { key: name, confirm: confirmArg },
    output: { deleted: z.boolean() },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    destroys: ({ key }) => `delete the secret ${key}`,
  },
  async (ctx, args, extra) => {
    await ctx.client().deleteSecret(args.key, extra.signal);
    return ok({ deleted: true });
  },
);

export const secretTools = [listSecrets, setSecret, deleteSecret];

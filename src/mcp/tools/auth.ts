import { z } from 'zod';
import type { AuthSession } from '../../client/client.js';
import type { ToolContext } from '../context.js';
import { defineTool } from '../tool.js';
import { ok } from '../results.js';

const user = z.record(z.string(), z.unknown());
const email = z.string().min(3).max(254);
const password = z.string().min(1).max(256);
const AUTH = { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false };

/** Keeps the token in the session (the agent gets the user, not the token). */
function remember(ctx: ToolContext, s: AuthSession) {
  if (!s.accessToken) {
    return ok({ signedIn: false, user: s.user ?? null, requireEmailVerification: s.requireEmailVerification ?? false, note: 'Verify the email, then sign in.' }, { untrusted: true });
  }
  if (!ctx.stateless) ctx.session.user = { token: s.accessToken, user: s.user, expiresAt: s.expiresAt };
  return ok({
    signedIn: !ctx.stateless,
    user: s.user,
    ...(s.expiresAt ? { expiresAt: s.expiresAt } : {}),
    note: ctx.stateless
      ? 'Stateless server: the session is not kept. Send a user token as your own Authorization: Bearer header to act as a user.'
      : "Data tools of this session now act as this user (RLS applies); run-sql and metadata still use the admin key. sign-out to stop.",
  }, { untrusted: true }); // the profile is text the user wrote
}

export const signUp = defineTool(
  {
    name: 'sign-up',
    group: 'auth',
    description: 'Create a user and act as them in this session (to test RLS).',
    input: { email, password, name: z.string().max(200).optional() },
    output: { signedIn: z.boolean(), user: user.nullable(), expiresAt: z.string().optional(), requireEmailVerification: z.boolean().optional(), note: z.string() },
    annotations: AUTH,
  },
  async (ctx, args, extra) => remember(ctx, await ctx.client().signUp(args.email, args.password, args.name, extra.signal)),
);

export const signIn = defineTool(
  {
    name: 'sign-in',
    group: 'auth',
    description: 'Sign in; data tools of this session then act as this user.',
    input: { email, password },
    output: { signedIn: z.boolean(), user: user.nullable(), expiresAt: z.string().optional(), note: z.string() },
    // changes who this session acts as, not the backend's data: available in read-only mode
    annotations: { ...AUTH, readOnlyHint: true, idempotentHint: true },
  },
  async (ctx, args, extra) => remember(ctx, await ctx.client().signIn(args.email, args.password, extra.signal)),
);

const ACTING_AS = {
  admin: 'the configured admin API key (bypasses RLS)',
  anon: 'the anon key (role anon: RLS applies; no API key is configured)',
};

export const getCurrentUser = defineTool(
  {
    name: 'get-current-user',
    group: 'auth',
    description: 'Who data tools act as: the signed-in user or the configured key.',
    input: {},
    output: { signedIn: z.boolean(), user: user.optional(), actingAs: z.string() },
    annotations: { readOnlyHint: true, openWorldHint: false },
  },
  async (ctx, _args, extra) => {
    if (!ctx.session.user && !ctx.stateless) return ok({ signedIn: false, actingAs: ACTING_AS[await ctx.client().configuredKey()] });
    return ok({ signedIn: true, user: await ctx.client().currentUser(extra.signal), actingAs: 'the signed-in user (RLS applies)' }, { untrusted: true });
  },
);

/** What both forms of sign-out share. */
const SIGN_OUT = { name: 'sign-out', group: 'auth', input: {}, output: { signedOut: z.boolean() } } as const;

export const signOut = defineTool(
  {
    ...SIGN_OUT,
    description: 'Sign out; data tools go back to the configured key.',
    // revokes the session on the backend: a write, though not of data
    annotations: { ...AUTH, idempotentHint: true },
  },
  async (ctx, _args, extra) => {
    const had = ctx.session.user;
    if (!had) return ok({ signedOut: false });
    // forget the token even if the backend call fails: the session must not keep acting as the user
    ctx.session.user = undefined;
    await ctx.client().withUserToken(had.token).signOut(extra.signal);
    return ok({ signedOut: true });
  },
);

/** sign-out of --read-only mode: this session forgets the token; the backend is not asked to revoke it. */
export const signOutReadOnly = defineTool(
  {
    ...SIGN_OUT,
    description: 'Stop acting as the signed-in user (read-only: the session is not revoked).',
    annotations: { readOnlyHint: true, openWorldHint: false },
  },
  async (ctx) => {
    const had = ctx.session.user;
    ctx.session.user = undefined;
    return ok({ signedOut: Boolean(had) });
  },
);

export const authTools = [signUp, signIn, getCurrentUser, signOut];

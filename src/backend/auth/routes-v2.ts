import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';
import { OPEN_ROUTE, bearerToken, requireCaller } from '../caller.js';
import type { BackendContext } from '../context.js';
import { httpOnlyCookie, readCookie } from './cookies.js';
import { REFRESH_TOKEN_TTL_SECONDS, type RefreshableSession } from './tokens.js';
import { newAccountFrom, publicUser, requireUser, type Accounts, type UserRow } from './accounts.js';

/**
 * The InsForge v2 auth routes, as `@insforge/sdk` uses them (§2 of the v2 reference), on the
 * same accounts and sessions as the documented routes. How the refresh token travels depends on
 * `?client_type=`: `web` (default) → an HttpOnly cookie plus a CSRF token in the body, which the
 * browser sends back as `X-CSRF-Token`; `mobile`, `desktop`, `server` → `refreshToken` in the body
 * (the SDK's server mode under Node uses `mobile`).
 */

const REFRESH_COOKIE = 'insforge_refresh_token';
const REFRESH_COOKIE_PATH = '/api/auth';
const CLIENT_TYPES = ['web', 'mobile', 'desktop', 'server'] as const;
type ClientType = (typeof CLIENT_TYPES)[number];

const INVALID_CREDENTIALS = new ApiError(401, 'AUTH_UNAUTHORIZED', 'Invalid credentials', 'Check email and password, or sign up first (POST /api/auth/users).');
const INVALID_CSRF = new ApiError(403, 'FORBIDDEN', 'Invalid CSRF token', 'Send the csrfToken of the last sign-in or refresh as the X-CSRF-Token header.');
const INVALID_REFRESH = new ApiError(401, 'AUTH_UNAUTHORIZED', 'Invalid refresh token', 'The refresh token is unknown, expired, already used or signed out. Sign in again.');

const PUBLIC_AUTH_CONFIG = {
  oAuthProviders: [],
  customOAuthProviders: [],
  requireEmailVerification: false,
  passwordMinLength: 6,
  requireNumber: false,
  requireLowercase: false,
  requireUppercase: false,
  requireSpecialChar: false,
  verifyEmailMethod: 'code',
  resetPasswordMethod: 'code',
  disableSignup: false,
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const single = (v: unknown) => (Array.isArray(v) ? v[0] : v);

function clientTypeOf(req: FastifyRequest): ClientType {
  const value = single((req.query as Record<string, unknown>).client_type) ?? 'web';
  if (!CLIENT_TYPES.includes(value as ClientType)) {
    throw new ApiError(400, 'INVALID_INPUT', `client_type must be one of ${CLIENT_TYPES.join(', ')}`, 'Leave it out for browsers (cookie); use ?client_type=mobile to get the refresh token in the body.');
  }
  return value as ClientType;
}

/** `{refreshToken}` as the schema says, or `{refresh_token}` as the SDK's refreshSession sends it. */
function refreshTokenInBody(body: unknown): string | undefined {
  const b = (body ?? {}) as Record<string, unknown>;
  const token = b.refreshToken ?? b.refresh_token;
  return typeof token === 'string' && token !== '' ? token : undefined;
}

const csrfHeader = (req: FastifyRequest) => single(req.headers['x-csrf-token']) as string | undefined;
const claimsOf = (user: UserRow) => ({ sub: user.id, email: user.email });

export function registerAuthV2Routes(app: FastifyInstance, ctx: BackendContext, accounts: Accounts): void {
  const setRefreshCookie = (req: FastifyRequest, reply: FastifyReply, token: string, maxAgeSeconds: number) =>
    reply.header('set-cookie', httpOnlyCookie(REFRESH_COOKIE, token, { path: REFRESH_COOKIE_PATH, maxAgeSeconds, secure: req.protocol === 'https' }));

  /** The refresh token as the client type takes it: a cookie and a CSRF token (web), or in the body. */
  function handOver(req: FastifyRequest, reply: FastifyReply, type: ClientType, session: RefreshableSession) {
    if (type !== 'web') return { refreshToken: session.refreshToken };
    setRefreshCookie(req, reply, session.refreshToken, REFRESH_TOKEN_TTL_SECONDS);
    return { csrfToken: ctx.tokens.csrfTokenFor(session.refreshToken) };
  }

  // Sign up. Needs a key (the SDK sends the anon key); with the admin key it only creates the
  // account (`autoConfirm` marks the email verified) and signs nobody in.
  app.post('/api/auth/users', async (req, reply) => {
    const caller = requireCaller(req.caller);
    const type = clientTypeOf(req);
    const account = newAccountFrom(req.body);
    if (caller.role === 'project_admin') {
      const autoConfirm = (req.body as { autoConfirm?: unknown } | undefined)?.autoConfirm === true;
      return { user: publicUser(await accounts.create(account, autoConfirm)), accessToken: null, requireEmailVerification: false };
    }
    const user = await accounts.create(account);
    const session = await ctx.tokens.issueRefreshable(claimsOf(user));
    // No mail is sent by the embedded backend, so there is nothing to verify.
    return { user: publicUser(user), accessToken: session.accessToken, requireEmailVerification: false, ...handOver(req, reply, type, session) };
  });

  // Sign in with a password (`method` defaults to "password"; one-time codes need mail).
  app.post('/api/auth/sessions', OPEN_ROUTE, async (req, reply) => {
    const type = clientTypeOf(req);
    const method = (req.body as { method?: unknown } | undefined)?.method ?? 'password';
    if (method === 'otp') throw new ApiError(400, 'INVALID_INPUT', 'Sign-in with a one-time code is not available: the embedded backend sends no email', 'Sign in with {"email", "password"}.');
    if (method !== 'password') throw new ApiError(400, 'INVALID_INPUT', 'method: must be "password" or "otp"', 'Send {"email", "password"}.');
    const user = await accounts.signIn(req, reply, INVALID_CREDENTIALS);
    const session = await ctx.tokens.issueRefreshable(claimsOf(user));
    return { user: publicUser(user), accessToken: session.accessToken, ...handOver(req, reply, type, session) };
  });

  app.get('/api/auth/sessions/current', async (req) => ({ user: publicUser(await accounts.current(req.caller)) }));

  // A new access token for a refresh token, which is replaced by a new one (rotation).
  app.post('/api/auth/refresh', OPEN_ROUTE, async (req, reply) => {
    const type = clientTypeOf(req);
    let presented: string | undefined;
    if (type === 'web') {
      presented = readCookie(req.headers, REFRESH_COOKIE);
      if (!presented) throw new ApiError(401, 'AUTH_UNAUTHORIZED', 'No refresh token provided', `Sign in from this browser first: the refresh token travels in the ${REFRESH_COOKIE} cookie.`);
      if (!ctx.tokens.csrfTokenMatches(presented, csrfHeader(req))) throw INVALID_CSRF;
    } else {
      presented = refreshTokenInBody(req.body);
      if (!presented) throw new ApiError(400, 'INVALID_INPUT', 'refreshToken: Required', 'Send {"refreshToken": "<the refreshToken of the last sign-in or refresh>"}.');
    }
    const session = await ctx.tokens.rotate(presented);
    const user = session && (await accounts.byId(session.user.sub));
    if (!session || !user) {
      if (type === 'web') setRefreshCookie(req, reply, '', 0);
      throw INVALID_REFRESH;
    }
    return { accessToken: session.accessToken, user: publicUser(user), ...handOver(req, reply, type, session) };
  });

  // Signs out: ends the session of the refresh token (cookie or body) and of the access token sent.
  app.post('/api/auth/logout', OPEN_ROUTE, async (req, reply) => {
    const type = clientTypeOf(req);
    if (type === 'web') {
      const cookieToken = readCookie(req.headers, REFRESH_COOKIE);
      if (cookieToken) {
        if (!ctx.tokens.csrfTokenMatches(cookieToken, csrfHeader(req))) throw INVALID_CSRF;
        await ctx.tokens.revokeByRefreshToken(cookieToken);
      }
      setRefreshCookie(req, reply, '', 0);
    } else {
      const bodyToken = refreshTokenInBody(req.body);
      if (bodyToken) await ctx.tokens.revokeByRefreshToken(bodyToken);
    }
    if (req.caller?.role === 'authenticated') await ctx.tokens.revoke(bearerToken(req.headers)!);
    return { success: true, message: 'Logged out successfully' };
  });

  app.get('/api/auth/public-config', OPEN_ROUTE, async () => PUBLIC_AUTH_CONFIG);

  app.get('/api/auth/profiles/:userId', OPEN_ROUTE, async (req: FastifyRequest<{ Params: { userId: string } }>) => {
    const { userId } = req.params;
    if (!UUID.test(userId)) throw new ApiError(400, 'INVALID_INPUT', 'Invalid user ID format', 'Send the user id (a UUID) as returned by sign-up or sign-in.');
    const user = await accounts.byId(userId);
    if (!user) throw new ApiError(404, 'AUTH_USER_NOT_FOUND', 'User not found', 'Check the user id.');
    return { id: user.id, profile: user.profile };
  });

  app.patch('/api/auth/profiles/current', async (req) => {
    const caller = requireUser(req.caller);
    const profile = (req.body as { profile?: unknown } | undefined)?.profile;
    if (typeof profile !== 'object' || profile === null || Array.isArray(profile)) {
      throw new ApiError(400, 'INVALID_INPUT', 'profile: Required (an object)', 'Send {"profile": {"name": "…", "avatar_url": "…"}}; the fields are merged into the profile.');
    }
    return { id: caller.claims.sub, profile: await accounts.updateProfile(caller.claims.sub, profile as Record<string, unknown>) };
  });
}

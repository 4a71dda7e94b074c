import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { ApiError } from './errors.js';
import type { BackendKeys } from './datadir.js';
import type { DbRole } from './db/boundary.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route needs no credential, so one that is not valid is ignored instead of refused (401). */
    tolerateBadCredentials?: boolean;
  }
}

/**
 * Route options of the open routes (sign-in, refresh, logout, public config): the SDK sends its
 * last access token everywhere, and an expired one must not stop it from signing in or refreshing.
 */
export const OPEN_ROUTE = { config: { tolerateBadCredentials: true } } as const;

export type { DbRole };

/** Who is asking, as the database will see it. */
export interface Caller {
  role: DbRole;
  /** JWT claims made visible to SQL through request.jwt.claims ({} for keys). */
  claims: Record<string, unknown>;
  /** Bucket for rate limiting: one per key, per user, or per address. */
  rateKey: string;
}

/** Verifies a user access token; returns its claims, or undefined when it is not valid. */
export type TokenVerifier = (token: string) => Promise<Record<string, unknown> | undefined>;

const digest = (s: string) => createHash('sha256').update(s).digest();
/** Constant-time comparison, so a key cannot be guessed byte by byte from response times. */
export const sameSecret = (a: string, b: string) => timingSafeEqual(digest(a), digest(b));

const ADMIN: Caller = { role: 'project_admin', claims: { role: 'project_admin' }, rateKey: 'admin' };
const ANON: Caller = { role: 'anon', claims: { role: 'anon' }, rateKey: 'anon' };

export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const auth = headers.authorization;
  if (!auth) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
  if (!m) throw new ApiError(401, 'AUTH_INVALID_CREDENTIALS', 'Authorization header must be "Bearer <token>"', 'Send the anon key, the API key or a user access token as a Bearer token.');
  return m[1];
}

const single = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

/**
 * Keys are recognised wherever clients of either dialect send them: `apikey` (documented API),
 * `x-api-key` (admin, InsForge v2) and `Authorization: Bearer` (all). A user token in
 * Authorization wins over an `apikey` header, as in Supabase-style clients that send both.
 */
export async function identifyCaller(headers: IncomingHttpHeaders, keys: BackendKeys, verifyToken?: TokenVerifier): Promise<Caller | undefined> {
  const xApiKey = single(headers['x-api-key']);
  if (xApiKey !== undefined) {
    if (sameSecret(xApiKey, keys.apiKey)) return ADMIN;
    throw new ApiError(401, 'AUTH_INVALID_API_KEY', 'Invalid API key', 'The x-api-key header takes the admin API key only; send the anon key as "apikey" or as a Bearer token.');
  }
  const token = bearerToken(headers);
  if (token !== undefined) {
    if (sameSecret(token, keys.apiKey)) return ADMIN;
    if (sameSecret(token, keys.anonKey)) return ANON;
    const claims = verifyToken ? await verifyToken(token) : undefined;
    if (!claims || typeof claims.sub !== 'string') {
      throw new ApiError(401, 'AUTH_UNAUTHORIZED', 'Invalid token', 'The token is not a key of this backend, or is an expired, revoked or forged user token. Sign in again.');
    }
    return { role: 'authenticated', claims: { ...claims, role: 'authenticated' }, rateKey: `user:${claims.sub}` };
  }
  const apikey = single(headers.apikey);
  if (apikey !== undefined) {
    if (sameSecret(apikey, keys.anonKey)) return ANON;
    if (sameSecret(apikey, keys.apiKey)) return ADMIN;
    throw new ApiError(401, 'AUTH_INVALID_CREDENTIALS', 'Invalid anon key', 'Check the apikey header: it must be this backend\'s anon key.');
  }
  return undefined;
}

export function requireCaller(caller: Caller | undefined): Caller {
  if (!caller) {
    throw new ApiError(401, 'AUTH_INVALID_CREDENTIALS', 'No token provided', 'Send the anon key in the "apikey" header, or "Authorization: Bearer <anon key | API key | user token>".');
  }
  return caller;
}

export function requireAdmin(caller: Caller | undefined): Caller {
  const c = requireCaller(caller);
  if (c.role !== 'project_admin') {
    throw new ApiError(c.role === 'anon' ? 401 : 403, c.role === 'anon' ? 'AUTH_UNAUTHORIZED' : 'FORBIDDEN', 'Admin access required', 'Use the admin API key (x-api-key or Bearer) for this route.');
  }
  return c;
}

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from './errors.js';
import { bearerToken, type Caller } from './caller.js';
import type { BackendContext } from './context.js';
import { dummyHash, hashPassword, verifyPassword } from './passwords.js';
import { AttemptLimiter } from './attempts.js';

/** Users and sessions. Only the backend itself touches them; admins may read the safe columns. */
export const AUTH_SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS auth.users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email text NOT NULL UNIQUE,
  password_hash text NOT NULL,
  email_verified boolean NOT NULL DEFAULT false,
  profile jsonb NOT NULL DEFAULT '{}',
  metadata jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS auth.sessions (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES auth.users(id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz
);
REVOKE ALL ON auth.users, auth.sessions FROM anon, authenticated, project_admin;
GRANT SELECT (id, email, email_verified, profile, metadata, created_at, updated_at), REFERENCES (id) ON auth.users TO project_admin;
`;

interface UserRow {
  id: string;
  email: string;
  password_hash: string;
  email_verified: boolean;
  profile: Record<string, unknown>;
  metadata: Record<string, unknown>;
  created_at: Date | string;
  updated_at: Date | string;
}

const USER_COLUMNS = 'id, email, password_hash, email_verified, profile, metadata, created_at, updated_at';
const iso = (d: Date | string) => new Date(d).toISOString();

/** The user as the API shows it: never the hash. */
export const publicUser = (u: UserRow) => ({
  id: u.id,
  email: u.email,
  emailVerified: u.email_verified,
  createdAt: iso(u.created_at),
  updatedAt: iso(u.updated_at),
  providers: ['email'],
  profile: u.profile,
  metadata: u.metadata,
});

const EMAIL = /^[^\s@]{1,64}@[^\s@]+\.[^\s@]+$/;
const MIN_PASSWORD = 6;

function credentialsFrom(body: unknown): { email: string; password: string; name?: string } {
  const b = (body ?? {}) as Record<string, unknown>;
  if (typeof b.email !== 'string' || b.email.length > 254 || !EMAIL.test(b.email.trim())) {
    throw new ApiError(400, 'AUTH_INVALID_EMAIL', 'email: Invalid email format', 'Send a valid email address, e.g. {"email": "user@example.com", "password": "…"}.');
  }
  if (typeof b.password !== 'string' || b.password.length < MIN_PASSWORD || b.password.length > 256) {
    throw new ApiError(400, 'AUTH_WEAK_PASSWORD', `Password must be ${MIN_PASSWORD} to 256 characters long`, `Choose a password of at least ${MIN_PASSWORD} characters.`);
  }
  if (b.name !== undefined && (typeof b.name !== 'string' || b.name.length > 200)) {
    throw new ApiError(400, 'INVALID_INPUT', 'name: must be a string of at most 200 characters', 'Send the display name as a short string, or leave it out.');
  }
  return { email: b.email.trim().toLowerCase(), password: b.password, name: b.name as string | undefined };
}

function requireUser(caller: Caller | undefined): Caller & { claims: { sub: string } } {
  if (caller?.role !== 'authenticated') {
    throw new ApiError(401, 'AUTH_UNAUTHORIZED', 'This route needs a user access token', 'Sign in first and send "Authorization: Bearer <accessToken>".');
  }
  return caller as Caller & { claims: { sub: string } };
}

/** Failed sign-ins allowed in 15 minutes, per email and per client address. */
const MAX_FAILURES_PER_EMAIL = 10;
const MAX_FAILURES_PER_ADDRESS = 50;

export function registerAuthRoutes(app: FastifyInstance, ctx: BackendContext): void {
  const window = 15 * 60_000;
  const byEmail = new AttemptLimiter(MAX_FAILURES_PER_EMAIL, window);
  const byAddress = new AttemptLimiter(MAX_FAILURES_PER_ADDRESS, window);

  const session = async (user: UserRow) => {
    const { accessToken, expiresAt } = await ctx.tokens.issue({ sub: user.id, email: user.email });
    return { user: publicUser(user), accessToken, expiresAt: expiresAt.toISOString() };
  };

  app.post('/api/auth/signup', async (req, reply) => {
    const { email, password, name } = credentialsFrom(req.body);
    const hash = await hashPassword(password);
    let user: UserRow | undefined;
    try {
      const { rows } = await ctx.db.query<UserRow>(`INSERT INTO auth.users (email, password_hash, profile) VALUES ($1, $2, $3) RETURNING ${USER_COLUMNS}`, [email, hash, JSON.stringify(name ? { name } : {})]);
      user = rows[0];
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw new ApiError(409, 'AUTH_EMAIL_EXISTS', 'User already exists', 'Sign in instead, or sign up with another email.');
      throw err;
    }
    // No mail is sent by the embedded backend, so there is nothing to verify.
    reply.status(200);
    return { ...(await session(user!)), requireEmailVerification: false };
  });

  app.post('/api/auth/signin', async (req, reply) => signIn(req, reply));

  async function signIn(req: FastifyRequest, reply: FastifyReply) {
    const b = (req.body ?? {}) as Record<string, unknown>;
    const email = typeof b.email === 'string' ? b.email.trim().toLowerCase() : '';
    const password = typeof b.password === 'string' ? b.password : '';
    if (!email || !password) throw new ApiError(400, 'INVALID_INPUT', 'email and password are required', 'Send {"email": "…", "password": "…"}.');
    const keys = [`email:${email}`, `ip:${req.ip}`] as const;
    const wait = Math.max(byEmail.retryAfter(keys[0]), byAddress.retryAfter(keys[1]));
    if (wait > 0) {
      reply.header('Retry-After', String(wait));
      throw new ApiError(429, 'TOO_MANY_REQUESTS', 'Too many failed sign-in attempts', `Wait ${wait} s before trying again.`);
    }
    const { rows } = await ctx.db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM auth.users WHERE email = $1`, [email]);
    const user = rows[0];
    const ok = await verifyPassword(password, user?.password_hash ?? (await dummyHash()));
    if (!user || !ok) {
      byEmail.fail(keys[0]);
      byAddress.fail(keys[1]);
      throw new ApiError(401, 'INVALID_CREDENTIALS', 'Invalid login credentials', 'Check email and password');
    }
    return session(user);
  }

  app.get('/api/auth/user', async (req) => {
    const caller = requireUser(req.caller);
    const { rows } = await ctx.db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM auth.users WHERE id = $1`, [caller.claims.sub]);
    if (!rows[0]) throw new ApiError(401, 'AUTH_USER_NOT_FOUND', 'The user of this token no longer exists', 'Sign up or sign in again.');
    return { user: publicUser(rows[0]) };
  });

  app.post('/api/auth/signout', async (req) => {
    requireUser(req.caller);
    await ctx.tokens.revoke(bearerToken(req.headers)!);
    return { success: true, message: 'Signed out successfully' };
  });
}

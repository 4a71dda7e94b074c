import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';
import type { Caller } from '../caller.js';
import type { InternalDb } from '../db/types.js';
import { dummyHash, hashPassword, verifyPassword } from './passwords.js';
import { AttemptLimiter } from './attempts.js';

/**
 * Users and sessions. Only the backend itself touches them; admins may read the safe columns.
 * A session is one sign-in; its refresh tokens (InsForge v2 routes) are stored as SHA-256 hashes.
 */
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
CREATE TABLE IF NOT EXISTS auth.refresh_tokens (
  token_hash text PRIMARY KEY,
  session_id uuid NOT NULL REFERENCES auth.sessions(id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  rotated_at timestamptz
);
CREATE INDEX IF NOT EXISTS refresh_tokens_session_id ON auth.refresh_tokens (session_id);
REVOKE ALL ON auth.users, auth.sessions, auth.refresh_tokens FROM anon, authenticated, project_admin;
GRANT SELECT (id, email, email_verified, profile, metadata, created_at, updated_at), REFERENCES (id) ON auth.users TO project_admin;
`;

export interface UserRow {
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

export interface NewAccount {
  email: string;
  password: string;
  name?: string;
}

const EMAIL = /^[^\s@]{1,64}@[^\s@]+\.[^\s@]+$/;
const MIN_PASSWORD = 6;

/** Sign-up input of both dialects: `{email, password, name?}`; the email is lower-cased. */
export function newAccountFrom(body: unknown): NewAccount {
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

/** The caller as a signed-in user, or 401: routes about "me" need a user access token. */
export function requireUser(caller: Caller | undefined): Caller & { claims: { sub: string } } {
  if (caller?.role !== 'authenticated') {
    throw new ApiError(401, 'AUTH_UNAUTHORIZED', 'This route needs a user access token', 'Sign in first and send "Authorization: Bearer <accessToken>".');
  }
  return caller as Caller & { claims: { sub: string } };
}

/** Failed sign-ins allowed in 15 minutes, per email and per client address. */
const MAX_FAILURES_PER_EMAIL = 10;
const MAX_FAILURES_PER_ADDRESS = 50;
const FAILURE_WINDOW_MS = 15 * 60_000;

/**
 * Accounts, shared by the documented auth routes and the InsForge v2 ones: creating users,
 * checking passwords (with one failed-attempt budget across both dialects) and reading users.
 */
export class Accounts {
  private readonly byEmail = new AttemptLimiter(MAX_FAILURES_PER_EMAIL, FAILURE_WINDOW_MS);
  private readonly byAddress = new AttemptLimiter(MAX_FAILURES_PER_ADDRESS, FAILURE_WINDOW_MS);

  constructor(private readonly db: InternalDb) {}

  /** 409 AUTH_EMAIL_EXISTS when the email is taken. `verified` is for accounts an admin creates. */
  async create(account: NewAccount, verified = false): Promise<UserRow> {
    const hash = await hashPassword(account.password);
    try {
      const { rows } = await this.db.query<UserRow>(
        `INSERT INTO auth.users (email, password_hash, profile, email_verified) VALUES ($1, $2, $3, $4) RETURNING ${USER_COLUMNS}`,
        [account.email, hash, JSON.stringify(account.name ? { name: account.name } : {}), verified],
      );
      return rows[0]!;
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw new ApiError(409, 'AUTH_EMAIL_EXISTS', 'User already exists', 'Sign in instead, or sign up with another email.');
      throw err;
    }
  }

  /**
   * The user whose email and password these are. A wrong password and an unknown email throw the
   * same `invalid` error (each dialect has its own) after the same time; too many failures → 429.
   */
  async signIn(req: FastifyRequest, reply: FastifyReply, invalid: ApiError): Promise<UserRow> {
    const b = (req.body ?? {}) as Record<string, unknown>;
    const email = typeof b.email === 'string' ? b.email.trim().toLowerCase() : '';
    const password = typeof b.password === 'string' ? b.password : '';
    if (!email || !password) throw new ApiError(400, 'INVALID_INPUT', 'email and password are required', 'Send {"email": "…", "password": "…"}.');
    const keys = [`email:${email}`, `ip:${req.ip}`] as const;
    const wait = Math.max(this.byEmail.retryAfter(keys[0]), this.byAddress.retryAfter(keys[1]));
    if (wait > 0) {
      reply.header('Retry-After', String(wait));
      throw new ApiError(429, 'TOO_MANY_REQUESTS', 'Too many failed sign-in attempts', `Wait ${wait} s before trying again.`);
    }
    const { rows } = await this.db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM auth.users WHERE email = $1`, [email]);
    const user = rows[0];
    const ok = await verifyPassword(password, user?.password_hash ?? (await dummyHash()));
    if (!user || !ok) {
      this.byEmail.fail(keys[0]);
      this.byAddress.fail(keys[1]);
      throw invalid;
    }
    return user;
  }

  async byId(id: string): Promise<UserRow | undefined> {
    const { rows } = await this.db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM auth.users WHERE id = $1`, [id]);
    return rows[0];
  }

  /** The signed-in caller's user; 401 when the account was deleted after the token was issued. */
  async current(caller: Caller | undefined): Promise<UserRow> {
    const user = await this.byId(requireUser(caller).claims.sub);
    if (!user) throw new ApiError(401, 'AUTH_USER_NOT_FOUND', 'The user of this token no longer exists', 'Sign up or sign in again.');
    return user;
  }

  /** Merges `changes` into the user's profile (PATCH semantics) and returns the new profile. */
  async updateProfile(id: string, changes: Record<string, unknown>): Promise<Record<string, unknown>> {
    const { rows } = await this.db.query<{ profile: Record<string, unknown> }>(
      'UPDATE auth.users SET profile = profile || $2::jsonb, updated_at = now() WHERE id = $1 RETURNING profile',
      [id, JSON.stringify(changes)],
    );
    if (!rows[0]) throw new ApiError(401, 'AUTH_USER_NOT_FOUND', 'The user of this token no longer exists', 'Sign up or sign in again.');
    return rows[0].profile;
  }
}

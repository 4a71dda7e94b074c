import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';
import type { InternalDb, Queryable } from '../db/types.js';
import type { TokenVerifier } from '../caller.js';

export const ACCESS_TOKEN_TTL_SECONDS = 3600;
export const REFRESH_TOKEN_TTL_SECONDS = 7 * 24 * 3600;
const ISSUER = 'insforge-mcp';

export interface UserClaims {
  sub: string;
  email: string;
}

export interface IssuedToken {
  accessToken: string;
  expiresAt: Date;
}

/** A session that can be renewed: the refresh token is shown once and only its hash is stored. */
export interface RefreshableSession extends IssuedToken {
  refreshToken: string;
  user: UserClaims;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

function newRefreshToken() {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: sha256(token), expiresAt: new Date(Date.now() + REFRESH_TOKEN_TTL_SECONDS * 1000).toISOString() };
}

interface RefreshRow {
  session_id: string;
  user_id: string;
  email: string;
  reused: boolean;
  live: boolean;
}

/**
 * Sessions and the tokens that carry them. A session is one sign-in: a row in auth.sessions
 * whose id is the `jti` of every access token it issues (HS256 JWTs signed with the data dir's
 * secret), so revoking the row ends all of them at once. Sessions made with a refresh token
 * (the InsForge v2 routes) last as long as their refresh tokens; each refresh token is used
 * once and replaced (rotation), and presenting a used one again revokes the whole session,
 * since only a thief or a replay can do that.
 *
 * Verified sessions are cached briefly; a revocation in this process clears its cache entry,
 * so only another process's sign-out can lag by the cache age.
 */
export class TokenService {
  private readonly secret: Uint8Array;
  private readonly live = new Map<string, number>(); // session id → cached until (ms)
  private static readonly CACHE_MS = 5_000;

  constructor(
    private readonly jwtSecret: string,
    private readonly db: InternalDb,
  ) {
    this.secret = new TextEncoder().encode(jwtSecret);
  }

  /** A session with one access token and no refresh token (the documented sign-in). */
  async issue(user: UserClaims): Promise<IssuedToken> {
    const sessionId = randomUUID();
    const expiresAt = accessExpiry();
    await this.db.query('INSERT INTO auth.sessions (id, user_id, expires_at) VALUES ($1, $2, $3)', [sessionId, user.sub, expiresAt.toISOString()]);
    return { accessToken: await this.sign(user, sessionId, expiresAt), expiresAt };
  }

  /** A session with an access token and a refresh token (the InsForge v2 sign-in). */
  async issueRefreshable(user: UserClaims): Promise<RefreshableSession> {
    const sessionId = randomUUID();
    const refresh = newRefreshToken();
    await this.db.transaction(async (tx) => {
      await tx.query('INSERT INTO auth.sessions (id, user_id, expires_at) VALUES ($1, $2, $3)', [sessionId, user.sub, refresh.expiresAt]);
      await tx.query('INSERT INTO auth.refresh_tokens (token_hash, session_id, expires_at) VALUES ($1, $2, $3)', [refresh.hash, sessionId, refresh.expiresAt]);
    });
    const expiresAt = accessExpiry();
    return { accessToken: await this.sign(user, sessionId, expiresAt), expiresAt, refreshToken: refresh.token, user };
  }

  /**
   * Trades a refresh token for a new access token and a new refresh token. Undefined when the
   * token is unknown, expired, of a revoked session, or already used (which revokes its session).
   */
  async rotate(refreshToken: string): Promise<RefreshableSession | undefined> {
    const hash = sha256(refreshToken);
    const next = newRefreshToken();
    const row = await this.db.transaction(async (tx) => {
      const { rows } = await tx.query<RefreshRow>(
        `SELECT r.session_id, s.user_id, u.email, r.rotated_at IS NOT NULL AS reused,
                (r.expires_at > now() AND s.revoked_at IS NULL) AS live
           FROM auth.refresh_tokens r
           JOIN auth.sessions s ON s.id = r.session_id
           JOIN auth.users u ON u.id = s.user_id
          WHERE r.token_hash = $1
          FOR UPDATE OF r`,
        [hash],
      );
      const found = rows[0];
      if (!found) return undefined;
      if (found.reused) {
        await this.revokeSessionIn(tx, found.session_id);
        return undefined;
      }
      if (!found.live) return undefined;
      await tx.query('UPDATE auth.refresh_tokens SET rotated_at = now() WHERE token_hash = $1', [hash]);
      await tx.query('INSERT INTO auth.refresh_tokens (token_hash, session_id, expires_at) VALUES ($1, $2, $3)', [next.hash, found.session_id, next.expiresAt]);
      await tx.query('UPDATE auth.sessions SET expires_at = $2 WHERE id = $1', [found.session_id, next.expiresAt]);
      return found;
    });
    if (!row) return undefined;
    const user = { sub: row.user_id, email: row.email };
    const expiresAt = accessExpiry();
    return { accessToken: await this.sign(user, row.session_id, expiresAt), expiresAt, refreshToken: next.token, user };
  }

  /** Claims of a valid, unexpired, unrevoked access token; undefined for anything else. */
  readonly verify: TokenVerifier = async (token) => {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.secret, { algorithms: ['HS256'], issuer: ISSUER }));
    } catch {
      return undefined;
    }
    if (typeof payload.sub !== 'string' || typeof payload.jti !== 'string') return undefined;
    if (!(await this.sessionActive(payload.jti))) return undefined;
    return payload as Record<string, unknown>;
  };

  /** Ends the session of a valid access token; false when the token is not one. */
  async revoke(accessToken: string): Promise<boolean> {
    const claims = await this.verify(accessToken);
    if (!claims) return false;
    await this.revokeSessionIn(this.db, claims.jti as string);
    return true;
  }

  /** Ends the session a refresh token belongs to (used or not); false when the token is unknown. */
  async revokeByRefreshToken(refreshToken: string): Promise<boolean> {
    const { rows } = await this.db.query<{ session_id: string }>('SELECT session_id FROM auth.refresh_tokens WHERE token_hash = $1', [sha256(refreshToken)]);
    if (!rows[0]) return false;
    await this.revokeSessionIn(this.db, rows[0].session_id);
    return true;
  }

  /**
   * The CSRF token that goes with a refresh token kept in a cookie: 64 hex characters, derived
   * from the refresh token with the server secret, so nothing more needs storing and a page on
   * another origin, which cannot read the cookie, cannot make it.
   */
  csrfTokenFor(refreshToken: string): string {
    return createHmac('sha256', this.jwtSecret).update(`csrf:${refreshToken}`).digest('hex');
  }

  csrfTokenMatches(refreshToken: string, csrfToken: string | undefined): boolean {
    if (!csrfToken) return false;
    const expected = Buffer.from(this.csrfTokenFor(refreshToken));
    const given = Buffer.from(csrfToken);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private sign(user: UserClaims, sessionId: string, expiresAt: Date): Promise<string> {
    return new SignJWT({ email: user.email, role: 'authenticated' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(user.sub)
      .setJti(sessionId)
      .setIssuer(ISSUER)
      .setIssuedAt()
      .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
      .sign(this.secret);
  }

  /**
   * Deletes what can no longer be used: expired or revoked sessions (with their refresh tokens)
   * and expired refresh tokens. A token naming a deleted session is refused as one naming a
   * revoked session is. Returns the number of sessions deleted.
   */
  async purgeUnusable(): Promise<number> {
    const { rowCount } = await this.db.query('DELETE FROM auth.sessions WHERE revoked_at IS NOT NULL OR expires_at <= now()');
    await this.db.query('DELETE FROM auth.refresh_tokens WHERE expires_at <= now()');
    return rowCount;
  }

  private async revokeSessionIn(q: Queryable, sessionId: string): Promise<void> {
    this.live.delete(sessionId);
    await q.query('UPDATE auth.sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL', [sessionId]);
  }

  private async sessionActive(id: string): Promise<boolean> {
    const until = this.live.get(id);
    if (until !== undefined && until > Date.now()) return true;
    const { rows } = await this.db.query('SELECT 1 FROM auth.sessions WHERE id = $1 AND revoked_at IS NULL AND expires_at > now()', [id]);
    if (rows.length === 0) {
      this.live.delete(id);
      return false;
    }
    if (this.live.size > 10_000) this.live.clear();
    this.live.set(id, Date.now() + TokenService.CACHE_MS);
    return true;
  }
}

const accessExpiry = () => new Date(Date.now() + ACCESS_TOKEN_TTL_SECONDS * 1000);

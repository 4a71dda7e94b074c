import { randomUUID } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';
import type { Database } from './db/types.js';
import type { TokenVerifier } from './caller.js';

export const ACCESS_TOKEN_TTL_SECONDS = 3600;
const ISSUER = 'insforge-mcp';

export interface UserClaims {
  sub: string;
  email: string;
}

/**
 * Access tokens: HS256 JWTs signed with the data dir's secret, one session row each, so that
 * sign-out revokes a token at once. Verified sessions are cached briefly; a revocation in this
 * process clears its cache entry, so only another process's sign-out can lag by the cache age.
 */
export class TokenService {
  private readonly secret: Uint8Array;
  private readonly live = new Map<string, number>(); // session id → cached until (ms)
  private static readonly CACHE_MS = 5_000;

  constructor(
    jwtSecret: string,
    private readonly db: Database,
  ) {
    this.secret = new TextEncoder().encode(jwtSecret);
  }

  async issue(user: UserClaims): Promise<{ accessToken: string; expiresAt: Date }> {
    const sessionId = randomUUID();
    const expiresAt = new Date(Date.now() + ACCESS_TOKEN_TTL_SECONDS * 1000);
    await this.db.query('INSERT INTO auth.sessions (id, user_id, expires_at) VALUES ($1, $2, $3)', [sessionId, user.sub, expiresAt.toISOString()]);
    const accessToken = await new SignJWT({ email: user.email, role: 'authenticated' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(user.sub)
      .setJti(sessionId)
      .setIssuer(ISSUER)
      .setIssuedAt()
      .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
      .sign(this.secret);
    return { accessToken, expiresAt };
  }

  /** Claims of a valid, unexpired, unrevoked token; undefined for anything else. */
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

  async revoke(token: string): Promise<boolean> {
    const claims = await this.verify(token);
    if (!claims) return false;
    this.live.delete(claims.jti as string);
    await this.db.query('UPDATE auth.sessions SET revoked_at = now() WHERE id = $1', [claims.jti]);
    return true;
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

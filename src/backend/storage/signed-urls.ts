import { createHmac, timingSafeEqual } from 'node:crypto';
import { ApiError } from '../errors.js';

/** Lifetimes a signed URL may have, as InsForge clamps them (1 s to 7 days); 1 hour unless asked. */
export const SIGNED_URL_DEFAULT_SECONDS = 3600;
export const SIGNED_URL_MAX_SECONDS = 604800;

/** The HMAC covers bucket, key and expiry, so a signature fits one object until one moment. */
function signature(signingKey: string, bucket: string, key: string, expires: number): Buffer {
  return createHmac('sha256', signingKey).update(`${bucket}\n${key}\n${expires}`).digest();
}

/** The query string that makes GET …/objects/{key} readable without credentials until `expires` (unix seconds). */
export function signObject(signingKey: string, bucket: string, key: string, expiresIn: number, now = Date.now()): { query: string; expiresAt: Date } {
  const expires = Math.floor(now / 1000) + expiresIn;
  return { query: `expires=${expires}&signature=${signature(signingKey, bucket, key, expires).toString('base64url')}`, expiresAt: new Date(expires * 1000) };
}

const refused = (message: string) => new ApiError(403, 'FORBIDDEN', message, 'Ask for a new signed URL (get-file-url, or createSignedUrl in the SDK): signed URLs work only until they expire.');

/**
 * Whether a request's query carries a signature for this object: undefined when it carries none;
 * throws 403 when it carries one that is forged, for another object, or expired.
 */
export function verifySignedQuery(signingKey: string, bucket: string, key: string, query: Record<string, unknown>, now = Date.now()): true | undefined {
  const { expires, signature: given } = query;
  if (given === undefined && expires === undefined) return undefined;
  if (typeof given !== 'string' || typeof expires !== 'string' || !/^\d{1,12}$/.test(expires)) throw refused('This signed URL is malformed');
  const expected = signature(signingKey, bucket, key, Number(expires));
  const sent = Buffer.from(given, 'base64url');
  if (sent.length !== expected.length || !timingSafeEqual(sent, expected)) throw refused('This signed URL is not valid for this object');
  if (Number(expires) * 1000 <= now) throw refused(`This signed URL expired at ${new Date(Number(expires) * 1000).toISOString()}`);
  return true;
}

import type { IncomingHttpHeaders } from 'node:http';

/** The value of one cookie in a request's Cookie header, percent-decoded; undefined when absent. */
export function readCookie(headers: IncomingHttpHeaders, name: string): string | undefined {
  for (const pair of (headers.cookie ?? '').split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0 || pair.slice(0, eq).trim() !== name) continue;
    const raw = pair.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
    try {
      return decodeURIComponent(raw);
    } catch {
      return raw;
    }
  }
  return undefined;
}

export interface CookieOptions {
  path: string;
  maxAgeSeconds: number;
  /** Secure + SameSite=None (cross-site, HTTPS only) or SameSite=Lax (plain HTTP, same site). */
  secure: boolean;
}

/** A Set-Cookie value for an HttpOnly cookie; a max age of 0 deletes it. */
export function httpOnlyCookie(name: string, value: string, opts: CookieOptions): string {
  const site = opts.secure ? ['Secure', 'SameSite=None'] : ['SameSite=Lax'];
  return [`${name}=${encodeURIComponent(value)}`, `Max-Age=${opts.maxAgeSeconds}`, `Path=${opts.path}`, 'HttpOnly', ...site].join('; ');
}

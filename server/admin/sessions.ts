/**
 * Admin sessions: random opaque ids kept in memory with an expiry time, and
 * sent to the browser as an HttpOnly, SameSite=Strict cookie. The token
 * itself never travels in a cookie or a URL.
 */
import { randomBytes } from 'node:crypto';

export const ADMIN_SESSION_COOKIE = 'cloak_admin';
/** Lifetime of an admin session: one hour, in ms. */
export const ADMIN_SESSION_TTL_MS = 60 * 60 * 1000;
/** Sessions kept at most; the oldest is dropped beyond this. */
const MAX_SESSIONS = 100;
const SESSION_ID_BYTES = 32;

export class AdminSessions {
  private readonly expiries = new Map<string, number>();

  constructor(
    private readonly ttlMs = ADMIN_SESSION_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  create(): { id: string; expiresAt: number } {
    this.prune();
    if (this.expiries.size >= MAX_SESSIONS) {
      const oldest = this.expiries.keys().next();
      if (!oldest.done) this.expiries.delete(oldest.value);
    }
    const id = randomBytes(SESSION_ID_BYTES).toString('base64url');
    const expiresAt = this.now() + this.ttlMs;
    this.expiries.set(id, expiresAt);
    return { id, expiresAt };
  }

  isValid(id: string | undefined): boolean {
    if (id === undefined) return false;
    const expiresAt = this.expiries.get(id);
    if (expiresAt === undefined) return false;
    if (expiresAt <= this.now()) {
      this.expiries.delete(id);
      return false;
    }
    return true;
  }

  delete(id: string | undefined): void {
    if (id !== undefined) this.expiries.delete(id);
  }

  private prune(): void {
    const now = this.now();
    for (const [id, expiresAt] of this.expiries) {
      if (expiresAt <= now) this.expiries.delete(id);
    }
  }
}

/** Returns the admin session id from a `Cookie` request header. */
export function sessionIdFromCookie(
  header: string | undefined,
): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const separator = part.indexOf('=');
    if (separator < 0) continue;
    if (part.slice(0, separator).trim() !== ADMIN_SESSION_COOKIE) continue;
    return part.slice(separator + 1).trim() || undefined;
  }
  return undefined;
}

/** Builds the `Set-Cookie` value for a session, or one that clears it. */
export function sessionCookie(
  session: { id: string; maxAgeSeconds: number },
  secure: boolean,
): string {
  const attributes = [
    `${ADMIN_SESSION_COOKIE}=${session.id}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${session.maxAgeSeconds}`,
  ];
  if (secure) attributes.push('Secure');
  return attributes.join('; ');
}

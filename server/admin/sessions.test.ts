import { describe, expect, it } from 'vitest';
import {
  ADMIN_SESSION_TTL_MS,
  AdminSessions,
  sessionCookie,
  sessionIdFromCookie,
} from './sessions';
import { adminTokenMatches } from './token';

describe('admin sessions', () => {
  it('accepts a fresh session', () => {
    const sessions = new AdminSessions();
    const { id } = sessions.create();
    expect(sessions.isValid(id)).toBe(true);
  });

  it('expires after the lifetime', () => {
    let now = 1_000;
    const sessions = new AdminSessions(ADMIN_SESSION_TTL_MS, () => now);
    const { id, expiresAt } = sessions.create();
    expect(expiresAt).toBe(1_000 + ADMIN_SESSION_TTL_MS);
    now = expiresAt - 1;
    expect(sessions.isValid(id)).toBe(true);
    now = expiresAt;
    expect(sessions.isValid(id)).toBe(false);
  });

  it('rejects unknown and deleted ids', () => {
    const sessions = new AdminSessions();
    const { id } = sessions.create();
    expect(sessions.isValid('unknown')).toBe(false);
    expect(sessions.isValid(undefined)).toBe(false);
    sessions.delete(id);
    expect(sessions.isValid(id)).toBe(false);
  });

  it('issues distinct random ids', () => {
    const sessions = new AdminSessions();
    const ids = new Set(Array.from({ length: 20 }, () => sessions.create().id));
    expect(ids.size).toBe(20);
  });
});

describe('session cookie', () => {
  it('finds the id among other cookies', () => {
    expect(sessionIdFromCookie('a=1; cloak_admin=abc; b=2')).toBe('abc');
    expect(sessionIdFromCookie('cloak_admin_x=abc')).toBeUndefined();
    expect(sessionIdFromCookie('cloak_admin=')).toBeUndefined();
    expect(sessionIdFromCookie(undefined)).toBeUndefined();
  });

  it('marks the cookie Secure over TLS', () => {
    const cookie = sessionCookie({ id: 'abc', maxAgeSeconds: 60 }, true);
    expect(cookie).toBe(
      'cloak_admin=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=60; Secure',
    );
    expect(
      sessionCookie({ id: 'abc', maxAgeSeconds: 60 }, false),
    ).not.toContain('Secure');
  });
});

describe('admin token comparison', () => {
  it('matches only the exact token', () => {
    const token = 'correct-admin-token-value';
    expect(adminTokenMatches(token, token)).toBe(true);
    expect(adminTokenMatches(token, `${token}x`)).toBe(false);
    expect(adminTokenMatches(token, token.slice(0, -1))).toBe(false);
    expect(adminTokenMatches(token, '')).toBe(false);
    expect(adminTokenMatches(token, undefined)).toBe(false);
  });
});

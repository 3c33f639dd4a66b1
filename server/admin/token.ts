/**
 * The admin token: taken from `ADMIN_TOKEN`, or generated at first start and
 * kept in the data folder with owner-only permissions (0600). Comparison
 * hashes both sides with SHA-256 and compares the digests in constant time,
 * so neither the content nor the length of the token leaks through timing.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../logger';

export const ADMIN_TOKEN_FILE = 'admin-token';
const TOKEN_BYTES = 32;
/** Shorter configured tokens are rejected, since they could be guessed. */
export const MIN_ADMIN_TOKEN_LENGTH = 16;

/**
 * Returns the configured token, or the one stored in `dataDir`, creating it
 * when missing. Logs where a stored token is kept, never the token itself.
 */
export function resolveAdminToken(
  configured: string | undefined,
  dataDir: string,
  logger: Logger,
): string {
  if (configured !== undefined) {
    if (configured.length < MIN_ADMIN_TOKEN_LENGTH) {
      throw new Error(
        `ADMIN_TOKEN has ${configured.length} characters; use at least ${MIN_ADMIN_TOKEN_LENGTH}, or unset it to have one generated.`,
      );
    }
    logger.info(
      { event: 'admin-token', source: 'environment' },
      'admin token set',
    );
    return configured;
  }
  const file = path.join(dataDir, ADMIN_TOKEN_FILE);
  const token = readOrCreateToken(file);
  logger.info(
    { event: 'admin-token', source: 'file', file },
    `admin token stored in ${file}`,
  );
  return token;
}

function readOrCreateToken(file: string): string {
  try {
    const token = randomBytes(TOKEN_BYTES).toString('base64url');
    // `wx` fails when the file exists, so a concurrent start never replaces it.
    writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
    return token;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  // The umask may have widened an older file; owner-only is enforced again.
  chmodSync(file, 0o600);
  const token = readFileSync(file, 'utf8').trim();
  if (token.length < MIN_ADMIN_TOKEN_LENGTH) {
    throw new Error(
      `The admin token file ${file} contains ${token.length} characters; delete it to have a new token generated.`,
    );
  }
  return token;
}

/** Compares a presented token with the admin token in constant time. */
export function adminTokenMatches(
  expected: string,
  presented: string | undefined,
): boolean {
  if (presented === undefined) return false;
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(expected), digest(presented));
}

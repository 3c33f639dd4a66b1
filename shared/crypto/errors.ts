/**
 * Typed errors of the protocol layer. Each carries a stable `code` that
 * callers and tests branch on, and the `operation` that failed.
 */

export type CryptoErrorCode =
  | 'invalid-key'
  | 'invalid-signature'
  | 'invalid-message'
  | 'invalid-bundle'
  | 'untrusted-identity'
  | 'duplicate-message'
  | 'replayed-setup'
  | 'too-many-skipped'
  | 'counter-overflow'
  | 'decryption-failed'
  | 'invalid-state'
  | 'stale-session'
  | 'version-mismatch'
  | 'unknown-sender-key'
  | 'unauthorized-change'
  | 'replayed-group-change'
  | 'forked-group-state'
  | 'missing-group-change';

export class CryptoError extends Error {
  override readonly name = 'CryptoError';

  constructor(
    readonly code: CryptoErrorCode,
    readonly operation: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${operation}: ${message}`, options);
  }

  static is(error: unknown, code?: CryptoErrorCode): error is CryptoError {
    return (
      error instanceof CryptoError &&
      (code === undefined || error.code === code)
    );
  }
}

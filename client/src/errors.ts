/**
 * Errors the client shows to people. `message` is written for the user and
 * may name a contact's username, which the user typed or received, so it is
 * never logged. Log lines use `code` only.
 */
/** Every `ClientErrorCode`, for checking a code that crossed a boundary. */
export const CLIENT_ERROR_CODES = [
  'invalid-username',
  'username-taken',
  'account-unknown',
  'unknown-user',
  'identity-changed',
  'offline',
  'invalid-message',
  'no-session',
  'relay-error',
  'decryption-failed',
  'storage-failed',
  'group-change-rejected',
  'not-group-member',
  'no-leader-tab',
  'internal-error',
] as const;

export type ClientErrorCode = (typeof CLIENT_ERROR_CODES)[number];

export class ClientError extends Error {
  override readonly name = 'ClientError';

  constructor(
    readonly code: ClientErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  static is(error: unknown, code?: ClientErrorCode): error is ClientError {
    return (
      error instanceof ClientError &&
      (code === undefined || error.code === code)
    );
  }
}

export function identityChanged(userId: string): ClientError {
  return new ClientError(
    'identity-changed',
    `The identity key of ${userId} has changed. Sending to ${userId} is ` +
      'blocked until you accept the new key in the conversation. Compare ' +
      `safety numbers with ${userId} in person first.`,
  );
}

/**
 * Stable error codes the relay returns as `{ code, message }`. Clients and
 * tests branch on `code`; `message` is for people.
 */
export const ErrorCode = {
  invalidRequest: 'invalid-request',
  payloadTooLarge: 'payload-too-large',
  notFound: 'not-found',
  usernameTaken: 'username-taken',
  invalidSignature: 'invalid-signature',
  unauthenticated: 'unauthenticated',
  signInFailed: 'sign-in-failed',
  rateLimited: 'rate-limited',
  internal: 'internal',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface WireError {
  readonly code: ErrorCode;
  readonly message: string;
}

/** The reply of every acknowledged Socket.IO event. */
export type Reply<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: WireError };

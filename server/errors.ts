/**
 * The relay's error type. Handlers throw a `RelayError`; the HTTP and
 * Socket.IO layers turn it into `{ code, message }`, and any other error into
 * `internal` without its text, so no stored value leaks through a message.
 */
import type { z } from 'zod';
import { ErrorCode, type WireError } from '../shared/wire/errors';

const HTTP_STATUS: Record<ErrorCode, number> = {
  'invalid-request': 400,
  'payload-too-large': 413,
  'not-found': 404,
  'username-taken': 409,
  'invalid-signature': 400,
  unauthenticated: 401,
  'sign-in-failed': 401,
  'rate-limited': 429,
  internal: 500,
};

export class RelayError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'RelayError';
    this.code = code;
  }

  get status(): number {
    return HTTP_STATUS[this.code];
  }

  toWire(): WireError {
    return { code: this.code, message: this.message };
  }
}

/** Maps any thrown value to the wire error the caller sees. */
export function toWireError(error: unknown): WireError {
  if (error instanceof RelayError) return error.toWire();
  return {
    code: ErrorCode.internal,
    message: 'The relay failed to handle the request. Try again later.',
  };
}

const MAX_LISTED_ISSUES = 3;

/** Describes the first schema issues, each with its field path. */
export function describeIssues(error: z.ZodError): string {
  const parts = error.issues.slice(0, MAX_LISTED_ISSUES).map((issue) => {
    const path = issue.path.length > 0 ? issue.path.join('.') : '(root)';
    return `${path}: ${issue.message}`;
  });
  const more = error.issues.length - parts.length;
  if (more > 0) parts.push(`and ${more} more`);
  return `Invalid request: ${parts.join('; ')}`;
}

/** Parses `input` with `schema` or throws `invalid-request` naming the fields. */
export function parseRequest<T extends z.ZodType>(
  schema: T,
  input: unknown,
): z.infer<T> {
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new RelayError(
      ErrorCode.invalidRequest,
      describeIssues(result.error),
    );
  }
  return result.data;
}

/**
 * Relay logging: pino, one child logger per module, and redaction of every
 * payload field. Log lines carry events, error codes, opaque ids (socket ids,
 * envelope ids) and counts; user ids, keys, signatures, nonces and envelope
 * bodies are censored wherever they appear in a logged object.
 */
import pino from 'pino';

const PAYLOAD_FIELDS = [
  'body',
  'ciphertext',
  'plaintext',
  'payload',
  'request',
  'envelope',
  'certificate',
  'signature',
  'nonce',
  'publicKey',
  'identityKey',
  'signingKey',
  'dhKey',
  'signedPrekey',
  'lastResortPqPrekey',
  'oneTimePrekeys',
  'oneTimePqPrekeys',
  'pqPrekey',
  'oneTimePrekey',
  'bundles',
  'userId',
  'username',
  'from',
  'to',
  'ids',
];

/** Redaction paths for each payload field at the top level and two levels down. */
export const REDACT_PATHS = PAYLOAD_FIELDS.flatMap((field) => [
  field,
  `*.${field}`,
  `*.*.${field}`,
]);

export const REDACT_OPTIONS = { paths: REDACT_PATHS, censor: '[redacted]' };

export type Logger = pino.Logger;

export type LoggerModule =
  'relay' | 'http' | 'signin' | 'keys' | 'envelopes' | 'test-hooks' | 'admin';

/** Creates the relay's root logger, writing JSON lines to `destination`. */
export function createLogger(
  options: { level?: string } = {},
  destination?: pino.DestinationStream,
): Logger {
  const config = {
    level: options.level ?? 'info',
    redact: REDACT_OPTIONS,
    base: { service: 'cloak-relay' },
  };
  return destination ? pino(config, destination) : pino(config);
}

/**
 * Returns the child logger of one module. Redaction is applied again on the
 * child, so a root logger passed in by the caller is covered as well.
 */
export function moduleLogger(root: Logger, module: LoggerModule): Logger {
  return root.child({ module }, { redact: REDACT_OPTIONS });
}

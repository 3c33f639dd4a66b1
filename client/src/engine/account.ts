/**
 * Account creation: the keys are generated here, in the browser, and only
 * their public halves are sent to the relay. The private keys are stored
 * after the relay has accepted the username.
 */
import {
  createAccountKeys,
  toRegisterRequest,
} from '../../../shared/crypto/keys';
import { generateAesKey } from '../../../shared/crypto/primitives';
import { type RandomSource, systemRandom } from '../../../shared/crypto/random';
import { ErrorCode } from '../../../shared/wire/errors';
import { Username } from '../../../shared/wire/schemas';
import { ClientError } from '../errors';
import type { CloakDb } from '../storage/db';
import { LocalStore } from '../storage/local-store';
import { createLogger } from './logger';

const log = createLogger('account');

/** The first release has one device per account. */
export const FIRST_DEVICE_ID = 1;

/** Checks a username with the relay's rules and returns its case-folded form. */
export function parseUsername(username: string): string {
  const parsed = Username.safeParse(username);
  if (!parsed.success) {
    const reason = parsed.error.issues[0]?.message ?? 'is invalid';
    throw new ClientError(
      'invalid-username',
      `The username ${reason}. Use 3 to 32 lowercase letters, digits, ".", ` +
        '"_" or "-".',
    );
  }
  return parsed.data;
}

export interface RegisterOptions {
  readonly random?: RandomSource;
  readonly now?: number;
  readonly fetch?: typeof fetch;
}

/**
 * Creates the account's keys, registers the username with the relay and
 * stores the keys. Throws `username-taken` when the relay has the name.
 */
export async function registerAccount(
  db: CloakDb,
  username: string,
  options: RegisterOptions = {},
): Promise<LocalStore> {
  const userId = parseUsername(username);
  const random = options.random ?? systemRandom;
  const keys = await createAccountKeys(
    userId,
    FIRST_DEVICE_ID,
    random,
    options.now ?? Date.now(),
  );

  const post = options.fetch ?? fetch;
  let response: Response;
  try {
    response = await post('/api/accounts', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(toRegisterRequest(keys)),
    });
  } catch (cause) {
    throw new ClientError(
      'offline',
      'The relay could not be reached. Check the connection and try again.',
      { cause },
    );
  }
  if (!response.ok) {
    const code = await response
      .json()
      .then((body: unknown) =>
        typeof body === 'object' && body !== null && 'code' in body
          ? body.code
          : undefined,
      )
      .catch(() => undefined);
    log.warn('registration rejected', { status: response.status });
    if (response.status === 409 || code === ErrorCode.usernameTaken) {
      throw new ClientError(
        'username-taken',
        `The username "${userId}" is taken. Choose another one.`,
      );
    }
    throw new ClientError(
      'relay-error',
      `The relay rejected the registration (HTTP ${response.status}). ` +
        'Try again later.',
    );
  }

  return LocalStore.create(db, keys, await generateAesKey(), random);
}

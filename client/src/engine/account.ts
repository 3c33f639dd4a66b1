/**
 * Account creation: the keys are generated here, in the browser, and only
 * their public halves are sent to the relay. The private keys are stored
 * before the registration request, marked pending, so that a lost reply
 * loses nothing: the same request is sent again until the relay confirms
 * it, and the relay answers an identical repeat with success.
 */
import { toBase64Url } from '../../../shared/crypto/bytes';
import {
  createAccountKeys,
  generateOneTimePrekeys,
  type LocalIdentity,
  toRegisterRequest,
  toWirePqPrekey,
} from '../../../shared/crypto/keys';
import { generateAesKey } from '../../../shared/crypto/primitives';
import { type RandomSource, systemRandom } from '../../../shared/crypto/random';
import { ErrorCode } from '../../../shared/wire/errors';
import { ONE_TIME_PREKEY_POOL_SIZE } from '../../../shared/wire/limits';
import { type RegisterRequest, Username } from '../../../shared/wire/schemas';
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

export interface CreateAccountOptions {
  readonly random?: RandomSource;
  readonly now?: number;
}

/**
 * Creates the account's keys and stores them with the registration request,
 * marked pending. Nothing is sent; `finishRegistration` does that.
 */
export async function createPendingAccount(
  db: CloakDb,
  username: string,
  options: CreateAccountOptions = {},
): Promise<{ store: LocalStore; identity: LocalIdentity }> {
  const userId = parseUsername(username);
  const random = options.random ?? systemRandom;
  const keys = await createAccountKeys(
    userId,
    FIRST_DEVICE_ID,
    random,
    options.now ?? Date.now(),
  );
  const store = await LocalStore.create(
    db,
    keys,
    await generateAesKey(),
    random,
    { pendingRegistration: toRegisterRequest(keys) },
  );
  return { store, identity: keys.identity };
}

/** Result of one registration attempt. */
export type RegistrationOutcome =
  | { readonly status: 'registered' }
  /** The relay was unreachable or busy, so the request may succeed later. */
  | { readonly status: 'retry'; readonly error: ClientError }
  /** The relay rejected the request for good, so the keys were deleted. */
  | { readonly status: 'rejected'; readonly error: ClientError };

/** Reads the `code` of a relay error body, if there is one. */
async function errorBodyCode(response: Response): Promise<unknown> {
  try {
    const body: unknown = await response.json();
    if (typeof body === 'object' && body !== null && 'code' in body) {
      return body.code;
    }
  } catch {
    // The body is not JSON, such as a proxy's error page, so the status
    // decides.
  }
  return undefined;
}

/**
 * Sends the stored registration request once. On success the account is
 * marked registered. On a permanent rejection, such as a taken username,
 * the pending keys are deleted so that the user can pick another name.
 */
export async function sendRegistration(
  store: LocalStore,
  options: { readonly fetch?: typeof fetch } = {},
): Promise<RegistrationOutcome> {
  const request = await store.pendingRegistration();
  if (!request) return { status: 'registered' };
  const userId = request.certificate.userId;

  const sent = await postRegistration(
    request,
    options.fetch ?? fetch,
    'The relay could not be reached.',
  );
  if ('outcome' in sent) return sent.outcome;
  const { response } = sent;

  if (response.ok) {
    await store.markRegistered();
    return { status: 'registered' };
  }
  const code = await errorBodyCode(response);
  log.warn('registration request failed', { status: response.status });
  if (isTransientStatus(response.status)) {
    const error = new ClientError(
      'relay-error',
      'The relay did not accept the registration yet ' +
        `(HTTP ${response.status}).`,
    );
    return { status: 'retry', error };
  }

  await store.deletePendingAccount();
  if (response.status === 409 || code === ErrorCode.usernameTaken) {
    const error = new ClientError(
      'username-taken',
      `The username "${userId}" is taken. Choose another one.`,
    );
    return { status: 'rejected', error };
  }
  const error = new ClientError(
    'relay-error',
    `The relay rejected the registration (HTTP ${response.status}). ` +
      'Try again later.',
  );
  return { status: 'rejected', error };
}

/**
 * Returns true for statuses after which the same request may succeed:
 * timeouts, rate limits and server errors.
 */
function isTransientStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** First wait before a registration is sent again, in ms. */
export const REGISTRATION_RETRY_BASE_MS = 2_000;
/** Maximum wait between two registration attempts, in ms. */
export const REGISTRATION_RETRY_MAX_MS = 60_000;

/**
 * Returns the wait after failed attempt number `attempt` (counted from 1),
 * which doubles from the base up to the maximum.
 */
export function registrationRetryDelay(attempt: number): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 16);
  return Math.min(
    REGISTRATION_RETRY_BASE_MS * 2 ** exponent,
    REGISTRATION_RETRY_MAX_MS,
  );
}

/** State of a registration waiting for its next attempt. */
export interface RegistrationRetry {
  /** Failed attempts so far. */
  readonly attempt: number;
  readonly error: ClientError;
  /** Wait before the next attempt, in ms. */
  readonly retryInMs: number;
}

export interface FinishRegistrationOptions {
  readonly fetch?: typeof fetch;
  /** Resolves when the next attempt may start, possibly before `ms`. */
  readonly wait: (ms: number) => Promise<void>;
  /** Called before each attempt, with the number of earlier attempts. */
  readonly onAttempt?: (previousAttempts: number) => void;
  readonly onRetry?: (retry: RegistrationRetry) => void;
  /**
   * Abort signal that ends the retries, after which `finishRegistration`
   * returns false.
   */
  readonly signal?: AbortSignal;
}

/**
 * Sends the pending registration until the relay accepts it, waiting
 * longer after each failed attempt. Returns true once registered and
 * false when `signal` stopped it. Throws the `ClientError` of a permanent
 * rejection, after the pending keys were deleted.
 */
export async function finishRegistration(
  store: LocalStore,
  options: FinishRegistrationOptions,
): Promise<boolean> {
  for (let attempt = 1; !options.signal?.aborted; attempt++) {
    options.onAttempt?.(attempt - 1);
    const outcome = await sendRegistration(store, options);
    if (outcome.status === 'registered') return true;
    if (outcome.status === 'rejected') throw outcome.error;
    const retryInMs = registrationRetryDelay(attempt);
    log.info('registration retry scheduled', { attempt, retryInMs });
    options.onRetry?.({ attempt, error: outcome.error, retryInMs });
    await options.wait(retryInMs);
  }
  return false;
}

/**
 * Returns the error shown when the relay no longer knows this account, such
 * as after its data was wiped.
 */
export function accountUnknownError(userId: string): ClientError {
  return new ClientError(
    'account-unknown',
    `The relay no longer knows the account "${userId}", so Cloak cannot ` +
      'sign in and new messages wait unsent. Register again to restore ' +
      'the account on this relay with the same keys.',
  );
}

export interface RegisterAgainOptions {
  readonly fetch?: typeof fetch;
  readonly random?: RandomSource;
}

/**
 * Registers a signed-in account again with a relay that lost it: the same
 * certificate (so the same identity key), the current signed prekey and
 * last-resort PQ prekey, and a fresh pool of one-time prekeys, whose
 * private keys are stored before the request. Unlike `sendRegistration`,
 * a rejection deletes nothing, because the account holds history.
 */
export async function registerAgain(
  store: LocalStore,
  identity: LocalIdentity,
  options: RegisterAgainOptions = {},
): Promise<RegistrationOutcome> {
  const rotating = await store.currentPublicPrekeys();
  if (!rotating) {
    const error = new ClientError(
      'storage-failed',
      'The stored signed prekey is missing, so the account cannot be ' +
        'registered again.',
    );
    return { status: 'rejected', error };
  }
  const oneTime = await storeFreshOneTimePrekeys(
    store,
    identity,
    options.random ?? systemRandom,
  );
  const request: RegisterRequest = {
    certificate: identity.certificate,
    ...rotating,
    ...oneTime,
  };

  const sent = await postRegistration(
    request,
    options.fetch ?? fetch,
    'The relay could not be reached. Try again.',
  );
  if ('outcome' in sent) return sent.outcome;
  const { response } = sent;
  if (response.ok) {
    log.info('account registered again');
    return { status: 'registered' };
  }
  const code = await errorBodyCode(response);
  log.warn('second registration failed', { status: response.status });
  if (response.status === 409 || code === ErrorCode.usernameTaken) {
    const error = new ClientError(
      'username-taken',
      `The username "${identity.userId}" now belongs to another account on ` +
        'this relay, so this account cannot be recovered here. Its history ' +
        'stays readable in this browser.',
    );
    return { status: 'rejected', error };
  }
  const status = isTransientStatus(response.status) ? 'retry' : 'rejected';
  const error = new ClientError(
    'relay-error',
    `The relay did not accept the registration (HTTP ${response.status}). ` +
      'Try again later.',
  );
  return { status, error };
}

/**
 * Generates a full pool of one-time prekeys and one-time PQ prekeys, stores
 * their private halves and returns the public halves for the relay.
 */
async function storeFreshOneTimePrekeys(
  store: LocalStore,
  identity: LocalIdentity,
  random: RandomSource,
): Promise<Pick<RegisterRequest, 'oneTimePrekeys' | 'oneTimePqPrekeys'>> {
  const first = (await store.settings()).nextOneTimePrekeyId;
  const count = ONE_TIME_PREKEY_POOL_SIZE;
  const generated = await generateOneTimePrekeys(
    identity,
    first,
    count,
    random,
  );
  await store.addOneTimePrekeys(
    generated.oneTimePrekeys.map((prekey) => ({
      keyId: prekey.keyId,
      privateKey: prekey.keyPair.privateKey,
      publicKey: prekey.keyPair.publicKey,
    })),
    generated.oneTimePqPrekeys.map((prekey) => ({
      keyId: prekey.keyId,
      secretKey: prekey.keyPair.secretKey,
      publicKey: prekey.keyPair.publicKey,
      signature: prekey.signature,
    })),
    first + count,
  );
  return {
    oneTimePrekeys: generated.oneTimePrekeys.map((prekey) => ({
      keyId: prekey.keyId,
      publicKey: toBase64Url(prekey.keyPair.publicKey),
    })),
    oneTimePqPrekeys: generated.oneTimePqPrekeys.map(toWirePqPrekey),
  };
}

/**
 * Posts a registration request. A network failure becomes a `retry` outcome
 * carrying `offlineMessage`, because the relay may never have seen it.
 */
async function postRegistration(
  request: RegisterRequest,
  post: typeof fetch,
  offlineMessage: string,
): Promise<{ response: Response } | { outcome: RegistrationOutcome }> {
  try {
    const response = await post('/api/accounts', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(request),
    });
    return { response };
  } catch (cause) {
    const error = new ClientError('offline', offlineMessage, { cause });
    return { outcome: { status: 'retry', error } };
  }
}

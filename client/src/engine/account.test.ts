import 'fake-indexeddb/auto';
import { describe, expect, it, vi } from 'vitest';
import { systemRandom } from '../../../shared/crypto/random';
import { ErrorCode } from '../../../shared/wire/errors';
import { type CloakDb, openCloakDb } from '../storage/db';
import { LocalStore } from '../storage/local-store';
import { ONE_TIME_PREKEY_POOL_SIZE } from '../../../shared/wire/limits';
import { RegisterRequest } from '../../../shared/wire/schemas';
import {
  createPendingAccount,
  finishRegistration,
  REGISTRATION_RETRY_MAX_MS,
  registerAgain,
  registrationRetryDelay,
  sendRegistration,
} from './account';

const NOW = 1_750_000_000_000;
let databaseCount = 0;

type Reply = Response | Error;

/** Returns a `fetch` stand-in that records bodies and plays `replies`. */
function relayReplies(...replies: Reply[]) {
  const bodies: string[] = [];
  const fetch = vi.fn((_url: RequestInfo | URL, init?: RequestInit) => {
    bodies.push(String(init?.body));
    const reply = replies.shift();
    if (!reply) return Promise.reject(new Error('no reply left'));
    return reply instanceof Error
      ? Promise.reject(reply)
      : Promise.resolve(reply);
  });
  return { fetch, bodies };
}

function reply(status: number, body: unknown = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json' },
  });
}

async function pendingAlice() {
  const db = await openCloakDb(`account-test-${++databaseCount}`);
  const { store } = await createPendingAccount(db, 'Alice', { now: NOW });
  return { db, store };
}

async function reopen(db: CloakDb): Promise<LocalStore> {
  const opened = await LocalStore.open(db, systemRandom);
  if (!opened) throw new Error('no stored account');
  return opened.store;
}

async function storedRowCount(db: CloakDb): Promise<number> {
  let count = 0;
  for (const name of db.objectStoreNames) count += await db.count(name);
  return count;
}

const noWait = () => Promise.resolve();

describe('account registration', () => {
  it('stores keys before any request', async () => {
    const { db } = await pendingAlice();
    const opened = await LocalStore.open(db, systemRandom);

    expect(opened?.identity.userId).toBe('alice');
    const request = await opened?.store.pendingRegistration();
    expect(request?.certificate).toEqual(opened?.identity.certificate);
    expect(request?.oneTimePrekeys.length).toBeGreaterThan(0);
  });

  it('marks the account registered', async () => {
    const { db, store } = await pendingAlice();
    const request = await store.pendingRegistration();
    const relay = relayReplies(reply(201));

    expect(await sendRegistration(store, relay)).toEqual({
      status: 'registered',
    });
    expect(relay.bodies).toEqual([JSON.stringify(request)]);
    const reopened = await reopen(db);
    expect(await reopened.pendingRegistration()).toBeUndefined();
    expect((await reopened.settings()).nextOneTimePrekeyId).toBe(101);
  });

  it('retries a lost reply with the same request', async () => {
    const { db, store } = await pendingAlice();
    const relay = relayReplies(new TypeError('Failed to fetch'), reply(200));
    const waits: number[] = [];
    const retries: unknown[] = [];

    const registered = await finishRegistration(store, {
      fetch: relay.fetch,
      wait: async (ms) => {
        waits.push(ms);
      },
      onRetry: (retry) => retries.push(retry),
    });

    expect(registered).toBe(true);
    expect(relay.bodies).toHaveLength(2);
    expect(relay.bodies[1]).toBe(relay.bodies[0]);
    expect(waits).toEqual([registrationRetryDelay(1)]);
    expect(retries).toEqual([
      expect.objectContaining({ attempt: 1, error: expect.anything() }),
    ]);
    expect(await (await reopen(db)).pendingRegistration()).toBeUndefined();
  });

  it('resumes a pending registration after reopening', async () => {
    const { db, store } = await pendingAlice();
    const request = await store.pendingRegistration();
    const lost = relayReplies(new TypeError('Failed to fetch'));
    expect((await sendRegistration(store, lost)).status).toBe('retry');

    const relay = relayReplies(reply(200));
    const reopened = await reopen(db);
    expect(await finishRegistration(reopened, { ...relay, wait: noWait })).toBe(
      true,
    );
    expect(relay.bodies).toEqual([JSON.stringify(request)]);
    expect(await reopened.pendingRegistration()).toBeUndefined();
  });

  it('keeps keys after a server error', async () => {
    const { db, store } = await pendingAlice();
    const relay = relayReplies(reply(503, { code: ErrorCode.internal }));

    const outcome = await sendRegistration(store, relay);

    expect(outcome).toMatchObject({
      status: 'retry',
      error: { code: 'relay-error' },
    });
    expect(await (await reopen(db)).pendingRegistration()).toBeDefined();
  });

  it('deletes keys of a taken username', async () => {
    const { db, store } = await pendingAlice();
    const relay = relayReplies(
      reply(409, { code: ErrorCode.usernameTaken, message: 'taken' }),
    );

    await expect(
      finishRegistration(store, { ...relay, wait: noWait }),
    ).rejects.toMatchObject({ code: 'username-taken' });
    expect(relay.fetch).toHaveBeenCalledTimes(1);
    expect(await LocalStore.open(db, systemRandom)).toBeUndefined();
    expect(await storedRowCount(db)).toBe(0);
  });

  it('deletes keys of an invalid request', async () => {
    const { db, store } = await pendingAlice();
    const relay = relayReplies(reply(400, { code: ErrorCode.invalidRequest }));

    const outcome = await sendRegistration(store, relay);

    expect(outcome).toMatchObject({
      status: 'rejected',
      error: { code: 'relay-error' },
    });
    expect(await storedRowCount(db)).toBe(0);
  });

  it('never deletes a registered account', async () => {
    const { db, store } = await pendingAlice();
    await store.markRegistered();

    await expect(store.deletePendingAccount()).rejects.toMatchObject({
      code: 'storage-failed',
    });
    expect(await LocalStore.open(db, systemRandom)).toBeDefined();
  });

  it('stops retrying when aborted', async () => {
    const { store } = await pendingAlice();
    const relay = relayReplies(new TypeError('Failed to fetch'));
    const stop = new AbortController();

    const registered = await finishRegistration(store, {
      ...relay,
      signal: stop.signal,
      wait: async () => stop.abort(),
    });

    expect(registered).toBe(false);
    expect(relay.fetch).toHaveBeenCalledTimes(1);
    expect(await store.pendingRegistration()).toBeDefined();
  });

  it('doubles the retry delay up to the maximum', () => {
    expect(registrationRetryDelay(1)).toBe(2_000);
    expect(registrationRetryDelay(2)).toBe(4_000);
    expect(registrationRetryDelay(5)).toBe(32_000);
    expect(registrationRetryDelay(6)).toBe(REGISTRATION_RETRY_MAX_MS);
    expect(registrationRetryDelay(1_000)).toBe(REGISTRATION_RETRY_MAX_MS);
  });
});

/** Creates Alice's account and marks it registered, as after sign-up. */
async function registeredAlice() {
  const { db, store } = await pendingAlice();
  const original = await store.pendingRegistration();
  if (!original) throw new Error('no pending registration');
  await sendRegistration(store, relayReplies(reply(201)));
  const opened = await LocalStore.open(db, systemRandom);
  if (!opened) throw new Error('no stored account');
  return { db, original, ...opened };
}

describe('registering again', () => {
  it('sends the same certificate and prekeys', async () => {
    const { original, store, identity } = await registeredAlice();
    const relay = relayReplies(reply(201));

    expect(await registerAgain(store, identity, relay)).toEqual({
      status: 'registered',
    });
    const sent = RegisterRequest.parse(JSON.parse(relay.bodies[0] ?? ''));
    expect(sent.certificate).toEqual(original.certificate);
    expect(sent.signedPrekey).toEqual(original.signedPrekey);
    expect(sent.lastResortPqPrekey).toEqual(original.lastResortPqPrekey);
  });

  it('publishes fresh one-time prekeys', async () => {
    const { original, store, identity } = await registeredAlice();
    const relay = relayReplies(reply(201));
    await registerAgain(store, identity, relay);

    const sent = RegisterRequest.parse(JSON.parse(relay.bodies[0] ?? ''));
    const ids = sent.oneTimePrekeys.map((prekey) => prekey.keyId);
    const oldIds = new Set(original.oneTimePrekeys.map((key) => key.keyId));
    expect(ids).toHaveLength(ONE_TIME_PREKEY_POOL_SIZE);
    expect(ids.some((id) => oldIds.has(id))).toBe(false);
    expect(sent.oneTimePqPrekeys).toHaveLength(ONE_TIME_PREKEY_POOL_SIZE);
    const lookup = store.prekeyLookup();
    for (const id of [ids[0], ids.at(-1)]) {
      expect(await lookup.oneTimePrekey(id ?? -1)).toBeInstanceOf(CryptoKey);
    }
  });

  it('keeps the account when the name is taken', async () => {
    const { db, store, identity } = await registeredAlice();
    const relay = relayReplies(
      reply(409, { code: ErrorCode.usernameTaken, message: 'taken' }),
    );

    expect(await registerAgain(store, identity, relay)).toMatchObject({
      status: 'rejected',
      error: { code: 'username-taken' },
    });
    const opened = await LocalStore.open(db, systemRandom);
    expect(opened?.identity.userId).toBe('alice');
  });

  it('retries after a network failure', async () => {
    const { store, identity } = await registeredAlice();
    const relay = relayReplies(new TypeError('network down'));

    const outcome = await registerAgain(store, identity, relay);
    expect(outcome.status).toBe('retry');
  });
});

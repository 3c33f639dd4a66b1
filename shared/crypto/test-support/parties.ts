/**
 * Test parties and helpers. A party is a device with identity keys, a signed
 * prekey, a few one-time prekeys of each kind and a last-resort PQ prekey.
 * Its in-memory prekey store applies `consumed` as the client does, and
 * `send` and `receive` go through the session API.
 */
import type { Address, PrekeyBundle } from '../../wire/schemas';
import { type Bytes, toBase64Url, toHex } from '../bytes';
import {
  createAccountKeys,
  type LocalIdentity,
  type OneTimePrekeyPair,
  type PqPrekeyPair,
  type SignedPrekeyPair,
  toWirePqPrekey,
  toWireSignedPrekey,
} from '../keys';
import { type RandomSource, systemRandom } from '../random';
import {
  type ConsumedPrekeys,
  decryptMessage,
  type DecryptResult,
  encryptMessage,
  initiateSession,
  type PrekeyLookup,
  type SessionRecord,
} from '../session';

export const NOW = 1_750_000_000_000;

export interface Party {
  identity: LocalIdentity;
  address: Address;
  signedPrekey: SignedPrekeyPair;
  lastResort: PqPrekeyPair;
  oneTimePrekeys: Map<number, OneTimePrekeyPair>;
  oneTimePqPrekeys: Map<number, PqPrekeyPair>;
  seenSetups: Set<string>;
  prekeys: PrekeyLookup;
}

export async function createParty(
  userId: string,
  deviceId: number,
  random: RandomSource,
  oneTimeCount = 2,
): Promise<Party> {
  const keys = await createAccountKeys(
    userId,
    deviceId,
    random,
    NOW,
    oneTimeCount,
  );
  const party: Party = {
    identity: keys.identity,
    address: { userId, deviceId },
    signedPrekey: keys.signedPrekey,
    lastResort: keys.lastResortPqPrekey,
    oneTimePrekeys: new Map(keys.oneTimePrekeys.map((k) => [k.keyId, k])),
    oneTimePqPrekeys: new Map(keys.oneTimePqPrekeys.map((k) => [k.keyId, k])),
    seenSetups: new Set(),
    prekeys: {
      signedPrekey: async (keyId) =>
        keyId === party.signedPrekey.keyId
          ? party.signedPrekey.keyPair.privateKey
          : undefined,
      oneTimePrekey: async (keyId) =>
        party.oneTimePrekeys.get(keyId)?.keyPair.privateKey,
      pqPrekey: async (keyId) =>
        keyId === party.lastResort.keyId
          ? party.lastResort.keyPair.secretKey
          : party.oneTimePqPrekeys.get(keyId)?.keyPair.secretKey,
      hasSeenSetup: async (setupId) => party.seenSetups.has(toHex(setupId)),
    },
  };
  return party;
}

/** Creates the parties `alice` and `bob`, device 1 each, from system randomness. */
export async function createPair(): Promise<{ alice: Party; bob: Party }> {
  return {
    alice: await createParty('alice', 1, systemRandom),
    bob: await createParty('bob', 1, systemRandom),
  };
}

export interface BundleOptions {
  oneTimePrekey?: boolean;
  lastResort?: boolean;
}

/** Builds a bundle as the relay would, without removing keys from the party. */
export function bundleOf(
  party: Party,
  options: BundleOptions = {},
): PrekeyBundle {
  const oneTime = [...party.oneTimePrekeys.values()][0];
  const oneTimePq = [...party.oneTimePqPrekeys.values()][0];
  const useLastResort = options.lastResort === true || oneTimePq === undefined;
  const pq = useLastResort ? party.lastResort : oneTimePq;
  if (pq === undefined) throw new Error('party has no PQ prekey');
  const bundle: PrekeyBundle = {
    certificate: party.identity.certificate,
    signedPrekey: toWireSignedPrekey(party.signedPrekey),
    pqPrekey: toWirePqPrekey(pq),
    pqPrekeyLastResort: useLastResort,
  };
  if (options.oneTimePrekey !== false && oneTime !== undefined) {
    bundle.oneTimePrekey = {
      keyId: oneTime.keyId,
      publicKey: toBase64Url(oneTime.keyPair.publicKey),
    };
  }
  return bundle;
}

/**
 * Returns the initiator's record after `initiator` runs PQXDH at `NOW` with
 * `responder`'s bundle and no pinned identity key.
 */
export async function initiate(
  initiator: Party,
  responder: Party,
  options: BundleOptions = {},
): Promise<SessionRecord> {
  const { record } = await initiateSession(
    initiator.identity,
    bundleOf(responder, options),
    undefined,
    systemRandom,
    NOW,
  );
  return record;
}

/** Applies `consumed` the way the client's storage transaction does. */
export function applyConsumed(party: Party, consumed: ConsumedPrekeys): void {
  if (consumed.oneTimePrekeyId !== undefined) {
    party.oneTimePrekeys.delete(consumed.oneTimePrekeyId);
  }
  if (
    consumed.pqPrekeyId !== undefined &&
    consumed.pqPrekeyId !== party.lastResort.keyId
  ) {
    party.oneTimePqPrekeys.delete(consumed.pqPrekeyId);
  }
  if (consumed.setupId !== undefined) {
    party.seenSetups.add(toHex(consumed.setupId));
  }
}

export interface Sent {
  kind: 'prekey' | 'message';
  body: Bytes;
}

export async function send(
  record: SessionRecord,
  sender: Party,
  recipient: Party,
  text: string,
  random: RandomSource,
): Promise<{ record: SessionRecord; sent: Sent }> {
  const result = await encryptMessage(
    record,
    sender.identity,
    recipient.address,
    new TextEncoder().encode(text),
    random,
    NOW,
  );
  return {
    record: result.record,
    sent: { kind: result.kind, body: result.body },
  };
}

export async function receive(
  record: SessionRecord | undefined,
  recipient: Party,
  sender: Party,
  sent: Sent,
  random: RandomSource,
  options: { now?: number; pinned?: Bytes } = {},
): Promise<DecryptResult & { text: string }> {
  const result = await decryptMessage({
    record,
    local: recipient.identity,
    from: sender.address,
    kind: sent.kind,
    body: sent.body,
    prekeys: recipient.prekeys,
    pinnedIdentityKey: options.pinned,
    random,
    now: options.now ?? NOW,
  });
  applyConsumed(recipient, result.consumed);
  return { ...result, text: new TextDecoder().decode(result.plaintext) };
}

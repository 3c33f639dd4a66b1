/**
 * Pairwise sessions between one group sender and its fellow members, for
 * measuring a sender key rotation: the member keys and prekey bundles are
 * made here, so no bundle is fetched from the relay. A session counts as
 * established once the sender has decrypted the member's first reply, as
 * the Double Ratchet requires before the set-up data stops travelling with
 * each message.
 */
import type { Bytes } from '../../shared/crypto/bytes';
import {
  LAST_RESORT_KEY_ID_BASE,
  type LocalIdentity,
  createLocalIdentity,
  generatePqPrekey,
  generateSignedPrekey,
  toWirePqPrekey,
  toWireSignedPrekey,
} from '../../shared/crypto/keys';
import { systemRandom } from '../../shared/crypto/random';
import {
  type PrekeyLookup,
  type SessionRecord,
  decryptMessage,
  encryptMessage,
  initiateSession,
} from '../../shared/crypto/session';
import type { Address, PrekeyBundle } from '../../shared/wire/schemas';

const REPLY = new Uint8Array([1]);

export interface Peer {
  readonly address: Address;
  readonly identity: LocalIdentity;
  readonly bundle: PrekeyBundle;
  readonly prekeys: PrekeyLookup;
}

/** Lookup of a device without prekeys, enough to decrypt `message` kinds. */
const NO_PREKEYS: PrekeyLookup = {
  signedPrekey: () => Promise.resolve(undefined),
  oneTimePrekey: () => Promise.resolve(undefined),
  pqPrekey: () => Promise.resolve(undefined),
  hasSeenSetup: () => Promise.resolve(false),
};

export function localIdentity(address: Address): Promise<LocalIdentity> {
  return createLocalIdentity(
    address.userId,
    address.deviceId,
    systemRandom,
    Date.now(),
  );
}

/**
 * Creates a member device's keys and its prekey bundle: a signed prekey and
 * a last-resort PQ prekey, without one-time prekeys.
 */
export async function createPeer(address: Address): Promise<Peer> {
  const identity = await localIdentity(address);
  const signedPrekey = await generateSignedPrekey(
    identity,
    1,
    systemRandom,
    Date.now(),
  );
  const pqPrekey = await generatePqPrekey(
    identity,
    LAST_RESORT_KEY_ID_BASE + 1,
    true,
    systemRandom,
  );
  return {
    address,
    identity,
    bundle: {
      certificate: identity.certificate,
      signedPrekey: toWireSignedPrekey(signedPrekey),
      pqPrekey: toWirePqPrekey(pqPrekey),
      pqPrekeyLastResort: true,
    },
    prekeys: {
      signedPrekey: (keyId) =>
        Promise.resolve(
          keyId === signedPrekey.keyId
            ? signedPrekey.keyPair.privateKey
            : undefined,
        ),
      oneTimePrekey: () => Promise.resolve(undefined),
      pqPrekey: (keyId) =>
        Promise.resolve(
          keyId === pqPrekey.keyId ? pqPrekey.keyPair.secretKey : undefined,
        ),
      hasSeenSetup: () => Promise.resolve(false),
    },
  };
}

/** Runs PQXDH from `sender` to `peer`'s bundle: a new, unacknowledged session. */
export async function setUpSession(
  sender: LocalIdentity,
  peer: Peer,
): Promise<SessionRecord> {
  const { record } = await initiateSession(
    sender,
    peer.bundle,
    undefined,
    systemRandom,
    Date.now(),
  );
  return record;
}

/**
 * Completes a session the sender set up: the peer decrypts the sender's
 * `prekey` message and replies, and the sender decrypts the reply. Returns
 * the sender's record, whose messages are then of kind `message`.
 */
export async function completeSession(
  sender: LocalIdentity,
  peer: Peer,
  senderRecord: SessionRecord,
  prekeyMessage: Bytes,
): Promise<SessionRecord> {
  const senderAddress = { userId: sender.userId, deviceId: sender.deviceId };
  const received = await decryptMessage({
    record: undefined,
    local: peer.identity,
    from: senderAddress,
    kind: 'prekey',
    body: prekeyMessage,
    prekeys: peer.prekeys,
    pinnedIdentityKey: undefined,
    random: systemRandom,
    now: Date.now(),
  });
  const reply = await encryptMessage(
    received.record,
    peer.identity,
    senderAddress,
    REPLY,
    systemRandom,
    Date.now(),
  );
  const answered = await decryptMessage({
    record: senderRecord,
    local: sender,
    from: peer.address,
    kind: reply.kind,
    body: reply.body,
    prekeys: NO_PREKEYS,
    pinnedIdentityKey: undefined,
    random: systemRandom,
    now: Date.now(),
  });
  return answered.record;
}

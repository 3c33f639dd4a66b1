/**
 * Cloak's contenders of the ratchet bench, in code that runs unchanged in
 * Node and in Chromium: a session between two parties, and one-way and
 * alternating message runs that store each side's session record as the
 * product does.
 */
import { type Bytes, utf8 } from '../../shared/crypto/bytes';
import { systemRandom } from '../../shared/crypto/random';
import {
  decryptMessage,
  deserializeSessionRecord,
  encryptMessage,
  serializeSessionRecord,
  type SessionRecord,
} from '../../shared/crypto/session';
import {
  applyConsumed,
  createParty,
  initiate,
  NOW,
  type Party,
} from '../../shared/crypto/test-support/parties';

/** Plaintext size of every benchmark message. */
export const MESSAGE_BYTES = 1024;

/** Who sends: always the initiator, or each side in turn. */
export type Pattern = 'one-way' | 'alternating';

/** One side of a session: its party and its serialized session record. */
interface Side {
  readonly party: Party;
  record: Bytes;
}

export interface CloakPair {
  readonly alice: Side;
  readonly bob: Side;
}

export function benchMessage(): Bytes {
  const message = new Uint8Array(MESSAGE_BYTES);
  for (let i = 0; i < message.length; i++) message[i] = i & 0xff;
  return message;
}

/**
 * Creates two parties and a session between them in which both have sent a
 * message, so no later message carries the set-up data.
 */
export async function createCloakPair(): Promise<CloakPair> {
  const alicePartyPromise = createParty('alice', 1, systemRandom, 1);
  const bobParty = await createParty('bob', 1, systemRandom, 1);
  const aliceParty = await alicePartyPromise;
  const aliceRecord = await initiate(aliceParty, bobParty);
  const alice: Side = {
    party: aliceParty,
    record: serializeSessionRecord(aliceRecord),
  };
  const bob: Side = { party: bobParty, record: new Uint8Array(0) };
  const pair = { alice, bob };
  await sendStored(alice, bob, utf8('hello'));
  await sendStored(bob, alice, utf8('hello'));
  return pair;
}

async function loadRecord(side: Side): Promise<SessionRecord | undefined> {
  return side.record.length === 0
    ? undefined
    : deserializeSessionRecord(side.record);
}

/**
 * Sends one message from `sender` to `recipient` the way the engine does:
 * each side reads its session record, runs the ratchet and writes the
 * record back as bytes.
 */
export async function sendStored(
  sender: Side,
  recipient: Side,
  plaintext: Bytes,
): Promise<void> {
  const senderRecord = await loadRecord(sender);
  if (senderRecord === undefined) {
    throw new Error(`${sender.party.address.userId} has no session to send`);
  }
  const encrypted = await encryptMessage(
    senderRecord,
    sender.party.identity,
    recipient.party.address,
    plaintext,
    systemRandom,
    NOW,
  );
  sender.record = serializeSessionRecord(encrypted.record);

  const decrypted = await decryptMessage({
    record: await loadRecord(recipient),
    local: recipient.party.identity,
    from: sender.party.address,
    kind: encrypted.kind,
    body: encrypted.body,
    prekeys: recipient.party.prekeys,
    pinnedIdentityKey: undefined,
    random: systemRandom,
    now: NOW,
  });
  applyConsumed(recipient.party, decrypted.consumed);
  recipient.record = serializeSessionRecord(decrypted.record);
  if (decrypted.plaintext.length !== plaintext.length) {
    throw new Error(
      `decrypted ${decrypted.plaintext.length} bytes, sent ${plaintext.length}`,
    );
  }
}

/** The sides of message `index` of a run: [sender, recipient]. */
export function sidesOf<T>(
  pattern: Pattern,
  index: number,
  alice: T,
  bob: T,
): [T, T] {
  return pattern === 'alternating' && index % 2 === 1
    ? [bob, alice]
    : [alice, bob];
}

/** Sends `count` messages in a fresh session; returns messages per second. */
export async function runCloak(
  pattern: Pattern,
  count: number,
  warmup: number,
): Promise<number> {
  const pair = await createCloakPair();
  const message = benchMessage();
  const step = (index: number) => {
    const [sender, recipient] = sidesOf(pattern, index, pair.alice, pair.bob);
    return sendStored(sender, recipient, message);
  };
  for (let i = 0; i < warmup; i++) await step(i);
  const start = performance.now();
  for (let i = warmup; i < warmup + count; i++) await step(i);
  return count / ((performance.now() - start) / 1000);
}

/**
 * Returns the byte lengths of both serialized session records after
 * `count` alternating messages.
 */
export async function recordSizeAfter(
  count: number,
): Promise<{ initiator: number; responder: number }> {
  const pair = await createCloakPair();
  const message = benchMessage();
  for (let i = 0; i < count; i++) {
    const [sender, recipient] = sidesOf('alternating', i, pair.alice, pair.bob);
    await sendStored(sender, recipient, message);
  }
  return {
    initiator: pair.alice.record.length,
    responder: pair.bob.record.length,
  };
}

/**
 * Cloak's contender of the set-up bench, in code that runs in Node and in
 * Chromium: PQXDH initiate and respond with ML-KEM-768, the first message
 * and its decryption, and both session records serialized.
 */
import { systemRandom } from '../../shared/crypto/random';
import {
  decryptMessage,
  encryptMessage,
  initiateSession,
  serializeSessionRecord,
} from '../../shared/crypto/session';
import {
  applyConsumed,
  bundleOf,
  createParty,
  NOW,
  type Party,
} from '../../shared/crypto/test-support/parties';

/**
 * Runs set-up `index` between `alice` and `bob` with the first one-time
 * prekeys `bob` has left, as the relay hands them out.
 */
async function setUp(alice: Party, bob: Party): Promise<void> {
  const { record } = await initiateSession(
    alice.identity,
    bundleOf(bob),
    undefined,
    systemRandom,
    NOW,
  );
  const encrypted = await encryptMessage(
    record,
    alice.identity,
    bob.address,
    new Uint8Array(16),
    systemRandom,
    NOW,
  );
  serializeSessionRecord(encrypted.record);
  const decrypted = await decryptMessage({
    record: undefined,
    local: bob.identity,
    from: alice.address,
    kind: encrypted.kind,
    body: encrypted.body,
    prekeys: bob.prekeys,
    pinnedIdentityKey: undefined,
    random: systemRandom,
    now: NOW,
  });
  applyConsumed(bob, decrypted.consumed);
  serializeSessionRecord(decrypted.record);
}

/**
 * Runs `count` set-ups after `warmup`, each with its own one-time prekeys
 * generated beforehand; returns set-ups per second.
 */
export async function runCloakSetups(
  count: number,
  warmup: number,
): Promise<number> {
  const alice = await createParty('alice', 1, systemRandom, 0);
  const bob = await createParty('bob', 1, systemRandom, count + warmup);
  for (let i = 0; i < warmup; i++) await setUp(alice, bob);
  const start = performance.now();
  for (let i = 0; i < count; i++) await setUp(alice, bob);
  return count / ((performance.now() - start) / 1000);
}

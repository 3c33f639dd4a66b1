import { describe, expect, it } from 'vitest';
import { concat, fromBase64Url, toBase64Url, toHex, uint32 } from './bytes';
import { decodeSetup, encodeSetup, pqxdhInitiate, pqxdhRespond } from './pqxdh';
import { sha256 } from './primitives';
import { systemRandom } from './random';
import { initiateSession } from './session';
import { seededRandom } from './test-support/deterministic-random';
import {
  bundleOf,
  createPair,
  createParty,
  initiate,
  NOW,
  type Party,
  receive,
  send,
} from './test-support/parties';

async function respond(
  bob: Party,
  setup: Awaited<ReturnType<typeof pqxdhInitiate>>['setup'],
) {
  const oneTime =
    setup.oneTimePrekeyId === undefined
      ? undefined
      : bob.oneTimePrekeys.get(setup.oneTimePrekeyId)?.keyPair.privateKey;
  const pqSecretKey = await bob.prekeys.pqPrekey(setup.pqPrekeyId);
  if (pqSecretKey === undefined) throw new Error('missing PQ prekey');
  return pqxdhRespond(bob.identity, setup, {
    signedPrekey: bob.signedPrekey.keyPair.privateKey,
    oneTimePrekey: oneTime,
    pqSecretKey,
  });
}

describe('PQXDH', () => {
  it('agrees with a one-time prekey', async () => {
    const { alice, bob } = await createPair();
    const initiator = await pqxdhInitiate(
      alice.identity,
      bundleOf(bob),
      undefined,
      systemRandom,
    );
    expect(initiator.setup.oneTimePrekeyId).toBe(1);
    const responder = await respond(bob, initiator.setup);
    expect(responder.sharedSecret.equals(initiator.sharedSecret)).toBe(true);
    expect(responder.associatedData).toEqual(initiator.associatedData);
    expect(responder.setupId).toEqual(initiator.setupId);
  });

  it('agrees without a one-time prekey', async () => {
    const { alice, bob } = await createPair();
    const initiator = await pqxdhInitiate(
      alice.identity,
      bundleOf(bob, { oneTimePrekey: false }),
      undefined,
      systemRandom,
    );
    expect(initiator.setup.oneTimePrekeyId).toBeUndefined();
    const responder = await respond(bob, initiator.setup);
    expect(responder.sharedSecret.equals(initiator.sharedSecret)).toBe(true);
  });

  it('differs when the one-time prekey is dropped', async () => {
    const { alice, bob } = await createPair();
    const initiator = await pqxdhInitiate(
      alice.identity,
      bundleOf(bob),
      undefined,
      systemRandom,
    );
    const responder = await respond(bob, {
      ...initiator.setup,
      oneTimePrekeyId: undefined,
    });
    expect(responder.sharedSecret.equals(initiator.sharedSecret)).toBe(false);
  });

  it('uses the last-resort PQ prekey', async () => {
    const alice = await createParty('alice', 1, systemRandom);
    const bob = await createParty('bob', 1, systemRandom, 0);
    const bundle = bundleOf(bob);
    expect(bundle.pqPrekeyLastResort).toBe(true);
    expect(bundle.oneTimePrekey).toBeUndefined();

    const { record } = await initiateSession(
      alice.identity,
      bundle,
      undefined,
      systemRandom,
      NOW,
    );
    const { sent } = await send(record, alice, bob, 'hi', systemRandom);
    const received = await receive(undefined, bob, alice, sent, systemRandom);
    expect(received.text).toBe('hi');
    expect(received.consumed.pqPrekeyId).toBe(bob.lastResort.keyId);
    expect(received.consumed.pqPrekeyLastResort).toBe(true);
    expect(received.consumed.oneTimePrekeyId).toBeUndefined();
    expect(received.consumed.setupId).toHaveLength(16);
  });

  it('round-trips the set-up encoding', async () => {
    const { alice, bob } = await createPair();
    for (const oneTimePrekey of [true, false]) {
      const { setup } = await pqxdhInitiate(
        alice.identity,
        bundleOf(bob, { oneTimePrekey }),
        undefined,
        systemRandom,
      );
      expect(decodeSetup(encodeSetup(setup))).toEqual(setup);
    }
  });

  it('rejects a user id behind a byte order mark', async () => {
    // A UTF-8 decoder drops a leading BOM, so these bytes would decode to
    // the same certificate as the genuine ones.
    const { alice, bob } = await createPair();
    const { setup } = await pqxdhInitiate(
      alice.identity,
      bundleOf(bob),
      undefined,
      systemRandom,
    );
    const bytes = encodeSetup(setup);
    const view = new DataView(bytes.buffer);
    const certificateLength = view.getUint32(1);
    const userIdLength = view.getUint32(5);
    const certificate = concat(
      uint32(userIdLength + 3),
      new Uint8Array([0xef, 0xbb, 0xbf]),
      bytes.subarray(9, 5 + certificateLength),
    );
    const modified = concat(
      bytes.subarray(0, 1),
      uint32(certificate.length),
      certificate,
      bytes.subarray(5 + certificateLength),
    );
    expect(() => decodeSetup(modified)).toThrow(/non-canonical/);
  });
});

describe('bundle verification', () => {
  function flipFirst(text: string): string {
    const bytes = fromBase64Url(text);
    bytes[0] = (bytes[0] ?? 0) ^ 0x01;
    return toBase64Url(bytes);
  }

  it('rejects a bad signed prekey signature', async () => {
    const { alice, bob } = await createPair();
    const bundle = bundleOf(bob);
    bundle.signedPrekey.signature = flipFirst(bundle.signedPrekey.signature);
    await expect(
      initiateSession(alice.identity, bundle, undefined, systemRandom, NOW),
    ).rejects.toMatchObject({ code: 'invalid-signature' });
  });

  it('rejects a bad PQ prekey signature', async () => {
    const { alice, bob } = await createPair();
    const bundle = bundleOf(bob);
    bundle.pqPrekey.publicKey = flipFirst(bundle.pqPrekey.publicKey);
    await expect(
      initiateSession(alice.identity, bundle, undefined, systemRandom, NOW),
    ).rejects.toMatchObject({ code: 'invalid-signature' });
  });

  it('rejects a swapped signed prekey', async () => {
    const { alice, bob } = await createPair();
    const mallory = await createParty('bob', 1, systemRandom);
    const bundle = bundleOf(bob);
    bundle.signedPrekey = bundleOf(mallory).signedPrekey;
    await expect(
      initiateSession(alice.identity, bundle, undefined, systemRandom, NOW),
    ).rejects.toMatchObject({ code: 'invalid-signature' });
  });

  it('rejects a bad certificate signature', async () => {
    const { alice, bob } = await createPair();
    const bundle = bundleOf(bob);
    bundle.certificate = { ...bundle.certificate, deviceId: 2 };
    await expect(
      initiateSession(alice.identity, bundle, undefined, systemRandom, NOW),
    ).rejects.toMatchObject({ code: 'invalid-signature' });
  });

  it('rejects a wrong pinned identity key', async () => {
    const { alice, bob } = await createPair();
    const mallory = await createParty('bob', 1, systemRandom);
    await expect(
      initiateSession(
        alice.identity,
        bundleOf(mallory),
        bob.identity.identityKey.publicKey,
        systemRandom,
        NOW,
      ),
    ).rejects.toMatchObject({ code: 'untrusted-identity' });
    const { theirIdentityKey } = await initiateSession(
      alice.identity,
      bundleOf(bob),
      bob.identity.identityKey.publicKey,
      systemRandom,
      NOW,
    );
    expect(theirIdentityKey).toEqual(bob.identity.identityKey.publicKey);
  });

  it('rejects a bundle for this device', async () => {
    const alice = await createParty('alice', 1, systemRandom);
    await expect(
      initiateSession(
        alice.identity,
        bundleOf(alice),
        undefined,
        systemRandom,
        NOW,
      ),
    ).rejects.toMatchObject({ code: 'invalid-bundle' });
  });

  it('rejects a bundle under small-order keys', async () => {
    // Under the identity point, R = identity and S = 0 verify for any
    // message, so these signatures need no private key.
    const { alice, bob } = await createPair();
    const weakKey = new Uint8Array(32);
    weakKey[0] = 1;
    const forged = new Uint8Array(64);
    forged[0] = 1;
    const genuine = bundleOf(bob);
    const bundle = {
      ...genuine,
      certificate: {
        ...genuine.certificate,
        identityKey: toBase64Url(weakKey),
        signingKey: toBase64Url(weakKey),
        signature: toBase64Url(forged),
      },
      signedPrekey: { ...genuine.signedPrekey, signature: toBase64Url(forged) },
      pqPrekey: { ...genuine.pqPrekey, signature: toBase64Url(forged) },
    };
    await expect(
      pqxdhInitiate(alice.identity, bundle, undefined, systemRandom),
    ).rejects.toMatchObject({ code: 'invalid-signature' });
  });

  it('rejects a certificate naming another device', async () => {
    const { alice, bob } = await createPair();
    const record = await initiate(alice, bob);
    const { sent } = await send(record, alice, bob, 'hi', systemRandom);
    const carol = await createParty('carol', 1, systemRandom);
    const otherDevice = { ...alice, address: { userId: 'alice', deviceId: 2 } };
    await expect(
      receive(undefined, bob, otherDevice, sent, systemRandom),
    ).rejects.toMatchObject({ code: 'untrusted-identity' });
    await expect(
      receive(undefined, bob, carol, sent, systemRandom),
    ).rejects.toMatchObject({ code: 'untrusted-identity' });
    await expect(
      receive(undefined, bob, alice, sent, systemRandom, {
        pinned: carol.identity.identityKey.publicKey,
      }),
    ).rejects.toMatchObject({ code: 'untrusted-identity' });
    expect(bob.oneTimePrekeys.size).toBe(2);
  });
});

describe('PQXDH frozen vector', () => {
  it('reproduces the shared secret and AD', async () => {
    const alice = await createParty('alice', 1, seededRandom('pqxdh-alice'), 1);
    const bob = await createParty('bob', 7, seededRandom('pqxdh-bob'), 1);
    const random = seededRandom('pqxdh-run');
    const initiator = await pqxdhInitiate(
      alice.identity,
      bundleOf(bob),
      undefined,
      random,
    );
    const responder = await respond(bob, initiator.setup);
    expect(responder.sharedSecret.equals(initiator.sharedSecret)).toBe(true);
    expect(toHex(initiator.sharedSecret.reveal())).toBe(
      '9c122de7fbcc7c90e640269c4789962598c1314af2b2fa073590dfea41cb1c87',
    );
    expect(toHex(await sha256(initiator.associatedData))).toBe(
      '1d3e4c57de1b9bcebfd01942b7439e5af74fe368f050514f2e35bc7f09575b7c',
    );
    expect(toHex(initiator.setupId)).toBe('d6b7ec9990a933f52276e6057eaed787');
    expect(toHex(await sha256(encodeSetup(initiator.setup)))).toBe(
      '73be53039c99d91a9a0aeaf403cd0e863b1162325b93257834d779e5f6e64252',
    );
  });
});

/**
 * TEST ONLY: a relay that turns malicious on request, so that tests can
 * prove clients detect key substitution. `createRelay` imports this module
 * dynamically, and only with `testHooks: true` (`server/start.ts
 * --test-hooks`). `npm start` never passes the flag, so the product relay
 * has neither the route nor this code loaded.
 *
 * `POST /test/swap-identity { userId }` makes the relay serve, from then
 * on, bundles for that user with a user identity key, device keys,
 * certificates and prekeys that the relay generated itself (a
 * man-in-the-middle), and announce the change with `keys:changed`. Each
 * fetch gets fresh one-time prekeys. The private keys never leave this
 * process's memory, and only the signing keys needed for new prekeys are
 * kept.
 */
import express from 'express';
import { z } from 'zod';
import { toBase64Url } from '../shared/crypto/bytes';
import { signDeviceCertificate } from '../shared/crypto/certificate';
import {
  LAST_RESORT_KEY_ID_BASE,
  type LocalIdentity,
  createLocalIdentity,
  generateOneTimePrekeys,
  generatePqPrekey,
  generateSignedPrekey,
  toWirePqPrekey,
  toWireSignedPrekey,
} from '../shared/crypto/keys';
import {
  generateEd25519KeyPair,
  generateX25519KeyPair,
} from '../shared/crypto/primitives';
import { systemRandom } from '../shared/crypto/random';
import { ErrorCode } from '../shared/wire/errors';
import {
  type PrekeyBundle,
  type PrekeyCounts,
  type PqPrekey,
  type SignedPrekey,
  Username,
} from '../shared/wire/schemas';
import { RelayError, parseRequest } from './errors';
import type { Logger } from './logger';
import { announceKeyChange } from './socket/key-directory';
import type { RelayContext } from './socket/session';
import type { BundleResult, Store } from './store/store';

const SwapIdentityRequest = z.strictObject({ userId: Username });

/** One forged device: its identity and the prekeys it always serves. */
interface ForgedDevice {
  readonly identity: LocalIdentity;
  readonly signedPrekey: SignedPrekey;
  readonly lastResortPqPrekey: PqPrekey;
}

export interface TestHooks {
  /** Routes mounted at `/test`. */
  readonly router: express.Router;
  /** Wraps the store so that bundles of swapped users are forged. */
  wrapStore(store: Store): Store;
  /** Gives the routes the relay's context, once it exists. */
  bind(context: RelayContext): void;
}

/**
 * Returns a forged identity for `deviceId`. Every forged device of one user
 * shares the identity key of `base`, like real devices of one account.
 */
async function forgeIdentity(
  base: LocalIdentity,
  deviceId: number,
  now: number,
): Promise<LocalIdentity> {
  if (deviceId === base.deviceId) return base;
  const keyOptions = { extractable: false };
  const signingKey = await generateEd25519KeyPair(systemRandom, keyOptions);
  const dhKey = await generateX25519KeyPair(systemRandom, keyOptions);
  const certificate = await signDeviceCertificate(base.identityKey.privateKey, {
    userId: base.userId,
    deviceId,
    identityKey: toBase64Url(base.identityKey.publicKey),
    signingKey: toBase64Url(signingKey.publicKey),
    dhKey: toBase64Url(dhKey.publicKey),
    issuedAt: now,
  });
  return { ...base, deviceId, signingKey, dhKey, certificate };
}

async function forgeDevice(
  base: LocalIdentity,
  deviceId: number,
  now: number,
): Promise<ForgedDevice> {
  const identity = await forgeIdentity(base, deviceId, now);
  const signed = await generateSignedPrekey(identity, 1, systemRandom, now);
  const lastResort = await generatePqPrekey(
    identity,
    LAST_RESORT_KEY_ID_BASE + 1,
    true,
    systemRandom,
  );
  return {
    identity,
    signedPrekey: toWireSignedPrekey(signed),
    lastResortPqPrekey: toWirePqPrekey(lastResort),
  };
}

export function createTestHooks(logger: Logger): TestHooks {
  const forged = new Map<string, ForgedDevice[]>();
  let nextKeyId = 1;
  let context: RelayContext | undefined;

  const forgedBundles = async (
    devices: readonly ForgedDevice[],
  ): Promise<BundleResult> => {
    const bundles: PrekeyBundle[] = [];
    for (const device of devices) {
      const keyId = nextKeyId++;
      const oneTime = await generateOneTimePrekeys(
        device.identity,
        keyId,
        1,
        systemRandom,
      );
      const [oneTimePrekey] = oneTime.oneTimePrekeys;
      const [oneTimePqPrekey] = oneTime.oneTimePqPrekeys;
      if (!oneTimePrekey || !oneTimePqPrekey) {
        throw new Error('forged one-time prekey generation failed');
      }
      bundles.push({
        certificate: device.identity.certificate,
        signedPrekey: device.signedPrekey,
        pqPrekey: toWirePqPrekey(oneTimePqPrekey),
        pqPrekeyLastResort: false,
        oneTimePrekey: {
          keyId,
          publicKey: toBase64Url(oneTimePrekey.keyPair.publicKey),
        },
      });
    }
    return { bundles, counts: new Map<number, PrekeyCounts>() };
  };

  const router = express.Router();
  router.post(
    '/swap-identity',
    express.json({ limit: 1024 }),
    async (req, res) => {
      if (!context) throw new Error('test hooks used before bind');
      const { userId } = parseRequest(SwapIdentityRequest, req.body);
      const real = await context.store.listDevices(userId);
      const first = real[0];
      if (!first) {
        throw new RelayError(
          ErrorCode.notFound,
          `No user named "${userId}" is registered.`,
        );
      }
      const now = context.now();
      const base = await createLocalIdentity(
        userId,
        first.deviceId,
        systemRandom,
        now,
      );
      const devices: ForgedDevice[] = [];
      for (const certificate of real) {
        devices.push(await forgeDevice(base, certificate.deviceId, now));
      }
      forged.set(userId, devices);
      await announceKeyChange(context, userId);
      logger.warn({ event: 'test-swap-identity' }, 'identity key swapped');
      res.json({ userId, identityKey: base.certificate.identityKey });
    },
  );

  return {
    router,
    wrapStore(store) {
      const wrapped = Object.create(store) as Store;
      wrapped.takeBundles = async (userId) => {
        const devices = forged.get(userId);
        return devices ? forgedBundles(devices) : store.takeBundles(userId);
      };
      return wrapped;
    },
    bind(relayContext) {
      context = relayContext;
    },
  };
}

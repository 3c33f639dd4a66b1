import { describe, expect, it } from 'vitest';
import { RegisterRequest } from '../wire/schemas';
import {
  verifyDeviceCertificate,
  verifyPqPrekey,
  verifySignedPrekey,
} from './certificate';
import {
  createAccountKeys,
  generateOneTimePrekeys,
  generatePqPrekey,
  LAST_RESORT_KEY_ID_BASE,
  toRegisterRequest,
} from './keys';
import { toHex } from './bytes';
import { systemRandom } from './random';
import { seededRandom } from './test-support/deterministic-random';

describe('account keys', () => {
  it('creates a verifiable register request', async () => {
    const keys = await createAccountKeys('alice', 1, systemRandom, 1_000);
    const request = toRegisterRequest(keys);

    expect(RegisterRequest.safeParse(request).success).toBe(true);
    expect(request.oneTimePrekeys).toHaveLength(100);
    expect(request.oneTimePqPrekeys).toHaveLength(100);
    expect(await verifyDeviceCertificate(request.certificate)).toBe(true);
    expect(
      await verifySignedPrekey(request.certificate, request.signedPrekey),
    ).toBe(true);
    expect(
      await verifyPqPrekey(request.certificate, request.lastResortPqPrekey),
    ).toBe(true);
    for (const prekey of request.oneTimePqPrekeys) {
      expect(await verifyPqPrekey(request.certificate, prekey)).toBe(true);
    }
    expect(request.lastResortPqPrekey.keyId).toBe(LAST_RESORT_KEY_ID_BASE + 1);
    expect(keys.lastResortPqPrekey.lastResort).toBe(true);
  });

  it('keeps long-term private keys non-extractable', async () => {
    const { identity, signedPrekey, oneTimePrekeys } = await createAccountKeys(
      'alice',
      1,
      systemRandom,
      0,
    );
    expect(identity.identityKey.privateKey.extractable).toBe(false);
    expect(identity.signingKey.privateKey.extractable).toBe(false);
    expect(identity.dhKey.privateKey.extractable).toBe(false);
    expect(signedPrekey.keyPair.privateKey.extractable).toBe(false);
    expect(oneTimePrekeys[0]?.keyPair.privateKey.extractable).toBe(false);
  });

  it('reproduces keys from a seeded source', async () => {
    const first = await createAccountKeys('bob', 2, seededRandom('keys'), 5);
    const second = await createAccountKeys('bob', 2, seededRandom('keys'), 5);
    expect(toRegisterRequest(second)).toEqual(toRegisterRequest(first));
    expect(toHex(second.lastResortPqPrekey.keyPair.secretKey.reveal())).toBe(
      toHex(first.lastResortPqPrekey.keyPair.secretKey.reveal()),
    );
  });

  it('rejects PQ prekey ids outside their range', async () => {
    const { identity } = await createAccountKeys('bob', 2, systemRandom, 5);
    await expect(
      generatePqPrekey(identity, 7, true, systemRandom),
    ).rejects.toThrow(/outside the last-resort range/);
    await expect(
      generatePqPrekey(identity, LAST_RESORT_KEY_ID_BASE, false, systemRandom),
    ).rejects.toThrow(/outside the one-time range/);
    await expect(
      generateOneTimePrekeys(
        identity,
        LAST_RESORT_KEY_ID_BASE - 1,
        2,
        systemRandom,
      ),
    ).rejects.toThrow(/leave the one-time range/);
  });
});

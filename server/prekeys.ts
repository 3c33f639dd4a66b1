/**
 * Signature checks of published keys. The relay checks the certificate and
 * every prekey signature before storing them, so a bundle never carries a
 * key that a client would reject anyway.
 */
import {
  verifyDeviceCertificate,
  verifyPqPrekey,
  verifySignedPrekey,
} from '../shared/crypto/certificate';
import { ErrorCode } from '../shared/wire/errors';
import type {
  DeviceCertificate,
  PqPrekey,
  SignedPrekey,
} from '../shared/wire/schemas';
import { RelayError } from './errors';

export interface SignedKeys {
  readonly signedPrekey?: SignedPrekey | undefined;
  readonly lastResortPqPrekey?: PqPrekey | undefined;
  readonly oneTimePqPrekeys: readonly PqPrekey[];
}

export async function checkCertificate(
  certificate: DeviceCertificate,
): Promise<void> {
  if (!(await verifyDeviceCertificate(certificate))) {
    throw new RelayError(
      ErrorCode.invalidSignature,
      'The device certificate signature does not verify under its identity key.',
    );
  }
}

/** Verifies each prekey signature against the certificate's signing key. */
export async function checkPrekeySignatures(
  certificate: DeviceCertificate,
  keys: SignedKeys,
): Promise<void> {
  if (
    keys.signedPrekey &&
    !(await verifySignedPrekey(certificate, keys.signedPrekey))
  ) {
    throw invalidPrekey('signedPrekey', keys.signedPrekey.keyId);
  }
  if (
    keys.lastResortPqPrekey &&
    !(await verifyPqPrekey(certificate, keys.lastResortPqPrekey))
  ) {
    throw invalidPrekey('lastResortPqPrekey', keys.lastResortPqPrekey.keyId);
  }
  const results = await Promise.all(
    keys.oneTimePqPrekeys.map((key) => verifyPqPrekey(certificate, key)),
  );
  const failed = results.indexOf(false);
  if (failed >= 0) {
    const key = keys.oneTimePqPrekeys[failed];
    throw invalidPrekey(`oneTimePqPrekeys.${failed}`, key?.keyId ?? 0);
  }
}

function invalidPrekey(field: string, keyId: number): RelayError {
  return new RelayError(
    ErrorCode.invalidSignature,
    `The signature of ${field} (key id ${keyId}) does not verify under the device signing key.`,
  );
}

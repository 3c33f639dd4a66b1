/**
 * Diffie-Hellman ratchet's root chain (Double Ratchet specification,
 * section 5.2, with HKDF-SHA256 as KDF_RK): (RK', CK) = HKDF(salt = RK,
 * IKM = DH output, info `Cloak-v1/DR/root`, 64 bytes).
 */
import { utf8 } from './bytes';
import { ChainKey } from './chain-key';
import { ROOT_KEY_INFO } from './labels';
import { hkdfSha256 } from './primitives';
import { SecretBytes } from './secret-bytes';

const ROOT_INFO_BYTES = utf8(ROOT_KEY_INFO);

export class RootKey {
  constructor(readonly key: SecretBytes) {}

  /** Mixes a DH output into the root key; returns the next root key and a new chain key at index 0. */
  async step(
    dhOutput: Uint8Array,
  ): Promise<{ rootKey: RootKey; chainKey: ChainKey }> {
    const derived = await hkdfSha256(
      dhOutput,
      this.key.reveal(),
      ROOT_INFO_BYTES,
      64,
    );
    return {
      rootKey: new RootKey(new SecretBytes(derived.subarray(0, 32))),
      chainKey: new ChainKey(new SecretBytes(derived.subarray(32, 64)), 0),
    };
  }
}

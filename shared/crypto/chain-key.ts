/**
 * Symmetric-key ratchet (Double Ratchet specification, section 5.2, with
 * HMAC-SHA256 as KDF_CK): a chain key CK_i yields the message key
 * MK_i = HMAC(CK_i, 0x01) and the next chain key CK_{i+1} = HMAC(CK_i, 0x02).
 * Chain keys are immutable, so a step returns a new one.
 */
import { hmacSha256 } from './primitives';
import { SecretBytes } from './secret-bytes';

export const MESSAGE_KEY_SEED = 0x01;
export const CHAIN_KEY_SEED = 0x02;

export class ChainKey {
  constructor(
    readonly key: SecretBytes,
    /** Number of the message whose key this chain key yields next. */
    readonly index: number,
  ) {}

  async messageKey(): Promise<SecretBytes> {
    return new SecretBytes(
      await hmacSha256(this.key.reveal(), new Uint8Array([MESSAGE_KEY_SEED])),
    );
  }

  async next(): Promise<ChainKey> {
    const key = await hmacSha256(
      this.key.reveal(),
      new Uint8Array([CHAIN_KEY_SEED]),
    );
    return new ChainKey(new SecretBytes(key), this.index + 1);
  }
}

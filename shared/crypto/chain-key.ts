/**
 * Symmetric-key ratchet (Double Ratchet specification, section 5.2, with
 * HMAC-SHA256 as KDF_CK): a chain key CK_i yields the message key
 * MK_i = HMAC(CK_i, 0x01) and the next chain key CK_{i+1} = HMAC(CK_i, 0x02).
 * Chain keys are immutable, so a step returns a new one. Each chain key
 * imports its HMAC key once, on first use, for both derivations.
 */
import { hmacSha256, importHmacKey } from './primitives';
import { SecretBytes } from './secret-bytes';

export const MESSAGE_KEY_SEED = 0x01;
export const CHAIN_KEY_SEED = 0x02;

const MESSAGE_KEY_INPUT = new Uint8Array([MESSAGE_KEY_SEED]);
const CHAIN_KEY_INPUT = new Uint8Array([CHAIN_KEY_SEED]);

export class ChainKey {
  #hmacKey: Promise<CryptoKey> | undefined;

  constructor(
    readonly key: SecretBytes,
    /** Number of the message whose key this chain key yields next. */
    readonly index: number,
  ) {}

  #imported(): Promise<CryptoKey> {
    this.#hmacKey ??= importHmacKey(this.key.reveal());
    return this.#hmacKey;
  }

  async messageKey(): Promise<SecretBytes> {
    return new SecretBytes(
      await hmacSha256(await this.#imported(), MESSAGE_KEY_INPUT),
    );
  }

  async next(): Promise<ChainKey> {
    const key = await hmacSha256(await this.#imported(), CHAIN_KEY_INPUT);
    return new ChainKey(new SecretBytes(key), this.index + 1);
  }

  /**
   * Derives the message key and the next chain key at once, for the
   * sending chain, which needs both.
   */
  async step(): Promise<{ messageKey: SecretBytes; next: ChainKey }> {
    const [messageKey, next] = await Promise.all([
      this.messageKey(),
      this.next(),
    ]);
    return { messageKey, next };
  }
}

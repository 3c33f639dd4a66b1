/**
 * Raw secret bytes (root keys, chain keys, message keys, PKCS#8 ratchet
 * keys) without a printable form. `toString`, `toJSON` and Node's `inspect`
 * return a fixed marker. The bytes sit in a private field, which
 * `JSON.stringify` and `inspect` do not enumerate.
 */
import { type Bytes, constantTimeEqual, copyBytes } from './bytes';

export const REDACTED = '[redacted secret]';

export class SecretBytes {
  readonly #bytes: Bytes;

  constructor(bytes: Uint8Array) {
    this.#bytes = copyBytes(bytes);
  }

  get length(): number {
    return this.#bytes.length;
  }

  /** Returns a copy of the secret, to hand to a primitive or a serializer. */
  reveal(): Bytes {
    return copyBytes(this.#bytes);
  }

  /** Compares two secrets in time that depends only on their lengths. */
  equals(other: SecretBytes): boolean {
    return constantTimeEqual(this.#bytes, other.#bytes);
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return REDACTED;
  }
}

/**
 * Binary writer and reader for the protocol's frames and stored records.
 * Variable-length fields carry a 4-byte big-endian length, as in
 * `lengthPrefixed`, and a reader rejects truncated or trailing bytes.
 */
import { type Bytes, concat, uint32 } from './bytes';
import { CryptoError, type CryptoErrorCode } from './errors';

export class ByteWriter {
  readonly #parts: Uint8Array[] = [];

  u8(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xff) {
      throw new RangeError(`uint8 out of range: ${value}`);
    }
    this.#parts.push(new Uint8Array([value]));
    return this;
  }

  u32(value: number): this {
    this.#parts.push(uint32(value));
    return this;
  }

  /** Writes a non-negative integer below 2^53 as 8 big-endian bytes. */
  u64(value: number): this {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`uint64 out of range: ${value}`);
    }
    return this.u32(Math.floor(value / 0x1_0000_0000)).u32(
      value % 0x1_0000_0000,
    );
  }

  /** Writes a length-prefixed field. */
  bytes(value: Uint8Array): this {
    this.#parts.push(uint32(value.length), value);
    return this;
  }

  finish(): Bytes {
    return concat(...this.#parts);
  }
}

export class ByteReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  #offset = 0;

  constructor(
    bytes: Uint8Array,
    private readonly code: CryptoErrorCode,
    private readonly operation: string,
  ) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  }

  #take(length: number, field: string): number {
    if (this.#offset + length > this.#bytes.length) {
      throw new CryptoError(
        this.code,
        this.operation,
        `truncated at ${field}: needs ${length} bytes, ${this.#bytes.length - this.#offset} left`,
      );
    }
    const start = this.#offset;
    this.#offset += length;
    return start;
  }

  u8(field: string): number {
    return this.#view.getUint8(this.#take(1, field));
  }

  u32(field: string): number {
    return this.#view.getUint32(this.#take(4, field));
  }

  /**
   * Reads the version byte of a `name` (such as `frame`) and throws unless
   * it equals `expected`.
   */
  version(name: string, expected: number): void {
    const version = this.u8(`${name} version`);
    if (version !== expected) {
      throw new CryptoError(
        this.code,
        this.operation,
        `unknown ${name} version ${version}`,
      );
    }
  }

  u64(field: string): number {
    const high = this.u32(field);
    const low = this.u32(field);
    const value = high * 0x1_0000_0000 + low;
    if (!Number.isSafeInteger(value)) {
      throw new CryptoError(this.code, this.operation, `${field} too large`);
    }
    return value;
  }

  /** Reads a length-prefixed field of at most `maxLength` bytes. */
  bytes(field: string, maxLength: number): Bytes {
    const length = this.u32(field);
    if (length > maxLength) {
      throw new CryptoError(
        this.code,
        this.operation,
        `${field} is ${length} bytes, at most ${maxLength} allowed`,
      );
    }
    return this.raw(field, length);
  }

  /** Reads a length-prefixed field of exactly `length` bytes. */
  fixed(field: string, length: number): Bytes {
    const value = this.bytes(field, length);
    if (value.length !== length) {
      throw new CryptoError(
        this.code,
        this.operation,
        `${field} must be ${length} bytes, got ${value.length}`,
      );
    }
    return value;
  }

  raw(field: string, length: number): Bytes {
    const start = this.#take(length, field);
    return this.#bytes.slice(start, start + length);
  }

  /** Throws if any bytes are left unread. */
  end(): void {
    if (this.#offset !== this.#bytes.length) {
      throw new CryptoError(
        this.code,
        this.operation,
        `${this.#bytes.length - this.#offset} trailing bytes`,
      );
    }
  }
}

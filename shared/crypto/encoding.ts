/**
 * Binary writer and reader for the protocol's frames and stored records.
 * Variable-length fields carry a 4-byte big-endian length, as in
 * `lengthPrefixed`, and a reader rejects truncated or trailing bytes.
 */
import type { Bytes } from './bytes';
import { CryptoError, type CryptoErrorCode } from './errors';

/** Largest scratch buffer kept between writers, in bytes. */
const MAX_SCRATCH_BYTES = 1 << 20;

/**
 * A buffer shared by writers one at a time, so that serializing a record
 * allocates only its result. Undefined while a writer has borrowed it.
 */
let scratch: Uint8Array | undefined = new Uint8Array(4096);

/**
 * Appends fields to one buffer and returns a copy of exactly the bytes
 * written. A writer borrows the shared scratch buffer when no other writer
 * has borrowed it (writers can nest) and returns it, zeroed, from `finish`.
 * Integers are written byte by byte, without a `DataView`, which is slow to
 * create in V8.
 */
export class ByteWriter {
  #buffer: Uint8Array;
  #length = 0;

  constructor() {
    this.#buffer = scratch ?? new Uint8Array(256);
    scratch = undefined;
  }

  /** Makes room for `extra` more bytes; returns the offset to write at. */
  #reserve(extra: number): number {
    const offset = this.#length;
    const needed = offset + extra;
    if (needed > this.#buffer.length) {
      const grown = new Uint8Array(Math.max(needed, this.#buffer.length * 2));
      grown.set(this.#buffer.subarray(0, offset));
      this.#buffer.fill(0, 0, offset);
      this.#buffer = grown;
    }
    this.#length = needed;
    return offset;
  }

  u8(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xff) {
      throw new RangeError(`uint8 out of range: ${value}`);
    }
    const offset = this.#reserve(1);
    this.#buffer[offset] = value;
    return this;
  }

  u32(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
      throw new RangeError(`uint32 out of range: ${value}`);
    }
    const offset = this.#reserve(4);
    const buffer = this.#buffer;
    buffer[offset] = value >>> 24;
    buffer[offset + 1] = (value >>> 16) & 0xff;
    buffer[offset + 2] = (value >>> 8) & 0xff;
    buffer[offset + 3] = value & 0xff;
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
    this.u32(value.length);
    const offset = this.#reserve(value.length);
    this.#buffer.set(value, offset);
    return this;
  }

  /**
   * Returns a copy of the bytes written so far. The writer then keeps that
   * exact copy, so a later write moves to a new buffer and never changes a
   * returned result.
   */
  finish(): Bytes {
    const out = this.#buffer.slice(0, this.#length);
    // Records contain secrets, so the buffer is zeroed before it is reused
    // or dropped.
    this.#buffer.fill(0, 0, this.#length);
    if (
      this.#buffer.length <= MAX_SCRATCH_BYTES &&
      (scratch === undefined || scratch.length < this.#buffer.length)
    ) {
      scratch = this.#buffer;
    }
    this.#buffer = out;
    return out;
  }
}

export class ByteReader {
  readonly #bytes: Uint8Array;
  #offset = 0;

  constructor(
    bytes: Uint8Array,
    private readonly code: CryptoErrorCode,
    private readonly operation: string,
  ) {
    this.#bytes = bytes;
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
    return this.#bytes[this.#take(1, field)] as number;
  }

  u32(field: string): number {
    const offset = this.#take(4, field);
    const bytes = this.#bytes;
    return (
      (((bytes[offset] as number) << 24) |
        ((bytes[offset + 1] as number) << 16) |
        ((bytes[offset + 2] as number) << 8) |
        (bytes[offset + 3] as number)) >>>
      0
    );
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

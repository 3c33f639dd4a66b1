/**
 * The plaintext frame inside pairwise and group messages: version 1, then
 * each address as length-prefixed UTF-8 user id and 4-byte device id, then
 * the length-prefixed plaintext, padded to 160-byte blocks (padding.ts).
 * Pairwise messages carry sender and recipient, group messages the sender
 * alone. The caller compares the addresses with the envelope.
 */
import type { Address } from '../wire/schemas';
import { type Bytes, fromUtf8, utf8 } from './bytes';
import { ByteReader, ByteWriter } from './encoding';
import { CryptoError } from './errors';
import { pad, unpad } from './padding';

const FRAME_VERSION = 1;
const MAX_USER_ID_BYTES = 256;

export interface OpenedFrame {
  readonly addresses: Address[];
  readonly plaintext: Bytes;
}

/** Frames `plaintext` with `addresses` and pads it. */
export function padFrame(
  addresses: readonly Address[],
  plaintext: Uint8Array,
): Bytes {
  const writer = new ByteWriter().u8(FRAME_VERSION);
  for (const address of addresses) writeAddress(writer, address);
  return pad(writer.bytes(plaintext).finish());
}

/**
 * Removes the padding and parses a frame with `addressCount` addresses.
 * Throws `invalid-message`, naming `operation`, on any malformed field.
 */
export function openFrame(
  padded: Uint8Array,
  addressCount: number,
  operation: string,
): OpenedFrame {
  const reader = new ByteReader(unpad(padded), 'invalid-message', operation);
  reader.version('frame', FRAME_VERSION);
  const addresses: Address[] = [];
  for (let i = 0; i < addressCount; i++) {
    addresses.push(readAddress(reader, operation));
  }
  const plaintext = reader.bytes('plaintext', padded.length);
  reader.end();
  return { addresses, plaintext };
}

/** Writes an address as length-prefixed UTF-8 user id and 4-byte device id. */
export function writeAddress(writer: ByteWriter, address: Address): void {
  writer.bytes(utf8(address.userId)).u32(address.deviceId);
}

/**
 * Reads an address written by `writeAddress`. A user id that is not UTF-8
 * throws `invalid-message`, naming `operation`.
 */
export function readAddress(reader: ByteReader, operation: string): Address {
  const userId = reader.bytes('user id', MAX_USER_ID_BYTES);
  const deviceId = reader.u32('device id');
  try {
    return { userId: fromUtf8(userId), deviceId };
  } catch (cause) {
    throw new CryptoError(
      'invalid-message',
      operation,
      'user id is not UTF-8',
      { cause },
    );
  }
}

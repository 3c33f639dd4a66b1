/**
 * Comparison of a scanned safety number QR code with ours. The QR code
 * carries the scannable form as base64url text, and the comparison itself
 * is `compareScannedSafetyNumber`, which runs in constant time.
 */
import {
  type Bytes,
  fromBase64Url,
  toBase64Url,
} from '../../../shared/crypto/bytes';
import { CryptoError } from '../../../shared/crypto/errors';
import { compareScannedSafetyNumber } from '../../../shared/crypto/safety-number';

export type ScanResult =
  | { readonly status: 'match' }
  | { readonly status: 'no-match' }
  | { readonly status: 'invalid'; readonly message: string };

/** Longest QR text accepted, well above the 87 characters of version 1. */
const MAX_SCANNED_TEXT_LENGTH = 512;

/** Returns the text a safety number QR code carries. */
export function safetyNumberQrText(scannable: Bytes): string {
  return toBase64Url(scannable);
}

/**
 * Compares the text read from the other person's QR code with our
 * scannable safety number. Text that is not a safety number of this
 * version is `invalid`, with a message for the user.
 */
export function checkScannedCode(ours: Bytes, scannedText: string): ScanResult {
  const text = scannedText.trim();
  let scanned: Bytes;
  try {
    if (text.length === 0 || text.length > MAX_SCANNED_TEXT_LENGTH) {
      throw new RangeError(`scanned text of ${text.length} characters`);
    }
    scanned = fromBase64Url(text);
  } catch {
    return {
      status: 'invalid',
      message: 'This QR code is not a Cloak safety number.',
    };
  }
  try {
    return compareScannedSafetyNumber(ours, scanned)
      ? { status: 'match' }
      : { status: 'no-match' };
  } catch (error) {
    if (CryptoError.is(error, 'version-mismatch')) {
      return {
        status: 'invalid',
        message:
          'This QR code comes from another Cloak version. Both of you ' +
          'need the same version to compare.',
      };
    }
    return {
      status: 'invalid',
      message: 'This QR code is not a Cloak safety number.',
    };
  }
}

import QRCode from 'qrcode';
import jsQR from 'jsqr';
import { describe, expect, it } from 'vitest';
import { fromBase64Url, fromHex, toBase64Url, toHex, utf8 } from './bytes';
import {
  SAFETY_NUMBER_VERSION,
  SCANNABLE_SAFETY_NUMBER_BYTES,
  compareScannedSafetyNumber,
  computeSafetyNumber,
  fingerprintDigits,
  iteratedFingerprint,
} from './safety-number';

const alice = {
  userId: 'alice',
  identityKey: fromHex(
    'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
  ),
};
const bob = {
  userId: 'bob',
  identityKey: fromHex(
    '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
  ),
};

const ALICE_BOB_DIGITS =
  '177198878835759997162508717638993477807526151849006568601552';
const ALICE_SCANNABLE_HEX =
  '01' +
  '34c1a1fb576304ee4e5411ddddaa0f6a4c355fc438dbb33b9f56d9bb4a865659' +
  '486bcc583378b1ff5c5bacd4dcf8270b296f10c40145c77096285b878b70c05b';
const BOB_SCANNABLE_HEX =
  '01' +
  '486bcc583378b1ff5c5bacd4dcf8270b296f10c40145c77096285b878b70c05b' +
  '34c1a1fb576304ee4e5411ddddaa0f6a4c355fc438dbb33b9f56d9bb4a865659';

/** Renders a QR code to RGBA pixels, 4 pixels per module, quiet zone 4. */
function renderQr(text: string) {
  const qr = QRCode.create(text, { errorCorrectionLevel: 'M' });
  const scale = 4;
  const margin = 4;
  const modules = qr.modules.size;
  const width = (modules + 2 * margin) * scale;
  const pixels = new Uint8ClampedArray(width * width * 4).fill(255);
  for (let y = 0; y < width; y++) {
    for (let x = 0; x < width; x++) {
      const row = Math.floor(y / scale) - margin;
      const column = Math.floor(x / scale) - margin;
      const inside =
        row >= 0 && column >= 0 && row < modules && column < modules;
      if (inside && qr.modules.get(row, column)) {
        const offset = (y * width + x) * 4;
        pixels[offset] = 0;
        pixels[offset + 1] = 0;
        pixels[offset + 2] = 0;
      }
    }
  }
  return { pixels, width };
}

describe('safety number', () => {
  it('matches libsignal fingerprint vectors', async () => {
    // testVectorsVersion1 of libsignal's fingerprint.rs: Signal's own key
    // encoding (0x05 prefix) and fingerprint version 0.
    const aliceKey = fromHex(
      '0506863bc66d02b40d27b8d49ca7c09e9239236f9d7d25d6fcca5ce13c7064d868',
    );
    const bobKey = fromHex(
      '05f781b6fb32fed9ba1cf2de978d4d5da28dc34046ae814402b5c0dbd96fda907b',
    );
    const aliceFingerprint = await iteratedFingerprint(
      0,
      aliceKey,
      utf8('+14152222222'),
    );
    const bobFingerprint = await iteratedFingerprint(
      0,
      bobKey,
      utf8('+14153333333'),
    );

    expect(toHex(aliceFingerprint.subarray(0, 32))).toBe(
      '1e301a0353dce3dbe7684cb8336e85136cdc0ee96219494ada305d62a7bd61df',
    );
    expect(toHex(bobFingerprint.subarray(0, 32))).toBe(
      'd62cbf73a11592015b6b9f1682ac306fea3aaf3885b84d12bca631e9d4fb3a4d',
    );
    expect(
      fingerprintDigits(aliceFingerprint) + fingerprintDigits(bobFingerprint),
    ).toBe('300354477692869396892869876765458257569162576843440918079131');
  });

  it('matches frozen Cloak vectors', async () => {
    const number = await computeSafetyNumber(alice, bob);

    expect(number.digits).toBe(ALICE_BOB_DIGITS);
    expect(number.groups).toHaveLength(12);
    expect(number.groups.join('')).toBe(ALICE_BOB_DIGITS);
    expect(number.groups[0]).toBe('17719');
    expect(toHex(number.scannable)).toBe(ALICE_SCANNABLE_HEX);
  });

  it('is the same on both sides', async () => {
    const ours = await computeSafetyNumber(alice, bob);
    const theirs = await computeSafetyNumber(bob, alice);

    expect(theirs.digits).toBe(ours.digits);
    expect(toHex(theirs.scannable)).toBe(BOB_SCANNABLE_HEX);
  });

  it('changes with the identity key', async () => {
    const otherKey = new Uint8Array(bob.identityKey);
    otherKey[31] = (otherKey[31] ?? 0) ^ 0x01;
    const number = await computeSafetyNumber(alice, {
      ...bob,
      identityKey: otherKey,
    });

    expect(number.digits).not.toBe(ALICE_BOB_DIGITS);
    // Our own half stays, and only the other party's half changes.
    expect(number.digits).toContain('177198878835759997162508717638');
  });

  it('changes with the user id', async () => {
    const number = await computeSafetyNumber(alice, {
      ...bob,
      userId: 'bobby',
    });

    expect(number.digits).not.toBe(ALICE_BOB_DIGITS);
  });

  it('rejects an identity key of the wrong length', async () => {
    await expect(
      computeSafetyNumber(alice, {
        ...bob,
        identityKey: bob.identityKey.subarray(1),
      }),
    ).rejects.toMatchObject({ code: 'invalid-key' });
  });
});

describe('scanned safety number', () => {
  it('matches the other side', async () => {
    const ours = await computeSafetyNumber(alice, bob);
    const theirs = await computeSafetyNumber(bob, alice);

    expect(compareScannedSafetyNumber(ours.scannable, theirs.scannable)).toBe(
      true,
    );
    expect(compareScannedSafetyNumber(theirs.scannable, ours.scannable)).toBe(
      true,
    );
  });

  it('does not match our own form', async () => {
    const ours = await computeSafetyNumber(alice, bob);

    expect(compareScannedSafetyNumber(ours.scannable, ours.scannable)).toBe(
      false,
    );
  });

  it('fails on every tampered byte', async () => {
    const ours = await computeSafetyNumber(alice, bob);
    const theirs = await computeSafetyNumber(bob, alice);

    for (let i = 1; i < SCANNABLE_SAFETY_NUMBER_BYTES; i++) {
      const tampered = new Uint8Array(theirs.scannable);
      tampered[i] = (tampered[i] ?? 0) ^ 0x80;
      expect(compareScannedSafetyNumber(ours.scannable, tampered)).toBe(false);
    }
  });

  it('fails for a substituted identity key', async () => {
    const ours = await computeSafetyNumber(alice, bob);
    const forged = await computeSafetyNumber(
      { ...bob, identityKey: new Uint8Array(32).fill(7) },
      alice,
    );

    expect(compareScannedSafetyNumber(ours.scannable, forged.scannable)).toBe(
      false,
    );
  });

  it('rejects another version', async () => {
    const ours = await computeSafetyNumber(alice, bob);
    const theirs = await computeSafetyNumber(bob, alice);
    const other = new Uint8Array(theirs.scannable);
    other[0] = SAFETY_NUMBER_VERSION + 1;

    expect(() => compareScannedSafetyNumber(ours.scannable, other)).toThrow(
      expect.objectContaining({
        name: 'CryptoError',
        code: 'version-mismatch',
        message: expect.stringMatching(/version 2/),
      }),
    );
  });

  it('rejects a truncated scan', async () => {
    const ours = await computeSafetyNumber(alice, bob);
    const theirs = await computeSafetyNumber(bob, alice);

    expect(() =>
      compareScannedSafetyNumber(ours.scannable, theirs.scannable.slice(0, 40)),
    ).toThrow(/40 bytes/);
    expect(() =>
      compareScannedSafetyNumber(ours.scannable, new Uint8Array(0)),
    ).toThrow(/version none/);
  });

  it('survives a QR code round trip', async () => {
    const ours = await computeSafetyNumber(alice, bob);
    const theirs = await computeSafetyNumber(bob, alice);
    const text = toBase64Url(theirs.scannable);
    const { pixels, width } = renderQr(text);

    const decoded = jsQR(pixels, width, width);

    expect(decoded?.data).toBe(text);
    const scanned = fromBase64Url(decoded?.data ?? '');
    expect(compareScannedSafetyNumber(ours.scannable, scanned)).toBe(true);
  });

  it('renders as a QR data URL', async () => {
    const number = await computeSafetyNumber(alice, bob);

    const url = await QRCode.toDataURL(toBase64Url(number.scannable));

    expect(url).toMatch(/^data:image\/png;base64,/);
  });
});

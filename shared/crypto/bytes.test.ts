import { describe, expect, it } from 'vitest';
import {
  concat,
  constantTimeEqual,
  copyBytes,
  fromBase64Url,
  fromHex,
  fromUtf8,
  lengthPrefixed,
  toBase64Url,
  toHex,
  uint32,
  utf8,
} from './bytes';

// RFC 4648 section 10, with the padding removed as base64url here omits it.
const rfc4648Vectors = [
  { text: '', base64: '', base16: '' },
  { text: 'f', base64: 'Zg', base16: '66' },
  { text: 'fo', base64: 'Zm8', base16: '666F' },
  { text: 'foo', base64: 'Zm9v', base16: '666F6F' },
  { text: 'foob', base64: 'Zm9vYg', base16: '666F6F62' },
  { text: 'fooba', base64: 'Zm9vYmE', base16: '666F6F6261' },
  { text: 'foobar', base64: 'Zm9vYmFy', base16: '666F6F626172' },
];

/** Returns deterministic sample bytes of the given length. */
function sampleBytes(length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 167 + 13) & 0xff);
}

describe('base64url', () => {
  it.each(rfc4648Vectors)('encodes "$text" as "$base64"', (vector) => {
    expect(toBase64Url(utf8(vector.text))).toBe(vector.base64);
  });

  it.each(rfc4648Vectors)('decodes "$base64" to "$text"', (vector) => {
    expect(fromUtf8(fromBase64Url(vector.base64))).toBe(vector.text);
  });

  it('uses the URL-safe alphabet', () => {
    expect(toBase64Url(new Uint8Array([0xfb, 0xff, 0xbf]))).toBe('-_-_');
    expect(toHex(fromBase64Url('-_-_'))).toBe('fbffbf');
  });

  it('round-trips every length up to 66', () => {
    for (let length = 0; length <= 66; length++) {
      const bytes = sampleBytes(length);
      const text = toBase64Url(bytes);
      expect(text, `length ${length}`).toBe(
        Buffer.from(bytes).toString('base64url'),
      );
      expect(toHex(fromBase64Url(text)), `length ${length}`).toBe(toHex(bytes));
    }
  });

  it.each(['Zg==', 'Zm8=', 'Zm9v+A', 'Zm9v/A', 'Zm 9v', 'Zm9v\n'])(
    'rejects "%s" outside the alphabet',
    (text) => {
      expect(() => fromBase64Url(text)).toThrow(TypeError);
    },
  );

  it.each(['Z', 'Zm9vY', 'Zm9vYmFyZ'])(
    'rejects "%s" of impossible length',
    (text) => {
      expect(() => fromBase64Url(text)).toThrow(TypeError);
    },
  );

  // "Zh" and "Zm9" would decode to the same bytes as "Zg" and "Zm8" if the
  // pad bits were ignored, so only the canonical encoding is accepted.
  it.each(['Zh', 'Zm9', 'Zm9vYh', 'Zm9vYmF'])(
    'rejects "%s" with non-zero pad bits',
    (text) => {
      expect(() => fromBase64Url(text)).toThrow(/pad bits/);
    },
  );

  it('returns a buffer WebCrypto accepts', () => {
    const bytes = fromBase64Url('Zm9vYmFy');
    expect(bytes.buffer).toBeInstanceOf(ArrayBuffer);
    expect(bytes.byteOffset).toBe(0);
  });
});

describe('hex', () => {
  it.each(rfc4648Vectors)('encodes "$text" as "$base16"', (vector) => {
    expect(toHex(utf8(vector.text))).toBe(vector.base16.toLowerCase());
  });

  it.each(rfc4648Vectors)('decodes "$base16"', (vector) => {
    expect(fromUtf8(fromHex(vector.base16))).toBe(vector.text);
    expect(fromUtf8(fromHex(vector.base16.toLowerCase()))).toBe(vector.text);
  });

  it('round-trips all byte values', () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    const text = toHex(bytes);
    expect(text).toHaveLength(512);
    expect(text.slice(0, 8)).toBe('00010203');
    expect(text.slice(-4)).toBe('feff');
    expect(fromHex(text)).toEqual(bytes);
  });

  it.each(['0', 'abc', '0g', 'zz', '0x00', ' 00', '00 '])(
    'rejects "%s"',
    (text) => {
      expect(() => fromHex(text)).toThrow(TypeError);
    },
  );
});

describe('uint32', () => {
  it('encodes big-endian', () => {
    expect(toHex(uint32(0))).toBe('00000000');
    expect(toHex(uint32(1))).toBe('00000001');
    expect(toHex(uint32(0x01020304))).toBe('01020304');
    expect(toHex(uint32(0xffffffff))).toBe('ffffffff');
  });

  it.each([-1, 0x100000000, 1.5, Number.NaN, Infinity])(
    'rejects %s',
    (value) => {
      expect(() => uint32(value)).toThrow(RangeError);
    },
  );
});

describe('lengthPrefixed', () => {
  it('prefixes each part with its length', () => {
    const joined = lengthPrefixed(utf8('ab'), new Uint8Array(), utf8('c'));
    expect(toHex(joined)).toBe(
      '00000002' + '6162' + '00000000' + '00000001' + '63',
    );
  });

  it('returns nothing for no parts', () => {
    expect(lengthPrefixed()).toHaveLength(0);
  });

  it('keeps different splits apart', () => {
    const first = lengthPrefixed(utf8('ab'), utf8('c'));
    const second = lengthPrefixed(utf8('a'), utf8('bc'));
    expect(toHex(first)).not.toBe(toHex(second));
    expect(toHex(concat(utf8('ab'), utf8('c')))).toBe(
      toHex(concat(utf8('a'), utf8('bc'))),
    );
  });

  it('encodes a 300-byte part length', () => {
    const joined = lengthPrefixed(new Uint8Array(300));
    expect(joined).toHaveLength(304);
    expect(toHex(joined.subarray(0, 4))).toBe('0000012c');
  });
});

describe('constantTimeEqual', () => {
  it('accepts equal buffers', () => {
    expect(constantTimeEqual(fromHex('00ff10'), fromHex('00ff10'))).toBe(true);
    expect(constantTimeEqual(new Uint8Array(), new Uint8Array())).toBe(true);
  });

  it('rejects a difference in any byte or bit', () => {
    const base = sampleBytes(32);
    for (let i = 0; i < base.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const other = copyBytes(base);
        other[i] = (other[i] ?? 0) ^ (1 << bit);
        expect(constantTimeEqual(base, other), `byte ${i} bit ${bit}`).toBe(
          false,
        );
      }
    }
  });

  it('rejects different lengths', () => {
    expect(constantTimeEqual(fromHex('0000'), fromHex('000000'))).toBe(false);
    expect(constantTimeEqual(new Uint8Array(), fromHex('00'))).toBe(false);
  });

  it('compares views by content', () => {
    const backing = fromHex('aabbccaabbcc');
    expect(
      constantTimeEqual(backing.subarray(0, 3), backing.subarray(3, 6)),
    ).toBe(true);
  });
});

describe('utf8', () => {
  it('round-trips non-ASCII text', () => {
    expect(toHex(utf8('é€'))).toBe('c3a9e282ac');
    expect(fromUtf8(utf8('é€😀'))).toBe('é€😀');
  });

  it('rejects invalid UTF-8', () => {
    expect(() => fromUtf8(fromHex('c3'))).toThrow(TypeError);
    expect(() => fromUtf8(fromHex('ff'))).toThrow(TypeError);
  });
});

import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { toHex } from './bytes';
import { REDACTED, SecretBytes } from './secret-bytes';

describe('SecretBytes', () => {
  const bytes = new Uint8Array(32).fill(0xab);

  it('has no printable form', () => {
    const secret = new SecretBytes(bytes);
    const hex = toHex(bytes);
    expect(String(secret)).toBe(REDACTED);
    expect(`${secret}`).toBe(REDACTED);
    expect(JSON.stringify({ secret })).toBe(`{"secret":"${REDACTED}"}`);
    expect(inspect(secret)).toBe(REDACTED);
    expect(inspect({ nested: [secret] }, { depth: 5 })).not.toContain('171');
    expect(inspect({ nested: [secret] })).not.toContain(hex);
  });

  it('reveals a copy of the bytes', () => {
    const secret = new SecretBytes(bytes);
    const revealed = secret.reveal();
    revealed.fill(0);
    expect(secret.reveal()).toEqual(bytes);
    expect(secret.length).toBe(32);
  });

  it('compares secrets by value', () => {
    expect(new SecretBytes(bytes).equals(new SecretBytes(bytes))).toBe(true);
    expect(
      new SecretBytes(bytes).equals(new SecretBytes(new Uint8Array(32))),
    ).toBe(false);
  });
});

/**
 * The floor of the ratchet bench: per message, the WebCrypto calls that
 * Cloak's Double Ratchet makes, with no state, no header, no framing and
 * no serialization. Cloak's figure divided by the floor's shows what the
 * protocol's own code costs on top of the primitives.
 *
 * Per message and side: one HMAC key import and two HMAC signatures (the
 * chain step), one HKDF import and derivation of key ‖ IV, one AES key
 * import and one AES-GCM operation. As in Cloak, the sender runs its two
 * HMACs at once and the recipient derives the next chain key only after
 * the AES-GCM tag verified. A DH ratchet step adds, on the
 * receiving side: the import of the sender's new ratchet public key, two
 * X25519 derivations, two root steps (HKDF import and derivation each) and
 * a new X25519 key pair exported once as JWK.
 */
import { MESSAGE_KEY_INFO, ROOT_KEY_INFO } from '../../shared/crypto/labels';
import { benchMessage, type Pattern, sidesOf } from './cloak';

const subtle = () => globalThis.crypto.subtle;
const encoder = new TextEncoder();
const MESSAGE_INFO = encoder.encode(MESSAGE_KEY_INFO);
const ROOT_INFO = encoder.encode(ROOT_KEY_INFO);
const MESSAGE_SEED = new Uint8Array([0x01]);
const CHAIN_SEED = new Uint8Array([0x02]);
const ASSOCIATED_DATA = new Uint8Array(160);

function random(length: number): Uint8Array<ArrayBuffer> {
  return globalThis.crypto.getRandomValues(new Uint8Array(length));
}

function importChainKey(chainKey: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  return subtle().importKey(
    'raw',
    chainKey,
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
}

async function hmac(
  key: CryptoKey,
  data: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await subtle().sign('HMAC', key, data));
}

async function hkdf(
  inputKeyMaterial: Uint8Array<ArrayBuffer>,
  salt: Uint8Array<ArrayBuffer>,
  info: Uint8Array<ArrayBuffer>,
  length: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const key = await subtle().importKey('raw', inputKeyMaterial, 'HKDF', false, [
    'deriveBits',
  ]);
  return new Uint8Array(
    await subtle().deriveBits(
      { name: 'HKDF', hash: 'SHA-256', salt, info },
      key,
      length * 8,
    ),
  );
}

/** Derives key ‖ IV and runs AES-GCM in one direction. */
async function messageCipher(
  messageKey: Uint8Array<ArrayBuffer>,
  salt: Uint8Array<ArrayBuffer>,
  input: Uint8Array<ArrayBuffer>,
  mode: 'encrypt' | 'decrypt',
): Promise<Uint8Array<ArrayBuffer>> {
  const derived = await hkdf(messageKey, salt, MESSAGE_INFO, 44);
  const key = await subtle().importKey(
    'raw',
    derived.subarray(0, 32),
    'AES-GCM',
    false,
    [mode],
  );
  const params = {
    name: 'AES-GCM',
    iv: derived.subarray(32, 44),
    additionalData: ASSOCIATED_DATA,
  };
  return new Uint8Array(
    mode === 'encrypt'
      ? await subtle().encrypt(params, key, input)
      : await subtle().decrypt(params, key, input),
  );
}

interface FloorSide {
  /** Sending chain key, shared with the other side's receiving chain. */
  sendingChain: Uint8Array<ArrayBuffer>;
  privateKey: CryptoKey;
  publicKey: Uint8Array<ArrayBuffer>;
}

async function newKeyPair(): Promise<{
  privateKey: CryptoKey;
  publicKey: Uint8Array<ArrayBuffer>;
}> {
  const pair = (await subtle().generateKey({ name: 'X25519' }, true, [
    'deriveBits',
  ])) as CryptoKeyPair;
  const jwk = await subtle().exportKey('jwk', pair.privateKey);
  const x = (jwk.x ?? '').replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(x + '='.repeat((4 - (x.length % 4)) % 4));
  const publicKey = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) publicKey[i] = binary.charCodeAt(i);
  return { privateKey: pair.privateKey, publicKey };
}

/**
 * Runs the DH ratchet step of `recipient` on the sender's new public key:
 * the receiving root step, a new key pair and the sending root step.
 * Returns the new root key.
 */
async function dhStep(
  recipient: FloorSide,
  senderPublicKey: Uint8Array<ArrayBuffer>,
  rootKey: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array<ArrayBuffer>> {
  const theirKey = await subtle().importKey(
    'raw',
    senderPublicKey,
    { name: 'X25519' },
    true,
    [],
  );
  const receiving = new Uint8Array(
    await subtle().deriveBits(
      { name: 'X25519', public: theirKey },
      recipient.privateKey,
      256,
    ),
  );
  const first = await hkdf(receiving, rootKey, ROOT_INFO, 64);
  const pair = await newKeyPair();
  const sending = new Uint8Array(
    await subtle().deriveBits(
      { name: 'X25519', public: theirKey },
      pair.privateKey,
      256,
    ),
  );
  const second = await hkdf(sending, first.subarray(0, 32), ROOT_INFO, 64);
  recipient.privateKey = pair.privateKey;
  recipient.publicKey = pair.publicKey;
  recipient.sendingChain = second.slice(32, 64);
  return second.slice(0, 32);
}

/** Runs the floor for `count` messages; returns messages per second. */
export async function runFloor(
  pattern: Pattern,
  count: number,
  warmup: number,
): Promise<number> {
  const message = benchMessage();
  const sides: FloorSide[] = [];
  for (let i = 0; i < 2; i++) {
    sides.push({ sendingChain: random(32), ...(await newKeyPair()) });
  }
  const [alice, bob] = sides as [FloorSide, FloorSide];
  let rootKey = random(32);
  const step = async (index: number) => {
    const [sender, recipient] = sidesOf(pattern, index, alice, bob);
    const salt = random(16);
    // The sender derives the message key and the next chain key at once.
    const senderChain = await importChainKey(sender.sendingChain);
    const [senderKey, senderNext] = await Promise.all([
      hmac(senderChain, MESSAGE_SEED),
      hmac(senderChain, CHAIN_SEED),
    ]);
    const ciphertext = await messageCipher(senderKey, salt, message, 'encrypt');
    // The recipient derives the next chain key only once the message is
    // authentic. Its receiving chain equals the sender's sending chain.
    const recipientChain = await importChainKey(sender.sendingChain);
    const recipientKey = await hmac(recipientChain, MESSAGE_SEED);
    const plaintext = await messageCipher(
      recipientKey,
      salt,
      ciphertext,
      'decrypt',
    );
    if (plaintext.length !== message.length) throw new Error('floor mismatch');
    await hmac(recipientChain, CHAIN_SEED);
    sender.sendingChain = senderNext;
    if (pattern === 'alternating') {
      rootKey = await dhStep(recipient, sender.publicKey, rootKey);
    }
  };
  for (let i = 0; i < warmup; i++) await step(i);
  const start = performance.now();
  for (let i = warmup; i < warmup + count; i++) await step(i);
  return count / ((performance.now() - start) / 1000);
}

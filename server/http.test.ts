import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toBase64Url } from '../shared/crypto/bytes';
import { MAX_HTTP_BODY_BYTES } from '../shared/wire/limits';
import { CONTENT_SECURITY_POLICY } from './http';
import {
  createTestDevice,
  makeOneTimePqPrekeys,
  postJson,
  register,
} from './test-support/device';
import {
  type TestRelay,
  makeDataDir,
  removeDataDir,
  startTestRelay,
} from './test-support/relay';

let relay: TestRelay;
let clientDir: string;

beforeAll(async () => {
  clientDir = makeDataDir();
  mkdirSync(path.join(clientDir, 'assets'));
  writeFileSync(path.join(clientDir, 'index.html'), '<!doctype html>cloak');
  writeFileSync(path.join(clientDir, 'assets', 'app.js'), 'export {};');
  relay = await startTestRelay({
    clientDir,
    rateLimits: { register: { perSecond: 0.001, burst: 40 } },
  });
});

afterAll(async () => {
  await relay.close();
  removeDataDir(relay.dataDir);
  removeDataDir(clientDir);
});

/** Changes one character in the middle, which changes the decoded bytes. */
function flipMiddleCharacter(text: string): string {
  const middle = Math.floor(text.length / 2);
  const replacement = text.charAt(middle) === 'A' ? 'B' : 'A';
  return text.slice(0, middle) + replacement + text.slice(middle + 1);
}

describe('registration', () => {
  it('binds a username to its identity key', async () => {
    const alice = await createTestDevice('alice');
    const response = await register(relay.url, alice);
    expect(response.status).toBe(201);
    expect(response.body).toEqual({
      userId: 'alice',
      deviceId: 1,
      prekeys: { oneTimePrekeys: 5, oneTimePqPrekeys: 5 },
    });
  });

  it('repeats idempotently for the same device', async () => {
    const carol = await createTestDevice('carol');
    expect((await register(relay.url, carol)).status).toBe(201);
    const again = await register(relay.url, carol);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ userId: 'carol', deviceId: 1 });
  });

  it('rejects a second identity key as username-taken', async () => {
    const bob = await createTestDevice('bob');
    const impostor = await createTestDevice('bob');
    expect((await register(relay.url, bob)).status).toBe(201);
    const response = await register(relay.url, impostor);
    expect(response.status).toBe(409);
    expect(response.body).toEqual({
      code: 'username-taken',
      message: 'The username "bob" is already taken. Choose another one.',
    });
  });

  it('replaces a device with a newer certificate', async () => {
    const old = await createTestDevice('olga', { oneTimePrekeys: 3 });
    expect((await register(relay.url, old)).status).toBe(201);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const renewed = await createTestDevice('olga', {
      identityKey: old.identityKey,
      oneTimePrekeys: 1,
    });
    const response = await register(relay.url, renewed);
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      prekeys: { oneTimePrekeys: 1, oneTimePqPrekeys: 5 },
    });
  });

  it('rejects a replayed older certificate', async () => {
    const old = await createTestDevice('pat');
    await new Promise((resolve) => setTimeout(resolve, 5));
    const renewed = await createTestDevice('pat', {
      identityKey: old.identityKey,
    });
    expect((await register(relay.url, renewed)).status).toBe(201);
    const replay = await register(relay.url, old);
    expect(replay.status).toBe(400);
    expect(replay.body).toMatchObject({ code: 'invalid-request' });
  });

  it('adds a second device under the same identity key', async () => {
    const first = await createTestDevice('dave');
    const second = await createTestDevice('dave', {
      deviceId: 2,
      identityKey: first.identityKey,
    });
    expect((await register(relay.url, first)).status).toBe(201);
    expect((await register(relay.url, second)).status).toBe(201);
  });

  it.each([
    ['too short', 'ab'],
    ['a space', 'bad name'],
    ['a symbol', 'eve!'],
    ['too long', 'x'.repeat(33)],
  ])('rejects a username with %s', async (_case, userId) => {
    const device = await createTestDevice(userId);
    const response = await register(relay.url, device);
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ code: 'invalid-request' });
    expect((response.body as { message: string }).message).toContain(
      'certificate.userId',
    );
  });

  it('rejects a forged certificate signature', async () => {
    const device = await createTestDevice('frank');
    device.registration.certificate = {
      ...device.certificate,
      signature: flipMiddleCharacter(device.certificate.signature),
    };
    const response = await register(relay.url, device);
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ code: 'invalid-signature' });
  });

  it('rejects a non-canonical signature encoding', async () => {
    const device = await createTestDevice('nora');
    const signature = device.certificate.signature;
    // 64 bytes take 86 characters, and the last one carries 4 spare bits:
    // setting the lowest one keeps the decoded bytes but breaks the encoding.
    const alphabet =
      'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(signature.charAt(signature.length - 1));
    device.registration.certificate = {
      ...device.certificate,
      signature: signature.slice(0, -1) + alphabet.charAt(last + 1),
    };
    const response = await register(relay.url, device);
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ code: 'invalid-request' });
    expect((response.body as { message: string }).message).toContain(
      'certificate.signature',
    );
  });

  it('rejects a certificate naming another identity key', async () => {
    const device = await createTestDevice('grace');
    const other = await createTestDevice('grace');
    device.registration.certificate = {
      ...device.certificate,
      identityKey: toBase64Url(other.identityKey.publicKey),
    };
    const response = await register(relay.url, device);
    expect(response.body).toMatchObject({ code: 'invalid-signature' });
  });

  it('rejects a forged signed prekey signature', async () => {
    const device = await createTestDevice('heidi');
    const prekey = device.registration.signedPrekey;
    device.registration.signedPrekey = { ...prekey, keyId: prekey.keyId + 1 };
    const response = await register(relay.url, device);
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ code: 'invalid-signature' });
  });

  it('rejects a PQ prekey signed by another device', async () => {
    const device = await createTestDevice('ivan');
    const other = await createTestDevice('ivan');
    const [foreign] = await makeOneTimePqPrekeys(other, 1);
    if (!foreign) throw new Error('no prekey generated');
    device.registration.oneTimePqPrekeys.push(foreign);
    const response = await register(relay.url, device);
    expect(response.body).toMatchObject({ code: 'invalid-signature' });
    expect((response.body as { message: string }).message).toContain(
      'oneTimePqPrekeys.5',
    );
  });

  it('rejects unknown fields', async () => {
    const device = await createTestDevice('judy');
    const response = await postJson(`${relay.url}/api/accounts`, {
      ...device.registration,
      admin: true,
    });
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ code: 'invalid-request' });
  });
});

describe('HTTP errors', () => {
  it('returns invalid-request for malformed JSON', async () => {
    const response = await postJson(`${relay.url}/api/accounts`, '{"a":');
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ code: 'invalid-request' });
  });

  it('returns payload-too-large above the body limit', async () => {
    const body = JSON.stringify({ pad: 'x'.repeat(MAX_HTTP_BODY_BYTES) });
    const response = await postJson(`${relay.url}/api/accounts`, body);
    expect(response.status).toBe(413);
    expect(response.body).toMatchObject({ code: 'payload-too-large' });
  });

  it('returns not-found JSON for unknown API paths', async () => {
    const response = await fetch(`${relay.url}/api/nothing`);
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ code: 'not-found' });
  });

  it('rate-limits registrations per address', async () => {
    const limited = await startTestRelay({
      rateLimits: { register: { perSecond: 0.001, burst: 2 } },
    });
    try {
      const codes: unknown[] = [];
      for (let i = 0; i < 3; i++) {
        const response = await postJson(`${limited.url}/api/accounts`, {});
        codes.push((response.body as { code: string }).code);
      }
      expect(codes).toEqual([
        'invalid-request',
        'invalid-request',
        'rate-limited',
      ]);
    } finally {
      await limited.close();
      removeDataDir(limited.dataDir);
    }
  });
});

describe('HTTP responses', () => {
  it('reports health', async () => {
    const response = await fetch(`${relay.url}/api/health`);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('sends security headers everywhere', async () => {
    for (const url of ['/api/health', '/', '/api/nothing']) {
      const response = await fetch(`${relay.url}${url}`);
      expect(response.headers.get('content-security-policy')).toBe(
        CONTENT_SECURITY_POLICY,
      );
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
      expect(response.headers.get('strict-transport-security')).toBeNull();
    }
  });

  it('serves the client with a fallback', async () => {
    const script = await fetch(`${relay.url}/assets/app.js`);
    expect(await script.text()).toBe('export {};');
    const page = await fetch(`${relay.url}/chats/bob`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('cloak');
  });
});

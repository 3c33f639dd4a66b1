import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { signSignedPrekey } from '../shared/crypto/certificate';
import { generateX25519KeyPair } from '../shared/crypto/primitives';
import { systemRandom } from '../shared/crypto/random';
import { ONE_TIME_PREKEY_REFILL_THRESHOLD } from '../shared/wire/limits';
import type { PrekeyBundle, PrekeyCounts } from '../shared/wire/schemas';
import {
  type ClientSocket,
  type TestDevice,
  call,
  errorOf,
  connectSignedIn,
  createTestDevice,
  makeOneTimePqPrekeys,
  makeOneTimePrekeys,
  register,
  unwrap,
  waitFor,
} from './test-support/device';
import {
  type TestRelay,
  removeDataDir,
  startTestRelay,
} from './test-support/relay';

let relay: TestRelay;
const sockets: ClientSocket[] = [];

async function online(device: TestDevice): Promise<ClientSocket> {
  await register(relay.url, device);
  const socket = await connectSignedIn(relay.url, device);
  sockets.push(socket);
  return socket;
}

async function fetchBundle(
  socket: ClientSocket,
  userId: string,
): Promise<PrekeyBundle> {
  const reply = await call<{ bundles: PrekeyBundle[] }>(socket, 'keys:bundle', {
    userId,
  });
  const [bundle] = unwrap(reply).bundles;
  if (!bundle) throw new Error('no bundle returned');
  return bundle;
}

beforeAll(async () => {
  relay = await startTestRelay();
});

afterEach(() => {
  for (const socket of sockets.splice(0)) socket.disconnect();
});

afterAll(async () => {
  await relay.close();
  removeDataDir(relay.dataDir);
});

describe('prekey bundles', () => {
  it('hands out each one-time prekey once', async () => {
    const bob = await createTestDevice('bob', {
      oneTimePrekeys: 2,
      oneTimePqPrekeys: 2,
    });
    const alice = await online(await createTestDevice('alice'));
    await online(bob);

    const first = await fetchBundle(alice, 'bob');
    const second = await fetchBundle(alice, 'bob');
    expect(first.certificate).toEqual(bob.certificate);
    expect(first.signedPrekey).toEqual(bob.registration.signedPrekey);
    expect(first.oneTimePrekey).toBeDefined();
    expect(second.oneTimePrekey).toBeDefined();
    expect(first.oneTimePrekey).not.toEqual(second.oneTimePrekey);
    expect(first.pqPrekey).not.toEqual(second.pqPrekey);
    expect(first.pqPrekeyLastResort).toBe(false);
    expect(second.pqPrekeyLastResort).toBe(false);

    const third = await fetchBundle(alice, 'bob');
    expect(third.oneTimePrekey).toBeUndefined();
    expect(third.pqPrekey).toEqual(bob.registration.lastResortPqPrekey);
    expect(third.pqPrekeyLastResort).toBe(true);
  });

  it('returns one bundle per device', async () => {
    const first = await createTestDevice('erin');
    const second = await createTestDevice('erin', {
      deviceId: 2,
      identityKey: first.identityKey,
    });
    await register(relay.url, second);
    const socket = await online(first);
    const reply = await call<{ bundles: PrekeyBundle[] }>(
      socket,
      'keys:bundle',
      { userId: 'ERIN' },
    );
    const devices = unwrap(reply).bundles.map((b) => b.certificate.deviceId);
    expect(devices).toEqual([1, 2]);
  });

  it('rejects an unknown user naming it', async () => {
    const socket = await online(await createTestDevice('frank'));
    const reply = await call(socket, 'keys:bundle', { userId: 'nobody' });
    expect(reply).toMatchObject({ ok: false, error: { code: 'not-found' } });
    expect(errorOf(reply).message).toContain('"nobody"');
  });

  it('warns the owner when a pool runs low', async () => {
    const owner = await createTestDevice('grace', {
      oneTimePrekeys: ONE_TIME_PREKEY_REFILL_THRESHOLD,
      oneTimePqPrekeys: ONE_TIME_PREKEY_REFILL_THRESHOLD + 5,
    });
    const ownerSocket = await online(owner);
    const warnings: PrekeyCounts[] = [];
    ownerSocket.on('keys:low', (counts) => warnings.push(counts));
    const fetcher = await online(await createTestDevice('heidi'));
    await fetchBundle(fetcher, 'grace');
    await waitFor(() => warnings.length === 1);
    expect(warnings[0]).toEqual({
      oneTimePrekeys: ONE_TIME_PREKEY_REFILL_THRESHOLD - 1,
      oneTimePqPrekeys: ONE_TIME_PREKEY_REFILL_THRESHOLD + 4,
    });
  });

  it('rate-limits bundle fetches', async () => {
    const limited = await startTestRelay({
      rateLimits: {
        bundle: {
          device: { perSecond: 0.001, burst: 2 },
          address: { perSecond: 1000, burst: 1000 },
        },
      },
    });
    try {
      const device = await createTestDevice('ivan');
      await register(limited.url, device);
      const socket = await connectSignedIn(limited.url, device);
      sockets.push(socket);
      const codes: string[] = [];
      for (let i = 0; i < 3; i++) {
        const reply = await call(socket, 'keys:bundle', { userId: 'ivan' });
        codes.push(reply.ok ? 'ok' : reply.error.code);
      }
      expect(codes).toEqual(['ok', 'ok', 'rate-limited']);
    } finally {
      await limited.close();
      removeDataDir(limited.dataDir);
    }
  });
});

describe('prekey upload', () => {
  it('refills the one-time pools', async () => {
    const judy = await createTestDevice('judy', {
      oneTimePrekeys: 1,
      oneTimePqPrekeys: 1,
    });
    const socket = await online(judy);
    const reply = await call<PrekeyCounts>(socket, 'keys:upload', {
      oneTimePrekeys: await makeOneTimePrekeys(judy, 3),
      oneTimePqPrekeys: await makeOneTimePqPrekeys(judy, 2),
    });
    expect(reply).toEqual({
      ok: true,
      value: { oneTimePrekeys: 4, oneTimePqPrekeys: 3 },
    });
  });

  it('rotates the signed prekey', async () => {
    const kim = await createTestDevice('kim');
    const socket = await online(kim);
    const pair = await generateX25519KeyPair(systemRandom, {
      extractable: false,
    });
    const signedPrekey = await signSignedPrekey(
      kim.signingKey.privateKey,
      kim.address,
      2,
      pair.publicKey,
    );
    const reply = await call(socket, 'keys:upload', {
      signedPrekey,
      oneTimePrekeys: [],
      oneTimePqPrekeys: [],
    });
    expect(reply).toMatchObject({ ok: true });
    expect((await fetchBundle(socket, 'kim')).signedPrekey).toEqual(
      signedPrekey,
    );
  });

  it('rejects a signed prekey of another device', async () => {
    const lou = await createTestDevice('lou');
    const socket = await online(lou);
    const other = await createTestDevice('lou');
    const reply = await call(socket, 'keys:upload', {
      signedPrekey: other.registration.signedPrekey,
      oneTimePrekeys: [],
      oneTimePqPrekeys: [],
    });
    expect(reply).toMatchObject({
      ok: false,
      error: { code: 'invalid-signature' },
    });
    expect(socket.connected).toBe(true);
  });

  it('rejects a PQ prekey with a bad signature', async () => {
    const leo = await createTestDevice('leo');
    const socket = await online(leo);
    const [key] = await makeOneTimePqPrekeys(leo, 1);
    if (!key) throw new Error('no prekey generated');
    const reply = await call(socket, 'keys:upload', {
      oneTimePrekeys: [],
      oneTimePqPrekeys: [{ ...key, keyId: key.keyId + 1 }],
    });
    expect(reply).toMatchObject({
      ok: false,
      error: { code: 'invalid-signature' },
    });
  });

  it('rejects a malformed upload', async () => {
    const mia = await createTestDevice('mia');
    const socket = await online(mia);
    const reply = await call(socket, 'keys:upload', {
      oneTimePrekeys: [{ keyId: -1, publicKey: 'short' }],
      oneTimePqPrekeys: [],
    });
    expect(reply).toMatchObject({
      ok: false,
      error: { code: 'invalid-request' },
    });
    expect(errorOf(reply).message).toContain('oneTimePrekeys.0');
  });
});

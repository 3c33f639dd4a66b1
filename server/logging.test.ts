import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toBase64Url, utf8 } from '../shared/crypto/bytes';
import { MAX_ENVELOPE_BODY_BYTES } from '../shared/wire/limits';
import { type Envelope, base64UrlLength } from '../shared/wire/schemas';
import { moduleLogger } from './logger';
import {
  type TestDevice,
  call,
  connectSignedIn,
  createTestDevice,
  outgoing,
  register,
  unwrap,
  waitFor,
} from './test-support/device';
import {
  type TestRelay,
  removeDataDir,
  startTestRelay,
} from './test-support/relay';

const CANARY = 'CANARY-plaintext-7f3a9c1e-never-log-me';
const CANARY_BODY = toBase64Url(utf8(CANARY));

let relay: TestRelay;
let alice: TestDevice;
let bob: TestDevice;

beforeAll(async () => {
  relay = await startTestRelay();
  alice = await createTestDevice('alice');
  bob = await createTestDevice('bob');
  await register(relay.url, alice);
  await register(relay.url, bob);

  const aliceSocket = await connectSignedIn(relay.url, alice);
  const inbox: Envelope[] = [];
  const bobSocket = await connectSignedIn(relay.url, bob, inbox);
  const envelope = outgoing(bob.address, CANARY_BODY);
  unwrap(await call(aliceSocket, 'envelope:send', envelope));
  await call(aliceSocket, 'envelope:send', envelope);
  await call(aliceSocket, 'envelope:send', {
    ...envelope,
    body: CANARY_BODY.repeat(
      Math.ceil(base64UrlLength(MAX_ENVELOPE_BODY_BYTES) / CANARY_BODY.length) +
        1,
    ),
  });
  await call(aliceSocket, 'envelope:send', { ...envelope, note: CANARY });
  await call(aliceSocket, 'envelope:send', {
    ...envelope,
    to: { userId: 'nobody', deviceId: 1 },
  });
  await call(aliceSocket, 'keys:bundle', { userId: 'bob' });
  await waitFor(() => inbox.length === 1);
  unwrap(await call(bobSocket, 'envelope:ack', { ids: [envelope.id] }));
  aliceSocket.disconnect();
  bobSocket.disconnect();
  await relay.close();
});

afterAll(() => {
  removeDataDir(relay.dataDir);
});

describe('log output', () => {
  it('records the relay lifecycle', () => {
    const events = relay.logs.map((line) => JSON.parse(line).event);
    expect(events).toContain('start');
    expect(events).toContain('signed-in');
    expect(events).toContain('envelope-stored');
    expect(events).toContain('stop');
  });

  it('never contains the plaintext canary', () => {
    const output = relay.logs.join('');
    expect(output).not.toContain(CANARY);
    expect(output).not.toContain(CANARY_BODY);
  });

  it('never contains user ids or keys', () => {
    const output = relay.logs.join('');
    for (const secret of [
      '"alice"',
      '"bob"',
      alice.certificate.signingKey,
      alice.certificate.identityKey,
      bob.certificate.signature,
      bob.registration.signedPrekey.publicKey,
    ]) {
      expect(output).not.toContain(secret);
    }
  });

  it('redacts payload fields on a caller logger', () => {
    const lines: string[] = [];
    const root = pino({}, { write: (line: string) => void lines.push(line) });
    moduleLogger(root, 'envelopes').info(
      {
        body: CANARY_BODY,
        envelope: { body: CANARY_BODY, from: { userId: 'alice' } },
        request: { certificate: { signature: CANARY } },
      },
      'payload',
    );
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain(CANARY_BODY);
    expect(lines[0]).not.toContain(CANARY);
    expect(lines[0]).not.toContain('alice');
  });
});

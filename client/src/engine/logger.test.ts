import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fromBase64Url, toBase64Url } from '../../../shared/crypto/bytes';
import {
  createDevice,
  deliverQueued,
  MemoryRelay,
} from '../test-support/memory-relay';
import { createLogger, errorCode, setLogSink } from './logger';

afterEach(() => setLogSink(undefined));

describe('client logger', () => {
  it('writes nothing without a sink', () => {
    const info = vi.spyOn(console, 'info');
    const warn = vi.spyOn(console, 'warn');
    const error = vi.spyOn(console, 'error');
    createLogger('test').error('failed', new Error('secret detail'));
    expect(info).not.toHaveBeenCalled();
    expect(warn).not.toHaveBeenCalled();
    expect(error).not.toHaveBeenCalled();
  });

  it('logs error codes, not messages', () => {
    expect(errorCode({ code: 'decryption-failed' })).toBe('decryption-failed');
    expect(errorCode({ code: 'alice said hi' })).toBe('unknown');
    expect(errorCode(new TypeError('secret'))).toBe('TypeError');
    expect(errorCode('secret')).toBe('unknown');
  });

  it('keeps plaintext and ids out of engine logs', async () => {
    const lines: string[] = [];
    setLogSink((level, module, event, fields) =>
      lines.push(`${level} ${module} ${event} ${JSON.stringify(fields)}`),
    );
    const canary = 'canary-7f3a9c';
    const relay = new MemoryRelay();
    const alice = await createDevice(relay, 'alice');
    const bob = await createDevice(relay, 'bob');

    await alice.engine.startChat('bob');
    await alice.engine.sendText('bob', `hello ${canary}`);
    await vi.waitFor(() => expect(relay.queued(bob.address)).toHaveLength(1));
    const [envelope] = relay.queued(bob.address);
    if (!envelope) throw new Error('no envelope queued');
    const body = fromBase64Url(envelope.body);
    body[body.length - 1] = (body[body.length - 1] ?? 0) ^ 1;
    await bob.engine.receive({ ...envelope, body: toBase64Url(body) });
    await deliverQueued(relay, bob);
    await bob.engine.receive(envelope);

    expect(lines.length).toBeGreaterThan(0);
    const output = lines.join('\n');
    for (const secret of [canary, 'alice', 'bob', envelope.id]) {
      expect(output).not.toContain(secret);
    }
  });
});

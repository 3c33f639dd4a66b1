import 'fake-indexeddb/auto';
import { describe, expect, it, vi } from 'vitest';
import {
  type Bytes,
  fromBase64Url,
  fromUtf8,
  utf8,
} from '../../../shared/crypto/bytes';
import type { SessionRecord } from '../../../shared/crypto/session';
import { createDevice, MemoryRelay, NOW } from '../test-support/memory-relay';
import { cloakProtocol, type Protocol } from './protocol';
import { KeyedQueue } from './queue';

function deferred() {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

/**
 * A stand-in protocol whose session record is a message counter. Each
 * encryption waits a tick after loading the counter, which is where two
 * unserialized sends would both read the same value.
 */
const counterProtocol: Protocol = {
  ...cloakProtocol,
  async encryptMessage(record) {
    const counter = (record as unknown as { counter: number }).counter;
    await new Promise((resolve) => setTimeout(resolve, 5));
    return {
      record: { counter: counter + 1 } as unknown as SessionRecord,
      kind: 'message',
      body: utf8(String(counter)),
    };
  },
  serializeSessionRecord: (record) => utf8(JSON.stringify(record)) as Bytes,
  deserializeSessionRecord: async (bytes) =>
    JSON.parse(fromUtf8(bytes)) as SessionRecord,
};

describe('KeyedQueue', () => {
  it('runs tasks of one key in order', async () => {
    const queue = new KeyedQueue();
    const gate = deferred();
    const order: string[] = [];
    const first = queue.run('bob', async () => {
      await gate.promise;
      order.push('first');
    });
    const second = queue.run('bob', async () => {
      order.push('second');
    });
    const other = queue.run('carol', async () => {
      order.push('other key');
    });

    await other;
    expect(order).toEqual(['other key']);
    gate.resolve();
    await Promise.all([first, second]);
    expect(order).toEqual(['other key', 'first', 'second']);
    expect(queue.size).toBe(0);
  });

  it('continues after a failed task', async () => {
    const queue = new KeyedQueue();
    const failed = queue.run('bob', () => Promise.reject(new Error('boom')));
    const next = queue.run('bob', async () => 'ran');
    await expect(failed).rejects.toThrow('boom');
    await expect(next).resolves.toBe('ran');
  });
});

describe('Engine send queue', () => {
  it('gives concurrent sends increasing counters', async () => {
    const relay = new MemoryRelay();
    const alice = await createDevice(relay, 'alice', {
      protocol: counterProtocol,
    });
    const { address: bob } = await createDevice(relay, 'bob');
    await alice.store.addInitiatedSessions(
      'bob',
      [{ address: bob, record: utf8(JSON.stringify({ counter: 0 })) }],
      new Uint8Array(32),
      NOW,
    );

    await Promise.all([
      alice.engine.sendText('bob', 'one'),
      alice.engine.sendText('bob', 'two'),
      alice.engine.sendText('bob', 'three'),
    ]);

    await vi.waitFor(() => expect(relay.queued(bob)).toHaveLength(3));
    const counters = relay
      .queued(bob)
      .map((envelope) => Number(fromUtf8(fromBase64Url(envelope.body))));
    expect(counters).toEqual([0, 1, 2]);
    const stored = await alice.store.loadSession(bob);
    expect(stored).toBeDefined();
    expect(fromUtf8(stored ?? new Uint8Array())).toBe('{"counter":3}');
  });
});

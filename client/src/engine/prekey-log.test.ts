import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import { LAST_RESORT_KEY_ID_BASE } from '../../../shared/crypto/keys';
import { createDevice, MemoryRelay, NOW } from '../test-support/memory-relay';
import { type LogFields, setLogSink } from './logger';

const DAY_MS = 24 * 60 * 60 * 1000;

interface LogLine {
  readonly module: string;
  readonly event: string;
  readonly fields: LogFields;
}

function captureLog(): LogLine[] {
  const lines: LogLine[] = [];
  setLogSink((_level, module, event, fields) =>
    lines.push({ module, event, fields }),
  );
  return lines;
}

afterEach(() => setLogSink(undefined));

describe('prekey lifecycle logging', () => {
  it('logs a refill with counts', async () => {
    const bob = await createDevice(new MemoryRelay(), 'bob');
    const lines = captureLog();

    await bob.engine.refillPrekeys({
      oneTimePrekeys: 10,
      oneTimePqPrekeys: 12,
    });

    expect(lines).toEqual([
      {
        module: 'engine',
        event: 'one-time prekeys low',
        fields: {
          oneTimePrekeys: 10,
          oneTimePqPrekeys: 12,
          refillRunning: false,
        },
      },
      {
        module: 'engine',
        event: 'one-time prekeys uploaded',
        fields: { count: 90, firstKeyId: 101, lastKeyId: 190 },
      },
    ]);
  });

  it('logs nothing for full pools', async () => {
    const bob = await createDevice(new MemoryRelay(), 'bob');
    const lines = captureLog();

    await bob.engine.refillPrekeys({
      oneTimePrekeys: 100,
      oneTimePqPrekeys: 100,
    });

    expect(lines).toEqual([]);
  });

  it('logs a rotation with key ids', async () => {
    let now = NOW;
    const bob = await createDevice(new MemoryRelay(), 'bob', {
      now: () => now,
    });
    const lines = captureLog();

    now = NOW + 8 * DAY_MS;
    await bob.engine.rotatePrekeysIfDue();
    now = NOW + 40 * DAY_MS;
    await bob.engine.rotatePrekeysIfDue();

    expect(lines.map((line) => line.fields)).toEqual([
      {
        signedPrekeyId: 2,
        lastResortKeyId: LAST_RESORT_KEY_ID_BASE + 2,
        replacedKeysDeleted: 0,
      },
      {
        signedPrekeyId: 3,
        lastResortKeyId: LAST_RESORT_KEY_ID_BASE + 3,
        replacedKeysDeleted: 2,
      },
    ]);
    expect(lines.map((line) => line.event)).toEqual([
      'signed prekey rotated',
      'signed prekey rotated',
    ]);
  });
});

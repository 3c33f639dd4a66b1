import { describe, expect, it } from 'vitest';
import { inRatchetOrder, type OrderedRow } from './thread-order';

interface Row extends OrderedRow {
  readonly name: string;
}

function incoming(
  name: string,
  chain: number,
  message: number,
  options: { session?: number; deviceId?: number; sentAt?: number } = {},
): Row {
  const position = {
    deviceId: options.deviceId ?? 1,
    session: options.session ?? 1_000,
    chain,
    message,
  };
  return { name, direction: 'in', position, sentAt: options.sentAt };
}

function outgoing(name: string): Row {
  return { name, direction: 'out' };
}

function names(rows: readonly Row[]): string[] {
  return inRatchetOrder(rows).map((row) => row.name);
}

describe('inRatchetOrder', () => {
  it('keeps arrival order when in order', () => {
    const rows = [incoming('a', 0, 0), outgoing('me'), incoming('b', 1, 0)];
    expect(names(rows)).toEqual(['a', 'me', 'b']);
  });

  it('moves a late message before later ones', () => {
    const rows = [incoming('m0', 0, 0), incoming('m2', 0, 2)];
    expect(names([...rows, incoming('m1', 0, 1)])).toEqual(['m0', 'm1', 'm2']);
  });

  it('orders chains before message numbers', () => {
    const rows = [
      incoming('new chain', 1, 0),
      outgoing('me'),
      incoming('old chain', 0, 5),
    ];
    expect(names(rows)).toEqual(['old chain', 'new chain', 'me']);
  });

  it('ignores local session order', () => {
    // Both sides may start a session at once; the order in which this
    // device set them up does not show the order the sender used them.
    const rows = [
      incoming('first sent', 2, 0, { session: 2_000, sentAt: 10 }),
      incoming('second sent', 0, 1, { session: 1_000, sentAt: 20 }),
    ];
    expect(names(rows)).toEqual(['first sent', 'second sent']);
  });

  it('orders sessions by sender clock', () => {
    const rows = [
      incoming('resent late', 0, 0, { session: 1_000, sentAt: 30 }),
      outgoing('me'),
      incoming('sent first', 0, 0, { session: 2_000, sentAt: 10 }),
    ];
    expect(names(rows)).toEqual(['sent first', 'resent late', 'me']);
  });

  it('keeps outgoing messages in send order', () => {
    const rows = [
      outgoing('first'),
      incoming('m1', 0, 1),
      outgoing('second'),
      incoming('m0', 0, 0),
      outgoing('third'),
    ];
    expect(names(rows)).toEqual(['first', 'm0', 'm1', 'second', 'third']);
  });

  it('compares messages of one device only', () => {
    const rows = [
      incoming('phone', 0, 4, { deviceId: 1 }),
      incoming('laptop', 0, 0, { deviceId: 2 }),
    ];
    expect(names(rows)).toEqual(['phone', 'laptop']);
  });

  it('keeps rows without a position', () => {
    const rows: Row[] = [
      incoming('m1', 0, 1),
      { name: 'stored earlier', direction: 'in' },
      { name: 'notice', direction: 'notice' },
    ];
    expect(names(rows)).toEqual(['m1', 'stored earlier', 'notice']);
  });
});

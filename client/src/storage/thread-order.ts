import {
  comparePositions,
  type MessagePosition,
} from '../../../shared/crypto/session';

/** Ratchet position of an incoming message and the device that sent it. */
export interface RatchetPosition extends MessagePosition {
  readonly deviceId: number;
}

export interface OrderedRow {
  readonly direction: 'in' | 'out' | 'notice';
  readonly position?: RatchetPosition | undefined;
}

/**
 * Returns a thread's rows in display order. The input is in arrival order.
 * An incoming message whose ratchet position comes before an incoming
 * message of the same device already placed moves to just before the first
 * such message, so a message the relay delayed shows where it was sent.
 * Outgoing messages, notices and rows without a position keep arrival order.
 */
export function inRatchetOrder<Row extends OrderedRow>(
  rows: readonly Row[],
): Row[] {
  const thread: Row[] = [];
  for (const row of rows) {
    const position = row.direction === 'in' ? row.position : undefined;
    const later =
      position === undefined
        ? -1
        : thread.findIndex(
            (placed) =>
              placed.direction === 'in' &&
              placed.position !== undefined &&
              placed.position.deviceId === position.deviceId &&
              comparePositions(placed.position, position) > 0,
          );
    if (later < 0) thread.push(row);
    else thread.splice(later, 0, row);
  }
  return thread;
}

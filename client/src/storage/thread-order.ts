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
  /** The sender's clock when the message was written. */
  readonly sentAt?: number;
}

/**
 * Returns a thread's rows in display order. The input is in arrival order.
 * An incoming message that was sent before an incoming message of the same
 * device already placed moves to just before the first such message, so a
 * message the relay delayed, or the sender resent late, shows where it was
 * sent. Within one session "sent before" is the ratchet position. Across
 * sessions it is the sender's clock (`sentAt`): when both sides start a
 * session at once, the local set-up order of the two sessions does not show
 * the order in which the sender used them. Outgoing messages, notices
 * and rows without a position keep arrival order.
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
              sentAfter(placed, placed.position, row, position),
          );
    if (later < 0) thread.push(row);
    else thread.splice(later, 0, row);
  }
  return thread;
}

function sentAfter(
  placed: OrderedRow,
  placedPosition: RatchetPosition,
  row: OrderedRow,
  position: RatchetPosition,
): boolean {
  if (placedPosition.session === position.session) {
    return comparePositions(placedPosition, position) > 0;
  }
  if (placed.sentAt === undefined || row.sentAt === undefined) return false;
  return placed.sentAt > row.sentAt;
}

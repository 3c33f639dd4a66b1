/**
 * Delivery of queued envelopes. Each signed-in socket has one pump, and it is
 * the only path by which envelopes reach that socket. The pump emits stored
 * envelopes with `seq` above its cursor, in order. It sleeps until a new
 * envelope is committed or an acknowledgement frees room in its window, so
 * backlog and live envelopes never interleave out of order.
 */
import { DELIVERY_BATCH_SIZE } from '../../shared/wire/limits';
import type { Address, Envelope } from '../../shared/wire/schemas';
import type { Logger } from '../logger';
import type { Store } from '../store/store';
import { deviceKey } from './types';

export class DeliveryPump {
  private cursor = 0;
  private running = false;
  private wakeRequested = false;
  private closed = false;
  /** True when the last drain stopped at a full window, not an empty queue. */
  private windowFull = false;
  /** Ids emitted on this socket and not yet acknowledged by the device. */
  private readonly inFlight = new Set<string>();

  constructor(
    readonly address: Address,
    private readonly store: Store,
    private readonly emit: (envelope: Envelope) => void,
    private readonly window: number,
    private readonly logger: Logger,
  ) {}

  /** Runs the pump now, or once more after the current run if one is active. */
  wake(): void {
    if (this.closed) return;
    if (this.running) {
      this.wakeRequested = true;
      return;
    }
    void this.run();
  }

  /**
   * Frees window room. Only a pump that stopped at a full window runs
   * again: one that found the queue empty waits for the next commit.
   */
  acknowledged(ids: readonly string[]): void {
    for (const id of ids) this.inFlight.delete(id);
    if (this.windowFull) this.wake();
  }

  close(): void {
    this.closed = true;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      do {
        this.wakeRequested = false;
        await this.drain();
      } while (this.wakeRequested && !this.closed);
    } catch (error) {
      this.logger.error({ err: error }, 'delivery failed');
    } finally {
      this.running = false;
    }
  }

  private async drain(): Promise<void> {
    while (!this.closed) {
      const room = this.window - this.inFlight.size;
      this.windowFull = room <= 0;
      if (this.windowFull) return;
      const limit = Math.min(room, DELIVERY_BATCH_SIZE);
      const batch = await this.store.envelopesAfter(
        this.address,
        this.cursor,
        limit,
      );
      for (const envelope of batch) {
        if (this.closed) return;
        this.emit(envelope);
        this.inFlight.add(envelope.id);
        this.cursor = envelope.seq;
      }
      // A short batch emptied the queue. An envelope committed meanwhile
      // woke the pump, which then runs again.
      if (batch.length < limit) return;
    }
  }
}

/** The pumps of every signed-in socket, by device. */
export class DeliveryHub {
  private readonly pumps = new Map<string, Set<DeliveryPump>>();

  add(pump: DeliveryPump): void {
    // A socket that disconnected before its pump started has closed it.
    if (pump.isClosed) return;
    const key = deviceKey(pump.address);
    let set = this.pumps.get(key);
    if (!set) {
      set = new Set();
      this.pumps.set(key, set);
    }
    set.add(pump);
    pump.wake();
  }

  remove(pump: DeliveryPump): void {
    pump.close();
    const key = deviceKey(pump.address);
    const set = this.pumps.get(key);
    set?.delete(pump);
    if (set?.size === 0) this.pumps.delete(key);
  }

  /** Wakes the pumps of a device after an envelope for it was committed. */
  notify(address: Address): void {
    for (const pump of this.pumps.get(deviceKey(address)) ?? []) pump.wake();
  }

  /** Frees window room on every socket of the device that acknowledged. */
  acknowledged(address: Address, ids: readonly string[]): void {
    for (const pump of this.pumps.get(deviceKey(address)) ?? []) {
      pump.acknowledged(ids);
    }
  }

  closeAll(): void {
    for (const set of this.pumps.values()) {
      for (const pump of set) pump.close();
    }
    this.pumps.clear();
  }
}

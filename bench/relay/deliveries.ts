/**
 * Waits for envelopes to reach the simulated devices: each expected
 * envelope id has a count of deliveries, and the wait resolves with the
 * arrival time of the last one.
 */
import type { Envelope } from '../../shared/wire/schemas';

interface Expected {
  remaining: number;
  resolve: (lastArrival: number) => void;
}

export class DeliveryTracker {
  private readonly expected = new Map<string, Expected>();

  /** The `EnvelopeHandler` to give every client of the pool. */
  readonly onEnvelope = (_index: number, envelope: Envelope): void => {
    const entry = this.expected.get(envelope.id);
    if (!entry) return;
    entry.remaining -= 1;
    if (entry.remaining === 0) {
      this.expected.delete(envelope.id);
      entry.resolve(performance.now());
    }
  };

  /**
   * Resolves with the `performance.now()` of the `count`th delivery of
   * envelope `id`. Call it before sending, and await it after. Rejects when
   * deliveries are missing after `timeoutMs`.
   */
  expect(id: string, count: number, timeoutMs: number): Promise<number> {
    const arrival = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        const missing = this.expected.get(id)?.remaining ?? 0;
        this.expected.delete(id);
        reject(
          new Error(
            `${missing} of ${count} deliveries of envelope ${id} missing after ${timeoutMs} ms.`,
          ),
        );
      }, timeoutMs);
      this.expected.set(id, {
        remaining: count,
        resolve: (lastArrival) => {
          clearTimeout(timer);
          resolve(lastArrival);
        },
      });
    });
    // A caller that fails before awaiting must not leave an unhandled
    // rejection behind; awaiting `arrival` still throws.
    arrival.catch(() => undefined);
    return arrival;
  }
}

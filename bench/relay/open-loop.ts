/**
 * Open-loop load generator: sends 1 KiB envelopes on a fixed schedule,
 * never waiting for an earlier reply, from every device in turn to the
 * device half the pool away. Latency runs from each envelope's scheduled
 * send time to its arrival at the recipient's socket, so a generator or
 * relay that falls behind shows up as latency rather than as a lower rate.
 */
import { toBase64Url } from '../../shared/crypto/bytes';
import type { Envelope } from '../../shared/wire/schemas';
import { percentile } from '../lib/measure';
import type { LoadClient } from './clients';
import type { RelayProcess } from './relay-process';

/** Envelope body size, before base64url encoding. */
export const BODY_BYTES = 1024;
/** A step is sustained when every envelope arrives and p99 stays below this. */
export const MAX_SUSTAINED_P99_MS = 50;
/** Time after the last scheduled send for replies and deliveries to arrive. */
const DRAIN_MS = 2_000;
/** A step whose sends fall this far behind schedule is stopped. */
const MAX_SEND_LAG_MS = 2_000;

export interface StepResult {
  /** Scheduled rate, in envelopes per second. */
  readonly rate: number;
  readonly scheduled: number;
  readonly sent: number;
  readonly delivered: number;
  /** Replies with `ok: false` (for example rate-limited). */
  readonly rejected: number;
  /** Sends without any reply when the drain time ended. */
  readonly unanswered: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Share of one core the relay process used during the step, in %. */
  readonly relayCpuPercent: number;
  /** Share of one core this process (the generator) used, in %. */
  readonly generatorCpuPercent: number;
  /**
   * Relay CPU time per envelope sent, in µs, until the relay went idle
   * after the step: its cost per envelope, whatever the latency.
   */
  readonly relayCpuMicrosPerEnvelope: number;
  readonly sustained: boolean;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function describeStep(step: StepResult): string {
  const problems: string[] = [];
  if (step.sent < step.scheduled) {
    problems.push(`${step.scheduled - step.sent} not sent in time`);
  }
  if (step.delivered < step.sent) {
    problems.push(`${step.sent - step.delivered} undelivered`);
  }
  if (step.rejected > 0) problems.push(`${step.rejected} rejected`);
  if (step.unanswered > 0) problems.push(`${step.unanswered} unanswered`);
  return (
    `${step.rate} msgs/s: p50 ${step.p50Ms.toFixed(1)} ms, p99 ${step.p99Ms.toFixed(1)} ms` +
    `${problems.length > 0 ? `, ${problems.join(', ')}` : ''}; ` +
    `relay CPU ${step.relayCpuPercent.toFixed(0)}%, generator CPU ${step.generatorCpuPercent.toFixed(0)}%`
  );
}

export class OpenLoopGenerator {
  /** Scheduled send time by envelope id, for the current step's envelopes. */
  private readonly inFlight = new Map<string, number>();
  private latencies: number[] = [];
  private lastArrival = 0;
  private readonly idPrefix = globalThis.crypto.getRandomValues(
    new Uint8Array(8),
  );
  private counter = 0;
  private readonly body = toBase64Url(
    globalThis.crypto.getRandomValues(new Uint8Array(BODY_BYTES)),
  );

  /** The `EnvelopeHandler` to give every client of the pool. */
  readonly onEnvelope = (_index: number, envelope: Envelope): void => {
    const now = performance.now();
    this.lastArrival = now;
    const scheduled = this.inFlight.get(envelope.id);
    if (scheduled === undefined) return;
    this.inFlight.delete(envelope.id);
    this.latencies.push(now - scheduled);
  };

  /** Returns a fresh 128-bit envelope id: a random prefix and a counter. */
  private nextId(): string {
    const bytes = new Uint8Array(16);
    bytes.set(this.idPrefix);
    const view = new DataView(bytes.buffer);
    this.counter += 1;
    view.setUint32(8, Math.floor(this.counter / 2 ** 32));
    view.setUint32(12, this.counter >>> 0);
    return toBase64Url(bytes);
  }

  /**
   * Sends `rate` envelopes per second for `durationMs` from `clients` to
   * the relay, then waits up to 2 s for the replies and deliveries.
   */
  async runStep(
    relay: RelayProcess,
    clients: readonly LoadClient[],
    rate: number,
    durationMs: number,
  ): Promise<StepResult> {
    this.inFlight.clear();
    this.latencies = [];
    const scheduled = Math.max(1, Math.round((rate * durationMs) / 1000));
    const interval = 1000 / rate;
    const offset = Math.max(1, Math.floor(clients.length / 2));
    let sent = 0;
    let replies = 0;
    let rejected = 0;
    const onReply = (reply: { ok: boolean }) => {
      replies += 1;
      if (!reply.ok) rejected += 1;
    };

    const relayCpuBefore = await relay.cpuMicros();
    const generatorCpuBefore = process.cpuUsage();
    const start = performance.now();
    while (sent < scheduled) {
      const now = performance.now();
      const due = Math.min(scheduled, Math.floor((now - start) / interval) + 1);
      if (now - (start + sent * interval) > MAX_SEND_LAG_MS) break;
      for (; sent < due; sent++) {
        const from = sent % clients.length;
        const sender = clients[from] as LoadClient;
        const recipient = clients[(from + offset) % clients.length];
        const id = this.nextId();
        this.inFlight.set(id, start + sent * interval);
        sender.socket.emit(
          'envelope:send',
          {
            v: 1,
            kind: 'message',
            id,
            to: (recipient as LoadClient).address,
            body: this.body,
          },
          onReply,
        );
      }
      await sleep(1);
    }
    const drainEnd = performance.now() + DRAIN_MS;
    while (
      (this.inFlight.size > 0 || replies < sent) &&
      performance.now() < drainEnd
    ) {
      await sleep(5);
    }
    const elapsedMicros = (performance.now() - start) * 1000;
    const generatorCpu = process.cpuUsage(generatorCpuBefore);
    const relayCpu = (await relay.cpuMicros()) - relayCpuBefore;
    // The relay may still be storing, delivering or deleting this step's
    // envelopes; their CPU time counts towards the cost per envelope.
    await relay.waitForIdle();
    const relayCpuTotal = (await relay.cpuMicros()) - relayCpuBefore;

    const delivered = sent - this.inFlight.size;
    const p99Ms = percentile(this.latencies, 0.99);
    const unanswered = sent - replies;
    // Envelopes still missing after the drain are counted above; later
    // arrivals of this step are ignored by the next one.
    this.inFlight.clear();
    return {
      rate,
      scheduled,
      sent,
      delivered,
      rejected,
      unanswered,
      p50Ms: percentile(this.latencies, 0.5),
      p99Ms,
      relayCpuPercent: (100 * relayCpu) / elapsedMicros,
      relayCpuMicrosPerEnvelope: relayCpuTotal / Math.max(1, sent),
      generatorCpuPercent:
        (100 * (generatorCpu.user + generatorCpu.system)) / elapsedMicros,
      sustained:
        sent === scheduled &&
        delivered === sent &&
        rejected === 0 &&
        unanswered === 0 &&
        p99Ms < MAX_SUSTAINED_P99_MS,
    };
  }

  /**
   * Waits until no envelope has arrived for 300 ms, at most `maxMs`, so that
   * the backlog of an overloaded step does not load the next one.
   */
  async quiesce(maxMs = 15_000): Promise<void> {
    const end = performance.now() + maxMs;
    while (performance.now() < end) {
      if (performance.now() - this.lastArrival > 300) return;
      await sleep(50);
    }
  }
}

/**
 * The relay's health figures: counters fed by the socket handlers, a sample
 * taken every second for the admin page, and a Prometheus registry of its
 * own. Every figure is an aggregate: envelope ids are kept in memory only to
 * time their acknowledgement, and nothing here stores a user or device id.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import {
  ADMIN_HISTORY_SAMPLES,
  type AdminSample,
  type AdminSnapshot,
  type HealthStatus,
} from '../../shared/wire/admin';
import type { Address } from '../../shared/wire/schemas';
import { deviceKey } from '../socket/types';
import type { QueueStats, StoreStats } from './store-stats';

/** Envelopes whose arrival time is kept; the oldest is dropped beyond this. */
const MAX_TIMED_ENVELOPES = 100_000;
/** Window of the latency percentiles, in ms. */
const LATENCY_WINDOW_MS = 60_000;
const MAX_LATENCY_SAMPLES = 10_000;
/** Amber when the oldest queued envelope is older than this, in ms. */
export const DEFAULT_QUEUE_AGE_WARNING_MS = 60 * 60 * 1000;
/** Amber when the event loop's 99th percentile delay exceeds this, in ms. */
export const DEFAULT_EVENT_LOOP_WARNING_MS = 100;

export interface RelayMetricsOptions {
  readonly stats: StoreStats;
  /** Open sockets on the main namespace. */
  readonly sockets: () => number;
  /** Devices with at least one signed-in socket. */
  readonly devices: () => number;
  readonly version: string;
  readonly queueAgeWarningMs?: number;
  readonly eventLoopWarningMs?: number;
  readonly now?: () => number;
}

/** The hooks the socket handlers call; see `RelayMetrics`. */
export interface RelayEventRecorder {
  envelopeStored(
    recipient: Address,
    envelopeId: string,
    serverTs: number,
  ): void;
  envelopesAcknowledged(
    recipient: Address,
    envelopeIds: readonly string[],
  ): void;
  eventRejected(code: string): void;
}

interface Instruments {
  readonly relayed: Counter;
  readonly rejected: Counter<'code'>;
  readonly signInFailures: Counter<'kind'>;
  readonly latency: Histogram;
}

export class RelayMetrics implements RelayEventRecorder {
  readonly registry = new Registry();
  readonly history: AdminSample[] = [];
  private messagesRelayed = 0;
  private relayedAtLastSample = 0;
  private deviceSignInFailures = 0;
  private adminSignInFailures = 0;
  private readonly rejectedByCode = new Map<string, number>();
  /**
   * Arrival time of each queued envelope, by recipient device and envelope
   * id. It is held in memory only and never reported.
   */
  private readonly arrivals = new Map<string, number>();
  private latencies: { at: number; ms: number }[] = [];
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 10 });
  private readonly startedAt: number;
  private readonly now: () => number;
  private readonly instruments: Instruments;
  private latest: AdminSnapshot;

  constructor(private readonly options: RelayMetricsOptions) {
    this.now = options.now ?? Date.now;
    this.startedAt = this.now();
    this.loopDelay.enable();
    this.instruments = registerInstruments(this.registry, () => this.latest);
    this.latest = this.sample(false);
  }

  envelopeStored(
    recipient: Address,
    envelopeId: string,
    serverTs: number,
  ): void {
    this.messagesRelayed += 1;
    this.instruments.relayed.inc();
    if (this.arrivals.size >= MAX_TIMED_ENVELOPES) {
      const oldest = this.arrivals.keys().next();
      if (!oldest.done) this.arrivals.delete(oldest.value);
    }
    this.arrivals.set(arrivalKey(recipient, envelopeId), serverTs);
  }

  envelopesAcknowledged(
    recipient: Address,
    envelopeIds: readonly string[],
  ): void {
    const now = this.now();
    for (const id of envelopeIds) {
      const key = arrivalKey(recipient, id);
      const arrivedAt = this.arrivals.get(key);
      if (arrivedAt === undefined) continue;
      this.arrivals.delete(key);
      const ms = Math.max(0, now - arrivedAt);
      this.instruments.latency.observe(ms / 1000);
      if (this.latencies.length >= MAX_LATENCY_SAMPLES) this.latencies.shift();
      this.latencies.push({ at: now, ms });
    }
  }

  eventRejected(code: string): void {
    this.rejectedByCode.set(code, (this.rejectedByCode.get(code) ?? 0) + 1);
    this.instruments.rejected.inc({ code });
    if (code === 'sign-in-failed') {
      this.deviceSignInFailures += 1;
      this.instruments.signInFailures.inc({ kind: 'device' });
    }
  }

  adminSignInFailed(): void {
    this.adminSignInFailures += 1;
    this.instruments.signInFailures.inc({ kind: 'admin' });
  }

  /** Returns the figures of the last sample without taking a new one. */
  current(): AdminSnapshot {
    return this.latest;
  }

  /**
   * Takes the sample of the second that just ended, appends it to the
   * history and returns it with the running totals and the status.
   */
  takeSample(): AdminSnapshot {
    this.latest = this.sample(true);
    return this.latest;
  }

  stop(): void {
    this.loopDelay.disable();
  }

  private sample(record: boolean): AdminSnapshot {
    const now = this.now();
    const { stats } = this.options;
    const storeAnswers = stats.answers();
    const queue = storeAnswers ? readQueue(stats) : undefined;
    const memory = process.memoryUsage();
    this.latencies = this.latencies.filter(
      (entry) => entry.at > now - LATENCY_WINDOW_MS,
    );
    const sorted = this.latencies
      .map((entry) => entry.ms)
      .sort((a, b) => a - b);
    const loopDelayMs =
      this.loopDelay.count > 0 ? this.loopDelay.percentile(99) / 1e6 : 0;
    this.loopDelay.reset();

    const sample: AdminSample = {
      at: now,
      sockets: this.options.sockets(),
      devices: this.options.devices(),
      relayedPerSecond: this.messagesRelayed - this.relayedAtLastSample,
      queuedEnvelopes: queue?.envelopes ?? 0,
      queuedBytes: queue?.bytes ?? 0,
      oldestQueuedAgeMs:
        queue?.oldestServerTs == null
          ? null
          : Math.max(0, now - queue.oldestServerTs),
      latencyP50Ms: percentile(sorted, 50),
      latencyP99Ms: percentile(sorted, 99),
      eventLoopDelayMs: Math.round(loopDelayMs * 10) / 10,
      heapUsedBytes: memory.heapUsed,
      rssBytes: memory.rss,
    };
    this.relayedAtLastSample = this.messagesRelayed;
    if (record) {
      if (this.history.length >= ADMIN_HISTORY_SAMPLES) this.history.shift();
      this.history.push(sample);
    }
    return {
      ...sample,
      status: this.status(storeAnswers, sample),
      messagesRelayed: this.messagesRelayed,
      storageBytes: stats.storageBytes(),
      devicesLowOnPrekeys: storeAnswers ? readLowPrekeys(stats) : 0,
      signInFailures: {
        device: this.deviceSignInFailures,
        admin: this.adminSignInFailures,
      },
      rejectedByCode: Object.fromEntries(this.rejectedByCode),
      uptimeSeconds: Math.floor((now - this.startedAt) / 1000),
      version: this.options.version,
    };
  }

  private status(storeAnswers: boolean, sample: AdminSample): HealthStatus {
    if (!storeAnswers) {
      return {
        level: 'red',
        reasons: ['The store failed a test query (SELECT 1).'],
      };
    }
    const reasons: string[] = [];
    const queueLimit =
      this.options.queueAgeWarningMs ?? DEFAULT_QUEUE_AGE_WARNING_MS;
    if (
      sample.oldestQueuedAgeMs !== null &&
      sample.oldestQueuedAgeMs > queueLimit
    ) {
      reasons.push(
        `The oldest queued envelope is ${Math.round(sample.oldestQueuedAgeMs / 1000)} s old; the warning threshold is ${Math.round(queueLimit / 1000)} s.`,
      );
    }
    const loopLimit =
      this.options.eventLoopWarningMs ?? DEFAULT_EVENT_LOOP_WARNING_MS;
    if (sample.eventLoopDelayMs > loopLimit) {
      reasons.push(
        `Event-loop delay is ${sample.eventLoopDelayMs} ms at the 99th percentile; the warning threshold is ${loopLimit} ms.`,
      );
    }
    return { level: reasons.length > 0 ? 'amber' : 'green', reasons };
  }
}

function arrivalKey(recipient: Address, envelopeId: string): string {
  return `${deviceKey(recipient)}\n${envelopeId}`;
}

function readQueue(stats: StoreStats): QueueStats | undefined {
  try {
    return stats.queue();
  } catch {
    return undefined;
  }
}

function readLowPrekeys(stats: StoreStats): number {
  try {
    return stats.devicesLowOnPrekeys();
  } catch {
    return 0;
  }
}

/** Nearest-rank percentile of an ascending list; null when it is empty. */
function percentile(sorted: readonly number[], rank: number): number | null {
  if (sorted.length === 0) return null;
  const index = Math.ceil((rank / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, index))] ?? null;
}

/**
 * Registers the Prometheus metrics. Counters and the histogram are fed as
 * events happen; gauges read the last sample when scraped.
 */
function registerInstruments(
  registry: Registry,
  latest: () => AdminSnapshot,
): Instruments {
  const gauge = (
    name: string,
    help: string,
    read: (snapshot: AdminSnapshot) => number,
  ) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read(latest()));
      },
    });
  gauge(
    'cloak_sockets',
    'Open sockets on the main namespace.',
    (s) => s.sockets,
  );
  gauge(
    'cloak_devices_connected',
    'Devices with at least one signed-in socket.',
    (s) => s.devices,
  );
  gauge(
    'cloak_envelopes_queued',
    'Envelopes waiting for an acknowledgement.',
    (s) => s.queuedEnvelopes,
  );
  gauge(
    'cloak_envelopes_queued_bytes',
    'Stored size of the queued envelope bodies in bytes.',
    (s) => s.queuedBytes,
  );
  gauge(
    'cloak_oldest_queued_envelope_age_seconds',
    'Age of the oldest queued envelope; 0 when the queue is empty.',
    (s) => (s.oldestQueuedAgeMs ?? 0) / 1000,
  );
  gauge(
    'cloak_storage_bytes',
    'Size of the database files.',
    (s) => s.storageBytes,
  );
  gauge(
    'cloak_devices_low_on_prekeys',
    'Devices whose one-time prekey pools are below the refill mark.',
    (s) => s.devicesLowOnPrekeys,
  );
  gauge(
    'cloak_event_loop_delay_seconds',
    '99th percentile event-loop delay over the last second.',
    (s) => s.eventLoopDelayMs / 1000,
  );
  gauge('cloak_heap_used_bytes', 'V8 heap in use.', (s) => s.heapUsedBytes);
  gauge('cloak_resident_memory_bytes', 'Resident set size.', (s) => s.rssBytes);
  gauge(
    'cloak_uptime_seconds',
    'Time since the relay started.',
    (s) => s.uptimeSeconds,
  );
  gauge('cloak_health_status', 'Relay status: 0 green, 1 amber, 2 red.', (s) =>
    ['green', 'amber', 'red'].indexOf(s.status.level),
  );
  new Gauge({
    name: 'cloak_build_info',
    help: 'Relay version; the value is always 1.',
    labelNames: ['version'],
    registers: [registry],
    collect() {
      this.set({ version: latest().version }, 1);
    },
  });
  return {
    relayed: new Counter({
      name: 'cloak_envelopes_relayed_total',
      help: 'Envelopes accepted since the relay started, duplicates excluded.',
      registers: [registry],
    }),
    rejected: new Counter({
      name: 'cloak_rejected_events_total',
      help: 'Socket.IO events rejected, by error code.',
      labelNames: ['code'],
      registers: [registry],
    }),
    signInFailures: new Counter({
      name: 'cloak_sign_in_failures_total',
      help: 'Failed sign-ins of devices and of admins.',
      labelNames: ['kind'],
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'cloak_delivery_latency_seconds',
      help: 'Time from an envelope reaching the relay to its acknowledgement.',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60, 600, 3600],
      registers: [registry],
    }),
  };
}

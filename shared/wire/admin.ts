/**
 * The admin view's wire contract: relay health figures pushed each second on
 * the `/admin` Socket.IO namespace. Every figure is an aggregate, so no field
 * names a user, a device or a conversation.
 */

/** Overall relay state with the reasons for anything but green. */
export type HealthLevel = 'green' | 'amber' | 'red';

export interface HealthStatus {
  readonly level: HealthLevel;
  /** One sentence per problem found; empty when the level is green. */
  readonly reasons: readonly string[];
}

/** One point of the time series, taken once a second. */
export interface AdminSample {
  /** Milliseconds since the epoch. */
  readonly at: number;
  /** Open sockets on the main namespace, signed in or not. */
  readonly sockets: number;
  /** Devices with at least one signed-in socket. */
  readonly devices: number;
  /** Envelopes accepted (duplicates excluded) during the last second. */
  readonly relayedPerSecond: number;
  readonly queuedEnvelopes: number;
  /** Stored size of the queued envelope bodies (base64url characters). */
  readonly queuedBytes: number;
  /** Age of the oldest queued envelope in ms; null when the queue is empty. */
  readonly oldestQueuedAgeMs: number | null;
  /** Relay-in to device-acknowledgement latency over the last minute, ms. */
  readonly latencyP50Ms: number | null;
  readonly latencyP99Ms: number | null;
  /** 99th percentile of the event-loop delay during the last second, ms. */
  readonly eventLoopDelayMs: number;
  readonly heapUsedBytes: number;
  readonly rssBytes: number;
}

export interface AdminSnapshot extends AdminSample {
  readonly status: HealthStatus;
  /** Envelopes accepted since the relay started. */
  readonly messagesRelayed: number;
  /** Database, WAL and shared-memory files together, in bytes. */
  readonly storageBytes: number;
  /** Devices whose one-time prekey pools are below the refill mark. */
  readonly devicesLowOnPrekeys: number;
  /** Failed device sign-ins and failed admin sign-ins since start. */
  readonly signInFailures: { readonly device: number; readonly admin: number };
  /** Rejected Socket.IO events since start, by error code. */
  readonly rejectedByCode: Readonly<Record<string, number>>;
  readonly uptimeSeconds: number;
  readonly version: string;
}

export interface AdminServerToClientEvents {
  /** The samples of the last hour, oldest first, sent once on connection. */
  'admin:history': (samples: AdminSample[]) => void;
  /** The current figures, sent every second. */
  'admin:snapshot': (snapshot: AdminSnapshot) => void;
}

export type AdminClientToServerEvents = Record<string, never>;

/** Samples kept for the charts: one hour at one per second. */
export const ADMIN_HISTORY_SAMPLES = 3600;
/** Interval between two samples, in ms. */
export const ADMIN_SAMPLE_INTERVAL_MS = 1000;

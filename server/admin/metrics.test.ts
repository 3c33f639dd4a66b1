import { afterEach, describe, expect, it } from 'vitest';
import { RelayMetrics } from './metrics';
import type { QueueStats, StoreStats } from './store-stats';

const bob = { userId: 'bob', deviceId: 1 };
const metricsList: RelayMetrics[] = [];

function fakeStats(queue: QueueStats, answers = true): StoreStats {
  return {
    answers: () => answers,
    queue: () => queue,
    storageBytes: () => 4096,
    devicesLowOnPrekeys: () => 0,
  };
}

function metricsWith(stats: StoreStats, now: () => number) {
  const metrics = new RelayMetrics({
    stats,
    sockets: () => 0,
    devices: () => 0,
    version: '0.0.0',
    queueAgeWarningMs: 60_000,
    now,
  });
  metricsList.push(metrics);
  return metrics;
}

afterEach(() => {
  for (const metrics of metricsList.splice(0)) metrics.stop();
});

describe('relay status', () => {
  it('is green when all is well', () => {
    const empty = { envelopes: 0, bytes: 0, oldestServerTs: null };
    const metrics = metricsWith(fakeStats(empty), () => 10_000);
    const snapshot = metrics.takeSample();
    expect(snapshot.status).toEqual({ level: 'green', reasons: [] });
  });

  it('is red when the store fails', () => {
    const empty = { envelopes: 0, bytes: 0, oldestServerTs: null };
    const metrics = metricsWith(fakeStats(empty, false), () => 10_000);
    const snapshot = metrics.takeSample();
    expect(snapshot.status.level).toBe('red');
    expect(snapshot.status.reasons[0]).toMatch(/store/);
  });

  it('is amber for an old queued envelope', () => {
    const old = { envelopes: 1, bytes: 4, oldestServerTs: 0 };
    const metrics = metricsWith(fakeStats(old), () => 120_000);
    const snapshot = metrics.takeSample();
    expect(snapshot.status.level).toBe('amber');
    expect(snapshot.status.reasons[0]).toContain('120 s old');
    expect(snapshot.oldestQueuedAgeMs).toBe(120_000);
  });
});

describe('delivery latency', () => {
  it('times envelopes from arrival to acknowledgement', () => {
    let now = 1_000;
    const empty = { envelopes: 0, bytes: 0, oldestServerTs: null };
    const metrics = metricsWith(fakeStats(empty), () => now);
    metrics.envelopeStored(bob, 'a', 1_000);
    metrics.envelopeStored(bob, 'b', 1_000);
    now = 1_050;
    metrics.envelopesAcknowledged(bob, ['a']);
    now = 1_400;
    metrics.envelopesAcknowledged(bob, ['b']);
    const snapshot = metrics.takeSample();
    expect(snapshot.latencyP50Ms).toBe(50);
    expect(snapshot.latencyP99Ms).toBe(400);
    expect(snapshot.messagesRelayed).toBe(2);
    expect(snapshot.relayedPerSecond).toBe(2);
  });

  it('ignores acknowledgements by another device', () => {
    const empty = { envelopes: 0, bytes: 0, oldestServerTs: null };
    const metrics = metricsWith(fakeStats(empty), () => 2_000);
    metrics.envelopeStored(bob, 'a', 1_000);
    metrics.envelopesAcknowledged({ userId: 'mallory', deviceId: 1 }, ['a']);
    expect(metrics.takeSample().latencyP50Ms).toBeNull();
  });

  it('drops latencies older than a minute', () => {
    let now = 1_000;
    const empty = { envelopes: 0, bytes: 0, oldestServerTs: null };
    const metrics = metricsWith(fakeStats(empty), () => now);
    metrics.envelopeStored(bob, 'a', 1_000);
    metrics.envelopesAcknowledged(bob, ['a']);
    now = 62_000;
    expect(metrics.takeSample().latencyP50Ms).toBeNull();
  });
});

describe('sample history', () => {
  it('keeps one sample per call', () => {
    const empty = { envelopes: 0, bytes: 0, oldestServerTs: null };
    const metrics = metricsWith(fakeStats(empty), () => 1_000);
    metrics.takeSample();
    metrics.takeSample();
    expect(metrics.history).toHaveLength(2);
    expect(JSON.stringify(metrics.history)).not.toContain('bob');
  });
});

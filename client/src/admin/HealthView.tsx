/**
 * The relay health figures: the status with its reasons, the current
 * numbers as a description list, and the last hour as charts. Every figure
 * is an aggregate over all users.
 */
import type { AdminSample, AdminSnapshot } from '../../../shared/wire/admin';
import { Chart, type ChartSeries } from './Chart';
import { formatBytes, formatMs, formatUptime } from './format';

interface Props {
  readonly snapshot: AdminSnapshot;
  readonly history: readonly AdminSample[];
}

const LEVEL_NAMES = { green: 'Green', amber: 'Amber', red: 'Red' } as const;

const MIB = 1024 * 1024;
const CHARTS: readonly { title: string; series: readonly ChartSeries[] }[] = [
  {
    title: 'Connections',
    series: [
      { label: 'Devices', color: '#1f3a5f', value: (s) => s.devices },
      { label: 'Sockets', color: '#7a8896', value: (s) => s.sockets },
    ],
  },
  {
    title: 'Envelopes relayed per second',
    series: [
      { label: 'Relayed', color: '#1f3a5f', value: (s) => s.relayedPerSecond },
    ],
  },
  {
    title: 'Queued envelopes',
    series: [
      { label: 'Queued', color: '#8a5a00', value: (s) => s.queuedEnvelopes },
    ],
  },
  {
    title: 'Delivery latency (ms)',
    series: [
      { label: 'p50', color: '#1f3a5f', value: (s) => s.latencyP50Ms },
      { label: 'p99', color: '#a4161a', value: (s) => s.latencyP99Ms },
    ],
  },
  {
    title: 'Event-loop delay p99 (ms)',
    series: [
      { label: 'Delay', color: '#a4161a', value: (s) => s.eventLoopDelayMs },
    ],
  },
  {
    title: 'Memory (MiB)',
    series: [
      { label: 'Heap', color: '#1f3a5f', value: (s) => s.heapUsedBytes / MIB },
      { label: 'Resident', color: '#7a8896', value: (s) => s.rssBytes / MIB },
    ],
  },
];

export function HealthView({ snapshot, history }: Props) {
  const { status } = snapshot;
  const rejected = Object.entries(snapshot.rejectedByCode);
  const figures: readonly [string, string | number][] = [
    ['Connected devices', snapshot.devices],
    ['Connected sockets', snapshot.sockets],
    ['Messages relayed', snapshot.messagesRelayed],
    ['Relayed in the last second', snapshot.relayedPerSecond],
    ['Queued envelopes', snapshot.queuedEnvelopes],
    ['Queued envelope size', formatBytes(snapshot.queuedBytes)],
    ['Oldest queued envelope', formatMs(snapshot.oldestQueuedAgeMs)],
    ['Delivery latency p50', formatMs(snapshot.latencyP50Ms)],
    ['Delivery latency p99', formatMs(snapshot.latencyP99Ms)],
    ['Storage size', formatBytes(snapshot.storageBytes)],
    ['Devices low on one-time prekeys', snapshot.devicesLowOnPrekeys],
    ['Device sign-in failures', snapshot.signInFailures.device],
    ['Admin sign-in failures', snapshot.signInFailures.admin],
    ['Event-loop delay p99', formatMs(snapshot.eventLoopDelayMs)],
    ['Heap used', formatBytes(snapshot.heapUsedBytes)],
    ['Resident memory', formatBytes(snapshot.rssBytes)],
    ['Uptime', formatUptime(snapshot.uptimeSeconds)],
    ['Version', snapshot.version],
  ];

  return (
    <>
      <div
        className={`admin-status admin-status-${status.level}`}
        role="status"
        aria-label="Relay status"
      >
        <p>
          <strong>Status: {LEVEL_NAMES[status.level]}</strong>
          {status.reasons.length === 0 && ' — the relay is healthy.'}
        </p>
        {status.reasons.length > 0 && (
          <ul>
            {status.reasons.map((reason) => (
              <li key={reason}>{reason}</li>
            ))}
          </ul>
        )}
      </div>
      <section aria-label="Relay health" className="admin-figures">
        <dl>
          {figures.map(([label, value]) => (
            <div key={label} className="admin-figure">
              <dt>{label}</dt>
              <dd>{value}</dd>
            </div>
          ))}
          <div className="admin-figure">
            <dt>Rejected events</dt>
            <dd>
              {rejected.length === 0
                ? 0
                : rejected
                    .map(([code, count]) => `${code}: ${count}`)
                    .join(', ')}
            </dd>
          </div>
        </dl>
      </section>
      <section aria-label="Last hour" className="admin-charts">
        <h2>Last hour</h2>
        {CHARTS.map((chart) => (
          <Chart
            key={chart.title}
            title={chart.title}
            samples={history}
            series={chart.series}
          />
        ))}
      </section>
    </>
  );
}

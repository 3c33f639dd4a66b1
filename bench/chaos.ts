/**
 * `npm run chaos`: runs the chaos run (see `chaos-run.ts`) and prints its
 * counts. Exits with status 1 when a message was lost, duplicated or
 * stored out of order, or when the run did not settle in time.
 *
 * Usage: npm run chaos -- [--clients N] [--messages M] [--seed S]
 *   [--kills K] [--disconnects D] [--settle-seconds T] [--no-handshake]
 */
import { parseArgs } from 'node:util';
import { DEFAULT_CHAOS_OPTIONS, type ChaosReport, runChaos } from './chaos-run';

const HELP = `Usage: npm run chaos -- [options]

  --clients N         simulated clients (default ${DEFAULT_CHAOS_OPTIONS.clients})
  --messages M        text messages between random pairs (default ${DEFAULT_CHAOS_OPTIONS.messages})
  --seed S            seed of the pairs, disconnects and pauses (default ${DEFAULT_CHAOS_OPTIONS.seed})
  --kills K           relay kill -9s during sending (default ${DEFAULT_CHAOS_OPTIONS.kills})
  --disconnects D     client disconnects during sending (default ${DEFAULT_CHAOS_OPTIONS.disconnects})
  --settle-seconds T  maximum wait for deliveries after sending (default ${DEFAULT_CHAOS_OPTIONS.settleTimeoutMs / 1000})
  --no-handshake      skip the first message per pair, so that both sides
                      may start their own session at the same time
`;

function readCount(name: string, value: string | undefined, min: number) {
  if (value === undefined) return undefined;
  const count = Number(value);
  if (!Number.isInteger(count) || count < min) {
    throw new Error(
      `Invalid --${name} "${value}": expected an integer >= ${min}.`,
    );
  }
  return count;
}

function printReport(report: ChaosReport): void {
  const rows: [string, string | number][] = [
    ['clients', report.clients],
    ['relay kills', report.kills],
    ['client disconnects', report.disconnects],
    ['sent', report.sent],
    ['rejected by sendText', report.failed],
    ['confirmed', report.confirmed],
    ['delivered', report.delivered],
    ['lost', report.lost],
    ['unconfirmed', report.unconfirmed],
    ['duplicated', report.duplicated],
    ['out of order', report.outOfOrder],
    ['p50 delivery latency', `${report.p50LatencyMs} ms`],
    ['p99 delivery latency', `${report.p99LatencyMs} ms`],
    ['set-up', `${report.setupMs} ms`],
    ['sending', `${report.sendMs} ms`],
    [
      'settling',
      `${report.settleMs} ms${report.settled ? '' : ' (timed out)'}`,
    ],
  ];
  for (const [label, value] of rows) {
    process.stdout.write(`${label.padEnd(22)} ${value}\n`);
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      clients: { type: 'string' },
      messages: { type: 'string' },
      seed: { type: 'string' },
      kills: { type: 'string' },
      disconnects: { type: 'string' },
      'settle-seconds': { type: 'string' },
      'no-handshake': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const settleSeconds = readCount(
    'settle-seconds',
    values['settle-seconds'],
    1,
  );
  const report = await runChaos({
    ...(values.clients && { clients: readCount('clients', values.clients, 2) }),
    ...(values.messages && {
      messages: readCount('messages', values.messages, 1),
    }),
    ...(values.seed && { seed: readCount('seed', values.seed, 0) }),
    ...(values.kills && { kills: readCount('kills', values.kills, 0) }),
    ...(values.disconnects && {
      disconnects: readCount('disconnects', values.disconnects, 0),
    }),
    ...(settleSeconds && { settleTimeoutMs: settleSeconds * 1000 }),
    handshake: !values['no-handshake'],
    log: (line) => process.stderr.write(`${line}\n`),
  });
  printReport(report);
  const clean =
    report.lost === 0 &&
    report.duplicated === 0 &&
    report.outOfOrder === 0 &&
    report.settled;
  return clean ? 0 : 1;
}

// Exits through `process.exit`, so that the run's exit handler kills the
// relay child process.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => process.exit(130));
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`chaos run failed: ${String(error)}\n`);
    process.exit(2);
  },
);

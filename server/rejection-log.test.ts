import { afterEach, expect, it } from 'vitest';
import { ErrorCode } from '../shared/wire/errors';
import { call, connect, errorOf, waitFor } from './test-support/device';
import {
  type TestRelay,
  removeDataDir,
  startTestRelay,
} from './test-support/relay';

const INTERVAL_MS = 1_000;
const FLOOD = 200;
const BURST = 5;
/** A user id that must not reach the log. */
const CANARY = 'rejection-canary-user';

let relay: TestRelay | undefined;

afterEach(async () => {
  if (!relay) return;
  await relay.close();
  removeDataDir(relay.dataDir);
  relay = undefined;
});

interface RejectionLine {
  level: number;
  code: string;
  eventName: string;
  socketId: string;
  suppressed: number;
}

const WARN = 40;

function rejectionLines(logs: readonly string[]): RejectionLine[] {
  return logs
    .map((line) => JSON.parse(line) as RejectionLine & { event?: string })
    .filter((line) => line.event === 'event-rejected');
}

/** Counts the rejections a code's lines cover: 1 for a first line, else `suppressed`. */
function countedRejections(lines: readonly RejectionLine[], code: string) {
  return lines
    .filter((line) => line.code === code)
    .reduce(
      (sum, line) => sum + (line.suppressed > 0 ? line.suppressed : 1),
      0,
    );
}

it('summarizes a flood of rejections', async () => {
  relay = await startTestRelay({
    rejectionLogIntervalMs: INTERVAL_MS,
    rateLimits: { socketEvents: { perSecond: 0.001, burst: BURST } },
  });
  const socket = await connect(relay.url);
  const socketId = socket.id;
  const started = Date.now();
  const replies = await Promise.all(
    Array.from({ length: FLOOD }, () =>
      call(socket, 'keys:bundle', { userId: CANARY }),
    ),
  );
  const codes = replies.map((reply) => errorOf(reply).code);
  const rateLimited = codes.filter((code) => code === ErrorCode.rateLimited);
  expect(rateLimited).toHaveLength(FLOOD - BURST);
  // Each code flushes its summary on its own timer, so wait for both.
  await waitFor(() => {
    const lines = rejectionLines(relay?.logs ?? []);
    return (
      countedRejections(lines, 'rate-limited') === FLOOD - BURST &&
      countedRejections(lines, 'unauthenticated') === BURST
    );
  }, INTERVAL_MS * 5);
  const elapsedIntervals = Math.ceil((Date.now() - started) / INTERVAL_MS);
  socket.disconnect();

  const lines = rejectionLines(relay.logs);
  for (const line of lines) expect(line.level).toBe(WARN);
  expect(countedRejections(lines, 'unauthenticated')).toBe(BURST);
  expect(countedRejections(lines, 'rate-limited')).toBe(FLOOD - BURST);
  const rateLimitedLines = lines.filter((line) => line.code === 'rate-limited');
  expect(rateLimitedLines.length).toBeLessThanOrEqual(elapsedIntervals + 1);
  expect(rateLimitedLines[0]?.suppressed).toBe(0);
  expect(rateLimitedLines[0]?.eventName).toBe('keys:bundle');
  expect(rateLimitedLines[0]?.socketId).toBe(socketId);
  expect(relay.logs.join('\n')).not.toContain(CANARY);
});

it('logs a quiet code again at once', async () => {
  relay = await startTestRelay({ rejectionLogIntervalMs: 200 });
  const socket = await connect(relay.url);
  await call(socket, 'keys:bundle', { userId: CANARY });
  await new Promise((resolve) => setTimeout(resolve, 400));
  await call(socket, 'keys:bundle', { userId: CANARY });
  socket.disconnect();

  const lines = rejectionLines(relay.logs);
  expect(lines.map((line) => [line.code, line.suppressed])).toEqual([
    ['unauthenticated', 0],
    ['unauthenticated', 0],
  ]);
});

it('omits unknown event names', async () => {
  relay = await startTestRelay();
  const socket = await connect(relay.url);
  const reply = await call(socket, CANARY, {});
  socket.disconnect();

  expect(errorOf(reply).code).toBe(ErrorCode.invalidRequest);
  const lines = rejectionLines(relay.logs);
  expect(lines.map((line) => line.eventName)).toEqual(['(unknown)']);
  expect(relay.logs.join('\n')).not.toContain(CANARY);
});

it('logs pending counts at close', async () => {
  const started = await startTestRelay({ rejectionLogIntervalMs: 60_000 });
  relay = started;
  const socket = await connect(started.url);
  for (let i = 0; i < 3; i++) {
    await call(socket, 'keys:bundle', { userId: CANARY });
  }
  socket.disconnect();
  await started.close();

  const lines = rejectionLines(started.logs);
  expect(lines.map((line) => line.suppressed)).toEqual([0, 2]);
});

it('summarizes rejected HTTP requests by route, never by path', async () => {
  relay = await startTestRelay({ rejectionLogIntervalMs: 60_000 });
  for (let i = 0; i < 3; i++) {
    await fetch(`${relay.url}/api/accounts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: CANARY }),
    });
  }
  await fetch(`${relay.url}/api/${CANARY}`);
  const logs = relay.logs;
  await relay.close();

  const lines = logs
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.event === 'request-rejected');
  expect(
    lines.map((line) => [line.code, line.route, line.suppressed, line.level]),
  ).toEqual([
    ['invalid-request', 'POST /api/accounts', 0, WARN],
    ['not-found', 'GET unmatched', 0, WARN],
    ['invalid-request', 'POST /api/accounts', 2, WARN],
  ]);
  expect(logs.join('\n')).not.toContain(CANARY);
});

it('summarizes refused connections with the cap that refused them', async () => {
  relay = await startTestRelay({
    rejectionLogIntervalMs: 60_000,
    connectionLimits: { perAddress: 1 },
  });
  const first = await connect(relay.url);
  await expect(connect(relay.url)).rejects.toThrow();
  first.disconnect();
  const logs = relay.logs;
  await relay.close();

  const lines = logs
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.event === 'connection-refused');
  expect(lines[0]).toMatchObject({
    level: WARN,
    code: 'rate-limited',
    reason: 'connections per address',
    suppressed: 0,
  });
  expect(logs.join('\n')).not.toContain('127.0.0.1:');
});

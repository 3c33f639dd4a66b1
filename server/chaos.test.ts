import { describe, expect, it } from 'vitest';
import { runChaos } from '../bench/chaos-run';

describe('chaos run', () => {
  it('loses, duplicates and reorders nothing', async () => {
    const report = await runChaos({
      clients: 6,
      messages: 300,
      seed: 7,
      kills: 1,
      disconnects: 12,
      settleTimeoutMs: 40_000,
    });

    expect(report.settled).toBe(true);
    expect(report.failed).toBe(0);
    expect(report.sent).toBe(300);
    expect(report.confirmed).toBe(300);
    expect(report.delivered).toBe(300);
    expect(report.lost).toBe(0);
    expect(report.duplicated).toBe(0);
    expect(report.outOfOrder).toBe(0);
  }, 90_000);
});

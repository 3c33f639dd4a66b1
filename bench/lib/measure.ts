/**
 * Measuring helpers shared by the suites: interleaved rounds, rate loops
 * and summary statistics.
 */
import type { Measurement } from './types';

export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) {
    return { median: Number.NaN, min: Number.NaN, max: Number.NaN };
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const median =
    sorted.length % 2 === 1
      ? (sorted[middle] as number)
      : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
  return {
    median,
    min: sorted[0] as number,
    max: sorted[sorted.length - 1] as number,
  };
}

/** Returns the value below which `fraction` of the samples fall (nearest rank). */
export function percentile(
  samples: readonly number[],
  fraction: number,
): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil(fraction * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))] as number;
}

export interface Contender {
  readonly name: string;
  readonly unit: string;
  readonly higherIsBetter: boolean;
  readonly note?: string;
  /** Runs one round and returns its figure. */
  measure(round: number): Promise<number>;
}

/**
 * Runs every contender once per round, in turn, so that slow phases of a
 * noisy machine fall on all of them rather than on one.
 */
export async function interleave(
  rounds: number,
  contenders: readonly Contender[],
  progress?: (message: string) => void,
): Promise<Measurement[]> {
  const samples = contenders.map(() => [] as number[]);
  for (let round = 0; round < rounds; round += 1) {
    for (const [index, contender] of contenders.entries()) {
      progress?.(`round ${round + 1}/${rounds}: ${contender.name}`);
      (samples[index] as number[]).push(await contender.measure(round));
    }
  }
  return contenders.map((contender, index) => ({
    name: contender.name,
    unit: contender.unit,
    higherIsBetter: contender.higherIsBetter,
    samples: samples[index] as number[],
    ...(contender.note !== undefined && { note: contender.note }),
  }));
}

/**
 * Calls `operation` `count` times in sequence after `warmup` calls and
 * returns operations per second.
 */
export async function rate(
  count: number,
  operation: (index: number) => Promise<unknown> | unknown,
  warmup = Math.min(20, count),
): Promise<number> {
  for (let index = 0; index < warmup; index += 1) await operation(index);
  const start = process.hrtime.bigint();
  for (let index = 0; index < count; index += 1) await operation(index);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return count / seconds;
}

/** Milliseconds since `start` (from `process.hrtime.bigint()`). */
export function elapsedMs(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/**
 * Prints a suite's result as a table: median, range and round count per
 * measurement, then each target with its measured value.
 */
import { summarize } from './measure';
import type { Measurement, SuiteResult } from './types';

export interface SuiteReport extends SuiteResult {
  readonly name: string;
  readonly title: string;
  readonly seconds: number;
}

function format(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return value.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, column) =>
    Math.max(...rows.map((row) => (row[column] ?? '').length)),
  );
  return rows
    .map((row) =>
      row
        .map((cell, column) =>
          column === 0
            ? cell.padEnd(widths?.[column] ?? 0)
            : cell.padStart(widths?.[column] ?? 0),
        )
        .join('  '),
    )
    .join('\n');
}

function median(measurements: readonly Measurement[], name: string): number {
  const measurement = measurements.find((entry) => entry.name === name);
  return measurement ? summarize(measurement.samples).median : Number.NaN;
}

function verdict(value: number, min?: number, max?: number): string {
  if (!Number.isFinite(value)) return 'not measured';
  const met =
    (min === undefined || value >= min) && (max === undefined || value <= max);
  const bound = [
    min !== undefined ? `>= ${format(min)}` : undefined,
    max !== undefined ? `<= ${format(max)}` : undefined,
  ]
    .filter(Boolean)
    .join(' and ');
  return `${met ? 'met' : 'MISSED'} (target ${bound})`;
}

export function printSuite(report: SuiteReport): void {
  const lines: string[] = [
    '',
    `## ${report.title} (${report.name}, ${report.seconds.toFixed(0)} s)`,
    '',
  ];
  const rows = [['measurement', 'median', 'min', 'max', 'unit', 'rounds']];
  for (const measurement of report.measurements) {
    const summary = summarize(measurement.samples);
    rows.push([
      measurement.name,
      format(summary.median),
      format(summary.min),
      format(summary.max),
      measurement.unit,
      String(measurement.samples.length),
    ]);
  }
  lines.push(table(rows));
  const checks: string[][] = [];
  for (const ratio of report.ratios ?? []) {
    const value =
      median(report.measurements, ratio.numerator) /
      median(report.measurements, ratio.denominator);
    checks.push([
      ratio.name,
      `${format(value)}x`,
      verdict(value, ratio.min, ratio.max),
    ]);
  }
  for (const limit of report.limits ?? []) {
    const value = median(report.measurements, limit.measurement);
    checks.push([
      limit.name,
      format(value),
      verdict(value, limit.min, limit.max),
    ]);
  }
  if (checks.length > 0) {
    lines.push('', table([['target', 'value', 'verdict'], ...checks]));
  }
  for (const note of report.notes ?? []) lines.push(`note: ${note}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

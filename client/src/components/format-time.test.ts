import { describe, expect, it } from 'vitest';
import {
  createTimeFormatter,
  isoTime,
  isSameDay,
  UNKNOWN_TIME,
} from './format-time';

// Local times, so that the expectations hold in any time zone.
const NOW = new Date(2026, 11, 4, 16, 30).getTime();
const MORNING = new Date(2026, 11, 4, 9, 5).getTime();
const YESTERDAY = new Date(2026, 11, 3, 23, 59).getTime();
const LAST_YEAR = new Date(2025, 6, 14, 9, 5).getTime();

const formatter = createTimeFormatter('en-GB');

describe('time formatting', () => {
  it('detects the same local day', () => {
    expect(isSameDay(MORNING, NOW)).toBe(true);
    expect(isSameDay(YESTERDAY, NOW)).toBe(false);
    expect(isSameDay(new Date(2025, 11, 4).getTime(), NOW)).toBe(false);
  });

  it('shows today as time only', () => {
    expect(formatter.messageTime(MORNING, NOW)).toBe('09:05');
    expect(formatter.listTime(MORNING, NOW)).toBe('09:05');
  });

  it('adds the date to older messages', () => {
    expect(formatter.messageTime(YESTERDAY, NOW)).toBe('3 Dec 2026, 23:59');
    expect(formatter.messageTime(LAST_YEAR, NOW)).toBe('14 Jul 2025, 09:05');
  });

  it('adds the date to future messages', () => {
    const tomorrow = new Date(2026, 11, 5, 8, 0).getTime();
    expect(formatter.messageTime(tomorrow, NOW)).toBe('5 Dec 2026, 08:00');
  });

  it('lists older days by date', () => {
    expect(formatter.listTime(YESTERDAY, NOW)).toBe('3 Dec');
    expect(formatter.listTime(LAST_YEAR, NOW)).toBe('14 Jul 2025');
  });

  it('follows the given locale', () => {
    const german = createTimeFormatter('de-DE');
    expect(german.messageTime(YESTERDAY, NOW)).toBe('03.12.2026, 23:59');
  });

  it('gives ISO time for dateTime', () => {
    expect(isoTime(Date.UTC(2026, 11, 4, 9, 5))).toBe(
      '2026-12-04T09:05:00.000Z',
    );
  });

  it('tolerates times beyond Date range', () => {
    const beyond = 8.64e15 + 1;
    expect(formatter.messageTime(beyond, NOW)).toBe(UNKNOWN_TIME);
    expect(formatter.listTime(beyond, NOW)).toBe(UNKNOWN_TIME);
    expect(isoTime(beyond)).toBeUndefined();
  });
});

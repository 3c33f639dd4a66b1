/**
 * Times shown in the conversation list and the thread, in the browser's
 * locale and time zone. A time of today shows as the time alone. Another
 * day shows its date, followed by the time in the thread.
 */

/** Text shown for a time that a `Date` cannot hold. */
export const UNKNOWN_TIME = 'unknown time';

/**
 * Returns true when a `Date` can hold `time`. A stored message from before
 * the content schema capped the time may still hold a larger one.
 */
function isValidTime(time: number): boolean {
  return Number.isFinite(new Date(time).getTime());
}

/** Returns true when both times fall on the same local calendar day. */
export function isSameDay(a: number, b: number): boolean {
  const first = new Date(a);
  const second = new Date(b);
  return (
    first.getFullYear() === second.getFullYear() &&
    first.getMonth() === second.getMonth() &&
    first.getDate() === second.getDate()
  );
}

export interface TimeFormatter {
  /** Formats a message time: the time for today, else date and time. */
  messageTime(time: number, now: number): string;
  /** Formats a conversation's last activity: the time for today, else the date. */
  listTime(time: number, now: number): string;
}

/** Creates formatters for `locale`, or for the browser's locale when absent. */
export function createTimeFormatter(locale?: string): TimeFormatter {
  const time = new Intl.DateTimeFormat(locale, { timeStyle: 'short' });
  const dateTime = new Intl.DateTimeFormat(locale, {
    dateStyle: 'medium',
    timeStyle: 'short',
  });
  const dayMonth = new Intl.DateTimeFormat(locale, {
    day: 'numeric',
    month: 'short',
  });
  const dayMonthYear = new Intl.DateTimeFormat(locale, {
    day: 'numeric',
    month: 'short',
    year: 'numeric',
  });

  return {
    messageTime(value, now) {
      if (!isValidTime(value)) return UNKNOWN_TIME;
      return (isSameDay(value, now) ? time : dateTime).format(value);
    },
    listTime(value, now) {
      if (!isValidTime(value)) return UNKNOWN_TIME;
      if (isSameDay(value, now)) return time.format(value);
      const sameYear =
        new Date(value).getFullYear() === new Date(now).getFullYear();
      return (sameYear ? dayMonth : dayMonthYear).format(value);
    },
  };
}

/** Formatters in the browser's locale. */
export const browserTimeFormatter = createTimeFormatter();

/**
 * Returns the ISO 8601 form of a time, for `<time dateTime>`, or undefined
 * for a time that a `Date` cannot hold.
 */
export function isoTime(time: number): string | undefined {
  return isValidTime(time) ? new Date(time).toISOString() : undefined;
}

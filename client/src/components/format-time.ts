/**
 * Times shown in the conversation list and the thread, in the browser's
 * locale and time zone. A time of today shows alone, and an earlier or
 * later day adds the date.
 */

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
      return (isSameDay(value, now) ? time : dateTime).format(value);
    },
    listTime(value, now) {
      if (isSameDay(value, now)) return time.format(value);
      const sameYear =
        new Date(value).getFullYear() === new Date(now).getFullYear();
      return (sameYear ? dayMonth : dayMonthYear).format(value);
    },
  };
}

/** Formatters in the browser's locale. */
export const browserTimeFormatter = createTimeFormatter();

/** Returns the ISO 8601 form of a time, for `<time dateTime>`. */
export function isoTime(time: number): string {
  return new Date(time).toISOString();
}

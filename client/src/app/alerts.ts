/**
 * The alert list shown above the screen. Each alert records the action that
 * raised it, so that the next success of that action removes it.
 */

/** Action or part of Cloak that raised an alert. */
export type AlertSource =
  | 'account'
  | 'start-chat'
  | 'send'
  | 'connection'
  | 'engine'
  | 'storage'
  | 'verify'
  | 'access-log'
  | 'group';

/** A button shown with an alert that offers the fix. */
export type AlertAction = 'register-again';

export interface AlertMessage {
  readonly id: number;
  readonly text: string;
  readonly source: AlertSource;
  readonly action?: AlertAction;
}

/** Alerts shown at once; older ones are dropped. */
export const MAX_ALERTS = 3;

/**
 * Returns the list with `alert` appended, keeping the newest `MAX_ALERTS`.
 * An alert with the same text as a shown one replaces it, so that a
 * repeated failure shows once and moves to the end.
 */
export function addAlert(
  alerts: readonly AlertMessage[],
  alert: AlertMessage,
): readonly AlertMessage[] {
  const others = alerts.filter((shown) => shown.text !== alert.text);
  return [...others, alert].slice(-MAX_ALERTS);
}

/** Returns the list without the alerts raised by `source`. */
export function clearAlerts(
  alerts: readonly AlertMessage[],
  source: AlertSource,
): readonly AlertMessage[] {
  const kept = alerts.filter((alert) => alert.source !== source);
  return kept.length === alerts.length ? alerts : kept;
}

import { describe, expect, it } from 'vitest';
import { addAlert, type AlertMessage, clearAlerts, MAX_ALERTS } from './alerts';

function alert(
  id: number,
  text: string,
  source: AlertMessage['source'] = 'start-chat',
): AlertMessage {
  return { id, text, source };
}

describe('alerts', () => {
  it('keeps the newest alerts only', () => {
    let alerts: readonly AlertMessage[] = [];
    for (let id = 1; id <= MAX_ALERTS + 2; id++) {
      alerts = addAlert(alerts, alert(id, `failure ${id}`));
    }
    expect(alerts.map((shown) => shown.id)).toEqual([3, 4, 5]);
  });

  it('shows a repeated text once', () => {
    let alerts = addAlert([], alert(1, 'offline', 'send'));
    alerts = addAlert(alerts, alert(2, 'unknown user'));
    alerts = addAlert(alerts, alert(3, 'offline', 'send'));
    expect(alerts.map((shown) => shown.id)).toEqual([2, 3]);
  });

  it('clears the alerts of one source', () => {
    const alerts = [
      alert(1, 'unknown user', 'start-chat'),
      alert(2, 'offline', 'send'),
      alert(3, 'invalid username', 'start-chat'),
    ];
    expect(clearAlerts(alerts, 'start-chat')).toEqual([alerts[1]]);
  });

  it('returns the same list when nothing clears', () => {
    const alerts = [alert(1, 'offline', 'send')];
    expect(clearAlerts(alerts, 'start-chat')).toBe(alerts);
  });
});

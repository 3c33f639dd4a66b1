import { Fragment } from 'react';
import type { AlertAction, AlertMessage } from '../app/cloak-store';

export interface AlertListProps {
  readonly alerts: readonly AlertMessage[];
  readonly onDismiss: (id: number) => void;
  readonly onAction?: (action: AlertAction) => void;
  /** True while an action runs, which disables its button. */
  readonly actionBusy?: boolean;
}

const ACTION_LABELS: Record<AlertAction, { idle: string; busy: string }> = {
  'register-again': { idle: 'Register again', busy: 'Registering again…' },
};

/**
 * Renders the page's only `alert` region. The dismiss buttons sit outside
 * it, so that the alert's text is the messages alone.
 */
export function AlertList({
  alerts,
  onDismiss,
  onAction,
  actionBusy = false,
}: AlertListProps) {
  if (alerts.length === 0) return null;
  return (
    <div className="alerts">
      <div role="alert" className="alert-messages">
        {alerts.map((alert) => (
          <p key={alert.id}>{alert.text}</p>
        ))}
      </div>
      <div className="alert-actions">
        {alerts.map((alert, index) => {
          const action = alert.action;
          const label = action && ACTION_LABELS[action];
          return (
            <Fragment key={alert.id}>
              {action && label && (
                <button
                  type="button"
                  disabled={actionBusy}
                  onClick={() => onAction?.(action)}
                >
                  {actionBusy ? label.busy : label.idle}
                </button>
              )}
              <button type="button" onClick={() => onDismiss(alert.id)}>
                {alerts.length === 1
                  ? 'Dismiss error'
                  : `Dismiss error ${index + 1}`}
              </button>
            </Fragment>
          );
        })}
      </div>
    </div>
  );
}

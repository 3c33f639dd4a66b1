import type { AlertMessage } from '../app/cloak-store';

export interface AlertListProps {
  readonly alerts: readonly AlertMessage[];
  readonly onDismiss: (id: number) => void;
}

/**
 * Renders the page's only `alert` region. The dismiss buttons sit outside
 * it, so that the alert's text is the messages alone.
 */
export function AlertList({ alerts, onDismiss }: AlertListProps) {
  if (alerts.length === 0) return null;
  return (
    <div className="alerts">
      <div role="alert" className="alert-messages">
        {alerts.map((alert) => (
          <p key={alert.id}>{alert.text}</p>
        ))}
      </div>
      <div className="alert-actions">
        {alerts.map((alert, index) => (
          <button
            key={alert.id}
            type="button"
            onClick={() => onDismiss(alert.id)}
          >
            {alerts.length === 1
              ? 'Dismiss error'
              : `Dismiss error ${index + 1}`}
          </button>
        ))}
      </div>
    </div>
  );
}

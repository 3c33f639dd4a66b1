import type { ConnectionState } from '../engine/relay-connection';

export interface ConnectionStatusProps {
  readonly state: ConnectionState;
  /** True in a tab that reaches the relay through the tab that runs Cloak. */
  readonly throughOtherTab?: boolean;
}

const LABELS: Record<ConnectionState, string> = {
  connected: 'Connected',
  connecting: 'Connecting…',
  offline: 'Offline',
};

export function ConnectionStatus({
  state,
  throughOtherTab = false,
}: ConnectionStatusProps) {
  return (
    <p role="status" className={`connection connection-${state}`}>
      {LABELS[state]}
      {throughOtherTab && (
        <span className="connection-tab"> through another tab</span>
      )}
    </p>
  );
}

import type { ConnectionState } from '../engine/relay-connection';

export interface ConnectionStatusProps {
  readonly state: ConnectionState;
}

const LABELS: Record<ConnectionState, string> = {
  connected: 'Connected',
  connecting: 'Connecting…',
  offline: 'Offline',
};

export function ConnectionStatus({ state }: ConnectionStatusProps) {
  return (
    <p role="status" className={`connection connection-${state}`}>
      {LABELS[state]}
    </p>
  );
}

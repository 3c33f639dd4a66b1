import { type Persistence, persistenceText } from '../app/persistence';

export interface StorageNoticeProps {
  /** Decision on persistent storage, or undefined while it is pending. */
  readonly persistence?: Persistence | undefined;
  readonly onDismiss: () => void;
}

/** Shows the one-time notice inline after the account is created. */
export function StorageNotice({ persistence, onDismiss }: StorageNoticeProps) {
  return (
    <section className="notice" aria-labelledby="storage-notice-title">
      <h2 id="storage-notice-title">Your account lives in this browser</h2>
      <p>
        Your account and its keys are stored only in this browser. Nobody, not
        even the relay, holds a copy. Clearing this site&apos;s data, or losing
        this browser profile, deletes the account and its history for good.
      </p>
      {persistence !== undefined && (
        <p className="persistence">{persistenceText(persistence)}</p>
      )}
      <button type="button" onClick={onDismiss}>
        Dismiss notice
      </button>
    </section>
  );
}

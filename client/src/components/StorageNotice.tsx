export interface StorageNoticeProps {
  readonly onDismiss: () => void;
}

/** Shows the one-time notice inline after the account is created. */
export function StorageNotice({ onDismiss }: StorageNoticeProps) {
  return (
    <section className="notice" aria-labelledby="storage-notice-title">
      <h2 id="storage-notice-title">Your account lives in this browser</h2>
      <p>
        Your account and its keys are stored only in this browser. Nobody, not
        even the relay, holds a copy. Clearing this site&apos;s data, or losing
        this browser profile, deletes the account and its history for good.
      </p>
      <button type="button" onClick={onDismiss}>
        Dismiss notice
      </button>
    </section>
  );
}

export interface RegistrationStatusProps {
  readonly userId: string;
  /** Failed attempts so far. */
  readonly failedAttempts: number;
  /** Error message of the last attempt, or undefined while one runs. */
  readonly error: string | undefined;
  /** Wait before the next attempt in ms, or undefined while one runs. */
  readonly retryInMs: number | undefined;
  readonly onRetryNow: () => void;
}

function seconds(ms: number): string {
  const count = Math.max(1, Math.round(ms / 1000));
  return count === 1 ? '1 second' : `${count} seconds`;
}

/**
 * Shows a registration the relay has not confirmed yet. The text is a
 * polite live region rather than a `status` role, which belongs to the
 * connection indicator alone.
 */
export function RegistrationStatus({
  userId,
  failedAttempts,
  error,
  retryInMs,
  onRetryNow,
}: RegistrationStatusProps) {
  const waiting = retryInMs !== undefined;
  let text: string;
  if (waiting) {
    text =
      `The registration of ${userId} is pending. ${error ?? ''} Its keys ` +
      `are saved in this browser, and Cloak tries again in ` +
      `${seconds(retryInMs)}.`;
  } else if (failedAttempts > 0) {
    const attempt = failedAttempts + 1;
    text = `Registering ${userId} with the relay, attempt ${attempt}…`;
  } else {
    text = `Registering ${userId} with the relay…`;
  }

  return (
    <section className="registration" aria-label="Registration">
      <p aria-live="polite">{text}</p>
      {waiting && (
        <button type="button" onClick={onRetryNow}>
          Retry now
        </button>
      )}
    </section>
  );
}

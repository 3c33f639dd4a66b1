import { type FormEvent, useEffect, useId, useRef, useState } from 'react';

export interface CreateAccountFormProps {
  readonly busy: boolean;
  /** Username of a registration in progress, shown in place of the input. */
  readonly pendingUsername?: string | undefined;
  readonly onCreate: (username: string) => void;
  /** Counter that moves focus to the username field each time it changes. */
  readonly focusRequest?: number;
}

export function CreateAccountForm({
  busy,
  pendingUsername,
  onCreate,
  focusRequest = 0,
}: CreateAccountFormProps) {
  const [username, setUsername] = useState('');
  const inputId = useId();
  const hintId = useId();
  const inputRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (focusRequest > 0) inputRef.current?.focus();
  }, [focusRequest]);

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    onCreate(username);
  }

  return (
    <form className="create-account" noValidate onSubmit={submit}>
      <h2>Create your account</h2>
      <label htmlFor={inputId}>Username</label>
      <input
        id={inputId}
        ref={inputRef}
        name="username"
        autoComplete="username"
        autoCapitalize="none"
        spellCheck={false}
        aria-describedby={hintId}
        value={pendingUsername ?? username}
        readOnly={pendingUsername !== undefined}
        onChange={(event) => setUsername(event.target.value)}
      />
      <p id={hintId} className="hint">
        3 to 32 characters: lowercase letters, digits, “.”, “_” or “-”.
      </p>
      <button type="submit" disabled={busy}>
        {busy ? 'Creating account…' : 'Create account'}
      </button>
    </form>
  );
}

import { type FormEvent, useId, useState } from 'react';

export interface StartChatFormProps {
  /** Resolves to true when the chat opened, so the field can be cleared. */
  readonly onStartChat: (username: string) => Promise<boolean>;
}

export function StartChatForm({ onStartChat }: StartChatFormProps) {
  const [recipient, setRecipient] = useState('');
  const [busy, setBusy] = useState(false);
  const inputId = useId();

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (busy || recipient.trim() === '') return;
    setBusy(true);
    try {
      if (await onStartChat(recipient)) setRecipient('');
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="start-chat" noValidate onSubmit={submit}>
      <label htmlFor={inputId}>Recipient</label>
      <div className="row">
        <input
          id={inputId}
          name="recipient"
          autoComplete="off"
          autoCapitalize="none"
          spellCheck={false}
          value={recipient}
          onChange={(event) => setRecipient(event.target.value)}
        />
        <button type="submit" disabled={busy}>
          Start chat
        </button>
      </div>
    </form>
  );
}

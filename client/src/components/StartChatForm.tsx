import { type FormEvent, useEffect, useId, useRef, useState } from 'react';

export interface StartChatFormProps {
  /** Resolves to true when the chat opened, so the field can be cleared. */
  readonly onStartChat: (username: string) => Promise<boolean>;
  /** Called when the user edits the recipient. */
  readonly onEdit?: () => void;
  /**
   * Counter that moves focus to the recipient field when the form mounts
   * and each time the counter changes; undefined leaves focus alone.
   */
  readonly focusRequest?: number | undefined;
}

export function StartChatForm({
  onStartChat,
  onEdit,
  focusRequest,
}: StartChatFormProps) {
  const [recipient, setRecipient] = useState('');
  const [busy, setBusy] = useState(false);
  const inputId = useId();
  const inputRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (focusRequest !== undefined) inputRef.current?.focus();
  }, [focusRequest]);

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
          ref={inputRef}
          name="recipient"
          autoComplete="off"
          autoCapitalize="none"
          spellCheck={false}
          value={recipient}
          onChange={(event) => {
            setRecipient(event.target.value);
            onEdit?.();
          }}
        />
        <button type="submit" disabled={busy}>
          Start chat
        </button>
      </div>
    </form>
  );
}

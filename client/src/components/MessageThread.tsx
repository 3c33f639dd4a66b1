import {
  type FormEvent,
  type KeyboardEvent,
  type ReactNode,
  useEffect,
  useId,
  useRef,
  useState,
} from 'react';
import {
  checkDraft,
  counterText,
  type DraftProblem,
  problemText,
} from './draft';
import { browserTimeFormatter, isoTime } from './format-time';
import { isPhoneLayout } from './layout';
import { useNow } from './use-now';

export type MessageState =
  'sending' | 'sent' | 'delivered' | 'failed' | 'received';

export interface ThreadMessage {
  readonly key: string;
  /** `notice` is a note from Cloak itself, such as missing messages. */
  readonly direction: 'in' | 'out' | 'notice';
  readonly text: string;
  readonly sentAt: number;
  readonly state: MessageState;
}

export interface MessageThreadProps {
  readonly peerId: string;
  /** The heading, when it is not `peerId`: a group's name. */
  readonly title?: string;
  readonly messages: readonly ThreadMessage[];
  readonly onSend: (text: string) => void;
  /** Returns to the conversation list in the one-pane phone layout. */
  readonly onBack: () => void;
  /**
   * Counter that moves focus to the composer each time it changes, such as
   * after "Start chat" for the conversation that is already open.
   */
  readonly focusRequest?: number;
  /**
   * Connection status shown in the thread header, for the phone layout
   * where the page header can scroll out of view.
   */
  readonly status?: ReactNode;
  /** True when the user compared safety numbers with the contact. */
  readonly verified?: boolean;
  /**
   * True while the contact's identity key changed and the user has not
   * accepted the new one. Sending is blocked meanwhile.
   */
  readonly keyChanged?: boolean;
  /**
   * A sentence shown in place of the composer when nothing can be sent,
   * such as after leaving a group.
   */
  readonly closedNotice?: string;
  /** Opens or closes the safety number panel. */
  readonly onVerify?: () => void;
  /** Accepts the contact's new identity key. */
  readonly onAcceptKey?: () => void;
  /** The safety number panel, shown under the header while open. */
  readonly verification?: ReactNode;
}

/** State words shown for outgoing messages; incoming ones show none. */
const STATE_LABELS: Partial<Record<MessageState, string>> = {
  sending: 'sending',
  sent: 'sent',
  delivered: 'delivered',
  failed: 'failed',
};

export function MessageThread({
  peerId,
  title = peerId,
  messages,
  onSend,
  onBack,
  focusRequest = 0,
  status,
  verified = false,
  keyChanged = false,
  closedNotice,
  onVerify,
  onAcceptKey,
  verification,
}: MessageThreadProps) {
  const [draft, setDraft] = useState('');
  // The problem of the last blocked send, shown until the draft changes.
  const [blocked, setBlocked] = useState<DraftProblem>();
  const listRef = useRef<HTMLOListElement>(null);
  const inputRef = useRef<HTMLTextAreaElement>(null);
  const inputId = useId();
  const counterId = useId();
  const hintId = useId();
  const check = checkDraft(draft);
  const now = useNow();

  // Opening a thread, or a new focus request, moves focus to the composer.
  useEffect(() => {
    inputRef.current?.focus();
  }, [peerId, focusRequest]);

  useEffect(() => {
    const list = listRef.current;
    if (list) list.scrollTop = list.scrollHeight;
  }, [messages.length, peerId]);

  // A draft that cannot be sent stays in the composer with a hint; nothing
  // is ever cut to fit the limit.
  function send() {
    if (keyChanged) return;
    if (check.problem !== undefined) {
      setBlocked(check.problem);
      return;
    }
    onSend(draft);
    setDraft('');
  }

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    send();
  }

  function onKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    // Enter sends; Shift+Enter inserts a newline; Enter while an input
    // method is composing text belongs to the input method.
    if (
      event.key !== 'Enter' ||
      event.shiftKey ||
      event.nativeEvent.isComposing
    ) {
      return;
    }
    event.preventDefault();
    send();
  }

  function onThreadKeyDown(event: KeyboardEvent<HTMLElement>) {
    // Escape leaves the thread only in the phone layout, which hides the
    // list. The two-pane layout shows both, so Escape does nothing there.
    if (event.key !== 'Escape' || event.nativeEvent.isComposing) return;
    if (event.defaultPrevented || !isPhoneLayout()) return;
    event.preventDefault();
    onBack();
  }

  return (
    <section
      className="thread"
      aria-labelledby="thread-title"
      onKeyDown={onThreadKeyDown}
    >
      <header className="thread-header">
        <button type="button" className="back" onClick={onBack}>
          <span aria-hidden="true">←</span> Back
          <span className="visually-hidden"> to conversations</span>
        </button>
        <h2 id="thread-title" dir="auto">
          {title}
        </h2>
        {verified && <span className="verified-mark">Verified</span>}
        {onVerify && (
          <button type="button" className="verify-button" onClick={onVerify}>
            Verify safety number
          </button>
        )}
        {status}
      </header>
      {keyChanged && (
        <div className="key-change">
          <div role="alert" className="key-change-text">
            <p>
              <span dir="auto">{peerId}</span>&apos;s safety number changed.
              Sending is blocked until you accept the new key.
            </p>
            <p>
              Someone may be impersonating {peerId}, or {peerId} may have
              reinstalled Cloak. Compare the new safety number with {peerId}{' '}
              before you accept.
            </p>
          </div>
          <button type="button" onClick={onAcceptKey}>
            Accept new key
          </button>
        </div>
      )}
      {verification}
      <ol className="messages" aria-label="Messages" ref={listRef} tabIndex={0}>
        {messages.map((message) => (
          <li
            key={message.key}
            className={`message message-${message.direction}`}
          >
            <p className="text" dir="auto">
              {message.text}
            </p>
            <p className="meta">
              <time dateTime={isoTime(message.sentAt)}>
                {browserTimeFormatter.messageTime(message.sentAt, now)}
              </time>
              {message.direction === 'out' && (
                <span className={`state state-${message.state}`}>
                  {' '}
                  {STATE_LABELS[message.state]}
                </span>
              )}
            </p>
          </li>
        ))}
      </ol>
      {closedNotice !== undefined ? (
        <p className="composer composer-closed">{closedNotice}</p>
      ) : (
        <form className="composer" onSubmit={submit}>
          <label htmlFor={inputId} className="visually-hidden">
            Message
          </label>
          <textarea
            id={inputId}
            ref={inputRef}
            rows={2}
            value={draft}
            placeholder={`Message ${title}`}
            aria-describedby={`${counterId} ${hintId}`}
            aria-invalid={check.problem === 'too-long' ? true : undefined}
            onChange={(event) => {
              setDraft(event.target.value);
              setBlocked(undefined);
            }}
            onKeyDown={onKeyDown}
          />
          <button type="submit" disabled={keyChanged}>
            Send
          </button>
        </form>
      )}
      <p
        id={counterId}
        className={
          check.remaining < 0 ? 'draft-counter over-limit' : 'draft-counter'
        }
      >
        {check.showCounter ? counterText(check.remaining) : ''}
      </p>
      <p
        id={hintId}
        className={
          blocked === 'too-long' ? 'draft-hint over-limit' : 'draft-hint'
        }
        aria-live="polite"
      >
        {blocked === undefined ? '' : problemText(blocked)}
      </p>
    </section>
  );
}

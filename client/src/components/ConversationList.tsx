import { useEffect, useRef } from 'react';
import { browserTimeFormatter, isoTime } from './format-time';
import { useNow } from './use-now';

export interface LastMessage {
  /** `notice` is a note from Cloak itself, such as missing messages. */
  readonly direction: 'in' | 'out' | 'notice';
  readonly text: string;
}

export interface ConversationItem {
  readonly peerId: string;
  /** The name shown: a group's name; the user id when absent. */
  readonly name?: string;
  readonly unread: number;
  /** Time of the last message, or of the conversation's creation. */
  readonly lastActivity: number;
  /** Newest row of the thread, absent while the thread is empty. */
  readonly lastMessage: LastMessage | undefined;
}

export interface ConversationListProps {
  readonly conversations: readonly ConversationItem[];
  readonly activePeer: string | undefined;
  readonly onOpen: (peerId: string) => void;
  /** Conversation whose item takes focus, each time a new object arrives. */
  readonly focusRequest?: { readonly peerId: string } | undefined;
}

/**
 * Renders the preview line. Message text sits in its own `bdi`, so that
 * right-to-left text or a U+202E override cannot reorder "You:".
 */
function Preview({ lastMessage }: { lastMessage: LastMessage | undefined }) {
  if (lastMessage === undefined) return 'No messages yet';
  const text = <bdi>{lastMessage.text}</bdi>;
  if (lastMessage.direction === 'out') return <>You: {text}</>;
  return text;
}

/**
 * Lists conversations as the store orders them, newest activity first.
 * Each item reads the username first, then the unread count, the preview
 * and the time, whatever the visual layout.
 */
export function ConversationList({
  conversations,
  activePeer,
  onOpen,
  focusRequest,
}: ConversationListProps) {
  const now = useNow();
  const listRef = useRef<HTMLUListElement>(null);

  useEffect(() => {
    if (!focusRequest) return;
    const selector = `button[data-peer="${CSS.escape(focusRequest.peerId)}"]`;
    listRef.current?.querySelector<HTMLButtonElement>(selector)?.focus();
  }, [focusRequest]);

  return (
    <nav className="conversations" aria-labelledby="conversations-title">
      <h2 id="conversations-title">Conversations</h2>
      {conversations.length === 0 && (
        <p className="hint">No conversations yet.</p>
      )}
      <ul aria-label="Conversations" ref={listRef}>
        {conversations.map(
          ({ peerId, name, unread, lastActivity, lastMessage }) => (
            <li key={peerId}>
              <button
                type="button"
                data-peer={peerId}
                aria-current={peerId === activePeer ? 'true' : undefined}
                onClick={() => onOpen(peerId)}
              >
                <span className="peer" dir="auto">
                  {name ?? peerId}
                </span>
                {unread > 0 && (
                  <span className="unread">
                    {unread}
                    <span className="visually-hidden"> unread</span>
                  </span>
                )}
                <span
                  className={`preview preview-${lastMessage?.direction ?? 'empty'}`}
                >
                  <Preview lastMessage={lastMessage} />
                </span>
                <time className="activity" dateTime={isoTime(lastActivity)}>
                  {browserTimeFormatter.listTime(lastActivity, now)}
                </time>
              </button>
            </li>
          ),
        )}
      </ul>
    </nav>
  );
}

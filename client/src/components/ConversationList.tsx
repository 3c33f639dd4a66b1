export interface ConversationItem {
  readonly peerId: string;
  readonly unread: number;
}

export interface ConversationListProps {
  readonly conversations: readonly ConversationItem[];
  readonly activePeer: string | undefined;
  readonly onOpen: (peerId: string) => void;
}

export function ConversationList({
  conversations,
  activePeer,
  onOpen,
}: ConversationListProps) {
  return (
    <nav className="conversations" aria-labelledby="conversations-title">
      <h2 id="conversations-title">Conversations</h2>
      {conversations.length === 0 && (
        <p className="hint">No conversations yet.</p>
      )}
      <ul aria-label="Conversations">
        {conversations.map(({ peerId, unread }) => (
          <li key={peerId}>
            <button
              type="button"
              aria-current={peerId === activePeer ? 'true' : undefined}
              onClick={() => onOpen(peerId)}
            >
              <span className="peer">{peerId}</span>
              {unread > 0 && (
                <span className="unread">
                  {unread}
                  <span className="visually-hidden"> unread</span>
                </span>
              )}
            </button>
          </li>
        ))}
      </ul>
    </nav>
  );
}

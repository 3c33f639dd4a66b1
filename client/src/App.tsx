import { Suspense, lazy, useCallback, useEffect, useState } from 'react';
import { registerServiceWorker } from './app/service-worker';
import { useCloak } from './app/use-cloak';
import { AlertList } from './components/AlertList';
import { ConnectionStatus } from './components/ConnectionStatus';
import { ConversationList } from './components/ConversationList';
import { CreateAccountForm } from './components/CreateAccountForm';
import { GroupPanel } from './components/GroupPanel';
import { KeyAccessLog } from './components/KeyAccessLog';
import { MessageThread } from './components/MessageThread';
import { NewGroupForm } from './components/NewGroupForm';
import { RegistrationStatus } from './components/RegistrationStatus';
import { StartChatForm } from './components/StartChatForm';
import { StorageNotice } from './components/StorageNotice';
import { StorageProblemMessage } from './components/StorageProblemMessage';
import { unreadTitle } from './components/unread-title';
import { isPhoneLayout, usePhoneLayout } from './components/layout';

// The panel loads as its own chunk, so that the QR encoder and decoder
// stay out of the first page load.
const SafetyNumberPanel = lazy(() =>
  import('./components/SafetyNumberPanel').then((module) => ({
    default: module.SafetyNumberPanel,
  })),
);

export function App() {
  const [snapshot, store] = useCloak();
  const phoneLayout = usePhoneLayout();
  const title = unreadTitle(snapshot.conversations);
  const activeConversation = snapshot.conversations.find(
    (conversation) => conversation.peerId === snapshot.activePeer,
  );
  const activeIsGroup = activeConversation?.kind === 'group';
  const activeName = activeIsGroup ? activeConversation.name : undefined;

  useEffect(() => {
    document.title = title;
  }, [title]);

  useEffect(registerServiceWorker, []);
  const [listFocus, setListFocus] = useState<{ peerId: string }>();
  const [composerFocus, setComposerFocus] = useState(0);
  // The recipient field takes focus when the signed-in screen appears, such
  // as right after account creation, and after a dismissal.
  const [recipientFocus, setRecipientFocus] = useState(0);
  const [usernameFocus, setUsernameFocus] = useState(0);
  const [showAccessLog, setShowAccessLog] = useState(false);
  // The conversation whose safety number panel is open, if any.
  const [verifying, setVerifying] = useState<string>();
  const loadSafetyNumber = useCallback(() => store.safetyNumber(), [store]);
  const loadAccessLog = useCallback(() => store.loadAccessLog(), [store]);

  // A dismissed alert or notice takes focus with it, so focus moves to the
  // field where the user most likely acts next. The phone layout hides the
  // recipient field while a thread is open, so the composer takes it there.
  function focusAfterDismiss() {
    if (snapshot.phase === 'create-account') {
      setUsernameFocus((count) => count + 1);
    } else if (snapshot.activePeer !== undefined && isPhoneLayout()) {
      setComposerFocus((count) => count + 1);
    } else {
      setRecipientFocus((count) => count + 1);
    }
  }

  // Exactly one status element exists: in the page header, or in the
  // thread header while a phone shows the thread alone.
  const connection = (
    <ConnectionStatus
      state={snapshot.connection}
      throughOtherTab={snapshot.tabRole === 'follower'}
    />
  );
  const statusInThread = phoneLayout && snapshot.activePeer !== undefined;

  const alerts = (
    <AlertList
      alerts={snapshot.alerts}
      onDismiss={(id) => {
        store.dismissAlert(id);
        focusAfterDismiss();
      }}
      onAction={(action) => {
        if (action === 'register-again') void store.registerAgain();
      }}
      actionBusy={snapshot.registeringAgain}
    />
  );

  return (
    <div className="app">
      <header className="app-header">
        <h1>Cloak</h1>
        {snapshot.userId !== undefined && (
          <p className="me">
            Signed in as <strong dir="auto">{snapshot.userId}</strong>
          </p>
        )}
        {snapshot.phase === 'ready' && (
          <button
            type="button"
            className="access-log-button"
            aria-expanded={showAccessLog}
            onClick={() => setShowAccessLog((shown) => !shown)}
          >
            Key access log
          </button>
        )}
        {snapshot.phase === 'ready' && !statusInThread && connection}
      </header>
      {snapshot.phase === 'loading' && <p className="centered">Loading…</p>}
      {snapshot.phase === 'storage-problem' &&
        snapshot.storageProblem !== undefined && (
          <StorageProblemMessage problem={snapshot.storageProblem} />
        )}
      {snapshot.phase === 'unsupported' && (
        <p className="centered">
          This browser lacks Web Locks, which Cloak needs to keep your keys
          safe. Use a current version of Chrome, Edge, Firefox or Safari.
        </p>
      )}
      {snapshot.phase === 'waiting-for-other-tab' && (
        <p className="centered">
          Cloak is open in another tab of this browser, which sets up the
          account. This tab shows it as soon as it is ready.
        </p>
      )}
      {snapshot.phase === 'create-account' && (
        <main className="centered">
          <CreateAccountForm
            busy={
              snapshot.creatingAccount || snapshot.registration !== undefined
            }
            pendingUsername={snapshot.registration?.userId}
            focusRequest={usernameFocus}
            onCreate={(username) => void store.createAccount(username)}
          />
          {snapshot.registration && (
            <RegistrationStatus
              {...snapshot.registration}
              onRetryNow={() => store.retryRegistration()}
            />
          )}
          {alerts}
        </main>
      )}
      {snapshot.phase === 'ready' && (
        <main
          className={
            snapshot.activePeer === undefined
              ? 'layout layout-list'
              : 'layout layout-thread'
          }
        >
          {alerts}
          {showAccessLog && (
            <KeyAccessLog
              load={loadAccessLog}
              onClose={() => setShowAccessLog(false)}
            />
          )}
          <div className="panes">
            <aside className="sidebar">
              <StartChatForm
                focusRequest={recipientFocus}
                onEdit={() => store.editRecipient()}
                onStartChat={async (username) => {
                  const opened = await store.startChat(username);
                  if (opened) setComposerFocus((count) => count + 1);
                  return opened;
                }}
              />
              {snapshot.showStorageNotice && (
                <StorageNotice
                  persistence={snapshot.persistence}
                  onDismiss={() => {
                    store.dismissStorageNotice();
                    focusAfterDismiss();
                  }}
                />
              )}
              <ConversationList
                conversations={snapshot.conversations}
                activePeer={snapshot.activePeer}
                focusRequest={listFocus}
                onOpen={(peerId) => void store.openConversation(peerId)}
              />
              <NewGroupForm onCreate={(name) => store.createGroup(name)} />
            </aside>
            {snapshot.activePeer === undefined ? (
              <section className="thread thread-empty">
                <p>Choose a conversation, or start a chat with a username.</p>
              </section>
            ) : (
              <MessageThread
                peerId={snapshot.activePeer}
                {...(activeName === undefined ? {} : { title: activeName })}
                messages={snapshot.messages}
                focusRequest={composerFocus}
                status={statusInThread ? connection : undefined}
                verified={snapshot.contact?.verified ?? false}
                keyChanged={snapshot.contact?.keyChangedAt !== undefined}
                {...(activeIsGroup &&
                  snapshot.group?.isMember === false && {
                    closedNotice:
                      'You left this group or were removed, so you cannot send here.',
                  })}
                {...(activeIsGroup
                  ? {}
                  : {
                      onVerify: () => {
                        const peerId = snapshot.activePeer;
                        setVerifying((open) =>
                          open === peerId ? undefined : peerId,
                        );
                      },
                    })}
                onAcceptKey={() => void store.acceptNewKey()}
                verification={
                  activeIsGroup
                    ? snapshot.group &&
                      snapshot.userId !== undefined && (
                        <GroupPanel
                          {...snapshot.group}
                          self={snapshot.userId}
                          onAdd={(username) => store.addGroupMember(username)}
                          onRemove={(userId) => store.removeGroupMember(userId)}
                          onRename={(name) => store.renameGroup(name)}
                          onSetAdmin={(userId, admin) =>
                            store.setGroupAdmin(userId, admin)
                          }
                          onLeave={() => store.leaveGroup()}
                        />
                      )
                    : verifying === snapshot.activePeer && (
                        <Suspense fallback={<p>Loading…</p>}>
                          <SafetyNumberPanel
                            peerId={snapshot.activePeer}
                            verified={snapshot.contact?.verified ?? false}
                            statusKey={`${snapshot.contact?.keyChangedAt ?? ''}`}
                            loadSafetyNumber={loadSafetyNumber}
                            onMarkVerified={(shown) =>
                              store.markVerified(shown)
                            }
                            onClose={() => setVerifying(undefined)}
                          />
                        </Suspense>
                      )
                }
                onSend={(text) => store.sendMessage(text)}
                onBack={() => {
                  const peerId = snapshot.activePeer;
                  store.closeConversation();
                  if (peerId !== undefined) setListFocus({ peerId });
                }}
              />
            )}
          </div>
        </main>
      )}
    </div>
  );
}

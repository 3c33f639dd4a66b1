/**
 * The bridge between the engine and React: an external store with an
 * immutable snapshot (for `useSyncExternalStore`) and the user's actions.
 * Components see only the snapshot and these actions, never the storage or
 * the protocol.
 */
import type { LocalIdentity } from '../../../shared/crypto/keys';
import type { AccessLogEntry } from '../../../shared/wire/schemas';
import { toBase64Url } from '../../../shared/crypto/bytes';
import { systemRandom } from '../../../shared/crypto/random';
import { GROUP_ID_LENGTH } from '../../../shared/crypto/sender-key';
import {
  accountUnknownError,
  createPendingAccount,
  finishRegistration,
  parseUsername,
} from '../engine/account';
import {
  type ContactSafetyNumber,
  type ContactStatus,
  Engine,
  type EngineChange,
  type GroupInfo,
} from '../engine/engine';
import { acquireEngineLock } from '../engine/lock';
import {
  fromErrorBody,
  TAB_CHANNEL_NAME,
  TabFollower,
  TabLeader,
  toErrorBody,
} from '../engine/tabs';
import { createLogger, errorCode } from '../engine/logger';
import {
  type ConnectionState,
  RelayConnection,
} from '../engine/relay-connection';
import { ClientError } from '../errors';
import { type CloakDb, openCloakDb } from '../storage/db';
import {
  type ConversationView,
  groupIdOf,
  LocalStore,
  type MessageView,
} from '../storage/local-store';
import {
  addAlert,
  type AlertAction,
  type AlertMessage,
  type AlertSource,
  clearAlerts,
} from './alerts';
import { type Persistence, requestPersistence } from './persistence';
import {
  type EngineActions,
  localActions,
  parseTabNotice,
  type RegisterAgainResult,
  remoteActions,
  serveAction,
  type TabNotice,
} from './tab-actions';
import {
  currentStorageEnvironment,
  findStorageProblem,
  type StorageProblem,
} from './storage-check';

const log = createLogger('app');

/** Processed envelope ids are kept this long to recognise duplicates. */
const PROCESSED_ID_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;
/** Interval of outbox flushes while connected, for sends that timed out. */
const OUTBOX_RETRY_MS = 15_000;

export type Phase =
  | 'loading'
  /** A follower tab waits while the leader tab sets up the account. */
  | 'waiting-for-other-tab'
  | 'create-account'
  | 'ready'
  | 'unsupported'
  | 'storage-problem';

/** A registration the relay has not confirmed yet. */
export interface RegistrationView {
  readonly userId: string;
  /** Failed attempts so far. */
  readonly failedAttempts: number;
  /** Error message of the last attempt, or undefined while one runs. */
  readonly error: string | undefined;
  /** Wait before the next attempt in ms, or undefined while one runs. */
  readonly retryInMs: number | undefined;
}

export type { AlertAction, AlertMessage, AlertSource } from './alerts';

/**
 * `leader` runs the engine and owns the relay connection. `follower`
 * shows the same data from IndexedDB and sends its actions to the leader.
 */
export type TabRole = 'leader' | 'follower';

export interface CloakSnapshot {
  readonly phase: Phase;
  readonly tabRole: TabRole | undefined;
  /** Reason storage cannot work, set in the `storage-problem` phase. */
  readonly storageProblem: StorageProblem | undefined;
  readonly userId: string | undefined;
  readonly connection: ConnectionState;
  readonly showStorageNotice: boolean;
  /** Decision on persistent storage, requested after account creation. */
  readonly persistence: Persistence | undefined;
  readonly creatingAccount: boolean;
  readonly registration: RegistrationView | undefined;
  /** True while a signed-in account is being registered again. */
  readonly registeringAgain: boolean;
  readonly conversations: readonly ConversationView[];
  readonly activePeer: string | undefined;
  readonly messages: readonly MessageView[];
  /** Identity key status of the open conversation's contact. */
  readonly contact: ContactStatus | undefined;
  /** Verified membership of the open conversation, when it is a group. */
  readonly group: GroupInfo | undefined;
  readonly alerts: readonly AlertMessage[];
}

const initialSnapshot: CloakSnapshot = {
  phase: 'loading',
  tabRole: undefined,
  storageProblem: undefined,
  userId: undefined,
  connection: 'connecting',
  showStorageNotice: false,
  persistence: undefined,
  creatingAccount: false,
  registration: undefined,
  registeringAgain: false,
  conversations: [],
  activePeer: undefined,
  messages: [],
  contact: undefined,
  group: undefined,
  alerts: [],
};

type OpenedAccount = { store: LocalStore; identity: LocalIdentity };

function alertText(error: unknown): string {
  if (error instanceof ClientError) return error.message;
  return `Something went wrong (${errorCode(error)}). Try again.`;
}

export class CloakStore {
  private snapshot = initialSnapshot;
  private readonly listeners = new Set<() => void>();
  private nextAlertId = 1;
  private db: CloakDb | undefined;
  private store: LocalStore | undefined;
  private identity: LocalIdentity | undefined;
  /** The engine, in the leader tab only. */
  private engine: Engine | undefined;
  private connection: RelayConnection | undefined;
  /** The engine's actions: local in the leader, requests in a follower. */
  private actions: EngineActions | undefined;
  private readonly tabId = crypto.randomUUID();
  private tabLeader: TabLeader<TabNotice> | undefined;
  private tabFollower: TabFollower<TabNotice> | undefined;
  private following: Promise<void> | undefined;
  private followerView: Promise<void> | undefined;
  private dbOpening: Promise<CloakDb | undefined> | undefined;
  private releaseLock: (() => void) | undefined;
  private messagesRequest = 0;
  private contactRequest = 0;
  private conversationsRequest = 0;
  private signInAlerted = false;
  private retryTimer: ReturnType<typeof setInterval> | undefined;
  private readonly stopped = new AbortController();
  /** Ends the wait before the next registration attempt. */
  private wakeRegistration: (() => void) | undefined;

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  readonly getSnapshot = (): CloakSnapshot => this.snapshot;

  private update(patch: Partial<CloakSnapshot>): void {
    this.snapshot = { ...this.snapshot, ...patch };
    for (const listener of this.listeners) listener();
  }

  private alert(
    error: unknown,
    source: AlertSource,
    action?: AlertAction,
  ): void {
    const alert = {
      id: this.nextAlertId++,
      text: alertText(error),
      source,
      ...(action ? { action } : {}),
    };
    this.update({ alerts: addAlert(this.snapshot.alerts, alert) });
  }

  /** Removes the alerts of `source`, after that action succeeded. */
  private clearAlerts(source: AlertSource): void {
    const alerts = clearAlerts(this.snapshot.alerts, source);
    if (alerts !== this.snapshot.alerts) this.update({ alerts });
  }

  /** Removes a failed "Start chat" alert once the recipient is edited. */
  editRecipient(): void {
    this.clearAlerts('start-chat');
  }

  dismissAlert(id: number): void {
    this.update({
      alerts: this.snapshot.alerts.filter((alert) => alert.id !== id),
    });
  }

  /**
   * Opens the stored account as the leader tab when this tab gets the
   * engine lock at once. Otherwise follows the leader tab until the lock
   * passes to this tab, and then becomes the leader.
   */
  async start(): Promise<void> {
    const problem = findStorageProblem(currentStorageEnvironment());
    if (problem) {
      this.showStorageProblem(problem);
      return;
    }
    if (!('locks' in navigator) || !('BroadcastChannel' in globalThis)) {
      this.update({ phase: 'unsupported' });
      return;
    }
    try {
      this.releaseLock = await acquireEngineLock({
        onWaiting: () => {
          this.following = this.follow();
        },
        onLost: () => this.loseLock(),
      });
      await this.following;
      // A tab stopped by a newer version's upgrade passes the lock on.
      if (this.stopped.signal.aborted) {
        this.releaseEngineLock();
        return;
      }
      await this.lead();
    } catch (error) {
      log.error('start failed', error);
      this.alert(
        new ClientError(
          'storage-failed',
          'The local database could not be opened. Reload the page.',
        ),
        'storage',
      );
    }
  }

  /** Opens the database once; undefined after showing why it failed. */
  private openDatabase(): Promise<CloakDb | undefined> {
    this.dbOpening ??= this.openDatabaseOnce();
    return this.dbOpening;
  }

  private async openDatabaseOnce(): Promise<CloakDb | undefined> {
    try {
      this.db = await openCloakDb(undefined, {
        onBlocked: () => this.showStorageProblem('upgrade-blocked'),
        onVersionChange: () => {
          this.stop();
          this.releaseEngineLock();
          this.showStorageProblem('version-changed');
        },
      });
      return this.db;
    } catch (error) {
      log.error('database open failed', error);
      this.showStorageProblem('open-failed');
      return undefined;
    }
  }

  /**
   * Reads the stored account. A failed open never leads to a new account,
   * because that would replace the stored identity keys. Only an opened,
   * empty database does.
   */
  private async openAccount(): Promise<OpenedAccount | 'none' | 'failed'> {
    const db = await this.openDatabase();
    if (!db) return 'failed';
    try {
      return (await LocalStore.open(db, systemRandom)) ?? 'none';
    } catch (error) {
      log.error('account open failed', error);
      this.showStorageProblem('open-failed');
      return 'failed';
    }
  }

  /** Runs the engine, after this tab got the engine lock. */
  private async lead(): Promise<void> {
    const opened = await this.openAccount();
    if (opened === 'failed') return;
    if (this.snapshot.phase !== 'ready') {
      this.update({ phase: 'loading', storageProblem: undefined });
    }
    if (opened === 'none') {
      this.stopFollowing();
      this.update({ phase: 'create-account', tabRole: 'leader' });
      return;
    }
    if (await opened.store.pendingRegistration()) {
      this.stopFollowing();
      this.update({ phase: 'create-account', tabRole: 'leader' });
      await this.register(opened.store, opened.identity);
      return;
    }
    await this.run(opened.store, opened.identity);
  }

  private stopFollowing(): void {
    this.tabFollower?.close();
    this.tabFollower = undefined;
  }

  /** Follows the leader tab while another tab holds the engine lock. */
  private async follow(): Promise<void> {
    const follower = new TabFollower<TabNotice>({
      channel: new BroadcastChannel(TAB_CHANNEL_NAME),
      tabId: this.tabId,
      parseNotice: parseTabNotice,
      onNotice: (notice) => this.applyNotice(notice),
      onLeader: () => void this.showFollowerView(),
    });
    this.tabFollower = follower;
    this.actions = remoteActions(follower);
    this.update({ tabRole: 'follower' });
    await this.showFollowerView();
  }

  /**
   * Shows the stored account in a follower tab, or a wait message while
   * the leader tab has no registered account yet.
   */
  private showFollowerView(): Promise<void> {
    if (this.store || !this.tabFollower) return Promise.resolve();
    this.followerView ??= this.openFollowerView().finally(() => {
      this.followerView = undefined;
    });
    return this.followerView;
  }

  private async openFollowerView(): Promise<void> {
    const opened = await this.openAccount();
    if (opened === 'failed' || this.store || !this.tabFollower) return;
    if (opened === 'none' || (await opened.store.pendingRegistration())) {
      this.update({ phase: 'waiting-for-other-tab' });
      return;
    }
    this.store = opened.store;
    this.identity = opened.identity;
    this.update({
      phase: 'ready',
      storageProblem: undefined,
      userId: opened.identity.userId,
    });
    await this.refreshConversations();
    await this.reopenConversation(opened.store);
  }

  /** Shows in a follower tab what the leader tab posted. */
  private applyNotice(notice: TabNotice): void {
    switch (notice.type) {
      case 'change':
        this.applyChange(notice.change);
        break;
      case 'connection':
        this.update({ connection: notice.state });
        break;
      case 'alert':
        this.alert(fromErrorBody(notice.error), notice.source, notice.action);
        break;
      case 'clear-alerts':
        this.clearAlerts(notice.source);
        break;
    }
  }

  /**
   * Stops the engine when another context took the engine lock, so that
   * this tab never steps a ratchet without it.
   */
  private loseLock(): void {
    log.error('engine lock lost', new Error('lock stolen'));
    this.stop();
    this.releaseEngineLock();
    this.update({ phase: 'waiting-for-other-tab', tabRole: undefined });
  }

  /**
   * Drops the engine and then releases the engine lock, for a stopped
   * tab, so that another tab can become the leader.
   */
  private releaseEngineLock(): void {
    this.engine = undefined;
    this.actions = undefined;
    this.releaseLock?.();
    this.releaseLock = undefined;
  }

  private showStorageProblem(problem: StorageProblem): void {
    this.update({ phase: 'storage-problem', storageProblem: problem });
  }

  /**
   * Creates the account's keys, stores them marked pending and registers
   * them with the relay; see `register`.
   */
  async createAccount(username: string): Promise<void> {
    const db = this.db;
    const busy = this.snapshot.creatingAccount || this.snapshot.registration;
    if (!db || busy) return;
    this.update({ alerts: [] });
    try {
      parseUsername(username);
    } catch (error) {
      this.alert(error, 'account');
      return;
    }
    this.update({ creatingAccount: true });
    let created;
    try {
      created = await createPendingAccount(db, username);
    } catch (error) {
      log.error('account creation failed', error);
      this.alert(error, 'account');
      return;
    } finally {
      this.update({ creatingAccount: false });
    }
    // The request may wait for a browser prompt, so nothing waits for it.
    void requestPersistence().then((persistence) => {
      this.update({ persistence });
    });
    await this.register(created.store, created.identity);
  }

  /**
   * Sends the stored registration until the relay confirms it, showing each
   * failed attempt and the wait before the next one, then starts the
   * account. A rejection (such as a taken username) deleted the keys, so
   * the form comes back for another name.
   */
  private async register(
    store: LocalStore,
    identity: LocalIdentity,
  ): Promise<void> {
    const userId = identity.userId;
    let registered;
    try {
      registered = await finishRegistration(store, {
        wait: (ms) => this.waitForRegistrationRetry(ms),
        signal: this.stopped.signal,
        onAttempt: (failedAttempts) =>
          this.update({
            registration: {
              userId,
              failedAttempts,
              error: undefined,
              retryInMs: undefined,
            },
          }),
        onRetry: (retry) =>
          this.update({
            registration: {
              userId,
              failedAttempts: retry.attempt,
              error: retry.error.message,
              retryInMs: retry.retryInMs,
            },
          }),
      });
    } catch (error) {
      log.error('registration failed', error);
      this.update({ registration: undefined });
      this.alert(error, 'account');
      return;
    }
    if (!registered) return;
    this.update({ registration: undefined });
    await this.run(store, identity);
  }

  private waitForRegistrationRetry(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.stopped.signal.removeEventListener('abort', done);
        this.wakeRegistration = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.stopped.signal.addEventListener('abort', done);
      this.wakeRegistration = done;
    });
  }

  /** Sends a pending registration now instead of after the wait. */
  retryRegistration(): void {
    this.wakeRegistration?.();
  }

  private async run(store: LocalStore, identity: LocalIdentity): Promise<void> {
    this.store = store;
    this.identity = identity;
    const connection = this.createConnection(identity);
    this.connection = connection;
    const engine = new Engine({
      store,
      identity,
      transport: connection,
      onChange: (change) => this.announceChange(change),
      onError: (error) => this.leaderAlert(error, 'engine'),
    });
    this.engine = engine;
    const actions = localActions({
      engine,
      store,
      identity,
      connection,
      onChange: (change) => this.announceChange(change),
    });
    this.actions = actions;
    this.tabLeader = new TabLeader<TabNotice>({
      channel: new BroadcastChannel(TAB_CHANNEL_NAME),
      tabId: this.tabId,
      handle: (action, args) => serveAction(actions, action, args),
      welcome: () => [{ type: 'connection', state: this.snapshot.connection }],
    });
    // Requests this tab sent as a follower without a result run here.
    const follower = this.tabFollower;
    this.tabFollower = undefined;
    follower?.handOver((action, args) => serveAction(actions, action, args));
    globalThis.addEventListener?.('pagehide', () => {
      this.tabLeader?.notify({ type: 'connection', state: 'connecting' });
    });

    // The notice is recorded as shown before it renders, so that a reload
    // never shows it again, dismissed or not.
    const showStorageNotice = await store
      .takeStorageNotice()
      .catch((error: unknown) => {
        log.error('notice update failed', error);
        return false;
      });
    this.update({
      phase: 'ready',
      tabRole: 'leader',
      userId: identity.userId,
      showStorageNotice,
    });
    await this.refreshConversations();
    const activePeer = this.snapshot.activePeer;
    if (activePeer === undefined) await this.reopenConversation(store);
    else await this.openConversation(activePeer);
    void store
      .pruneProcessed(Date.now() - PROCESSED_ID_RETENTION_MS)
      .catch((error: unknown) => log.error('prune failed', error));
    void engine
      .expireHeldGroupMessages()
      .catch((error: unknown) => log.error('held expiry failed', error));
    connection.start();
    this.retryTimer = setInterval(() => {
      if (connection.connected) void this.engine?.flushOutbox();
    }, OUTBOX_RETRY_MS);
  }

  private createConnection(identity: LocalIdentity): RelayConnection {
    return new RelayConnection(identity, {
      onState: (connection) => {
        this.update({ connection });
        this.tabLeader?.notify({ type: 'connection', state: connection });
      },
      onSignedIn: (counts) => {
        this.signInAlerted = false;
        // A signed-in account is known to the relay.
        this.leaderClearAlerts('connection');
        this.leaderClearAlerts('account');
        void this.engine?.flushOutbox();
        void this.engine?.refillPrekeys(counts);
        void this.engine?.rotatePrekeysIfDue();
      },
      onEnvelope: (envelope) => {
        this.engine?.receive(envelope).catch((error: unknown) => {
          log.error('receive failed', error);
        });
      },
      onKeysLow: (counts) => void this.engine?.refillPrekeys(counts),
      onKeyChanged: (notice) => {
        this.engine?.handleKeyChanged(notice).catch((error: unknown) => {
          log.error('key change check failed', error);
        });
      },
      onSignInFailed: (error) => {
        if (this.signInAlerted) return;
        this.signInAlerted = true;
        this.leaderAlert(
          new ClientError(
            'relay-error',
            `Signing in to the relay failed (${errorCode(error)}). ` +
              'Cloak retries by itself.',
          ),
          'connection',
        );
      },
      onAccountUnknown: () => {
        this.leaderClearAlerts('connection');
        this.leaderAlert(
          accountUnknownError(identity.userId),
          'account',
          'register-again',
        );
      },
    });
  }

  /** Shows a change in this tab and posts it to the follower tabs. */
  private announceChange(change: EngineChange): void {
    this.applyChange(change);
    this.tabLeader?.notify({ type: 'change', change });
  }

  /** Shows an alert in this tab and in the follower tabs. */
  private leaderAlert(
    error: ClientError,
    source: 'engine' | 'connection' | 'account',
    action?: AlertAction,
  ): void {
    this.alert(error, source, action);
    this.tabLeader?.notify({
      type: 'alert',
      source,
      error: toErrorBody(error),
      ...(action ? { action } : {}),
    });
  }

  private leaderClearAlerts(source: 'connection' | 'account'): void {
    this.clearAlerts(source);
    this.tabLeader?.notify({ type: 'clear-alerts', source });
  }

  /** Opens the conversation that was open before the page reloaded. */
  private async reopenConversation(store: LocalStore): Promise<void> {
    try {
      const peerId = await store.openConversation();
      if (peerId !== undefined && this.snapshot.activePeer === undefined) {
        await this.openConversation(peerId);
      }
    } catch (error) {
      log.error('reopen conversation failed', error);
    }
  }

  private applyChange(change: EngineChange): void {
    if (change.type === 'conversations') {
      void this.refreshConversations();
    } else if (change.peerId !== this.snapshot.activePeer) {
      return;
    } else if (change.type === 'contact') {
      void this.refreshContact();
    } else {
      void this.refreshMessages();
      // Membership changes arrive as thread notices.
      if (groupIdOf(change.peerId) !== undefined) void this.refreshContact();
    }
  }

  private async refreshContact(): Promise<void> {
    const peerId = this.snapshot.activePeer;
    if (!this.actions || peerId === undefined) return;
    const request = ++this.contactRequest;
    try {
      if (groupIdOf(peerId) !== undefined) {
        const group = await this.actions.groupInfo(peerId);
        if (request === this.contactRequest) this.update({ group });
        return;
      }
      const contact = await this.actions.contactStatus(peerId);
      if (request === this.contactRequest) this.update({ contact });
    } catch (error) {
      log.error('contact status failed', error);
    }
  }

  private async refreshConversations(): Promise<void> {
    if (!this.store) return;
    const request = ++this.conversationsRequest;
    const conversations = await this.store.listConversations();
    if (request !== this.conversationsRequest) return;
    this.update({ conversations });
    // The leader's engine marks its own open conversation read. A follower
    // sends it a request to do the same for the conversation open here.
    const active = conversations.find(
      (conversation) => conversation.peerId === this.snapshot.activePeer,
    );
    if (this.snapshot.tabRole === 'follower' && active && active.unread > 0) {
      this.markReadInLeader(active.peerId);
    }
  }

  private markReadInLeader(peerId: string): void {
    this.actions?.markRead(peerId).catch((error: unknown) => {
      log.error('mark read failed', error);
    });
  }

  private async refreshMessages(): Promise<void> {
    const peerId = this.snapshot.activePeer;
    if (!this.store || peerId === undefined) return;
    const request = ++this.messagesRequest;
    const messages = await this.store.listMessages(peerId);
    if (request === this.messagesRequest) this.update({ messages });
  }

  /**
   * Registers the account again with a relay that lost it, then signs in,
   * which sends the messages waiting in the outbox. A taken username ends
   * with an alert that has no retry.
   */
  async registerAgain(): Promise<void> {
    const actions = this.actions;
    if (!actions || this.snapshot.registeringAgain) return;
    this.update({ registeringAgain: true });
    let result: RegisterAgainResult;
    try {
      result = await actions.registerAgain();
    } catch (error) {
      result = { status: 'retry', error: toErrorBody(error) };
    } finally {
      this.update({ registeringAgain: false });
    }
    this.clearAlerts('account');
    if (result.status === 'registered') return;
    const retry = result.status === 'retry' ? 'register-again' : undefined;
    this.alert(fromErrorBody(result.error), 'account', retry);
  }

  /** Hides the storage notice, which is already recorded as shown. */
  dismissStorageNotice(): void {
    this.update({ showStorageNotice: false });
  }

  /** Opens (or starts) the chat with `username`; returns false on failure. */
  async startChat(username: string): Promise<boolean> {
    if (!this.actions) return false;
    try {
      const peerId = await this.actions.startChat(username);
      await this.openConversation(peerId);
      this.clearAlerts('start-chat');
      return true;
    } catch (error) {
      log.error('start chat failed', error);
      this.alert(error, 'start-chat');
      return false;
    }
  }

  async openConversation(peerId: string): Promise<void> {
    if (!this.actions) return;
    if (peerId !== this.snapshot.activePeer) {
      this.contactRequest++;
      this.update({
        activePeer: peerId,
        messages: [],
        contact: undefined,
        group: undefined,
      });
    }
    this.rememberOpenConversation(peerId);
    if (this.engine) await this.engine.setActiveConversation(peerId);
    else this.markReadInLeader(peerId);
    await this.refreshMessages();
    await this.refreshContact();
  }

  private rememberOpenConversation(peerId: string | undefined): void {
    this.store?.setOpenConversation(peerId).catch((error: unknown) => {
      log.error('open conversation not saved', error);
    });
  }

  /** Closes the open conversation, whose new messages then count as unread. */
  closeConversation(): void {
    if (this.snapshot.activePeer === undefined) return;
    // A message load still running belongs to the closed thread.
    this.messagesRequest++;
    this.contactRequest++;
    this.update({
      activePeer: undefined,
      messages: [],
      contact: undefined,
      group: undefined,
    });
    this.rememberOpenConversation(undefined);
    this.engine?.setActiveConversation(undefined).catch((error: unknown) => {
      log.error('close conversation failed', error);
    });
  }

  /** Creates a group and opens it; returns false on failure. */
  async createGroup(name: string): Promise<boolean> {
    if (!this.actions) return false;
    try {
      const groupId = toBase64Url(systemRandom.bytes(GROUP_ID_LENGTH));
      const conversationId = await this.actions.createGroup(name, groupId);
      await this.openConversation(conversationId);
      this.clearAlerts('group');
      return true;
    } catch (error) {
      log.error('group creation failed', error);
      this.alert(error, 'group');
      return false;
    }
  }

  /** Adds a member to the open group; returns false on failure. */
  async addGroupMember(username: string): Promise<boolean> {
    const peerId = this.snapshot.activePeer;
    if (!this.actions || peerId === undefined) return false;
    try {
      await this.actions.addGroupMember(peerId, username);
      this.clearAlerts('group');
      return true;
    } catch (error) {
      log.error('add member failed', error);
      this.alert(error, 'group');
      return false;
    }
  }

  /** Removes a member from the open group. */
  removeGroupMember(userId: string): void {
    const peerId = this.snapshot.activePeer;
    if (!this.actions || peerId === undefined) return;
    this.actions.removeGroupMember(peerId, userId).then(
      () => this.clearAlerts('group'),
      (error: unknown) => {
        log.error('remove member failed', error);
        this.alert(error, 'group');
      },
    );
  }

  /** Renames the open group; returns false on failure. */
  async renameGroup(name: string): Promise<boolean> {
    const peerId = this.snapshot.activePeer;
    if (!this.actions || peerId === undefined) return false;
    try {
      await this.actions.renameGroup(peerId, name);
      this.clearAlerts('group');
      return true;
    } catch (error) {
      log.error('rename group failed', error);
      this.alert(error, 'group');
      return false;
    }
  }

  /** Makes a member of the open group an admin, or a plain member again. */
  setGroupAdmin(userId: string, admin: boolean): void {
    const peerId = this.snapshot.activePeer;
    if (!this.actions || peerId === undefined) return;
    this.actions.setGroupAdmin(peerId, userId, admin).then(
      () => this.clearAlerts('group'),
      (error: unknown) => {
        log.error('admin change failed', error);
        this.alert(error, 'group');
      },
    );
  }

  /** Leaves the open group. */
  leaveGroup(): void {
    const peerId = this.snapshot.activePeer;
    if (!this.actions || peerId === undefined) return;
    this.actions.leaveGroup(peerId).then(
      () => this.clearAlerts('group'),
      (error: unknown) => {
        log.error('leave group failed', error);
        this.alert(error, 'group');
      },
    );
  }

  /**
   * Queues a text message to the open conversation. The message id is
   * chosen here, so that a request that reaches two leader tabs during a
   * handover stores and sends the message once.
   */
  sendMessage(text: string): void {
    const peerId = this.snapshot.activePeer;
    if (!this.actions || peerId === undefined) return;
    const messageId = toBase64Url(systemRandom.bytes(16));
    this.actions.sendText(peerId, text, messageId).then(
      () => this.clearAlerts('send'),
      (error: unknown) => {
        log.error('send failed', error);
        this.alert(error, 'send');
      },
    );
  }

  /** Computes the open conversation's safety number. */
  async safetyNumber(): Promise<ContactSafetyNumber | undefined> {
    const peerId = this.snapshot.activePeer;
    if (!this.actions || peerId === undefined) return undefined;
    try {
      return await this.actions.safetyNumber(peerId);
    } catch (error) {
      log.error('safety number failed', error);
      this.alert(error, 'verify');
      return undefined;
    }
  }

  /**
   * Marks the open conversation's contact verified for the key whose
   * safety number the user compared.
   */
  async markVerified(shown: ContactSafetyNumber): Promise<boolean> {
    const peerId = this.snapshot.activePeer;
    if (!this.actions || peerId === undefined) return false;
    try {
      await this.actions.markVerified(peerId, shown.identityKey);
      this.clearAlerts('verify');
      return true;
    } catch (error) {
      log.error('mark verified failed', error);
      this.alert(error, 'verify');
      return false;
    }
  }

  /** Accepts the open conversation's new identity key, unblocking sends. */
  async acceptNewKey(): Promise<void> {
    const peerId = this.snapshot.activePeer;
    if (!this.actions || peerId === undefined) return;
    try {
      const current = await this.actions.safetyNumber(peerId);
      if (!current.pending) return;
      await this.actions.acceptIdentityKey(peerId, current.identityKey);
      this.clearAlerts('send');
      this.clearAlerts('verify');
    } catch (error) {
      log.error('accept key failed', error);
      this.alert(error, 'verify');
    }
  }

  /** Loads who fetched this account's prekey bundles, newest first. */
  async loadAccessLog(): Promise<AccessLogEntry[] | undefined> {
    if (!this.actions) return undefined;
    try {
      const entries = await this.actions.readAccessLog();
      this.clearAlerts('access-log');
      return entries;
    } catch (error) {
      log.error('access log failed', error);
      this.alert(error, 'access-log');
      return undefined;
    }
  }

  /**
   * Stops the connection, the outbox retries, registration retries and
   * the tab channel.
   */
  stop(): void {
    this.stopped.abort();
    clearInterval(this.retryTimer);
    this.connection?.stop();
    this.tabLeader?.close();
    this.tabLeader = undefined;
    this.stopFollowing();
  }
}

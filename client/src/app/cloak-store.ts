/**
 * The bridge between the engine and React: an external store with an
 * immutable snapshot (for `useSyncExternalStore`) and the user's actions.
 * Components see only the snapshot and these actions, never the storage or
 * the protocol.
 */
import type { LocalIdentity } from '../../../shared/crypto/keys';
import type { AccessLogEntry } from '../../../shared/wire/schemas';
import { systemRandom } from '../../../shared/crypto/random';
import {
  accountUnknownError,
  createPendingAccount,
  finishRegistration,
  parseUsername,
  type RegistrationOutcome,
  registerAgain,
} from '../engine/account';
import {
  type ContactSafetyNumber,
  type ContactStatus,
  Engine,
  type EngineChange,
  type GroupInfo,
} from '../engine/engine';
import { acquireEngineLock } from '../engine/lock';
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
  | 'waiting-for-lock'
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

export interface CloakSnapshot {
  readonly phase: Phase;
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
  private engine: Engine | undefined;
  private connection: RelayConnection | undefined;
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

  /** Waits for the engine lock, opens the database and the stored account. */
  async start(): Promise<void> {
    const problem = findStorageProblem(currentStorageEnvironment());
    if (problem) {
      this.showStorageProblem(problem);
      return;
    }
    if (!('locks' in navigator)) {
      this.update({ phase: 'unsupported' });
      return;
    }
    try {
      await acquireEngineLock(() => this.update({ phase: 'waiting-for-lock' }));
      // A failed open never leads to a new account, because that would
      // replace the stored identity keys. Only an opened, empty database does.
      let opened;
      try {
        this.db = await openCloakDb(undefined, {
          onBlocked: () => this.showStorageProblem('upgrade-blocked'),
          onVersionChange: () => {
            this.stop();
            this.showStorageProblem('version-changed');
          },
        });
        opened = await LocalStore.open(this.db, systemRandom);
      } catch (error) {
        log.error('database open failed', error);
        this.db = undefined;
        this.showStorageProblem('open-failed');
        return;
      }
      this.update({ phase: 'loading', storageProblem: undefined });
      if (!opened) {
        this.update({ phase: 'create-account' });
        return;
      }
      if (await opened.store.pendingRegistration()) {
        this.update({ phase: 'create-account' });
        await this.register(opened.store, opened.identity);
        return;
      }
      await this.run(opened.store, opened.identity);
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
    const connection = new RelayConnection(identity, {
      onState: (connection) => this.update({ connection }),
      onSignedIn: (counts) => {
        this.signInAlerted = false;
        this.clearAlerts('connection');
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
        this.alert(
          new ClientError(
            'relay-error',
            `Signing in to the relay failed (${errorCode(error)}). ` +
              'Cloak retries by itself.',
          ),
          'connection',
        );
      },
      onAccountUnknown: () => {
        this.clearAlerts('connection');
        this.alert(
          accountUnknownError(identity.userId),
          'account',
          'register-again',
        );
      },
    });
    this.connection = connection;
    this.engine = new Engine({
      store,
      identity,
      transport: connection,
      onChange: (change) => this.applyChange(change),
      onError: (error) => this.alert(error, 'engine'),
    });

    // The notice is recorded as shown before it renders, so that a reload
    // never shows it again, dismissed or not.
    const showStorageNotice = await store
      .takeStorageNotice()
      .catch((error: unknown) => {
        log.error('notice update failed', error);
        return false;
      });
    this.update({ phase: 'ready', userId: identity.userId, showStorageNotice });
    await this.refreshConversations();
    await this.reopenConversation(store);
    void store
      .pruneProcessed(Date.now() - PROCESSED_ID_RETENTION_MS)
      .catch((error: unknown) => log.error('prune failed', error));
    connection.start();
    this.retryTimer = setInterval(() => {
      if (connection.connected) void this.engine?.flushOutbox();
    }, OUTBOX_RETRY_MS);
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
    if (!this.engine || peerId === undefined) return;
    const request = ++this.contactRequest;
    if (groupIdOf(peerId) !== undefined) {
      const group = await this.engine.groupInfo(peerId);
      if (request === this.contactRequest) this.update({ group });
      return;
    }
    const contact = await this.engine.contactStatus(peerId);
    if (request === this.contactRequest) this.update({ contact });
  }

  private async refreshConversations(): Promise<void> {
    if (!this.store) return;
    const request = ++this.conversationsRequest;
    const conversations = await this.store.listConversations();
    if (request === this.conversationsRequest) this.update({ conversations });
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
    const { store, identity, connection } = this;
    if (!store || !identity || !connection) return;
    if (this.snapshot.registeringAgain) return;
    this.update({ registeringAgain: true });
    let outcome: RegistrationOutcome;
    try {
      outcome = await registerAgain(store, identity);
    } catch (error) {
      log.error('second registration failed', error);
      const failure = new ClientError(
        'storage-failed',
        'The new prekeys could not be stored. Try again.',
      );
      outcome = { status: 'retry', error: failure };
    } finally {
      this.update({ registeringAgain: false });
    }
    this.clearAlerts('account');
    if (outcome.status === 'registered') {
      connection.start();
      return;
    }
    const retry = outcome.status === 'retry' ? 'register-again' : undefined;
    this.alert(outcome.error, 'account', retry);
  }

  /** Hides the storage notice, which is already recorded as shown. */
  dismissStorageNotice(): void {
    this.update({ showStorageNotice: false });
  }

  /** Opens (or starts) the chat with `username`; returns false on failure. */
  async startChat(username: string): Promise<boolean> {
    if (!this.engine) return false;
    try {
      const peerId = await this.engine.startChat(username);
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
    if (!this.engine) return;
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
    await this.engine.setActiveConversation(peerId);
    await this.refreshContact();
    await this.refreshMessages();
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
    if (!this.engine) return false;
    try {
      const conversationId = await this.engine.createGroup(name);
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
    if (!this.engine || peerId === undefined) return false;
    try {
      await this.engine.addGroupMember(peerId, username);
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
    if (!this.engine || peerId === undefined) return;
    this.engine.removeGroupMember(peerId, userId).then(
      () => this.clearAlerts('group'),
      (error: unknown) => {
        log.error('remove member failed', error);
        this.alert(error, 'group');
      },
    );
  }

  /** Leaves the open group. */
  leaveGroup(): void {
    const peerId = this.snapshot.activePeer;
    if (!this.engine || peerId === undefined) return;
    this.engine.leaveGroup(peerId).then(
      () => this.clearAlerts('group'),
      (error: unknown) => {
        log.error('leave group failed', error);
        this.alert(error, 'group');
      },
    );
  }

  /** Queues a text message to the open conversation. */
  sendMessage(text: string): void {
    const peerId = this.snapshot.activePeer;
    if (!this.engine || peerId === undefined) return;
    this.engine.sendText(peerId, text).then(
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
    if (!this.engine || peerId === undefined) return undefined;
    try {
      return await this.engine.safetyNumber(peerId);
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
    if (!this.engine || peerId === undefined) return false;
    try {
      await this.engine.markVerified(peerId, shown.identityKey);
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
    if (!this.engine || peerId === undefined) return;
    try {
      const current = await this.engine.safetyNumber(peerId);
      if (!current.pending) return;
      await this.engine.acceptIdentityKey(peerId, current.identityKey);
      this.clearAlerts('send');
      this.clearAlerts('verify');
    } catch (error) {
      log.error('accept key failed', error);
      this.alert(error, 'verify');
    }
  }

  /** Loads who fetched this account's prekey bundles, newest first. */
  async loadAccessLog(): Promise<AccessLogEntry[] | undefined> {
    if (!this.engine) return undefined;
    try {
      const entries = await this.engine.readAccessLog();
      this.clearAlerts('access-log');
      return entries;
    } catch (error) {
      log.error('access log failed', error);
      this.alert(error, 'access-log');
      return undefined;
    }
  }

  /** Stops the connection, the outbox retries and registration retries. */
  stop(): void {
    this.stopped.abort();
    clearInterval(this.retryTimer);
    this.connection?.stop();
  }
}

/**
 * The engine actions of the user interface behind one interface with two
 * implementations: the leader tab's calls its own engine, and a follower
 * tab's sends each call to the leader over the tab channel (see
 * `engine/tabs.ts`). Also the notices the leader posts to followers.
 */
import { z } from 'zod';
import type { Bytes } from '../../../shared/crypto/bytes';
import type { LocalIdentity } from '../../../shared/crypto/keys';
import { MAX_TEXT_LENGTH } from '../../../shared/wire/content';
import type { AccessLogEntry } from '../../../shared/wire/schemas';
import { registerAgain } from '../engine/account';
import type {
  ContactSafetyNumber,
  ContactStatus,
  Engine,
  EngineChange,
  GroupInfo,
} from '../engine/engine';
import { createLogger } from '../engine/logger';
import type { RelayConnection } from '../engine/relay-connection';
import { type TabErrorBody, toErrorBody } from '../engine/tabs';
import { ClientError } from '../errors';
import type { LocalStore } from '../storage/local-store';

const log = createLogger('app');

/** Outcome of registering again, as it crosses the tab channel. */
export type RegisterAgainResult =
  | { readonly status: 'registered' }
  | { readonly status: 'retry' | 'rejected'; readonly error: TabErrorBody };

/** Every action of the user interface that reads or changes engine state. */
export interface EngineActions {
  startChat(username: string): Promise<string>;
  markRead(peerId: string): Promise<void>;
  /** `messageId` is chosen by the caller, so that a repeat is recognised. */
  sendText(peerId: string, text: string, messageId: string): Promise<void>;
  /**
   * `groupId` is chosen by the caller, so that a repeat after a leader
   * change finds the group instead of creating a second one.
   */
  createGroup(name: string, groupId: string): Promise<string>;
  addGroupMember(conversationId: string, username: string): Promise<void>;
  removeGroupMember(conversationId: string, userId: string): Promise<void>;
  renameGroup(conversationId: string, name: string): Promise<void>;
  setGroupAdmin(
    conversationId: string,
    userId: string,
    admin: boolean,
  ): Promise<void>;
  leaveGroup(conversationId: string): Promise<void>;
  contactStatus(peerId: string): Promise<ContactStatus>;
  groupInfo(conversationId: string): Promise<GroupInfo | undefined>;
  safetyNumber(peerId: string): Promise<ContactSafetyNumber>;
  markVerified(peerId: string, identityKey: Bytes): Promise<void>;
  acceptIdentityKey(peerId: string, identityKey: Bytes): Promise<void>;
  readAccessLog(): Promise<AccessLogEntry[]>;
  registerAgain(): Promise<RegisterAgainResult>;
}

export type ActionName = keyof EngineActions;

/** Usernames, user ids and conversation ids are far below this. */
const Name = z.string().max(256);
const MessageId = z.string().regex(/^[A-Za-z0-9_-]{22}$/);
/** A base64url group id of `GROUP_ID_LENGTH` (16) bytes. */
const GroupId = z.string().regex(/^[A-Za-z0-9_-]{22}$/);
const Text = z.string().max(MAX_TEXT_LENGTH);
const PublicKey = z.custom<Bytes>((value) => value instanceof Uint8Array);

/** Argument checks of each action, run by the leader on every request. */
const ARGUMENTS = {
  startChat: z.tuple([Name]),
  markRead: z.tuple([Name]),
  sendText: z.tuple([Name, Text, MessageId]),
  createGroup: z.tuple([Name, GroupId]),
  addGroupMember: z.tuple([Name, Name]),
  removeGroupMember: z.tuple([Name, Name]),
  renameGroup: z.tuple([Name, Name]),
  setGroupAdmin: z.tuple([Name, Name, z.boolean()]),
  leaveGroup: z.tuple([Name]),
  contactStatus: z.tuple([Name]),
  groupInfo: z.tuple([Name]),
  safetyNumber: z.tuple([Name]),
  markVerified: z.tuple([Name, PublicKey]),
  acceptIdentityKey: z.tuple([Name, PublicKey]),
  readAccessLog: z.tuple([]),
  registerAgain: z.tuple([]),
} satisfies { [K in ActionName]: z.ZodType<Parameters<EngineActions[K]>> };

function isActionName(action: string): action is ActionName {
  return Object.hasOwn(ARGUMENTS, action);
}

/** Runs a follower's request on the leader's actions, after checking it. */
export function serveAction(
  actions: EngineActions,
  action: string,
  args: readonly unknown[],
): Promise<unknown> {
  if (!isActionName(action)) {
    return Promise.reject(
      new ClientError(
        'internal-error',
        `Unknown action "${action}" from another tab. Reload every Cloak tab.`,
      ),
    );
  }
  const parsed = ARGUMENTS[action].safeParse(args);
  if (!parsed.success) {
    return Promise.reject(
      new ClientError(
        'internal-error',
        `Invalid arguments of "${action}" from another tab. Reload every ` +
          'Cloak tab.',
      ),
    );
  }
  const method = actions[action] as (...values: unknown[]) => Promise<unknown>;
  return method.apply(actions, parsed.data);
}

/** The part of `TabFollower` that remote actions use. */
export interface ActionRequester {
  request(action: string, args: readonly unknown[]): Promise<unknown>;
}

/**
 * Returns actions that run in the leader tab. Results are not checked
 * again, because they come from the same origin's code of the same tab
 * protocol version.
 */
export function remoteActions(requester: ActionRequester): EngineActions {
  const call = <K extends ActionName>(
    action: K,
    ...args: Parameters<EngineActions[K]>
  ) => requester.request(action, args) as ReturnType<EngineActions[K]>;
  return {
    startChat: (username) => call('startChat', username),
    markRead: (peerId) => call('markRead', peerId),
    sendText: (peerId, text, messageId) =>
      call('sendText', peerId, text, messageId),
    createGroup: (name, groupId) => call('createGroup', name, groupId),
    addGroupMember: (conversationId, username) =>
      call('addGroupMember', conversationId, username),
    removeGroupMember: (conversationId, userId) =>
      call('removeGroupMember', conversationId, userId),
    renameGroup: (conversationId, name) =>
      call('renameGroup', conversationId, name),
    setGroupAdmin: (conversationId, userId, admin) =>
      call('setGroupAdmin', conversationId, userId, admin),
    leaveGroup: (conversationId) => call('leaveGroup', conversationId),
    contactStatus: (peerId) => call('contactStatus', peerId),
    groupInfo: (conversationId) => call('groupInfo', conversationId),
    safetyNumber: (peerId) => call('safetyNumber', peerId),
    markVerified: (peerId, identityKey) =>
      call('markVerified', peerId, identityKey),
    acceptIdentityKey: (peerId, identityKey) =>
      call('acceptIdentityKey', peerId, identityKey),
    readAccessLog: () => call('readAccessLog'),
    registerAgain: () => call('registerAgain'),
  };
}

export interface LocalActionsOptions {
  readonly engine: Engine;
  readonly store: LocalStore;
  readonly identity: LocalIdentity;
  /** Signs in again after a second registration. */
  readonly connection: Pick<RelayConnection, 'start'>;
  /** Reports a change that the engine does not report itself. */
  readonly onChange: (change: EngineChange) => void;
}

/** Returns the actions of the leader tab, which call its engine. */
export function localActions(options: LocalActionsOptions): EngineActions {
  const { engine, store, identity, connection } = options;
  return {
    startChat: (username) => engine.startChat(username),
    markRead: async (peerId) => {
      await store.markRead(peerId);
      options.onChange({ type: 'conversations' });
    },
    sendText: (peerId, text, messageId) =>
      engine.sendText(peerId, text, messageId),
    createGroup: (name, groupId) => engine.createGroup(name, groupId),
    addGroupMember: (conversationId, username) =>
      engine.addGroupMember(conversationId, username),
    removeGroupMember: (conversationId, userId) =>
      engine.removeGroupMember(conversationId, userId),
    renameGroup: (conversationId, name) =>
      engine.renameGroup(conversationId, name),
    setGroupAdmin: (conversationId, userId, admin) =>
      engine.setGroupAdmin(conversationId, userId, admin),
    leaveGroup: (conversationId) => engine.leaveGroup(conversationId),
    contactStatus: (peerId) => engine.contactStatus(peerId),
    groupInfo: (conversationId) => engine.groupInfo(conversationId),
    safetyNumber: (peerId) => engine.safetyNumber(peerId),
    markVerified: (peerId, identityKey) =>
      engine.markVerified(peerId, identityKey),
    acceptIdentityKey: (peerId, identityKey) =>
      engine.acceptIdentityKey(peerId, identityKey),
    readAccessLog: () => engine.readAccessLog(),
    registerAgain: async () => {
      let outcome;
      try {
        outcome = await registerAgain(store, identity);
      } catch (error) {
        log.error('second registration failed', error);
        const failure = new ClientError(
          'storage-failed',
          'The new prekeys could not be stored. Try again.',
        );
        return { status: 'retry', error: toErrorBody(failure) };
      }
      if (outcome.status === 'registered') {
        connection.start();
        return { status: 'registered' };
      }
      return { status: outcome.status, error: toErrorBody(outcome.error) };
    },
  };
}

const ConnectionStateSchema = z.enum(['connected', 'connecting', 'offline']);

const EngineChangeSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('conversations') }),
  z.object({ type: z.literal('messages'), peerId: Name }),
  z.object({ type: z.literal('contact'), peerId: Name }),
]);

const ErrorBody = z.object({
  code: z.string().max(64),
  message: z.string().max(2_000),
});

const TabNoticeSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('change'), change: EngineChangeSchema }),
  z.object({ type: z.literal('connection'), state: ConnectionStateSchema }),
  z.object({
    type: z.literal('alert'),
    source: z.enum(['engine', 'connection', 'account']),
    error: ErrorBody,
    action: z.literal('register-again').optional(),
  }),
  z.object({
    type: z.literal('clear-alerts'),
    source: z.enum(['connection', 'account']),
  }),
]);

/** A change the leader tab posts to its followers. */
export type TabNotice = z.infer<typeof TabNoticeSchema>;

export function parseTabNotice(notice: unknown): TabNotice | undefined {
  const parsed = TabNoticeSchema.safeParse(notice);
  return parsed.success ? parsed.data : undefined;
}

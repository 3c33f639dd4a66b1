/**
 * The group-state log: membership is decided by clients, not the relay.
 * Each entry states the whole group after a change (version, hash of the
 * previous entry, group id, name, members and admins as user ids) together
 * with the change itself (create, add, remove, leave, rename, promote to
 * admin, demote from admin), its author
 * and the author's clock. The author signs the entry with its user identity
 * key under the context `Cloak-v1/sig/group-state`.
 *
 * `applyGroupChange` accepts an entry only if all of these hold:
 * - its signature verifies under the author's pinned identity key;
 * - the author is an admin of the previous state, or, for `leave`, the
 *   member who leaves;
 * - its version is the previous one plus one and its previous hash matches;
 * - its members, admins and name are exactly what the change makes of the
 *   previous state.
 * So the relay, which only carries entries, can neither add a member nor
 * replay an old change. An entry from another branch of the log is reported
 * as a fork.
 *
 * A member who joins later starts from the entry that adds it
 * (`applyJoiningChange`) and never receives the entries before it, because
 * each entry lists every member and the whole log would not fit in one
 * envelope. Its trust anchor is the admin who signed that entry and sent
 * it over an authenticated pairwise session: the joiner accepts the
 * member list that admin states without checking it against the creation.
 *
 * Entry hash = SHA-256(length-prefixed `Cloak-v1/group-state/hash` and
 * entry bytes). The entry encoding has one form per entry: user ids sorted,
 * without duplicates, and every field length-prefixed or fixed.
 */
import { USERNAME_MAX_LENGTH, USERNAME_MIN_LENGTH } from '../wire/limits';
import { USERNAME_PATTERN } from '../wire/schemas';
import {
  type Bytes,
  constantTimeEqual,
  fromUtf8,
  lengthPrefixed,
  utf8,
} from './bytes';
import { ByteReader, ByteWriter } from './encoding';
import { CryptoError } from './errors';
import { GROUP_STATE_HASH_LABEL, SignatureContext } from './labels';
import {
  MAX_GROUP_ADMINS,
  MAX_GROUP_CHANGE_USERS,
  MAX_GROUP_MEMBERS,
  MAX_GROUP_NAME_BYTES,
} from './limits';
import { ed25519Sign, ed25519Verify, sha256 } from './primitives';
import { GROUP_ID_LENGTH } from './sender-key';

export const GROUP_STATE_ENTRY_VERSION = 1;
const HASH_LENGTH = 32;
const SIGNATURE_LENGTH = 64;
const MAX_ENTRY_BYTES = 64 * 1024;

export type GroupChange =
  | { readonly type: 'create' }
  | { readonly type: 'add'; readonly userIds: readonly string[] }
  | { readonly type: 'remove'; readonly userIds: readonly string[] }
  | { readonly type: 'leave' }
  | { readonly type: 'rename'; readonly name: string }
  | { readonly type: 'promote'; readonly userIds: readonly string[] }
  | { readonly type: 'demote'; readonly userIds: readonly string[] };

const CHANGE_CODES = {
  create: 1,
  add: 2,
  remove: 3,
  leave: 4,
  rename: 5,
  promote: 6,
  demote: 7,
} as const;

/** One entry of the log, as signed. */
export interface GroupStateEntry {
  readonly version: number;
  /** Hash of the previous entry; 32 zero bytes for `create`. */
  readonly previousHash: Bytes;
  readonly groupId: Bytes;
  readonly name: string;
  /** User ids, sorted. */
  readonly members: readonly string[];
  /** User ids, sorted; every admin is a member. */
  readonly admins: readonly string[];
  readonly change: GroupChange;
  /** User id of the signer. */
  readonly author: string;
  /** The author's clock, in milliseconds since the epoch; not checked. */
  readonly time: number;
}

/** An entry and the author's signature over it, as members pass it on. */
export interface SignedGroupChange {
  readonly entry: Bytes;
  readonly signature: Bytes;
}

/** The verified state after the latest accepted entry. */
export interface GroupState {
  readonly groupId: Bytes;
  readonly version: number;
  /** Hash of the latest accepted entry. */
  readonly hash: Bytes;
  readonly name: string;
  readonly members: readonly string[];
  readonly admins: readonly string[];
}

/** The signer of a change: its user id and user identity key. */
export interface GroupChangeAuthor {
  readonly userId: string;
  readonly identityKey: CryptoKey;
}

function isUserId(value: string): boolean {
  return (
    value.length >= USERNAME_MIN_LENGTH &&
    value.length <= USERNAME_MAX_LENGTH &&
    USERNAME_PATTERN.test(value)
  );
}

function sortedUnique(
  userIds: readonly string[],
  operation: string,
  field: string,
): string[] {
  for (const userId of userIds) {
    if (!isUserId(userId)) {
      throw new CryptoError(
        'invalid-message',
        operation,
        `${field} contains an invalid user id`,
      );
    }
  }
  const sorted = [...new Set(userIds)].sort();
  if (sorted.length !== userIds.length) {
    throw new CryptoError(
      'invalid-message',
      operation,
      `${field} lists a user id twice`,
    );
  }
  return sorted;
}

function checkName(name: string, operation: string): void {
  const length = utf8(name).length;
  if (length === 0 || length > MAX_GROUP_NAME_BYTES) {
    throw new CryptoError(
      'invalid-message',
      operation,
      `group name of ${length} bytes; 1 to ${MAX_GROUP_NAME_BYTES} allowed`,
    );
  }
}

function writeUserIds(writer: ByteWriter, userIds: readonly string[]): void {
  writer.u32(userIds.length);
  for (const userId of userIds) writer.bytes(utf8(userId));
}

export function encodeGroupStateEntry(entry: GroupStateEntry): Bytes {
  const writer = new ByteWriter()
    .u8(GROUP_STATE_ENTRY_VERSION)
    .u32(entry.version)
    .bytes(entry.previousHash)
    .bytes(entry.groupId)
    .bytes(utf8(entry.name));
  writeUserIds(writer, entry.members);
  writeUserIds(writer, entry.admins);
  writer.u8(CHANGE_CODES[entry.change.type]);
  switch (entry.change.type) {
    case 'add':
    case 'remove':
    case 'promote':
    case 'demote':
      writeUserIds(writer, entry.change.userIds);
      break;
    case 'rename':
      writer.bytes(utf8(entry.change.name));
      break;
    case 'create':
    case 'leave':
      break;
  }
  return writer.bytes(utf8(entry.author)).u64(entry.time).finish();
}

function readText(reader: ByteReader, field: string, max: number): string {
  try {
    return fromUtf8(reader.bytes(field, max));
  } catch (cause) {
    if (CryptoError.is(cause)) throw cause;
    throw new CryptoError(
      'invalid-message',
      'decodeGroupStateEntry',
      `${field} is not UTF-8`,
      { cause },
    );
  }
}

/** Reads a list of user ids and checks that it is sorted and unique. */
function readUserIds(
  reader: ByteReader,
  field: string,
  maxCount: number = MAX_GROUP_CHANGE_USERS,
): string[] {
  const operation = 'decodeGroupStateEntry';
  const count = reader.u32(`${field} count`);
  if (count > maxCount) {
    throw new CryptoError(
      'invalid-message',
      operation,
      `${field} lists ${count} user ids, at most ${maxCount} allowed`,
    );
  }
  const userIds: string[] = [];
  for (let i = 0; i < count; i++) {
    userIds.push(readText(reader, field, USERNAME_MAX_LENGTH));
  }
  const canonical = sortedUnique(userIds, operation, field);
  if (canonical.some((userId, i) => userId !== userIds[i])) {
    throw new CryptoError(
      'invalid-message',
      operation,
      `${field} is not sorted`,
    );
  }
  return userIds;
}

function readChange(reader: ByteReader): GroupChange {
  const code = reader.u8('change type');
  switch (code) {
    case CHANGE_CODES.create:
      return { type: 'create' };
    case CHANGE_CODES.add:
      return { type: 'add', userIds: readUserIds(reader, 'added users') };
    case CHANGE_CODES.remove:
      return { type: 'remove', userIds: readUserIds(reader, 'removed users') };
    case CHANGE_CODES.leave:
      return { type: 'leave' };
    case CHANGE_CODES.rename:
      return {
        type: 'rename',
        name: readText(reader, 'new name', MAX_GROUP_NAME_BYTES),
      };
    case CHANGE_CODES.promote:
      return {
        type: 'promote',
        userIds: readUserIds(reader, 'promoted users'),
      };
    case CHANGE_CODES.demote:
      return { type: 'demote', userIds: readUserIds(reader, 'demoted users') };
    default:
      throw new CryptoError(
        'invalid-message',
        'decodeGroupStateEntry',
        `unknown change type ${code}`,
      );
  }
}

/** Decodes an entry and checks its form; throws `invalid-message`. */
export function decodeGroupStateEntry(bytes: Uint8Array): GroupStateEntry {
  const operation = 'decodeGroupStateEntry';
  const reader = new ByteReader(bytes, 'invalid-message', operation);
  const format = reader.u8('entry format');
  if (format !== GROUP_STATE_ENTRY_VERSION) {
    throw new CryptoError(
      'invalid-message',
      operation,
      `unknown entry format ${format}`,
    );
  }
  const version = reader.u32('version');
  const previousHash = reader.fixed('previous hash', HASH_LENGTH);
  const groupId = reader.fixed('group id', GROUP_ID_LENGTH);
  const name = readText(reader, 'name', MAX_GROUP_NAME_BYTES);
  const members = readUserIds(reader, 'members', MAX_GROUP_MEMBERS);
  const admins = readUserIds(reader, 'admins', MAX_GROUP_ADMINS);
  const change = readChange(reader);
  const author = readText(reader, 'author', USERNAME_MAX_LENGTH);
  const time = reader.u64('time');
  reader.end();
  checkName(name, operation);
  if (change.type === 'rename') checkName(change.name, operation);
  if (!isUserId(author)) {
    throw new CryptoError('invalid-message', operation, 'invalid author id');
  }
  if (admins.some((admin) => !members.includes(admin))) {
    throw new CryptoError(
      'invalid-message',
      operation,
      'an admin is not a member',
    );
  }
  return {
    version,
    previousHash,
    groupId,
    name,
    members,
    admins,
    change,
    author,
    time,
  };
}

/** Returns the user id whose identity key must verify `signed`. */
export function groupChangeAuthor(signed: SignedGroupChange): string {
  return decodeGroupStateEntry(signed.entry).author;
}

/** Encodes a signed change for the pairwise content that carries it. */
export function encodeSignedGroupChange(signed: SignedGroupChange): Bytes {
  return new ByteWriter().bytes(signed.entry).bytes(signed.signature).finish();
}

export function decodeSignedGroupChange(bytes: Uint8Array): SignedGroupChange {
  const reader = new ByteReader(
    bytes,
    'invalid-message',
    'decodeSignedGroupChange',
  );
  const entry = reader.bytes('entry', MAX_ENTRY_BYTES);
  const signature = reader.fixed('signature', SIGNATURE_LENGTH);
  reader.end();
  return { entry, signature };
}

export async function groupStateEntryHash(entry: Uint8Array): Promise<Bytes> {
  return sha256(lengthPrefixed(utf8(GROUP_STATE_HASH_LABEL), entry));
}

interface Membership {
  readonly name: string;
  readonly members: readonly string[];
  readonly admins: readonly string[];
}

/**
 * Returns what `change` by `author` makes of `state`, or throws
 * `unauthorized-change` or `invalid-message`. Only an admin may add,
 * remove or rename; any member may leave.
 */
function nextMembership(
  state: GroupState,
  change: GroupChange,
  author: string,
  operation: string,
): Membership {
  if (change.type === 'create') {
    throw new CryptoError(
      'invalid-message',
      operation,
      'a group is created only once',
    );
  }
  if (!state.members.includes(author)) {
    throw new CryptoError(
      'unauthorized-change',
      operation,
      'the author is not a member of the group',
    );
  }
  if ('userIds' in change && change.userIds.length > MAX_GROUP_CHANGE_USERS) {
    throw new CryptoError(
      'invalid-message',
      operation,
      `a change names ${change.userIds.length} user ids, at most ${MAX_GROUP_CHANGE_USERS} allowed`,
    );
  }
  if (change.type === 'leave') {
    // NOTE: a group whose last admin leaves can no longer change its
    // membership, so a client promotes another member before that leave.
    return {
      name: state.name,
      members: state.members.filter((member) => member !== author),
      admins: state.admins.filter((admin) => admin !== author),
    };
  }
  if (!state.admins.includes(author)) {
    throw new CryptoError(
      'unauthorized-change',
      operation,
      `only an admin may ${change.type === 'rename' ? 'rename the group' : `${change.type} members`}`,
    );
  }
  switch (change.type) {
    case 'rename':
      checkName(change.name, operation);
      return {
        name: change.name,
        members: state.members,
        admins: state.admins,
      };
    case 'add': {
      const added = sortedUnique(change.userIds, operation, 'added users');
      if (
        added.length === 0 ||
        added.some((id) => state.members.includes(id))
      ) {
        throw new CryptoError(
          'invalid-message',
          operation,
          'an add must name at least one user who is not a member',
        );
      }
      const members = [...state.members, ...added].sort();
      if (members.length > MAX_GROUP_MEMBERS) {
        throw new CryptoError(
          'invalid-message',
          operation,
          `the group would have ${members.length} members, at most ${MAX_GROUP_MEMBERS} allowed`,
        );
      }
      return { name: state.name, members, admins: state.admins };
    }
    case 'remove': {
      const removed = sortedUnique(change.userIds, operation, 'removed users');
      if (
        removed.length === 0 ||
        removed.some((id) => !state.members.includes(id) || id === author)
      ) {
        throw new CryptoError(
          'invalid-message',
          operation,
          'a remove must name at least one member other than its author, who leaves instead',
        );
      }
      return {
        name: state.name,
        members: state.members.filter((member) => !removed.includes(member)),
        admins: state.admins.filter((admin) => !removed.includes(admin)),
      };
    }
    case 'promote': {
      const promoted = sortedUnique(change.userIds, operation, 'promoted');
      if (
        promoted.length === 0 ||
        promoted.some(
          (id) => !state.members.includes(id) || state.admins.includes(id),
        )
      ) {
        throw new CryptoError(
          'invalid-message',
          operation,
          'a promote must name at least one member who is not an admin',
        );
      }
      const admins = [...state.admins, ...promoted].sort();
      if (admins.length > MAX_GROUP_ADMINS) {
        throw new CryptoError(
          'invalid-message',
          operation,
          `the group would have ${admins.length} admins, at most ${MAX_GROUP_ADMINS} allowed`,
        );
      }
      return { name: state.name, members: state.members, admins };
    }
    case 'demote': {
      const demoted = sortedUnique(change.userIds, operation, 'demoted');
      const admins = state.admins.filter((admin) => !demoted.includes(admin));
      if (
        demoted.length === 0 ||
        demoted.some((id) => !state.admins.includes(id)) ||
        admins.length === 0
      ) {
        throw new CryptoError(
          'invalid-message',
          operation,
          'a demote must name at least one admin and leave at least one',
        );
      }
      return { name: state.name, members: state.members, admins };
    }
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}

async function signEntry(
  entry: GroupStateEntry,
  author: GroupChangeAuthor,
): Promise<SignedGroupChange> {
  const bytes = encodeGroupStateEntry(entry);
  const signature = await ed25519Sign(
    author.identityKey,
    SignatureContext.groupState,
    bytes,
  );
  return { entry: bytes, signature };
}

/**
 * Creates a group: entry version 1 whose only admin is the author. The
 * author is added to `members` if missing.
 */
export async function createGroup(
  groupId: Bytes,
  name: string,
  members: readonly string[],
  author: GroupChangeAuthor,
  time: number,
): Promise<SignedGroupChange> {
  const operation = 'createGroup';
  checkName(name, operation);
  const all = members.includes(author.userId)
    ? members
    : [...members, author.userId];
  return signEntry(
    {
      version: 1,
      previousHash: new Uint8Array(HASH_LENGTH),
      groupId,
      name,
      members: sortedUnique(all, operation, 'members'),
      admins: [author.userId],
      change: { type: 'create' },
      author: author.userId,
      time,
    },
    author,
  );
}

/** Builds and signs the entry that applies `change` to `state`. */
export async function signGroupChange(
  state: GroupState,
  change: GroupChange,
  author: GroupChangeAuthor,
  time: number,
): Promise<SignedGroupChange> {
  const next = nextMembership(state, change, author.userId, 'signGroupChange');
  const canonicalChange: GroupChange =
    'userIds' in change
      ? { type: change.type, userIds: [...change.userIds].sort() }
      : change;
  return signEntry(
    {
      version: state.version + 1,
      previousHash: state.hash,
      groupId: state.groupId,
      ...next,
      change: canonicalChange,
      author: author.userId,
      time,
    },
    author,
  );
}

function checkCreation(entry: GroupStateEntry, operation: string): void {
  if (entry.change.type !== 'create') {
    throw new CryptoError(
      'missing-group-change',
      operation,
      `entry version ${entry.version} arrived before the group's creation`,
    );
  }
  if (
    entry.version !== 1 ||
    entry.previousHash.some((byte) => byte !== 0) ||
    !sameList(entry.admins, [entry.author])
  ) {
    throw new CryptoError(
      'invalid-message',
      operation,
      'a creation must be version 1 with a zero previous hash and its author as the only admin',
    );
  }
}

/** Checks where `entry` sits in the log relative to `state`. */
function checkPosition(
  state: GroupState,
  entry: GroupStateEntry,
  entryHash: Bytes,
  operation: string,
): void {
  if (!constantTimeEqual(entry.groupId, state.groupId)) {
    throw new CryptoError(
      'invalid-message',
      operation,
      'entry belongs to another group',
    );
  }
  if (entry.version <= state.version) {
    const sameEntry =
      entry.version === state.version &&
      constantTimeEqual(entryHash, state.hash);
    const forked = entry.version === state.version && !sameEntry;
    throw new CryptoError(
      forked ? 'forked-group-state' : 'replayed-group-change',
      operation,
      forked
        ? `a different entry for the current version ${state.version}`
        : `entry version ${entry.version} is not after the current version ${state.version}`,
    );
  }
  if (entry.version > state.version + 1) {
    throw new CryptoError(
      'missing-group-change',
      operation,
      `entry version ${entry.version} skips versions after ${state.version}`,
    );
  }
  if (!constantTimeEqual(entry.previousHash, state.hash)) {
    throw new CryptoError(
      'forked-group-state',
      operation,
      `entry version ${entry.version} follows another entry than the current version ${state.version}`,
    );
  }
}

/**
 * Decodes a signed entry and checks its signature under the author's
 * identity key; throws `invalid-signature` when it does not verify.
 */
async function verifiedEntry(
  signed: SignedGroupChange,
  authorIdentityKey: Uint8Array,
  operation: string,
): Promise<GroupStateEntry> {
  const entry = decodeGroupStateEntry(signed.entry);
  const valid = await ed25519Verify(
    authorIdentityKey,
    SignatureContext.groupState,
    signed.entry,
    signed.signature,
  );
  if (!valid) {
    throw new CryptoError(
      'invalid-signature',
      operation,
      `entry version ${entry.version} is not signed by its author's identity key`,
    );
  }
  return entry;
}

/**
 * Verifies a signed change and applies it to `state` (undefined before the
 * creation). `authorIdentityKey` is the pinned user identity key of the
 * entry's author (see `groupChangeAuthor`). Returns the new state or
 * throws a `CryptoError`: `invalid-signature`, `unauthorized-change`,
 * `replayed-group-change`, `forked-group-state`, `missing-group-change` or
 * `invalid-message`.
 */
export async function applyGroupChange(
  state: GroupState | undefined,
  signed: SignedGroupChange,
  authorIdentityKey: Uint8Array,
): Promise<GroupState> {
  const operation = 'applyGroupChange';
  const entry = await verifiedEntry(signed, authorIdentityKey, operation);
  const hash = await groupStateEntryHash(signed.entry);

  if (state === undefined) {
    checkCreation(entry, operation);
    if (!entry.members.includes(entry.author)) {
      throw new CryptoError(
        'invalid-message',
        operation,
        'the creator is not a member',
      );
    }
  } else {
    checkPosition(state, entry, hash, operation);
    const next = nextMembership(state, entry.change, entry.author, operation);
    if (
      next.name !== entry.name ||
      !sameList(next.members, entry.members) ||
      !sameList(next.admins, entry.admins)
    ) {
      throw new CryptoError(
        'invalid-message',
        operation,
        `entry version ${entry.version} lists a group that its change does not produce`,
      );
    }
  }
  return {
    groupId: entry.groupId,
    version: entry.version,
    hash,
    name: entry.name,
    members: entry.members,
    admins: entry.admins,
  };
}

/**
 * Verifies the entry that adds `joiner` to a group (or creates the group
 * with `joiner` in it) and returns the group state in it, as the joiner's
 * first verified state. The joiner gets no earlier entries, so it cannot
 * check that this member list follows from the creation. The trust anchor
 * is the admin who signed the entry: `authorIdentityKey` is that admin's
 * pinned identity key, and the caller must have received the entry from
 * that admin over an authenticated pairwise session. So the relay cannot
 * add anyone, and the adding admin vouches for the member list it states.
 * Every later entry is checked against this state by `applyGroupChange`.
 * Throws `invalid-signature`, `unauthorized-change` or `invalid-message`.
 */
export async function applyJoiningChange(
  signed: SignedGroupChange,
  authorIdentityKey: Uint8Array,
  joiner: string,
): Promise<GroupState> {
  const operation = 'applyJoiningChange';
  const entry = await verifiedEntry(signed, authorIdentityKey, operation);
  if (entry.change.type === 'create') {
    checkCreation(entry, operation);
  } else if (
    entry.change.type !== 'add' ||
    !entry.change.userIds.includes(joiner) ||
    entry.version < 2
  ) {
    throw new CryptoError(
      'invalid-message',
      operation,
      `entry version ${entry.version} does not add ${joiner}`,
    );
  }
  if (!entry.admins.includes(entry.author)) {
    throw new CryptoError(
      'unauthorized-change',
      operation,
      'only an admin may add members',
    );
  }
  const added = entry.change.type === 'add' ? entry.change.userIds : [];
  if (![joiner, ...added].every((id) => entry.members.includes(id))) {
    throw new CryptoError(
      'invalid-message',
      operation,
      `entry version ${entry.version} does not list the members it adds`,
    );
  }
  return {
    groupId: entry.groupId,
    version: entry.version,
    hash: await groupStateEntryHash(signed.entry),
    name: entry.name,
    members: entry.members,
    admins: entry.admins,
  };
}

/**
 * Helpers of the engine's group conversations: the verified state kept in
 * a `GroupRow`, the ids of stored sender key records and the thread notice
 * for each accepted change. The engine applies changes only through
 * `applyGroupChange` with the author's pinned identity key.
 */
import { fromBase64Url, toBase64Url } from '../../../shared/crypto/bytes';
import type {
  GroupState,
  GroupStateEntry,
} from '../../../shared/crypto/group-state';
import type { Address } from '../../../shared/wire/schemas';
import { addressKey } from '../storage/local-store';
import type { GroupRow } from '../storage/schema';

/**
 * Maximum number of envelopes held from one sender across all groups (see
 * `holdGroupMessage`). An honest member's messages wait only while its
 * sender key or a membership change is in flight, so this is ample. It
 * keeps one account from filling the browser's storage: 200 envelopes of at
 * most 64 KiB are 12.5 MiB.
 */
export const MAX_HELD_GROUP_MESSAGES_PER_SENDER = 200;
/** Maximum number of envelopes held for one group (see `holdGroupMessage`). */
export const MAX_HELD_GROUP_MESSAGES_PER_GROUP = 1_000;
/** Maximum number of envelopes held for all groups (see `holdGroupMessage`). */
export const MAX_HELD_GROUP_MESSAGES = 5_000;
/** Time after which a held envelope is deleted unread, as skipped message keys are. */
export const HELD_GROUP_MESSAGE_TTL_MS = 14 * 24 * 60 * 60 * 1000;

/** Returns the verified state of a stored group, as `applyGroupChange` takes it. */
export function groupStateOf(row: GroupRow): GroupState {
  return {
    groupId: fromBase64Url(row.groupId),
    version: row.version,
    hash: row.hash,
    name: row.name,
    members: row.members,
    admins: row.admins,
  };
}

/** Returns the store id of a member device's sender key record. */
export function senderKeyRecordId(
  groupId: string,
  sender: Address,
  distributionId: Uint8Array,
): string {
  return `${groupId}/${addressKey(sender)}/${toBase64Url(distributionId)}`;
}

function names(userIds: readonly string[]): string {
  return userIds.join(', ');
}

/** Returns the thread notice of an accepted change, such as "alice added carol". */
export function describeGroupChange(entry: GroupStateEntry): string {
  const author = entry.author;
  const change = entry.change;
  switch (change.type) {
    case 'create':
      return `${author} created the group "${entry.name}"`;
    case 'add':
      return `${author} added ${names(change.userIds)}`;
    case 'remove':
      return `${author} removed ${names(change.userIds)}`;
    case 'leave':
      return `${author} left the group`;
    case 'rename':
      return `${author} renamed the group to "${change.name}"`;
    case 'promote':
      return `${author} made ${names(change.userIds)} an admin`;
    case 'demote':
      return `${author} removed ${names(change.userIds)} as admin`;
  }
}

/** Returns true when the change takes a member out, so sender keys rotate. */
export function removesMember(entry: GroupStateEntry): boolean {
  return entry.change.type === 'remove' || entry.change.type === 'leave';
}

/**
 * Returns the thread notice for a held group message that was deleted
 * unread, so that a sender key or a change that never arrives is visible.
 */
export function heldMessageNotice(
  sender: string,
  reason: 'expired' | 'overflow',
): string {
  if (reason === 'expired') {
    return (
      `A message from ${sender} never became readable: its sender key or ` +
      `the change that made ${sender} a member did not arrive within 14 ` +
      'days, so it was deleted.'
    );
  }
  return (
    `A message from ${sender} was deleted unread, because too many ` +
    'messages were waiting for a sender key or a group change (at most ' +
    `${MAX_HELD_GROUP_MESSAGES_PER_SENDER.toLocaleString('en')} per sender, ` +
    `${MAX_HELD_GROUP_MESSAGES_PER_GROUP.toLocaleString('en')} per group ` +
    `and ${MAX_HELD_GROUP_MESSAGES.toLocaleString('en')} in all).`
  );
}

/**
 * The content inside the ciphertext of a pairwise envelope. These fields
 * never reach the relay in the clear. The receiving client parses them with
 * `decodeContent` after every successful decryption, because the sender
 * controls the bytes.
 * Sender and recipient addresses are not repeated here: the session layer
 * frames every plaintext with both and checks them before it returns.
 */
import { z } from 'zod';
import { type Bytes, fromUtf8, utf8 } from '../crypto/bytes';
import { EnvelopeBody, Id128 } from './schemas';

export const CONTENT_VERSION = 1;

/** Maximum text length, in UTF-16 code units (JavaScript string length). */
export const MAX_TEXT_LENGTH = 4000;
/**
 * Latest time a JavaScript `Date` can hold, in ms since the epoch
 * (ECMAScript's time value range). A later time makes `Date` invalid and
 * its formatting throw.
 */
export const MAX_TIME_MS = 8.64e15;
/** Most message ids acknowledged by one receipt. */
export const MAX_RECEIPT_MESSAGE_IDS = 100;

export const TextContent = z.strictObject({
  v: z.literal(CONTENT_VERSION),
  type: z.literal('text'),
  /** 128-bit random id chosen by the sender; receipts refer to it. */
  messageId: Id128,
  /** The sender's clock when the message was written, in ms since the epoch. */
  sentAt: z.number().int().min(0).max(MAX_TIME_MS),
  text: z.string().min(1).max(MAX_TEXT_LENGTH),
  /**
   * The group of a group message. A group message travels as the plaintext
   * of a Sender Key message, never over a pairwise session.
   */
  groupId: Id128.optional(),
});
export type TextContent = z.infer<typeof TextContent>;

export const ReceiptContent = z.strictObject({
  v: z.literal(CONTENT_VERSION),
  type: z.literal('receipt'),
  receipt: z.literal('delivered'),
  messageIds: z.array(Id128).min(1).max(MAX_RECEIPT_MESSAGE_IDS),
});
export type ReceiptContent = z.infer<typeof ReceiptContent>;

/**
 * A signed group-state entry (`encodeSignedGroupChange`), sent over the
 * pairwise sessions to every member. A new member gets only the entry that
 * adds it and starts its verified state from that entry.
 */
export const GroupChangeContent = z.strictObject({
  v: z.literal(CONTENT_VERSION),
  type: z.literal('group-change'),
  groupId: Id128,
  change: EnvelopeBody,
});
export type GroupChangeContent = z.infer<typeof GroupChangeContent>;

/** Maximum number of group-state versions one log request names. */
export const MAX_GROUP_LOG_REQUEST_VERSIONS = 100;
/**
 * Maximum total length of the base64url entries in one log reply. It
 * leaves room in the 64 KiB envelope for the session set-up, and it is
 * larger than the largest entry (about 55,000 characters), so a reply
 * always carries at least one entry.
 */
export const MAX_GROUP_LOG_REPLY_CHARS = 56 * 1024;

/**
 * A request, sent over a pairwise session to the member whose change
 * skipped versions, for the group-state entries `fromVersion` to
 * `toVersion`.
 */
export const GroupLogRequestContent = z
  .strictObject({
    v: z.literal(CONTENT_VERSION),
    type: z.literal('group-log-request'),
    groupId: Id128,
    fromVersion: z.number().int().min(1).max(0xffff_ffff),
    toVersion: z.number().int().min(1).max(0xffff_ffff),
  })
  .refine(
    (request) =>
      request.toVersion >= request.fromVersion &&
      request.toVersion - request.fromVersion < MAX_GROUP_LOG_REQUEST_VERSIONS,
    {
      message: `toVersion must be from fromVersion to fromVersion + ${MAX_GROUP_LOG_REQUEST_VERSIONS - 1}`,
      path: ['toVersion'],
    },
  );
export type GroupLogRequestContent = z.infer<typeof GroupLogRequestContent>;

/**
 * The reply to a log request: signed entries (`encodeSignedGroupChange`)
 * of the requested versions that the sender has, oldest first. The
 * receiver verifies each one as if it had arrived alone.
 */
export const GroupLogContent = z.strictObject({
  v: z.literal(CONTENT_VERSION),
  type: z.literal('group-log'),
  groupId: Id128,
  entries: z
    .array(EnvelopeBody)
    .max(MAX_GROUP_LOG_REQUEST_VERSIONS)
    .refine(
      (entries) =>
        entries.reduce((sum, entry) => sum + entry.length, 0) <=
        MAX_GROUP_LOG_REPLY_CHARS,
      { message: `entries exceed ${MAX_GROUP_LOG_REPLY_CHARS} characters` },
    ),
});
export type GroupLogContent = z.infer<typeof GroupLogContent>;

/**
 * A sender key distribution message (`encodeSenderKeyDistribution`) for
 * one group, sent over a pairwise session to one member device.
 */
export const SenderKeyContent = z.strictObject({
  v: z.literal(CONTENT_VERSION),
  type: z.literal('sender-key'),
  groupId: Id128,
  distribution: EnvelopeBody,
});
export type SenderKeyContent = z.infer<typeof SenderKeyContent>;

export const Content = z.discriminatedUnion('type', [
  TextContent,
  ReceiptContent,
  GroupChangeContent,
  GroupLogRequestContent,
  GroupLogContent,
  SenderKeyContent,
]);
export type Content = z.infer<typeof Content>;

export class ContentError extends Error {
  override readonly name = 'ContentError';
  readonly code = 'invalid-content';
}

/** Encodes a content as UTF-8 JSON, after checking it against the schema. */
export function encodeContent(content: Content): Bytes {
  return utf8(JSON.stringify(Content.parse(content)));
}

/**
 * Parses decrypted bytes into a content. Throws `ContentError` for invalid
 * UTF-8, invalid JSON or anything the schema rejects, with only the failing
 * field paths in the message (never the plaintext).
 */
export function decodeContent(plaintext: Uint8Array): Content {
  let json: unknown;
  try {
    json = JSON.parse(fromUtf8(plaintext));
  } catch (cause) {
    throw new ContentError('content is not UTF-8 JSON', { cause });
  }
  const result = Content.safeParse(json);
  if (!result.success) {
    const paths = result.error.issues.map(
      (issue) => issue.path.join('.') || '(root)',
    );
    throw new ContentError(`invalid content at ${paths.join(', ')}`);
  }
  return result.data;
}

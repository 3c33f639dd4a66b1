import { describe, expect, it } from 'vitest';
import { utf8 } from '../../../shared/crypto/bytes';
import {
  MAX_GROUP_LOG_REPLY_CHARS,
  MAX_GROUP_LOG_REQUEST_VERSIONS,
  type Content,
  decodeContent,
  encodeContent,
  MAX_RECEIPT_MESSAGE_IDS,
  MAX_TEXT_LENGTH,
  MAX_TIME_MS,
} from '../../../shared/wire/content';

const messageId = 'AAAAAAAAAAAAAAAAAAAAAA';
const text: Content = {
  v: 1,
  type: 'text',
  messageId,
  sentAt: 1_750_000_000_000,
  text: 'hello <b>bob</b>',
};

function decodeJson(value: unknown): Content {
  return decodeContent(utf8(JSON.stringify(value)));
}

describe('content schema', () => {
  it('round-trips text and receipts', () => {
    const receipt: Content = {
      v: 1,
      type: 'receipt',
      receipt: 'delivered',
      messageIds: [messageId],
    };
    expect(decodeContent(encodeContent(text))).toEqual(text);
    expect(decodeContent(encodeContent(receipt))).toEqual(receipt);
  });

  it('round-trips group contents', () => {
    const change: Content = {
      v: 1,
      type: 'group-change',
      groupId: messageId,
      change: 'AQID',
    };
    const senderKey: Content = {
      v: 1,
      type: 'sender-key',
      groupId: messageId,
      distribution: 'AQID',
    };
    const groupText: Content = { ...text, groupId: messageId };
    expect(decodeContent(encodeContent(change))).toEqual(change);
    expect(decodeContent(encodeContent(senderKey))).toEqual(senderKey);
    expect(decodeContent(encodeContent(groupText))).toEqual(groupText);
  });

  it('rejects a group change without group id', () => {
    expect(() =>
      decodeJson({ v: 1, type: 'group-change', change: 'AQID' }),
    ).toThrow(/groupId/);
  });

  it('accepts text at max length', () => {
    const long = { ...text, text: 'x'.repeat(MAX_TEXT_LENGTH) };
    expect(decodeJson(long)).toEqual(long);
  });

  it.each([
    [
      'text over max length',
      { ...text, text: 'x'.repeat(MAX_TEXT_LENGTH + 1) },
    ],
    ['empty text', { ...text, text: '' }],
    ['unknown version', { ...text, v: 2 }],
    ['unknown type', { ...text, type: 'typing' }],
    ['extra field', { ...text, html: '<b>hi</b>' }],
    ['missing message id', { ...text, messageId: undefined }],
    ['malformed message id', { ...text, messageId: 'not base64url!' }],
    ['negative client time', { ...text, sentAt: -1 }],
    ['client time beyond Date', { ...text, sentAt: MAX_TIME_MS + 1 }],
    [
      'empty receipt',
      { v: 1, type: 'receipt', receipt: 'delivered', messageIds: [] },
    ],
    [
      'oversized receipt',
      {
        v: 1,
        type: 'receipt',
        receipt: 'delivered',
        messageIds: Array(MAX_RECEIPT_MESSAGE_IDS + 1).fill(messageId),
      },
    ],
    [
      'unknown receipt kind',
      { v: 1, type: 'receipt', receipt: 'read', messageIds: [messageId] },
    ],
    ['array', [text]],
  ])('rejects %s', (_name, value) => {
    expect(() => decodeJson(value)).toThrow(/invalid content/);
  });

  it('rejects invalid UTF-8 and JSON', () => {
    expect(() => decodeContent(new Uint8Array([0xff, 0xfe]))).toThrow(
      'content is not UTF-8 JSON',
    );
    expect(() => decodeContent(utf8('{"v":1'))).toThrow(
      'content is not UTF-8 JSON',
    );
  });

  it('keeps plaintext out of errors', () => {
    const secret = 'the secret plan';
    expect(() => decodeJson({ ...text, text: secret, v: 9 })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining(secret) }),
    );
  });

  it('bounds group log requests', () => {
    const request = {
      v: 1,
      type: 'group-log-request',
      groupId: messageId,
      fromVersion: 5,
      toVersion: 5 + MAX_GROUP_LOG_REQUEST_VERSIONS - 1,
    };
    expect(decodeJson(request)).toEqual(request);
    expect(() => decodeJson({ ...request, toVersion: 4 })).toThrow(/toVersion/);
    expect(() =>
      decodeJson({ ...request, toVersion: request.toVersion + 1 }),
    ).toThrow(/toVersion/);
  });

  it('bounds group log replies', () => {
    const reply = {
      v: 1,
      type: 'group-log',
      groupId: messageId,
      entries: ['A'.repeat(MAX_GROUP_LOG_REPLY_CHARS)],
    };
    expect(decodeJson(reply)).toEqual(reply);
    expect(() =>
      decodeJson({ ...reply, entries: [...reply.entries, 'AQID'] }),
    ).toThrow(/entries/);
  });
});

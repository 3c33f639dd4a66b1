/**
 * Envelope sending and acknowledgement. The sender is the signed-in device,
 * never a payload field. An envelope is committed before the sender's ack,
 * and deleted only when the recipient device acknowledges it. A group
 * envelope (`kind: 'group'`, a list of devices in `to`) goes through the
 * same event and fans out in envelopes-group.ts.
 */
import { ErrorCode } from '../../shared/wire/errors';
import { MAX_ENVELOPE_BODY_BYTES } from '../../shared/wire/limits';
import {
  AckRequest,
  type Address,
  type SendResult,
  SendEnvelopeRequest,
  base64UrlLength,
} from '../../shared/wire/schemas';
import { RelayError, parseRequest } from '../errors';
import { sendGroupEnvelope } from './envelopes-group';
import type { RelayContext, SocketSession } from './session';
import { deviceKey } from './types';

const MAX_BODY_CHARACTERS = base64UrlLength(MAX_ENVELOPE_BODY_BYTES);

export async function sendEnvelope(
  context: RelayContext,
  session: SocketSession,
  sender: Address,
  payload: unknown,
): Promise<SendResult> {
  // Checked before the schema so that the code is payload-too-large rather
  // than the schema's generic invalid-request.
  const body = (payload as { body?: unknown } | null)?.body;
  if (typeof body === 'string' && body.length > MAX_BODY_CHARACTERS) {
    throw new RelayError(
      ErrorCode.payloadTooLarge,
      `The envelope body has ${body.length} base64url characters; the maximum is ${MAX_BODY_CHARACTERS} (${MAX_ENVELOPE_BODY_BYTES} bytes).`,
    );
  }
  if (!context.limits.send.take(deviceKey(sender), session.remoteAddress)) {
    throw new RelayError(
      ErrorCode.rateLimited,
      'Too many envelopes sent. Wait a few seconds and send again with the same id.',
    );
  }
  const envelope = parseRequest(SendEnvelopeRequest, payload);
  if (envelope.kind === 'group') {
    return sendGroupEnvelope(context, session, sender, envelope);
  }
  const recipient = await context.store.getDevice(envelope.to);
  if (!recipient) {
    throw new RelayError(
      ErrorCode.notFound,
      `No device ${envelope.to.deviceId} is registered for "${envelope.to.userId}".`,
    );
  }
  const result = await context.store.storeEnvelope({
    id: envelope.id,
    kind: envelope.kind,
    from: sender,
    to: envelope.to,
    body: envelope.body,
    serverTs: context.now(),
  });
  if (!result.duplicate) {
    context.delivery.notify(envelope.to);
    context.metrics?.envelopeStored(envelope.to, envelope.id, result.serverTs);
  }
  context.loggers.envelopes.debug(
    {
      event: 'envelope-stored',
      envelopeId: envelope.id,
      duplicate: result.duplicate,
    },
    'envelope stored',
  );
  return {
    id: envelope.id,
    serverTs: result.serverTs,
    duplicate: result.duplicate,
  };
}

export async function acknowledgeEnvelopes(
  context: RelayContext,
  device: Address,
  payload: unknown,
): Promise<{ deleted: number }> {
  const request = parseRequest(AckRequest, payload);
  const deleted = await context.store.deleteEnvelopes(device, request.ids);
  context.delivery.acknowledged(device, request.ids);
  context.metrics?.envelopesAcknowledged(device, request.ids);
  context.loggers.envelopes.debug(
    { event: 'envelopes-acknowledged', count: deleted },
    'envelopes deleted',
  );
  return { deleted };
}

/**
 * Group envelope fan-out. The sender encrypted the message once with its
 * sender key and lists the member devices. The relay commits one delivery
 * per device, each with that device's `seq`, in one transaction before the
 * sender's ack. Then it wakes those devices' delivery pumps. Ordering,
 * deduplication by the sender's envelope id and deletion on each device's
 * ack work as for pairwise envelopes. The relay learns the device list and
 * nothing else about the group, and cannot tell which devices belong to it.
 */
import { ErrorCode } from '../../shared/wire/errors';
import { GROUP_RECIPIENTS_PER_SEND_TOKEN } from '../../shared/wire/limits';
import type {
  Address,
  OutgoingGroupEnvelope,
  SendResult,
} from '../../shared/wire/schemas';
import { RelayError } from '../errors';
import type { RelayContext, SocketSession } from './session';
import { deviceKey } from './types';

/** Unknown devices named in an error message, at most. */
const MAX_NAMED_DEVICES = 5;

/**
 * Returns the send tokens a group envelope costs beyond the one every
 * envelope pays: one per started block of `GROUP_RECIPIENTS_PER_SEND_TOKEN`
 * recipient devices.
 */
export function groupFanOutCost(recipients: number): number {
  return Math.ceil(recipients / GROUP_RECIPIENTS_PER_SEND_TOKEN);
}

function checkRecipients(sender: Address, to: readonly Address[]): void {
  const seen = new Set<string>();
  for (const device of to) {
    const key = deviceKey(device);
    if (seen.has(key)) {
      throw new RelayError(
        ErrorCode.invalidRequest,
        `Invalid request: to lists device ${device.deviceId} of "${device.userId}" twice.`,
      );
    }
    seen.add(key);
  }
  if (seen.has(deviceKey(sender))) {
    throw new RelayError(
      ErrorCode.invalidRequest,
      'Invalid request: to lists the sending device itself.',
    );
  }
}

function describeDevices(devices: readonly Address[]): string {
  const named = devices
    .slice(0, MAX_NAMED_DEVICES)
    .map((device) => `device ${device.deviceId} of "${device.userId}"`);
  const more = devices.length - named.length;
  if (more > 0) named.push(`${more} more`);
  return named.join(', ');
}

/**
 * Stores a validated group envelope from `sender` for every listed device.
 * The caller has taken the one send token every envelope costs.
 */
export async function sendGroupEnvelope(
  context: RelayContext,
  session: SocketSession,
  sender: Address,
  envelope: OutgoingGroupEnvelope,
): Promise<SendResult> {
  checkRecipients(sender, envelope.to);
  // Every token is taken, even after one is rejected, so a sender that
  // keeps retrying a fan-out it cannot afford drains its own bucket.
  let allowed = true;
  for (let i = 0; i < groupFanOutCost(envelope.to.length); i++) {
    if (!context.limits.send.take(deviceKey(sender), session.remoteAddress)) {
      allowed = false;
    }
  }
  if (!allowed) {
    throw new RelayError(
      ErrorCode.rateLimited,
      'Too many envelopes sent. Wait a few seconds and send again with the same id.',
    );
  }

  const result = await context.store.storeGroupEnvelope({
    id: envelope.id,
    from: sender,
    to: envelope.to,
    body: envelope.body,
    serverTs: context.now(),
  });
  if (result.outcome === 'unknown-devices') {
    throw new RelayError(
      ErrorCode.notFound,
      `No such device registered: ${describeDevices(result.devices)}. Nothing was sent; fetch the members' devices again and resend with a new list.`,
    );
  }
  const duplicate = result.outcome === 'duplicate';
  if (!duplicate) {
    for (const device of envelope.to) {
      context.delivery.notify(device);
      context.metrics?.envelopeStored(device, envelope.id, result.serverTs);
    }
  }
  context.loggers.envelopes.debug(
    {
      event: 'group-envelope-stored',
      envelopeId: envelope.id,
      recipients: envelope.to.length,
      duplicate,
    },
    'group envelope stored',
  );
  return { id: envelope.id, serverTs: result.serverTs, duplicate };
}

/**
 * Challenge-response sign-in. `signin:start` issues a 32-byte random nonce
 * bound to this socket and one device. `signin:finish` accepts a signature by
 * that device's signing key over the relay origin, user id, device id and
 * nonce. A nonce is used at most once and expires after the nonce lifetime.
 */
import { verifySignIn } from '../../shared/crypto/certificate';
import { fromBase64Url, toBase64Url } from '../../shared/crypto/bytes';
import { ErrorCode } from '../../shared/wire/errors';
import {
  type PrekeyCounts,
  type SignInChallenge,
  SignInFinish,
  SignInStart,
} from '../../shared/wire/schemas';
import { RelayError, parseRequest } from '../errors';
import { DeliveryPump } from './delivery';
import { sendMissedKeyChanges } from './key-directory';
import type { RelayContext, SocketSession } from './session';
import { deviceKey, deviceRoom } from './types';

const NONCE_BYTES = 32;

export async function startSignIn(
  context: RelayContext,
  session: SocketSession,
  payload: unknown,
): Promise<SignInChallenge> {
  const request = parseRequest(SignInStart, payload);
  if (session.device) {
    throw new RelayError(
      ErrorCode.invalidRequest,
      'This connection is already signed in. Open a new connection to sign in as another device.',
    );
  }
  if (!context.limits.signIn.take(deviceKey(request), session.remoteAddress)) {
    throw new RelayError(
      ErrorCode.rateLimited,
      'Too many sign-in attempts. Wait a few seconds and try again.',
    );
  }
  const certificate = await context.store.getDevice(request);
  if (!certificate) {
    throw new RelayError(
      ErrorCode.notFound,
      `No device ${request.deviceId} is registered for "${request.userId}".`,
    );
  }
  const nonce = toBase64Url(
    globalThis.crypto.getRandomValues(new Uint8Array(NONCE_BYTES)),
  );
  session.addNonce(nonce, {
    address: { userId: request.userId, deviceId: request.deviceId },
    expiresAt: context.now() + context.signInNonceTtlMs,
  });
  return { nonce };
}

export async function finishSignIn(
  context: RelayContext,
  session: SocketSession,
  payload: unknown,
): Promise<{ prekeys: PrekeyCounts }> {
  const request = parseRequest(SignInFinish, payload);
  if (session.device) {
    throw new RelayError(
      ErrorCode.invalidRequest,
      'This connection is already signed in.',
    );
  }
  const pending = session.takeNonce(request.nonce);
  if (!pending || pending.expiresAt <= context.now()) {
    throw new RelayError(
      ErrorCode.signInFailed,
      'The sign-in nonce is unknown, already used or expired. Request a new one with signin:start.',
    );
  }
  const { address } = pending;
  const certificate = await context.store.getDevice(address);
  const origin =
    context.publicOrigin ??
    `${context.scheme}://${session.socket.handshake.headers.host}`;
  const valid =
    certificate !== undefined &&
    (await verifySignIn(
      fromBase64Url(certificate.signingKey),
      origin,
      address.userId,
      address.deviceId,
      fromBase64Url(request.nonce),
      fromBase64Url(request.signature),
    ));
  if (!valid) {
    throw new RelayError(
      ErrorCode.signInFailed,
      `The sign-in signature does not verify under the device signing key for origin ${origin}.`,
    );
  }

  if (!session.socket.connected) {
    throw new RelayError(ErrorCode.signInFailed, 'The connection closed.');
  }
  session.device = address;
  await session.socket.join(deviceRoom(address));
  const pump = new DeliveryPump(
    address,
    context.store,
    (envelope) => session.socket.emit('envelope', envelope),
    context.deliveryWindow,
    context.loggers.envelopes,
  );
  session.pump = pump;
  // Starts delivery after this reply is sent, so that the device learns it
  // is signed in before its first envelope arrives.
  setImmediate(() => context.delivery.add(pump));
  setImmediate(() => void sendMissedKeyChanges(context, session, address));
  context.loggers.signIn.info(
    { event: 'signed-in', socketId: session.socket.id },
    'device signed in',
  );
  return { prekeys: await context.store.prekeyCounts(address) };
}

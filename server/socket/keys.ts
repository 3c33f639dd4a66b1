/**
 * The key directory over Socket.IO: prekey bundles (each one-time prekey and
 * one-time PQ prekey handed out once, each fetch recorded in the access log)
 * and prekey uploads.
 */
import { ErrorCode } from '../../shared/wire/errors';
import {
  MAX_STORED_ONE_TIME_PREKEYS,
  ONE_TIME_PREKEY_REFILL_THRESHOLD,
} from '../../shared/wire/limits';
import {
  type Address,
  BundleRequest,
  type PrekeyBundle,
  type PrekeyCounts,
  PrekeyUpload,
} from '../../shared/wire/schemas';
import { RelayError, parseRequest } from '../errors';
import { checkPrekeySignatures } from '../prekeys';
import type { RelayContext, SocketSession } from './session';
import { deviceKey, deviceRoom } from './types';

export async function fetchBundles(
  context: RelayContext,
  session: SocketSession,
  device: Address,
  payload: unknown,
): Promise<{ bundles: PrekeyBundle[] }> {
  if (!context.limits.bundle.take(deviceKey(device), session.remoteAddress)) {
    throw new RelayError(
      ErrorCode.rateLimited,
      'Too many prekey bundle requests. Wait a few seconds and try again.',
    );
  }
  const request = parseRequest(BundleRequest, payload);
  context.bundleLimits.take(device.userId, request.userId);
  const result = await context.store.takeBundles(request.userId);
  if (!result) {
    throw new RelayError(
      ErrorCode.notFound,
      `No user named "${request.userId}" is registered.`,
    );
  }
  await context.store.recordBundleAccess(
    request.userId,
    device.userId,
    context.now(),
  );
  for (const [deviceId, counts] of result.counts) {
    if (isLow(counts)) {
      context.io
        .to(deviceRoom({ userId: request.userId, deviceId }))
        .emit('keys:low', counts);
    }
  }
  context.loggers.keys.debug(
    { event: 'bundles', count: result.bundles.length },
    'bundles handed out',
  );
  return { bundles: result.bundles };
}

export async function uploadPrekeys(
  context: RelayContext,
  device: Address,
  payload: unknown,
): Promise<PrekeyCounts> {
  const upload = parseRequest(PrekeyUpload, payload);
  const certificate = await context.store.getDevice(device);
  if (!certificate) {
    throw new RelayError(
      ErrorCode.notFound,
      'The signed-in device is no longer registered.',
    );
  }
  await checkPrekeySignatures(certificate, upload);
  const before = await context.store.prekeyCounts(device);
  checkPoolSize('oneTimePrekeys', before.oneTimePrekeys, upload.oneTimePrekeys);
  checkPoolSize(
    'oneTimePqPrekeys',
    before.oneTimePqPrekeys,
    upload.oneTimePqPrekeys,
  );
  const counts = await context.store.uploadPrekeys(device, upload);
  context.loggers.keys.info(
    {
      event: 'prekeys-uploaded',
      oneTimePrekeys: upload.oneTimePrekeys.length,
      oneTimePqPrekeys: upload.oneTimePqPrekeys.length,
    },
    'prekeys uploaded',
  );
  return counts;
}

function isLow(counts: PrekeyCounts): boolean {
  return (
    counts.oneTimePrekeys < ONE_TIME_PREKEY_REFILL_THRESHOLD ||
    counts.oneTimePqPrekeys < ONE_TIME_PREKEY_REFILL_THRESHOLD
  );
}

function checkPoolSize(
  field: string,
  stored: number,
  added: readonly unknown[],
): void {
  // Keys that replace a stored key id are counted as new, so this bound is
  // conservative by at most the size of one upload.
  if (stored + added.length > MAX_STORED_ONE_TIME_PREKEYS) {
    throw new RelayError(
      ErrorCode.invalidRequest,
      `Invalid request: ${field} would hold ${stored + added.length} keys; the relay stores at most ${MAX_STORED_ONE_TIME_PREKEYS}.`,
    );
  }
}

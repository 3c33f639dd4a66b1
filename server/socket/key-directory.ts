/**
 * The relay's record of who fetched whose prekey bundles, and the signals
 * built on it: the owner-only access log (`keys:access-log`) and key-change
 * notices (`keys:changed`) to every user who fetched a changed user's
 * bundles within the retention window.
 *
 * Delivery of `keys:changed` is at least once. A notice goes live to the
 * online devices of each such user. At sign-in, a device gets again every
 * change since its previous sign-in, so a device that was online at the
 * time may see the same notice (same `changedAt`) twice. The notice only says
 * "fetch the bundles again and compare the identity key with the pinned
 * one", so a repeat costs a fetch and nothing else.
 */
import { ErrorCode } from '../../shared/wire/errors';
import {
  KEY_DIRECTORY_LOG_RETENTION_MS,
  MAX_ACCESS_LOG_ENTRIES,
  MAX_KEY_CHANGE_NOTICES,
} from '../../shared/wire/limits';
import {
  type AccessLog,
  AccessLogRequest,
  type Address,
} from '../../shared/wire/schemas';
import { RelayError, parseRequest } from '../errors';
import { type Rate, RateLimiter } from '../rate-limit';
import type { RelayContext, SocketSession } from './session';

/** Bundle fetch limits keyed by user, on top of the per-device ones. */
export interface BundleRateLimits {
  /** Fetches by all devices of one requesting user. */
  readonly requester: Rate;
  /**
   * Fetches of one target user's bundles by anybody, which bounds how fast
   * its one-time prekeys can be drained.
   */
  readonly target: Rate;
}

/**
 * Defaults that a person starting chats never reaches: 100 fetches at once
 * and 2 a second after that per requester, and 200 at once and 5 a second
 * per target.
 */
export const DEFAULT_BUNDLE_RATE_LIMITS: BundleRateLimits = {
  requester: { perSecond: 2, burst: 100 },
  target: { perSecond: 5, burst: 200 },
};

export class BundleLimiter {
  private readonly requester: RateLimiter;
  private readonly target: RateLimiter;

  constructor(rates: Partial<BundleRateLimits> = {}) {
    const resolved = { ...DEFAULT_BUNDLE_RATE_LIMITS, ...rates };
    this.requester = new RateLimiter(resolved.requester);
    this.target = new RateLimiter(resolved.target);
  }

  /**
   * Takes one fetch of `targetId` by `requesterId`, or throws
   * `rate-limited`. The target pays only when the requester may fetch, so
   * a requester over its own limit cannot use up a target's budget.
   */
  take(requesterId: string, targetId: string): void {
    if (!this.requester.take(requesterId)) {
      throw new RelayError(
        ErrorCode.rateLimited,
        'Too many prekey bundle requests from this account. Wait a minute and try again.',
      );
    }
    if (!this.target.take(targetId)) {
      throw new RelayError(
        ErrorCode.rateLimited,
        `Too many prekey bundle requests for "${targetId}". Wait a minute and try again.`,
      );
    }
  }
}

/** Returns the signed-in user's own access log, newest first. */
export async function readAccessLog(
  context: RelayContext,
  device: Address,
  payload: unknown,
): Promise<AccessLog> {
  const request = parseRequest(AccessLogRequest, payload ?? {});
  const entries = await context.store.bundleAccessLog(
    device.userId,
    context.now() - KEY_DIRECTORY_LOG_RETENTION_MS,
    request.limit ?? MAX_ACCESS_LOG_ENTRIES,
  );
  return { entries };
}

/**
 * Records a certificate or identity key change of `userId` and sends
 * `keys:changed` to the online devices of everyone who fetched its bundles
 * within the retention window.
 */
export async function announceKeyChange(
  context: RelayContext,
  userId: string,
): Promise<void> {
  const changedAt = context.now();
  const fetchers = await context.store.recordKeyChange(
    userId,
    changedAt,
    changedAt - KEY_DIRECTORY_LOG_RETENTION_MS,
  );
  for (const fetcher of fetchers) {
    context.io.to(userRoom(fetcher)).emit('keys:changed', {
      userId,
      changedAt,
    });
  }
  context.loggers.keys.info(
    { event: 'key-change', notified: fetchers.length },
    'key change announced',
  );
}

/**
 * Joins the signed-in socket to its user's room, so that live notices reach
 * it, and sends the key changes since the device's previous sign-in.
 */
export async function sendMissedKeyChanges(
  context: RelayContext,
  session: SocketSession,
  address: Address,
): Promise<void> {
  try {
    await session.socket.join(userRoom(address.userId));
    const now = context.now();
    const previous = await context.store.markSignedIn(address, now);
    const since = Math.max(previous ?? 0, now - KEY_DIRECTORY_LOG_RETENTION_MS);
    const notices = await context.store.keyChangesSeenBy(
      address.userId,
      since,
      KEY_DIRECTORY_LOG_RETENTION_MS,
      MAX_KEY_CHANGE_NOTICES,
    );
    for (const notice of notices) session.socket.emit('keys:changed', notice);
    if (notices.length > 0) {
      context.loggers.keys.debug(
        { event: 'key-change-notices', count: notices.length },
        'missed key changes sent',
      );
    }
  } catch (error) {
    context.loggers.keys.error(
      { err: error, code: ErrorCode.internal, socketId: session.socket.id },
      'sending missed key changes failed',
    );
  }
}

/** Room that every signed-in socket of one user joins. */
export function userRoom(userId: string): string {
  return `user:${userId}`;
}

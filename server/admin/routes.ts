/**
 * The admin HTTP routes: sign-in and sign-out of the admin page, the
 * Prometheus endpoint, and the unauthenticated health checks. `/healthz`
 * reports that the process serves requests, and `/readyz` that the store
 * runs a query. Neither returns any detail.
 */
import type { IncomingMessage } from 'node:http';
import express from 'express';
import { z } from 'zod';
import { ErrorCode } from '../../shared/wire/errors';
import { RelayError, parseRequest } from '../errors';
import type { Logger } from '../logger';
import { RateLimiter, type Rate } from '../rate-limit';
import type { RelayMetrics } from './metrics';
import {
  type AdminSessions,
  ADMIN_SESSION_TTL_MS,
  sessionCookie,
  sessionIdFromCookie,
} from './sessions';
import type { ClientAddress } from '../client-address';
import type { StoreStats } from './store-stats';
import { adminTokenMatches } from './token';

/** Admin sign-in attempts per address: 10 at once, then one per 10 s. */
export const DEFAULT_ADMIN_SIGN_IN_RATE: Rate = { perSecond: 0.1, burst: 10 };
/**
 * Bearer-token requests to `/metrics` per address: 30 at once, then one a
 * second, so that a scraper polling every second is never limited.
 */
export const METRICS_BEARER_RATE: Rate = { perSecond: 1, burst: 30 };
const MAX_TOKEN_LENGTH = 512;

const AdminSignIn = z.strictObject({
  token: z.string().min(1).max(MAX_TOKEN_LENGTH),
});

export interface AdminRouteOptions {
  readonly token: string;
  readonly sessions: AdminSessions;
  readonly metrics: RelayMetrics;
  readonly stats: StoreStats;
  readonly logger: Logger;
  /** True over TLS; the session cookie is then marked Secure. */
  readonly tls: boolean;
  readonly signInRate?: Rate | undefined;
  /** The address that sign-in limits count; the TCP peer by default. */
  readonly clientAddress?: ClientAddress | undefined;
}

export function adminRouter(options: AdminRouteOptions): express.Router {
  const { sessions, metrics, logger } = options;
  const signInAttempts = new RateLimiter(
    options.signInRate ?? DEFAULT_ADMIN_SIGN_IN_RATE,
  );
  const bearerAttempts = new RateLimiter(METRICS_BEARER_RATE);
  const clientAddress =
    options.clientAddress ??
    ((request: IncomingMessage) => request.socket.remoteAddress ?? 'unknown');
  const router = express.Router();

  /** Checks a presented token, counting and rate-limiting the attempts. */
  const checkToken = (
    attempts: RateLimiter,
    address: string,
    presented: string | undefined,
  ) => {
    if (!attempts.take(address)) {
      throw new RelayError(
        ErrorCode.rateLimited,
        'Too many admin sign-in attempts from this address. Wait a minute and try again.',
      );
    }
    if (adminTokenMatches(options.token, presented)) return;
    metrics.adminSignInFailed();
    logger.warn({ event: 'admin-sign-in-failed' }, 'admin sign-in failed');
    throw new RelayError(
      ErrorCode.unauthenticated,
      'The admin token is wrong. Find it in ADMIN_TOKEN or in the admin-token file of the data folder.',
    );
  };

  router.use(['/api/admin', '/metrics'], (_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });

  router.post(
    '/api/admin/session',
    express.json({ limit: 2048 }),
    (req, res) => {
      const { token } = parseRequest(AdminSignIn, req.body);
      checkToken(signInAttempts, clientAddress(req), token);
      const session = sessions.create();
      res.set(
        'Set-Cookie',
        sessionCookie(
          { id: session.id, maxAgeSeconds: ADMIN_SESSION_TTL_MS / 1000 },
          options.tls,
        ),
      );
      logger.info({ event: 'admin-signed-in' }, 'admin signed in');
      res.json({ expiresAt: session.expiresAt });
    },
  );

  router.get('/api/admin/session', (req, res) => {
    if (!sessions.isValid(sessionIdFromCookie(req.headers.cookie))) {
      throw new RelayError(
        ErrorCode.unauthenticated,
        'No admin session, or it expired. Sign in with the admin token.',
      );
    }
    res.json({ signedIn: true });
  });

  router.delete('/api/admin/session', (req, res) => {
    sessions.delete(sessionIdFromCookie(req.headers.cookie));
    res.set(
      'Set-Cookie',
      sessionCookie({ id: '', maxAgeSeconds: 0 }, options.tls),
    );
    res.status(204).end();
  });

  router.get('/metrics', async (req, res) => {
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (bearer !== undefined) {
      checkToken(bearerAttempts, clientAddress(req), bearer);
    } else if (!sessions.isValid(sessionIdFromCookie(req.headers.cookie))) {
      res.set('WWW-Authenticate', 'Bearer realm="cloak-metrics"');
      throw new RelayError(
        ErrorCode.unauthenticated,
        'Send the admin token as "Authorization: Bearer <token>".',
      );
    }
    res.type(metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  });

  router.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok\n');
  });

  router.get('/readyz', (_req, res) => {
    const ready = options.stats.answers();
    res.status(ready ? 200 : 503).type('text/plain');
    res.send(ready ? 'ready\n' : 'not ready\n');
  });

  return router;
}

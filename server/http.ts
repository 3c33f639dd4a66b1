/**
 * The relay's Express app: security headers, the account API, the health
 * check, the built client with a single-page fallback, and `{ code, message }`
 * JSON for every error, including malformed JSON and oversized bodies.
 */
import { existsSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import express, { type ErrorRequestHandler } from 'express';
import helmet from 'helmet';
import { ErrorCode } from '../shared/wire/errors';
import { MAX_HTTP_BODY_BYTES } from '../shared/wire/limits';
import { RegisterRequest, type RegisterResponse } from '../shared/wire/schemas';
import type { ClientAddress } from './client-address';
import type { RejectionLog } from './rejection-log';
import { RelayError, parseRequest, toWireError } from './errors';
import type { Logger } from './logger';
import { checkCertificate, checkPrekeySignatures } from './prekeys';
import { RateLimiter, type Rate } from './rate-limit';
import type { Store } from './store/store';

/**
 * The Content Security Policy: scripts, styles and connections from this
 * origin only, so no inline script, no `eval` and no third-party origin.
 */
export const CONTENT_SECURITY_POLICY_DIRECTIVES: Readonly<
  Record<string, readonly string[]>
> = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:', 'blob:'],
  'connect-src': ["'self'"],
  'object-src': ["'none'"],
  'base-uri': ["'none'"],
  'frame-ancestors': ["'none'"],
  'form-action': ["'self'"],
};

/** The `Content-Security-Policy` header value, as helmet writes it. */
export const CONTENT_SECURITY_POLICY = Object.entries(
  CONTENT_SECURITY_POLICY_DIRECTIVES,
)
  .map(([name, values]) => `${name} ${values.join(' ')}`)
  .join(';');

/** Cache policy of Vite's content-hashed files under `/assets/`. */
const IMMUTABLE_CACHE_CONTROL = 'public, max-age=31536000, immutable';

/** HSTS lifetime: two years, in seconds. */
const HSTS_MAX_AGE_SECONDS = 2 * 365 * 24 * 60 * 60;

export interface HttpAppOptions {
  readonly store: Store;
  readonly logger: Logger;
  readonly registerRate: Rate;
  /** Folder of the built client; served only when it exists. */
  readonly clientDir?: string | undefined;
  /** True when the relay serves HTTPS; turns on HSTS. */
  readonly tls?: boolean | undefined;
  /** Called after a newer certificate replaced a device's certificate. */
  readonly onCertificateReplaced?: ((userId: string) => void) | undefined;
  /** Test-only routes, mounted at `/test`; see `test-hooks.ts`. */
  readonly testRoutes?: express.Router | undefined;
  /** Admin session API, `/metrics`, `/healthz` and `/readyz`. */
  readonly adminRoutes?: express.Router | undefined;
  /** The address that per-address limits count; the TCP peer by default. */
  readonly clientAddress?: ClientAddress | undefined;
  /** Warn summaries of requests rejected with a 4xx status. */
  readonly rejections?: RejectionLog | undefined;
}

/**
 * Helmet's default headers with the policy above, `X-Frame-Options: DENY`,
 * and HSTS only over TLS, since a browser ignores HSTS sent over plain HTTP
 * and a relay on plain HTTP must stay reachable.
 */
function securityHeaders(tls: boolean) {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: CONTENT_SECURITY_POLICY_DIRECTIVES,
    },
    xFrameOptions: { action: 'deny' },
    strictTransportSecurity: tls
      ? { maxAge: HSTS_MAX_AGE_SECONDS, includeSubDomains: true }
      : false,
  });
}

export function createHttpApp(options: HttpAppOptions): express.Express {
  const { store, logger } = options;
  const registerLimiter = new RateLimiter(options.registerRate);
  const clientAddress =
    options.clientAddress ??
    ((request: IncomingMessage) => request.socket.remoteAddress ?? 'unknown');
  const app = express();
  app.disable('x-powered-by');
  app.use(securityHeaders(options.tls ?? false));

  app.get('/api/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  if (options.adminRoutes) app.use(options.adminRoutes);

  app.post(
    '/api/accounts',
    requireJsonContentType,
    express.json({ limit: MAX_HTTP_BODY_BYTES }),
    async (req, res) => {
      if (!registerLimiter.take(clientAddress(req))) {
        throw new RelayError(
          ErrorCode.rateLimited,
          'Too many registrations from this address. Wait a minute and try again.',
        );
      }
      const request = parseRequest(RegisterRequest, req.body);
      await checkCertificate(request.certificate);
      await checkPrekeySignatures(request.certificate, request);
      const outcome = await store.registerDevice(request);
      const { userId, deviceId } = request.certificate;
      if (outcome.kind === 'username-taken') {
        throw new RelayError(
          ErrorCode.usernameTaken,
          `The username "${userId}" is already taken. Choose another one.`,
        );
      }
      if (outcome.kind === 'stale-certificate') {
        throw new RelayError(
          ErrorCode.invalidRequest,
          `Invalid request: device ${deviceId} of "${userId}" already has a certificate issued at or after certificate.issuedAt ${request.certificate.issuedAt}.`,
        );
      }
      logger.info(
        { event: 'register', outcome: outcome.kind },
        'device registered',
      );
      if (outcome.kind === 'replaced') options.onCertificateReplaced?.(userId);
      const body: RegisterResponse = {
        userId,
        deviceId,
        prekeys: outcome.prekeys,
      };
      res.status(outcome.kind === 'created' ? 201 : 200).json(body);
    },
  );

  if (options.testRoutes) app.use('/test', options.testRoutes);

  app.use('/api', () => {
    throw new RelayError(ErrorCode.notFound, 'No such API endpoint.');
  });

  // The client comes last, so that its fallback never shadows a route.
  if (options.clientDir) serveClient(app, path.resolve(options.clientDir));

  app.use(() => {
    throw new RelayError(ErrorCode.notFound, 'Not found.');
  });

  const handleError: ErrorRequestHandler = (error, req, res, _next) => {
    const relayError = toRelayError(error);
    if (relayError) {
      res.status(relayError.status).json(relayError.toWire());
      if (relayError.status >= 500) {
        logger.error({ code: relayError.code }, 'request failed');
      } else {
        options.rejections?.record(relayError.code, routeName(req));
      }
      return;
    }
    logger.error({ err: error, code: ErrorCode.internal }, 'request failed');
    res.status(500).json(toWireError(error));
  };
  app.use(handleError);
  return app;
}

/**
 * The method and route pattern of a request, such as `POST /api/accounts`;
 * `unmatched` when no route matched. Never the path itself, which may carry
 * a username.
 */
function routeName(req: express.Request): string {
  const route = (req.route as { path?: unknown } | undefined)?.path;
  return typeof route === 'string'
    ? `${req.method} ${req.baseUrl}${route}`
    : `${req.method} unmatched`;
}

/**
 * Serves the built client in `clientDir`, when it has an `index.html`.
 * Files under `/assets/` are cached for a year, because their names change
 * with their content, and `index.html` is revalidated on every load. Only
 * navigation paths (no file extension, not under `/assets/`) fall back to
 * `index.html`, so a missing script or source map is a 404, not a page.
 */
function serveClient(app: express.Express, clientDir: string): void {
  const indexFile = path.join(clientDir, 'index.html');
  if (!existsSync(indexFile)) return;
  const assetsDir = path.join(clientDir, 'assets') + path.sep;
  app.use(
    express.static(clientDir, {
      index: 'index.html',
      setHeaders: (res, file) => {
        if (file.startsWith(assetsDir)) {
          res.setHeader('Cache-Control', IMMUTABLE_CACHE_CONTROL);
        } else if (file === indexFile) {
          res.setHeader('Cache-Control', 'no-cache');
        }
      },
    }),
  );
  app.use((req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    if (!isNavigationPath(req.path)) return next();
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(indexFile, (error) => {
      if (error) next(error);
    });
  });
}

function isNavigationPath(urlPath: string): boolean {
  if (urlPath === '/assets' || urlPath.startsWith('/assets/')) return false;
  return path.posix.extname(urlPath) === '';
}

/**
 * Rejects a request whose body is not declared as JSON, which `express.json`
 * would otherwise skip and leave `req.body` undefined.
 */
const requireJsonContentType: express.RequestHandler = (req, _res, next) => {
  if (req.is('application/json')) return next();
  const received = req.get('content-type');
  throw new RelayError(
    ErrorCode.invalidRequest,
    `Invalid request: expected Content-Type: application/json, received ${
      received === undefined ? 'none' : JSON.stringify(received.slice(0, 100))
    }. Send the body as a JSON object.`,
  );
};

/** Names the JSON type of a body that parses but is not an object. */
function nonObjectJsonType(body: unknown): string | undefined {
  if (typeof body !== 'string') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  return undefined;
}

/** Maps body-parser and static-file errors to relay errors. */
function toRelayError(error: unknown): RelayError | undefined {
  if (error instanceof RelayError) return error;
  if (typeof error !== 'object' || error === null) return undefined;
  const { status, type } = error as { status?: unknown; type?: unknown };
  if (status === 413 || type === 'entity.too.large') {
    return new RelayError(
      ErrorCode.payloadTooLarge,
      `The request body exceeds ${MAX_HTTP_BODY_BYTES} bytes.`,
    );
  }
  if (type === 'entity.parse.failed') {
    const jsonType = nonObjectJsonType((error as { body?: unknown }).body);
    if (jsonType !== undefined) {
      return new RelayError(
        ErrorCode.invalidRequest,
        `Invalid request: the body must be a JSON object, received ${jsonType}.`,
      );
    }
    return new RelayError(
      ErrorCode.invalidRequest,
      'Invalid request: the body is not valid JSON.',
    );
  }
  if (status === 404) return new RelayError(ErrorCode.notFound, 'Not found.');
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new RelayError(
      ErrorCode.invalidRequest,
      'Invalid request: the body could not be read.',
    );
  }
  return undefined;
}

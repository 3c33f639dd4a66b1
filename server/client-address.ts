/**
 * The client address that per-address limits count. Without trusted proxies
 * it is the TCP peer, so behind a reverse proxy every client would share
 * the proxy's address and its limits. `TRUST_PROXY` names the proxies whose
 * `X-Forwarded-For` header is believed. The address is then the last one in
 * that header that no trusted proxy added.
 */
import type { IncomingMessage } from 'node:http';
import proxyAddr from 'proxy-addr';

export type ClientAddress = (request: IncomingMessage) => string;

/** Names proxy-addr accepts in place of an address or CIDR range. */
const PROXY_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

/**
 * Parses `TRUST_PROXY`: comma-separated IP addresses, CIDR ranges or the
 * names loopback, linklocal and uniquelocal. Empty or undefined trusts none.
 */
export function parseTrustedProxies(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
}

export function clientAddressResolver(
  trustedProxies: readonly string[] = [],
): ClientAddress {
  if (trustedProxies.length === 0) {
    return (request) => request.socket.remoteAddress ?? 'unknown';
  }
  let trust: ReturnType<typeof proxyAddr.compile>;
  try {
    trust = proxyAddr.compile([...trustedProxies]);
  } catch (error) {
    throw new Error(
      `Invalid trusted proxy list "${trustedProxies.join(',')}": ` +
        `${error instanceof Error ? error.message : String(error)}. ` +
        `Give IP addresses, CIDR ranges or ${PROXY_NAMES.join(', ')}, ` +
        'separated by commas.',
    );
  }
  return (request) => proxyAddr(request, trust);
}

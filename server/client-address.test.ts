import { Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { clientAddressResolver, parseTrustedProxies } from './client-address';
import { removeDataDir, startTestRelay } from './test-support/relay';

function request(peer: string, forwardedFor?: string): IncomingMessage {
  const socket = new Socket();
  Object.defineProperty(socket, 'remoteAddress', { value: peer });
  return {
    socket,
    connection: socket,
    headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {},
  } as unknown as IncomingMessage;
}

async function registerFrom(url: string, forwardedFor: string) {
  const response = await fetch(`${url}/api/accounts`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-forwarded-for': forwardedFor,
    },
    body: '{}',
  });
  return ((await response.json()) as { code: string }).code;
}

describe('client address', () => {
  it('is the TCP peer when no proxy is trusted', () => {
    const resolve = clientAddressResolver(parseTrustedProxies(undefined));
    expect(resolve(request('127.0.0.1', '203.0.113.7'))).toBe('127.0.0.1');
  });

  it('believes X-Forwarded-For from a trusted proxy only', () => {
    const resolve = clientAddressResolver(
      parseTrustedProxies(' loopback , 10.0.0.0/8 '),
    );
    expect(resolve(request('127.0.0.1', '203.0.113.7'))).toBe('203.0.113.7');
    expect(resolve(request('10.1.2.3', '198.51.100.1, 203.0.113.7'))).toBe(
      '203.0.113.7',
    );
    expect(resolve(request('192.0.2.1', '203.0.113.7'))).toBe('192.0.2.1');
    // Entries a client wrote before the trusted hop are not believed.
    expect(resolve(request('127.0.0.1', '198.51.100.1, 10.9.9.9'))).toBe(
      '198.51.100.1',
    );
  });

  it('names an invalid proxy list and the accepted forms', () => {
    expect(() => clientAddressResolver(['not-an-address'])).toThrow(
      /Invalid trusted proxy list "not-an-address".*CIDR ranges or loopback/,
    );
  });

  it('gives each client behind a trusted proxy its own registration limit', async () => {
    const behindProxy = await startTestRelay({
      rateLimits: { register: { perSecond: 0.001, burst: 1 } },
      trustedProxies: ['loopback'],
    });
    const direct = await startTestRelay({
      rateLimits: { register: { perSecond: 0.001, burst: 1 } },
    });
    try {
      expect(await registerFrom(behindProxy.url, '203.0.113.7')).toBe(
        'invalid-request',
      );
      expect(await registerFrom(behindProxy.url, '203.0.113.7')).toBe(
        'rate-limited',
      );
      expect(await registerFrom(behindProxy.url, '203.0.113.8')).toBe(
        'invalid-request',
      );
      // Without a trusted proxy the header is ignored: one shared limit.
      expect(await registerFrom(direct.url, '203.0.113.7')).toBe(
        'invalid-request',
      );
      expect(await registerFrom(direct.url, '203.0.113.8')).toBe(
        'rate-limited',
      );
    } finally {
      await behindProxy.close();
      await direct.close();
      removeDataDir(behindProxy.dataDir);
      removeDataDir(direct.dataDir);
    }
  });
});

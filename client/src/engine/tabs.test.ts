import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ClientError } from '../errors';
import {
  TAB_PROTOCOL_VERSION,
  type TabChannel,
  TabFollower,
  TabLeader,
} from './tabs';

// Node's BroadcastChannel delivers between objects of one process, as a
// browser does between tabs of one origin.
let channelCount = 0;
let channelName = '';
const opened: BroadcastChannel[] = [];

function channel(): TabChannel {
  const created = new BroadcastChannel(channelName);
  opened.push(created);
  return created as unknown as TabChannel;
}

function deferred<T>() {
  let resolve = (_value: T): void => undefined;
  const promise = new Promise<T>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

type Notice = { readonly text: string };

function parseNotice(value: unknown): Notice | undefined {
  const text = (value as { text?: unknown } | undefined)?.text;
  return typeof text === 'string' ? { text } : undefined;
}

function follower(
  tabId: string,
  options: { ackTimeoutMs?: number; notices?: Notice[] } = {},
) {
  return new TabFollower<Notice>({
    channel: channel(),
    tabId,
    parseNotice,
    onNotice: (notice) => options.notices?.push(notice),
    ...(options.ackTimeoutMs ? { ackTimeoutMs: options.ackTimeoutMs } : {}),
  });
}

function leader(
  tabId: string,
  handle: (action: string, args: readonly unknown[]) => Promise<unknown>,
  welcome?: () => Notice[],
) {
  return new TabLeader<Notice>({
    channel: channel(),
    tabId,
    handle,
    ...(welcome ? { welcome } : {}),
  });
}

describe('tab channel', () => {
  // Each test gets its own channel name, so no message leaks into the next.
  beforeEach(() => {
    channelName = `cloak-tabs-test-${++channelCount}`;
  });
  afterEach(() => {
    for (const created of opened.splice(0)) created.close();
  });

  it('returns the leader result', async () => {
    const host = leader('leader-a', async (action, args) => [action, ...args]);
    const tab = follower('follower-1');

    await expect(tab.request('echo', ['x', 2])).resolves.toEqual([
      'echo',
      'x',
      2,
    ]);
    expect(tab.pendingCount).toBe(0);
    host.close();
    tab.close();
  });

  it('rebuilds a ClientError from the leader', async () => {
    const host = leader('leader-a', () =>
      Promise.reject(new ClientError('offline', 'Cloak is offline.')),
    );
    const tab = follower('follower-1');

    const error: unknown = await tab
      .request('readAccessLog', [])
      .catch((caught: unknown) => caught);
    expect(ClientError.is(error, 'offline')).toBe(true);
    expect((error as Error).message).toBe('Cloak is offline.');
    host.close();
    tab.close();
  });

  it('hides other errors behind internal-error', async () => {
    const host = leader('leader-a', () =>
      Promise.reject(new TypeError('secret detail')),
    );
    const tab = follower('follower-1');

    const error: unknown = await tab
      .request('startChat', ['bob'])
      .catch((caught: unknown) => caught);
    expect(ClientError.is(error, 'internal-error')).toBe(true);
    expect((error as Error).message).not.toContain('secret detail');
    expect((error as Error).message).toContain('TypeError');
    host.close();
    tab.close();
  });

  it('times out without a leader', async () => {
    const tab = follower('follower-1', { ackTimeoutMs: 50 });

    const error: unknown = await tab
      .request('startChat', ['bob'])
      .catch((caught: unknown) => caught);
    expect(ClientError.is(error, 'no-leader-tab')).toBe(true);
    expect((error as Error).message).toContain('Reload this tab');
    expect(tab.pendingCount).toBe(0);
    tab.close();
  });

  it('keeps waiting for an acknowledged request', async () => {
    const result = deferred<string>();
    const host = leader('leader-a', () => result.promise);
    const tab = follower('follower-1', { ackTimeoutMs: 50 });

    const answer = tab.request('startChat', ['bob']);
    await new Promise((resolve) => setTimeout(resolve, 150));
    result.resolve('bob');
    await expect(answer).resolves.toBe('bob');
    host.close();
    tab.close();
  });

  it('sends requests again to a new leader', async () => {
    const stuck = deferred<never>();
    const oldCalls: string[] = [];
    const oldHost = leader('leader-a', async (action) => {
      oldCalls.push(action);
      return stuck.promise;
    });
    const tab = follower('follower-1');
    const answer = tab.request('sendText', ['bob', 'hi', 'id-1']);
    await vi.waitFor(() => expect(oldCalls).toEqual(['sendText']));

    // The old leader's tab closes before it posts the result.
    oldHost.close();
    const newCalls: unknown[][] = [];
    const newHost = leader('leader-b', async (_action, args) => {
      newCalls.push([...args]);
      return 'sent';
    });

    await expect(answer).resolves.toBe('sent');
    expect(newCalls).toEqual([['bob', 'hi', 'id-1']]);
    expect(tab.leaderTab).toBe('leader-b');
    newHost.close();
    tab.close();
  });

  it('runs a request posted twice once', async () => {
    const calls: string[] = [];
    const host = leader('leader-a', async (action) => {
      calls.push(action);
      return calls.length;
    });
    const raw = channel();
    const results: unknown[] = [];
    raw.addEventListener('message', (event) => {
      const data = event.data as { kind?: string; answer?: unknown };
      if (data.kind === 'result') results.push(data.answer);
    });
    const request = {
      v: TAB_PROTOCOL_VERSION,
      kind: 'request',
      tab: 'follower-1',
      id: 'request-1',
      action: 'createGroup',
      args: ['friends'],
    };
    raw.postMessage(request);
    raw.postMessage(request);

    await vi.waitFor(() => expect(results).toHaveLength(2));
    expect(calls).toEqual(['createGroup']);
    expect(results).toEqual([
      { ok: true, value: 1 },
      { ok: true, value: 1 },
    ]);
    host.close();
  });

  it('ignores other versions and malformed messages', async () => {
    const calls: string[] = [];
    const host = leader('leader-a', async (action) => {
      calls.push(action);
    });
    const raw = channel();
    raw.postMessage({
      v: TAB_PROTOCOL_VERSION + 1,
      kind: 'request',
      tab: 'follower-1',
      id: 'request-1',
      action: 'startChat',
      args: [],
    });
    raw.postMessage({ kind: 'request' });
    raw.postMessage('request');
    const tab = follower('follower-2');
    await tab.request('markRead', ['bob']);

    expect(calls).toEqual(['markRead']);
    host.close();
    tab.close();
  });

  it('hands pending requests to a new local leader', async () => {
    const tab = follower('follower-1', { ackTimeoutMs: 60_000 });
    const answer = tab.request('startChat', ['bob']);
    const run = vi.fn(async (action: string, args: readonly unknown[]) => [
      action,
      ...args,
    ]);

    tab.handOver(run);

    await expect(answer).resolves.toEqual(['startChat', 'bob']);
    expect(run).toHaveBeenCalledTimes(1);
    expect(tab.pendingCount).toBe(0);
  });

  it('delivers notices and welcome notices', async () => {
    const notices: Notice[] = [];
    const host = leader(
      'leader-a',
      async () => undefined,
      () => [{ text: 'connected' }],
    );
    const tab = follower('follower-1', { notices });

    // The follower's hello makes the leader post its welcome.
    await vi.waitFor(() => expect(notices).toEqual([{ text: 'connected' }]));
    host.notify({ text: 'changed' });
    await vi.waitFor(() => expect(notices).toHaveLength(2));
    expect(notices[1]).toEqual({ text: 'changed' });
    expect(tab.leaderTab).toBe('leader-a');
    host.close();
    tab.close();
  });

  it('drops notices that fail the check', async () => {
    const notices: Notice[] = [];
    const host = leader('leader-a', async () => 'done');
    const tab = follower('follower-1', { notices });
    host.notify({ wrong: true } as unknown as Notice);
    host.notify({ text: 'valid' });

    await vi.waitFor(() => expect(notices).toEqual([{ text: 'valid' }]));
    host.close();
    tab.close();
  });
});

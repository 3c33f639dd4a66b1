/**
 * Subscribes to the relay's `/admin` namespace: the last hour of samples on
 * connection, then one snapshot a second. The session cookie authenticates
 * the handshake.
 */
import { useEffect, useState } from 'react';
import { io, type Socket } from 'socket.io-client';
import {
  ADMIN_HISTORY_SAMPLES,
  type AdminClientToServerEvents,
  type AdminSample,
  type AdminServerToClientEvents,
  type AdminSnapshot,
} from '../../../shared/wire/admin';

export type FeedState = 'connecting' | 'live' | 'signed-out' | 'offline';

export interface AdminFeed {
  readonly state: FeedState;
  readonly snapshot: AdminSnapshot | undefined;
  readonly history: readonly AdminSample[];
}

type AdminSocket = Socket<AdminServerToClientEvents, AdminClientToServerEvents>;

export function useAdminFeed(): AdminFeed {
  const [feed, setFeed] = useState<AdminFeed>({
    state: 'connecting',
    snapshot: undefined,
    history: [],
  });

  useEffect(() => {
    const socket: AdminSocket = io('/admin', {
      transports: ['websocket'],
      withCredentials: true,
    });
    socket.on('admin:history', (samples) => {
      setFeed((current) => ({ ...current, history: samples }));
    });
    socket.on('admin:snapshot', (snapshot) => {
      setFeed((current) => ({
        state: 'live',
        snapshot,
        history: appendSample(current.history, snapshot),
      }));
    });
    socket.on('connect_error', (error) => {
      const data = (error as Error & { data?: { code?: unknown } }).data;
      const signedOut = data?.code === 'unauthenticated';
      if (signedOut) socket.disconnect();
      setFeed((current) => ({
        ...current,
        state: signedOut ? 'signed-out' : 'offline',
      }));
    });
    socket.on('disconnect', (reason) => {
      // The relay closes the socket when the session expires.
      setFeed((current) => ({
        ...current,
        state: reason === 'io server disconnect' ? 'signed-out' : 'offline',
      }));
    });
    return () => {
      socket.disconnect();
    };
  }, []);

  return feed;
}

/** Appends a snapshot's sample unless the history already ends with it. */
function appendSample(
  history: readonly AdminSample[],
  snapshot: AdminSnapshot,
): readonly AdminSample[] {
  const last = history[history.length - 1];
  if (last !== undefined && last.at >= snapshot.at) return history;
  const next = [...history, snapshot];
  return next.length > ADMIN_HISTORY_SAMPLES
    ? next.slice(next.length - ADMIN_HISTORY_SAMPLES)
    : next;
}

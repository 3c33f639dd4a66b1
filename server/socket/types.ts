/** Typed Socket.IO server and socket of the relay. */
import type { Server, Socket } from 'socket.io';
import type {
  ClientToServerEvents,
  ServerToClientEvents,
} from '../../shared/wire/events';
import type { Address } from '../../shared/wire/schemas';

export type RelayServer = Server<
  ClientToServerEvents,
  ServerToClientEvents,
  Record<string, never>,
  Record<string, never>
>;

export type RelaySocket = Socket<
  ClientToServerEvents,
  ServerToClientEvents,
  Record<string, never>,
  Record<string, never>
>;

/** Room that every signed-in socket of one device joins. */
export function deviceRoom(address: Address): string {
  return `device:${address.userId}/${address.deviceId}`;
}

export function deviceKey(address: Address): string {
  return `${address.userId}/${address.deviceId}`;
}

/**
 * Typed Socket.IO event maps for `Server<ClientToServerEvents,
 * ServerToClientEvents>` and the client's `Socket`. Every client event is
 * acknowledged with a `Reply`; the relay validates each payload against the
 * schema of the same name in `schemas.ts` before acting on it.
 */
import type { Reply } from './errors';
import type {
  AccessLog,
  AccessLogRequest,
  AckRequest,
  BundleRequest,
  Envelope,
  KeyChanged,
  PrekeyBundle,
  PrekeyCounts,
  PrekeyUpload,
  SendEnvelopeRequest,
  SendResult,
  SignInChallenge,
  SignInFinish,
  SignInStart,
} from './schemas';

type Ack<T> = (reply: Reply<T>) => void;

export interface ClientToServerEvents {
  /** Asks for a sign-in nonce for one device. */
  'signin:start': (request: SignInStart, ack: Ack<SignInChallenge>) => void;
  /** Returns the device's signature over the nonce. */
  'signin:finish': (
    request: SignInFinish,
    ack: Ack<{ prekeys: PrekeyCounts }>,
  ) => void;
  /** Fetches one bundle per device of a user, consuming one-time prekeys. */
  'keys:bundle': (
    request: BundleRequest,
    ack: Ack<{ bundles: PrekeyBundle[] }>,
  ) => void;
  /**
   * Lists who fetched the signed-in user's bundles in the retention window,
   * newest first. Only the user's own log is available.
   */
  'keys:access-log': (request: AccessLogRequest, ack: Ack<AccessLog>) => void;
  /** Publishes new prekeys for the signed-in device. */
  'keys:upload': (request: PrekeyUpload, ack: Ack<PrekeyCounts>) => void;
  /**
   * Stores an envelope durably, then queues it for the recipient. The relay
   * validates the payload as `SendEnvelopeRequest`, so a group envelope
   * (`OutgoingGroupEnvelope`, one delivery per listed device) uses this
   * event too.
   */
  'envelope:send': (
    envelope: SendEnvelopeRequest,
    ack: Ack<SendResult>,
  ) => void;
  /** Confirms that envelopes were persisted on this device; the relay deletes them. */
  'envelope:ack': (request: AckRequest, ack: Ack<{ deleted: number }>) => void;
}

export interface ServerToClientEvents {
  /** An envelope for the signed-in device, live or from its queue. */
  envelope: (envelope: Envelope) => void;
  /** The device's one-time prekey pools fell below the refill threshold. */
  'keys:low': (counts: PrekeyCounts) => void;
  /**
   * A user whose bundles this user fetched in the retention window changed a
   * device certificate or identity key. Sent live and again at sign-in.
   */
  'keys:changed': (notice: KeyChanged) => void;
}

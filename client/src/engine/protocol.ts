/**
 * The protocol functions the engine calls, gathered in one object so that
 * unit tests can run the engine's storage and ordering logic against a
 * stand-in. The product always uses `cloakProtocol`.
 */
import {
  generateOneTimePrekeys,
  generatePqPrekey,
  generateSignedPrekey,
} from '../../../shared/crypto/keys';
import {
  decryptMessage,
  deserializeSessionRecord,
  encryptMessage,
  initiateSession,
  serializeSessionRecord,
} from '../../../shared/crypto/session';

export interface Protocol {
  readonly initiateSession: typeof initiateSession;
  readonly encryptMessage: typeof encryptMessage;
  readonly decryptMessage: typeof decryptMessage;
  readonly serializeSessionRecord: typeof serializeSessionRecord;
  readonly deserializeSessionRecord: typeof deserializeSessionRecord;
  readonly generateOneTimePrekeys: typeof generateOneTimePrekeys;
  readonly generateSignedPrekey: typeof generateSignedPrekey;
  readonly generatePqPrekey: typeof generatePqPrekey;
}

export const cloakProtocol: Protocol = {
  initiateSession,
  encryptMessage,
  decryptMessage,
  serializeSessionRecord,
  deserializeSessionRecord,
  generateOneTimePrekeys,
  generateSignedPrekey,
  generatePqPrekey,
};

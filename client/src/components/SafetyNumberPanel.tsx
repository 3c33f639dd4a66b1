import QRCode from 'qrcode';
import { type ChangeEvent, useEffect, useRef, useState } from 'react';
import type { ContactSafetyNumber } from '../engine/engine';
import {
  checkScannedCode,
  type ScanResult,
  safetyNumberQrText,
} from '../app/safety-check';
import { readQrFromFile, readQrFromVideo } from '../app/qr-reader';

export interface SafetyNumberPanelProps {
  readonly peerId: string;
  /** True when the contact is verified for the pinned key. */
  readonly verified: boolean;
  /** Changes whenever the contact's key status does, to reload the number. */
  readonly statusKey: string;
  readonly loadSafetyNumber: () => Promise<ContactSafetyNumber | undefined>;
  readonly onMarkVerified: (shown: ContactSafetyNumber) => Promise<boolean>;
  readonly onClose: () => void;
}

type ScanState =
  | { readonly status: 'idle' }
  | { readonly status: 'reading' }
  | { readonly status: 'camera' }
  | { readonly status: 'not-found' }
  | { readonly status: 'camera-failed' }
  | ScanResult;

function scanText(state: ScanState, peerId: string): string {
  switch (state.status) {
    case 'idle':
      return '';
    case 'reading':
      return 'Reading the QR code…';
    case 'camera':
      return `Point the camera at the QR code on ${peerId}'s screen.`;
    case 'not-found':
      return 'No QR code was found. Try a sharper picture.';
    case 'camera-failed':
      return 'The camera could not be opened. Choose an image instead.';
    case 'match':
      return `Match: the safety numbers are equal. You can mark ${peerId} as verified.`;
    case 'no-match':
      return `No match: the safety numbers differ. Do not mark ${peerId} as verified, and ask them how their key changed.`;
    case 'invalid':
      return state.message;
  }
}

/**
 * Shows the safety number of a conversation, as 60 digits and as a QR code, with
 * QR scanning from an image or the camera and the "Mark as verified" step.
 */
export function SafetyNumberPanel({
  peerId,
  verified,
  statusKey,
  loadSafetyNumber,
  onMarkVerified,
  onClose,
}: SafetyNumberPanelProps) {
  const [shown, setShown] = useState<ContactSafetyNumber>();
  const [qrUrl, setQrUrl] = useState<string>();
  const [scan, setScan] = useState<ScanState>({ status: 'idle' });
  const [busy, setBusy] = useState(false);
  const videoRef = useRef<HTMLVideoElement>(null);
  const cameraRef = useRef<AbortController | undefined>(undefined);

  useEffect(() => {
    let current = true;
    void loadSafetyNumber().then(async (loaded) => {
      if (!current || !loaded) return;
      setShown(loaded);
      setScan({ status: 'idle' });
      const text = safetyNumberQrText(loaded.safetyNumber.scannable);
      const url = await QRCode.toDataURL(text, {
        errorCorrectionLevel: 'M',
        margin: 2,
        width: 240,
      });
      if (current) setQrUrl(url);
    });
    return () => {
      current = false;
    };
  }, [loadSafetyNumber, statusKey]);

  useEffect(() => () => cameraRef.current?.abort(), []);

  function compare(text: string | undefined) {
    if (!shown) return;
    if (text === undefined) {
      setScan({ status: 'not-found' });
      return;
    }
    setScan(checkScannedCode(shown.safetyNumber.scannable, text));
  }

  async function onFile(event: ChangeEvent<HTMLInputElement>) {
    const file = event.target.files?.[0];
    event.target.value = '';
    if (!file) return;
    setScan({ status: 'reading' });
    try {
      compare(await readQrFromFile(file));
    } catch {
      setScan({ status: 'not-found' });
    }
  }

  async function startCamera() {
    cameraRef.current?.abort();
    const controller = new AbortController();
    cameraRef.current = controller;
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: 'environment' },
      });
    } catch {
      setScan({ status: 'camera-failed' });
      return;
    }
    setScan({ status: 'camera' });
    try {
      const video = videoRef.current;
      if (!video) return;
      video.srcObject = stream;
      await video.play();
      const text = await readQrFromVideo(video, controller.signal);
      if (!controller.signal.aborted) compare(text);
    } catch {
      setScan({ status: 'camera-failed' });
    } finally {
      for (const track of stream.getTracks()) track.stop();
      if (videoRef.current) videoRef.current.srcObject = null;
      if (cameraRef.current === controller) cameraRef.current = undefined;
    }
  }

  function stopCamera() {
    cameraRef.current?.abort();
    setScan({ status: 'idle' });
  }

  async function markVerified() {
    if (!shown) return;
    setBusy(true);
    try {
      await onMarkVerified(shown);
    } finally {
      setBusy(false);
    }
  }

  return (
    // The section has no accessible name, so that the only region named
    // "Safety number" is the one that contains the digits.
    <section className="verify-panel">
      <h3>Compare with {peerId}</h3>
      <p className="verify-help">
        Compare these digits with {peerId} in person or over a channel you
        trust, or scan the QR code on their screen. When they match, mark{' '}
        {peerId} as verified.
      </p>
      {shown?.pending && (
        <p className="verify-help">
          This is the safety number of {peerId}&apos;s new key. Marking it as
          verified also accepts the new key.
        </p>
      )}
      <div role="region" aria-label="Safety number" className="safety-number">
        <p className="safety-digits">
          {shown?.safetyNumber.groups.map((group, index) => (
            <span key={index}>{group}</span>
          ))}
        </p>
        {qrUrl && (
          <img
            className="safety-qr"
            src={qrUrl}
            width={240}
            height={240}
            alt={`QR code of the safety number with ${peerId}`}
          />
        )}
      </div>
      <div className="verify-actions">
        <button
          type="button"
          disabled={!shown || busy}
          onClick={() => void markVerified()}
        >
          Mark as verified
        </button>
        <label className="file-button">
          Scan QR code from an image
          <input
            type="file"
            accept="image/*"
            className="visually-hidden"
            onChange={(event) => void onFile(event)}
          />
        </label>
        {scan.status === 'camera' ? (
          <button type="button" onClick={stopCamera}>
            Stop camera
          </button>
        ) : (
          <button type="button" onClick={() => void startCamera()}>
            Scan with camera
          </button>
        )}
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
      <video
        ref={videoRef}
        className={
          scan.status === 'camera' ? 'scan-video' : 'scan-video hidden'
        }
        muted
        playsInline
      />
      <p className={`scan-result scan-${scan.status}`} aria-live="polite">
        {scanText(scan, peerId)}
      </p>
      {verified && !shown?.pending && (
        <p className="verify-help">You have verified {peerId}.</p>
      )}
    </section>
  );
}

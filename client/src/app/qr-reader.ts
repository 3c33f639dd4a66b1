/**
 * Reads QR codes in the browser: with `BarcodeDetector` where the browser
 * has it for QR codes, and with the `jsqr` decoder on a canvas copy of the
 * pixels everywhere else.
 */
import jsQR from 'jsqr';

/** The part of the Barcode Detection API used here; TypeScript lacks it. */
interface BarcodeDetectorLike {
  detect(source: ImageBitmapSource): Promise<{ rawValue: string }[]>;
}
type BarcodeDetectorConstructor = new (options: {
  formats: string[];
}) => BarcodeDetectorLike;

type Frame = ImageBitmap | HTMLVideoElement;

/** Time between two attempts on the camera's picture. */
const CAMERA_SCAN_INTERVAL_MS = 250;
/** How long the camera is read before the scan gives up. */
export const CAMERA_SCAN_TIMEOUT_MS = 60_000;

let detector: BarcodeDetectorLike | null | undefined;

async function barcodeDetector(): Promise<BarcodeDetectorLike | null> {
  if (detector !== undefined) return detector;
  const Detector = (globalThis as { BarcodeDetector?: unknown })
    .BarcodeDetector as
    | (BarcodeDetectorConstructor & {
        getSupportedFormats?: () => Promise<string[]>;
      })
    | undefined;
  detector = null;
  if (Detector) {
    try {
      const formats = (await Detector.getSupportedFormats?.()) ?? [];
      if (formats.includes('qr_code')) {
        detector = new Detector({ formats: ['qr_code'] });
      }
    } catch {
      detector = null;
    }
  }
  return detector;
}

function frameSize(frame: Frame): { width: number; height: number } {
  return frame instanceof HTMLVideoElement
    ? { width: frame.videoWidth, height: frame.videoHeight }
    : { width: frame.width, height: frame.height };
}

/** Decodes one frame with jsqr, or returns undefined when none is found. */
function decodeWithJsQr(frame: Frame): string | undefined {
  const { width, height } = frameSize(frame);
  if (width === 0 || height === 0) return undefined;
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext('2d', { willReadFrequently: true });
  if (!context) return undefined;
  context.drawImage(frame, 0, 0);
  const pixels = context.getImageData(0, 0, width, height);
  return jsQR(pixels.data, width, height)?.data;
}

/** Returns the text of the first QR code in a frame, if there is one. */
async function readFrame(frame: Frame): Promise<string | undefined> {
  const native = await barcodeDetector();
  if (native) {
    const [code] = await native.detect(frame);
    if (code) return code.rawValue;
  }
  return decodeWithJsQr(frame);
}

/** Reads a QR code from an image file, such as a photo or screenshot. */
export async function readQrFromFile(file: Blob): Promise<string | undefined> {
  const bitmap = await createImageBitmap(file);
  try {
    return await readFrame(bitmap);
  } finally {
    bitmap.close();
  }
}

/**
 * Reads the camera's picture in `video` until a QR code shows up, the
 * signal aborts, or `CAMERA_SCAN_TIMEOUT_MS` passes. Returns the code's
 * text, or undefined when none was found.
 */
export async function readQrFromVideo(
  video: HTMLVideoElement,
  signal: AbortSignal,
): Promise<string | undefined> {
  const deadline = Date.now() + CAMERA_SCAN_TIMEOUT_MS;
  while (!signal.aborted && Date.now() < deadline) {
    const text = await readFrame(video);
    if (text !== undefined) return text;
    await new Promise((resolve) =>
      setTimeout(resolve, CAMERA_SCAN_INTERVAL_MS),
    );
  }
  return undefined;
}

/**
 * Double Ratchet throughput: encrypt + decrypt of 1 KiB messages, one way
 * (symmetric chain steps only) and alternating (a DH ratchet step every
 * message), with each side's session record serialized and read back per
 * message as the engine stores it. Cloak runs in Node and in Chromium, and
 * in Chromium also with the sealed record committed to IndexedDB per
 * message. The peers run in Node; the floor is the same WebCrypto calls
 * per message with no state.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openBrowserBench, type BrowserBench } from '../lib/browser';
import { type Contender, interleave } from '../lib/measure';
import type { BenchMode, Measurement, RatioCheck, Suite } from '../lib/types';
import { type Pattern, recordSizeAfter, runCloak } from '../ratchet/cloak';
import { runFloor } from '../ratchet/floor';
import {
  loadPeer,
  PEER_NAMES,
  type PeerName,
  peerVersion,
  runPeer,
} from '../ratchet/peers';

const BENCH_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
const ENTRY = join(BENCH_DIR, 'ratchet', 'browser-entry.ts');

interface Sizes {
  /** Messages per round and contender. */
  readonly messages: number;
  /** Messages per round for libsignal-protocol-typescript, which is slow. */
  readonly slowMessages: number;
  /** Messages per round with an IndexedDB commit per message. */
  readonly storedMessages: number;
  readonly warmup: number;
  /** Alternating messages before the session record is measured. */
  readonly recordMessages: number;
}

const SIZES: Record<BenchMode, Sizes> = {
  smoke: {
    messages: 20,
    slowMessages: 6,
    storedMessages: 10,
    warmup: 2,
    recordMessages: 20,
  },
  quick: {
    messages: 300,
    slowMessages: 60,
    storedMessages: 60,
    warmup: 20,
    recordMessages: 1_000,
  },
  full: {
    messages: 2_000,
    slowMessages: 300,
    storedMessages: 600,
    warmup: 100,
    recordMessages: 1_000,
  },
};

const PATTERNS: readonly Pattern[] = ['one-way', 'alternating'];

const PEER_LABELS: Record<PeerName, string> = {
  '@signalapp/libsignal-client': 'libsignal-client (Rust), Node',
  '@wireapp/proteus': 'Proteus, Node',
  '@privacyresearch/libsignal-protocol-typescript':
    'libsignal-protocol-typescript, Node',
};

function label(base: string, pattern: Pattern): string {
  return `${base}, ${pattern}`;
}

function rateContender(
  name: string,
  measure: () => Promise<number>,
  note?: string,
): Contender {
  return {
    name,
    unit: 'msgs/s',
    higherIsBetter: true,
    ...(note !== undefined && { note }),
    measure,
  };
}

function ratio(
  name: string,
  numerator: string,
  denominator: string,
  min: number,
): RatioCheck {
  return { name, numerator, denominator, min };
}

const ratchetSuite: Suite = {
  name: 'ratchet',
  title: 'Double Ratchet: 1 KiB messages per second, encrypt + decrypt',
  order: 20,
  async run(context) {
    const sizes = SIZES[context.mode];
    const notes: string[] = [
      'Each message is encrypted by one side and decrypted by the other; ' +
        'both sides read their session record from bytes and write it back ' +
        'to bytes per message (peers through their own store interfaces).',
      'The floor makes the same WebCrypto calls per message as Cloak, with ' +
        'no state, header, framing or serialization.',
    ];
    const contenders: Contender[] = [];

    for (const pattern of PATTERNS) {
      contenders.push(
        rateContender(label('Cloak, Node', pattern), () =>
          runCloak(pattern, sizes.messages, sizes.warmup),
        ),
        rateContender(
          label('floor (WebCrypto calls only), Node', pattern),
          () => runFloor(pattern, sizes.messages, sizes.warmup),
        ),
      );
    }

    if (context.peers) {
      const peersDir = join(BENCH_DIR, 'peers');
      for (const name of PEER_NAMES) {
        const peer = loadPeer(name, context.requirePeer);
        context.version(name, peerVersion(peersDir, name));
        const count =
          name === '@privacyresearch/libsignal-protocol-typescript'
            ? sizes.slowMessages
            : sizes.messages;
        for (const pattern of PATTERNS) {
          contenders.push(
            rateContender(label(PEER_LABELS[name], pattern), () =>
              runPeer(peer, pattern, count, Math.min(sizes.warmup, count)),
            ),
          );
        }
      }
    } else {
      notes.push('peers skipped: --no-peers');
    }

    let browser: BrowserBench | undefined;
    if (context.chromiumPath !== undefined) {
      context.progress('bundling the bench page and starting Chromium');
      browser = await openBrowserBench(ENTRY, context.chromiumPath);
      const page = browser;
      for (const pattern of PATTERNS) {
        contenders.push(
          rateContender(label('Cloak, Chromium', pattern), () =>
            page.call<number>(
              'runCloak',
              pattern,
              sizes.messages,
              sizes.warmup,
            ),
          ),
          rateContender(
            label('floor (WebCrypto calls only), Chromium', pattern),
            () =>
              page.call<number>(
                'runFloor',
                pattern,
                sizes.messages,
                sizes.warmup,
              ),
          ),
          rateContender(
            label('Cloak + IndexedDB commit, Chromium', pattern),
            () =>
              page.call<number>(
                'runCloakIndexedDb',
                pattern,
                sizes.storedMessages,
                Math.min(sizes.warmup, sizes.storedMessages),
              ),
            'sealed session record committed per message, as the engine does',
          ),
        );
      }
    } else {
      notes.push('Chromium skipped: no executable (set CHROMIUM_PATH)');
    }

    const measurements: Measurement[] = [];
    try {
      measurements.push(
        ...(await interleave(context.rounds, contenders, context.progress)),
      );
    } finally {
      await browser?.close();
    }

    context.progress(
      `session record size after ${sizes.recordMessages} alternating messages`,
    );
    const size = await recordSizeAfter(sizes.recordMessages);
    measurements.push({
      name: `session record after ${sizes.recordMessages} alternating messages`,
      unit: 'bytes',
      higherIsBetter: false,
      samples: [Math.max(size.initiator, size.responder)],
      note: 'serialized, larger of the two sides; sealed adds 29 bytes',
    });

    const ratios: RatioCheck[] = [];
    for (const pattern of PATTERNS) {
      const native = label(PEER_LABELS['@signalapp/libsignal-client'], pattern);
      const typescript = label(
        PEER_LABELS['@privacyresearch/libsignal-protocol-typescript'],
        pattern,
      );
      ratios.push(
        ratio(
          `Chromium vs native libsignal in Node, ${pattern}`,
          label('Cloak, Chromium', pattern),
          native,
          1,
        ),
        ratio(
          `Node vs libsignal-protocol-typescript, ${pattern}`,
          label('Cloak, Node', pattern),
          typescript,
          pattern === 'one-way' ? 1.5 : 8,
        ),
        ratio(
          `share of the floor in Node, ${pattern}`,
          label('Cloak, Node', pattern),
          label('floor (WebCrypto calls only), Node', pattern),
          0.6,
        ),
        ratio(
          `share of the floor in Chromium, ${pattern}`,
          label('Cloak, Chromium', pattern),
          label('floor (WebCrypto calls only), Chromium', pattern),
          0.6,
        ),
      );
    }
    return { measurements, ratios, notes };
  },
};

export default ratchetSuite;

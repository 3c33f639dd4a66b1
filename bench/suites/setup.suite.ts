/**
 * Session set-up throughput: initiate + respond, the first message and its
 * decryption, with prekeys generated beforehand as a device's pool is.
 * Cloak runs PQXDH with ML-KEM-768 in Node and in Chromium. The native
 * libsignal also runs a post-quantum set-up (PQXDH with Kyber-1024), while
 * Proteus and libsignal-protocol-typescript run classical X3DH. Also the
 * time Chromium takes to create a new account's keys, prekey pools
 * included, and store them, as the app does at sign-up.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserBench, openBrowserBench } from '../lib/browser';
import { type Contender, interleave } from '../lib/measure';
import type {
  BenchMode,
  LimitCheck,
  Measurement,
  RatioCheck,
  Suite,
} from '../lib/types';
import { loadPeer, PEER_NAMES, type Peer, peerVersion } from '../ratchet/peers';
import { runCloakSetups } from '../ratchet/setup';

const BENCH_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
const ENTRY = join(BENCH_DIR, 'ratchet', 'browser-entry.ts');

interface Sizes {
  /** Set-ups per round and contender. */
  readonly setups: number;
  /** Set-ups per round for libsignal-protocol-typescript, which is slow. */
  readonly slowSetups: number;
  readonly warmup: number;
}

const SIZES: Record<BenchMode, Sizes> = {
  smoke: { setups: 4, slowSetups: 2, warmup: 1 },
  quick: { setups: 40, slowSetups: 5, warmup: 3 },
  full: { setups: 200, slowSetups: 20, warmup: 10 },
};

const CLOAK_NODE = 'Cloak (PQXDH + ML-KEM-768), Node';
const CLOAK_CHROMIUM = 'Cloak (PQXDH + ML-KEM-768), Chromium';
const ACCOUNT = 'new account keys and stores, Chromium';

const PEER_LABELS: Record<(typeof PEER_NAMES)[number], string> = {
  '@signalapp/libsignal-client':
    'libsignal-client (Rust, PQXDH + Kyber-1024), Node',
  '@wireapp/proteus': 'Proteus (X3DH-like, no PQ), Node',
  '@privacyresearch/libsignal-protocol-typescript':
    'libsignal-protocol-typescript (X3DH, no PQ), Node',
};

function setupContender(name: string, measure: () => Promise<number>) {
  return { name, unit: 'set-ups/s', higherIsBetter: true, measure };
}

/** Times `count` prepared set-ups of a peer after `warmup`. */
async function runPeerSetups(
  peer: Peer,
  count: number,
  warmup: number,
): Promise<number> {
  const run = await peer.prepareSetups(count + warmup);
  for (let i = 0; i < warmup; i++) await run(i);
  const start = performance.now();
  for (let i = warmup; i < warmup + count; i++) await run(i);
  return count / ((performance.now() - start) / 1000);
}

const setupSuite: Suite = {
  name: 'setup',
  title: 'Session set-up: initiate + respond + first message',
  order: 21,
  async run(context) {
    const sizes = SIZES[context.mode];
    const notes: string[] = [
      'Each set-up: the initiator processes a prekey bundle (signatures ' +
        'checked) and encrypts a first message, the responder runs its ' +
        'half and decrypts it; one-time prekeys come from pools made ' +
        'before the timing.',
    ];
    const contenders: Contender[] = [
      setupContender(CLOAK_NODE, () =>
        runCloakSetups(sizes.setups, sizes.warmup),
      ),
    ];

    if (context.peers) {
      const peersDir = join(BENCH_DIR, 'peers');
      for (const name of PEER_NAMES) {
        const peer = loadPeer(name, context.requirePeer);
        context.version(name, peerVersion(peersDir, name));
        const count =
          name === '@privacyresearch/libsignal-protocol-typescript'
            ? sizes.slowSetups
            : sizes.setups;
        contenders.push(
          setupContender(PEER_LABELS[name], () =>
            runPeerSetups(peer, count, Math.min(sizes.warmup, count)),
          ),
        );
      }
    } else {
      notes.push('peers skipped: --no-peers');
    }

    let browser: BrowserBench | undefined;
    if (context.chromiumPath !== undefined) {
      context.progress('bundling the bench page and starting Chromium');
      browser = await openBrowserBench(ENTRY, context.chromiumPath);
      const page = browser;
      contenders.push(
        setupContender(CLOAK_CHROMIUM, () =>
          page.call<number>('runCloakSetups', sizes.setups, sizes.warmup),
        ),
        {
          name: ACCOUNT,
          unit: 'ms',
          higherIsBetter: false,
          note: '100 one-time prekeys of each kind, as createPendingAccount makes',
          measure: () => page.call<number>('createAccountMs'),
        },
      );
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

    const native = PEER_LABELS['@signalapp/libsignal-client'];
    const typescript =
      PEER_LABELS['@privacyresearch/libsignal-protocol-typescript'];
    const ratios: RatioCheck[] = [
      {
        name: 'Node vs native libsignal (both post-quantum)',
        numerator: CLOAK_NODE,
        denominator: native,
        min: 0.5,
      },
      {
        name: 'Node vs libsignal-protocol-typescript',
        numerator: CLOAK_NODE,
        denominator: typescript,
        min: 20,
      },
    ];
    const limits: LimitCheck[] = [
      { name: 'new account in Chromium', measurement: ACCOUNT, max: 1_000 },
    ];
    return { measurements, ratios, limits, notes };
  },
};

export default setupSuite;

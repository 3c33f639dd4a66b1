/**
 * The contract between `npm run bench` and its suites. Each suite lives in
 * `bench/suites/<name>.suite.ts` and default-exports a `Suite`; the runner
 * finds the files itself, so suites never edit a shared list.
 */

/** `smoke` proves the code runs (seconds), `quick` is the default (the
 * whole bench under 5 minutes on 2 cores), `full` is the recorded run. */
export type BenchMode = 'smoke' | 'quick' | 'full';

export interface SuiteContext {
  readonly mode: BenchMode;
  /** Interleaved rounds per contender: at least 3 outside `smoke`. */
  readonly rounds: number;
  /** False when the peer libraries are not installed (`--no-peers`). */
  readonly peers: boolean;
  /** Chromium's executable, or undefined when none was found. */
  readonly chromiumPath: string | undefined;
  /** Prints one progress line to stderr, prefixed by the suite name. */
  progress(message: string): void;
  /** Records a library or runtime version for the report. */
  version(name: string, version: string): void;
  /** Loads a peer library from `bench/peers/node_modules`. */
  requirePeer<T = unknown>(name: string): T;
}

/** One figure of one contender: a sample per round. */
export interface Measurement {
  /** Row label, for example "Cloak, one way" or "libsignal (native)". */
  readonly name: string;
  /** Unit of every sample, for example "msgs/s", "ms", "KB". */
  readonly unit: string;
  readonly higherIsBetter: boolean;
  readonly samples: readonly number[];
  readonly note?: string;
}

/** A target stated as a ratio of two measurements of the same run. */
export interface RatioCheck {
  readonly name: string;
  /** Median of `numerator` divided by median of `denominator`. */
  readonly numerator: string;
  readonly denominator: string;
  /** The ratio must be at least (`min`) or at most (`max`) this. */
  readonly min?: number;
  readonly max?: number;
}

/** A target stated as a plain limit on one measurement's median. */
export interface LimitCheck {
  readonly name: string;
  readonly measurement: string;
  readonly min?: number;
  readonly max?: number;
}

export interface SuiteResult {
  readonly measurements: readonly Measurement[];
  readonly ratios?: readonly RatioCheck[];
  readonly limits?: readonly LimitCheck[];
  /** Facts the reader needs, such as "peers skipped: --no-peers". */
  readonly notes?: readonly string[];
}

export interface Suite {
  /** Short name used by `--suite`, for example "ratchet". */
  readonly name: string;
  readonly title: string;
  /** Position in the run and the report; lower runs first. */
  readonly order: number;
  run(context: SuiteContext): Promise<SuiteResult>;
}

/**
 * `npm run bench`: runs every suite in `bench/suites/*.suite.ts`, prints one
 * table per suite (median and range over interleaved rounds) and writes the
 * same report as JSON to `bench/results/`.
 *
 * Usage: npm run bench -- [--smoke | --full] [--suite a,b] [--rounds N]
 *   [--json FILE] [--no-peers]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { describeEnvironment, type Environment } from './lib/environment';
import { printSuite, type SuiteReport } from './lib/report';
import type { BenchMode, Suite, SuiteContext } from './lib/types';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const PEERS_DIR = join(BENCH_DIR, 'peers');

const HELP = `Usage: npm run bench -- [options]

  --smoke        tiny sizes, one round: proves every suite runs (seconds)
  --full         the recorded run: larger sizes and 5 rounds
                 (default: a quick run of 3 rounds, under 5 minutes)
  --suite a,b    run only these suites
  --rounds N     interleaved rounds per contender (default 3, --full 5)
  --json FILE    also write the JSON report to FILE
  --no-peers     skip the peer libraries (no install under bench/peers)
`;

function chromiumPath(): string | undefined {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  if (existsSync('/usr/bin/chromium')) return '/usr/bin/chromium';
  return undefined;
}

/**
 * Installs the peer libraries into `bench/peers/node_modules` on first use.
 * They stay out of the product's dependencies (their licences and size).
 */
function installPeers(): void {
  if (!existsSync(join(PEERS_DIR, 'package.json'))) return;
  if (existsSync(join(PEERS_DIR, 'node_modules', '.package-lock.json'))) {
    return;
  }
  process.stderr.write('bench: installing peer libraries in bench/peers\n');
  const command = existsSync(join(PEERS_DIR, 'package-lock.json'))
    ? 'ci'
    : 'install';
  execFileSync(
    'npm',
    [command, '--no-audit', '--no-fund', '--loglevel=error'],
    { cwd: PEERS_DIR, stdio: ['ignore', 'inherit', 'inherit'] },
  );
}

async function loadSuites(): Promise<Suite[]> {
  const directory = join(BENCH_DIR, 'suites');
  if (!existsSync(directory)) return [];
  const files = readdirSync(directory).filter((name) =>
    name.endsWith('.suite.ts'),
  );
  const suites: Suite[] = [];
  for (const file of files) {
    const module = (await import(
      pathToFileURL(join(directory, file)).href
    )) as { default: Suite };
    suites.push(module.default);
  }
  return suites.sort((a, b) => a.order - b.order);
}

function readRounds(value: string | undefined, mode: BenchMode): number {
  if (value === undefined) {
    if (mode === 'smoke') return 1;
    if (mode === 'full') return 5;
    return 3;
  }
  const rounds = Number(value);
  if (!Number.isInteger(rounds) || rounds < 1) {
    throw new Error(
      `Invalid --rounds "${value}": expected an integer >= 1 (3 or more for a recorded run).`,
    );
  }
  return rounds;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      smoke: { type: 'boolean' },
      full: { type: 'boolean' },
      suite: { type: 'string' },
      rounds: { type: 'string' },
      json: { type: 'string' },
      'no-peers': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.smoke && values.full) {
    throw new Error('Choose one of --smoke and --full, not both.');
  }
  const mode: BenchMode = values.smoke
    ? 'smoke'
    : values.full
      ? 'full'
      : 'quick';
  const rounds = readRounds(values.rounds, mode);
  const peers = !values['no-peers'];
  if (peers) installPeers();

  let suites = await loadSuites();
  if (values.suite !== undefined) {
    const requested = values.suite.split(',').map((name) => name.trim());
    const unknown = requested.filter(
      (name) => !suites.some((suite) => suite.name === name),
    );
    if (unknown.length > 0) {
      throw new Error(
        `Unknown --suite ${unknown.join(', ')}: choose from ${suites.map((suite) => suite.name).join(', ')}.`,
      );
    }
    suites = suites.filter((suite) => requested.includes(suite.name));
  }

  const versions: Record<string, string> = {};
  const peerRequire = createRequire(join(PEERS_DIR, 'package.json'));
  const environment: Environment = describeEnvironment(chromiumPath());
  const reports: SuiteReport[] = [];
  const started = Date.now();
  for (const suite of suites) {
    const suiteStart = Date.now();
    const context: SuiteContext = {
      mode,
      rounds,
      peers,
      chromiumPath: chromiumPath(),
      progress: (message) =>
        process.stderr.write(`[${suite.name}] ${message}\n`),
      version: (name, version) => {
        versions[name] = version;
      },
      requirePeer: <T>(name: string) => peerRequire(name) as T,
    };
    context.progress(`starting (${mode}, ${rounds} rounds)`);
    const result = await suite.run(context);
    const report: SuiteReport = {
      name: suite.name,
      title: suite.title,
      seconds: (Date.now() - suiteStart) / 1000,
      ...result,
    };
    reports.push(report);
    printSuite(report);
  }

  const output = {
    date: new Date().toISOString(),
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    mode,
    rounds,
    seconds: (Date.now() - started) / 1000,
    environment: {
      ...environment,
      versions: { ...environment.versions, ...versions },
    },
    suites: reports,
  };
  process.stdout.write(
    `\nMachine: ${environment.cpus} × ${environment.cpuModel}, ${environment.memoryGiB} GiB; ` +
      `${Object.entries(output.environment.versions)
        .map(([name, version]) => `${name} ${version}`)
        .join(', ')}\n`,
  );
  const resultsDir = join(BENCH_DIR, 'results');
  mkdirSync(resultsDir, { recursive: true });
  const json = `${JSON.stringify(output, null, 2)}\n`;
  const stamp = output.date.replace(/[:.]/g, '-');
  writeFileSync(join(resultsDir, `${stamp}-${mode}.json`), json);
  writeFileSync(join(resultsDir, 'latest.json'), json);
  if (values.json !== undefined) writeFileSync(values.json, json);
  process.stdout.write(
    `JSON report: bench/results/${stamp}-${mode}.json (${output.seconds.toFixed(0)} s)\n`,
  );
  return 0;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => process.exit(130));
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(2);
  },
);

/**
 * Client suite: what the browser downloads on first load and how fast the
 * app opens in Chromium, against the real relay and production build.
 *
 * Per round, two screens open in a new Chromium process each: the sign-up
 * form for a new visitor (empty profile), and the conversation list for a
 * signed-in user (a copy of a profile prepared once, see
 * `prepareSignedInProfile`). For each, the suite records the time from
 * navigation to the screen and the gzip size of every script the page
 * received. Once per run it also measures the chunks that must stay out of
 * the first load: ML-KEM, fetched at sign-up, and the admin page's uPlot
 * charts.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  type Browser,
  type BrowserContext,
  type Page,
  chromium,
} from '@playwright/test';
import {
  type ScriptSize,
  ScriptRecorder,
  probeScreens,
  screenTime,
  totalGzipBytes,
} from '../client/browser';
import { type BuildFiles, readBuildFiles } from '../client/build-files';
import { prepareClient, startRelay } from '../client/relay';
import { interleave } from '../lib/measure';
import type { Measurement, Suite, SuiteContext } from '../lib/types';

/** The first-load budget: total JavaScript, gzip, in KB of 1000 bytes. */
const FIRST_LOAD_LIMIT_KB = 150;
const KB = 1000;
const SCREEN_TIMEOUT_MS = 30_000;
/**
 * Wait after a screen appears before the scripts are summed, so that a
 * chunk the app requests right after its first render is counted too.
 */
const SETTLE_MS = 1_000;
const USER = 'bench-alice';
const CONTACT = 'bench-bob';

interface Launcher {
  readonly url: string;
  readonly origin: string;
  readonly executablePath: string | undefined;
}

interface SignedInProfile {
  /** Scripts that the sign-up fetched beyond the sign-up form's. */
  readonly signUpScripts: ScriptSize[];
  /** URL paths in the service worker's caches once it is active. */
  readonly cachedPaths: string[];
}

interface ScreenRound {
  readonly ms: number;
  readonly scripts: ScriptSize[];
}

function launchBrowser(launcher: Launcher): Promise<Browser> {
  return chromium.launch({
    headless: true,
    ...(launcher.executablePath && { executablePath: launcher.executablePath }),
  });
}

function launchProfile(
  launcher: Launcher,
  profile: string,
): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profile, {
    headless: true,
    ...(launcher.executablePath && { executablePath: launcher.executablePath }),
  });
}

async function signUp(page: Page, username: string): Promise<void> {
  await page.getByRole('textbox', { name: 'Username' }).fill(username);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page
    .getByRole('textbox', { name: 'Recipient' })
    .waitFor({ timeout: SCREEN_TIMEOUT_MS });
  await page
    .getByRole('status')
    .filter({ hasText: 'Connected' })
    .waitFor({ timeout: SCREEN_TIMEOUT_MS });
}

async function sendFirstMessage(page: Page, contact: string): Promise<void> {
  await page.getByRole('textbox', { name: 'Recipient' }).fill(contact);
  await page.getByRole('button', { name: 'Start chat' }).click();
  const message = page.getByRole('textbox', { name: 'Message' });
  await message.fill('hello');
  await message.press('Enter');
  await page
    .getByRole('list', { name: 'Messages' })
    .getByRole('listitem')
    .filter({ hasText: 'hello' })
    .filter({ hasText: /sent|delivered/ })
    .waitFor({ timeout: SCREEN_TIMEOUT_MS });
}

/**
 * Signs up `USER` in a new persistent profile and sends one message to
 * `CONTACT`, so that the profile opens on a conversation list with one
 * entry. Waits until the service worker is active, so its cache is filled.
 */
async function prepareSignedInProfile(
  launcher: Launcher,
  profile: string,
): Promise<SignedInProfile> {
  const contactBrowser = await launchBrowser(launcher);
  try {
    const contact = await contactBrowser.newPage();
    await contact.goto(launcher.url);
    await signUp(contact, CONTACT);

    const context = await launchProfile(launcher, profile);
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      const recorder = new ScriptRecorder(page, launcher.origin);
      await page.goto(launcher.url);
      await page.getByRole('textbox', { name: 'Username' }).waitFor();
      await page.waitForTimeout(SETTLE_MS);
      const firstLoad = new Set(
        (await recorder.received()).map((script) => script.path),
      );
      await signUp(page, USER);
      const signUpScripts = (await recorder.received()).filter(
        (script) => !firstLoad.has(script.path),
      );
      await sendFirstMessage(page, CONTACT);
      const cachedPaths = await page.evaluate(async () => {
        await navigator.serviceWorker.ready;
        const paths: string[] = [];
        for (const name of await caches.keys()) {
          const cache = await caches.open(name);
          for (const request of await cache.keys()) {
            paths.push(new URL(request.url).pathname);
          }
        }
        return paths;
      });
      return { signUpScripts, cachedPaths };
    } finally {
      await context.close();
    }
  } finally {
    await contactBrowser.close();
  }
}

/** Opens the admin page and returns the scripts it received. */
async function adminPageScripts(launcher: Launcher): Promise<ScriptSize[]> {
  const browser = await launchBrowser(launcher);
  try {
    const page = await browser.newPage();
    const recorder = new ScriptRecorder(page, launcher.origin);
    await page.goto(new URL('/admin', launcher.url).href);
    await page
      .getByLabel('Admin token')
      .waitFor({ timeout: SCREEN_TIMEOUT_MS });
    return await recorder.received();
  } finally {
    await browser.close();
  }
}

/** Opens the sign-up form in a new browser with an empty profile. */
async function openAsVisitor(launcher: Launcher): Promise<ScreenRound> {
  const browser = await launchBrowser(launcher);
  try {
    const context = await browser.newContext();
    await probeScreens(context);
    const page = await context.newPage();
    const recorder = new ScriptRecorder(page, launcher.origin);
    await page.goto(launcher.url);
    const ms = await screenTime(page, 'signUpForm', SCREEN_TIMEOUT_MS);
    await page.getByRole('textbox', { name: 'Username' }).waitFor();
    await page.waitForTimeout(SETTLE_MS);
    return { ms, scripts: await recorder.received() };
  } finally {
    await browser.close();
  }
}

/** Opens the conversation list from a fresh copy of the signed-in profile. */
async function openAsSignedIn(
  launcher: Launcher,
  template: string,
  profile: string,
): Promise<ScreenRound> {
  cpSync(template, profile, { recursive: true });
  const context = await launchProfile(launcher, profile);
  try {
    await probeScreens(context);
    const page = context.pages()[0] ?? (await context.newPage());
    const recorder = new ScriptRecorder(page, launcher.origin);
    await page.goto(launcher.url);
    const ms = await screenTime(page, 'conversationList', SCREEN_TIMEOUT_MS);
    await page
      .getByRole('list', { name: 'Conversations' })
      .getByRole('listitem')
      .first()
      .waitFor();
    await page.waitForTimeout(SETTLE_MS);
    return { ms, scripts: await recorder.received() };
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

function kilobytes(bytes: number): number {
  return bytes / KB;
}

function lazyCount(scripts: readonly ScriptSize[], build: BuildFiles): number {
  return scripts.filter((script) => build.lazyChunks.has(script.path)).length;
}

function chunkSample(
  scripts: readonly ScriptSize[],
  file: string,
): Measurement['samples'] {
  const script = scripts.find((entry) => entry.path === file);
  return script === undefined ? [] : [kilobytes(script.gzipBytes)];
}

async function run(context: SuiteContext) {
  const folder = mkdtempSync(path.join(tmpdir(), 'cloak-bench-client-'));
  try {
    context.progress('preparing the client build');
    const client = await prepareClient(folder);
    const build = readBuildFiles(client.directory);
    context.progress(`client: ${client.origin}; starting the relay`);
    const relay = await startRelay(folder);
    try {
      const launcher: Launcher = {
        url: relay.url,
        origin: new URL(relay.url).origin,
        executablePath: context.chromiumPath,
      };
      const versionBrowser = await launchBrowser(launcher);
      context.version('chromium', versionBrowser.version());
      await versionBrowser.close();

      context.progress('signing up a user in a persistent profile');
      const template = path.join(folder, 'profile-template');
      const { signUpScripts, cachedPaths } = await prepareSignedInProfile(
        launcher,
        template,
      );
      // The ML-KEM chunk is listed on its own, so that an empty precache
      // list cannot pass.
      const missingOffline = [
        ...new Set([build.mlKemChunk, ...build.precachedLazyAssets]),
      ].filter((file) => !cachedPaths.includes(file));
      context.progress('loading the admin page');
      const adminScripts = await adminPageScripts(launcher);

      const visitorKb: number[] = [];
      const signedInKb: number[] = [];
      const visitorLazy: number[] = [];
      const signedInLazy: number[] = [];
      const visitorFiles = new Set<string>();
      const timings = await interleave(
        context.rounds,
        [
          {
            name: 'Sign-up form, new visitor',
            unit: 'ms',
            higherIsBetter: false,
            note: 'navigation start to the enabled username field',
            measure: async () => {
              const round = await openAsVisitor(launcher);
              visitorKb.push(kilobytes(totalGzipBytes(round.scripts)));
              visitorLazy.push(lazyCount(round.scripts, build));
              for (const script of round.scripts) visitorFiles.add(script.path);
              return round.ms;
            },
          },
          {
            name: 'Conversation list, signed in',
            unit: 'ms',
            higherIsBetter: false,
            note: 'navigation start to the first conversation button',
            measure: async (index) => {
              const profile = path.join(folder, `profile-round-${index}`);
              const round = await openAsSignedIn(launcher, template, profile);
              signedInKb.push(kilobytes(totalGzipBytes(round.scripts)));
              signedInLazy.push(lazyCount(round.scripts, build));
              return round.ms;
            },
          },
        ],
        context.progress,
      );

      const precachedBytes = build.precachedLazyAssets.reduce(
        (sum, file) => sum + build.gzipBytesOf(file),
        0,
      );
      const measurements: Measurement[] = [
        ...timings,
        {
          name: 'First-load JS, sign-up form',
          unit: 'KB gzip',
          higherIsBetter: false,
          samples: visitorKb,
        },
        {
          name: 'First-load JS, conversation list',
          unit: 'KB gzip',
          higherIsBetter: false,
          samples: signedInKb,
        },
        {
          name: 'Lazy chunks in a first load',
          unit: 'chunks',
          higherIsBetter: false,
          samples: visitorLazy.map(
            (count, round) => count + (signedInLazy[round] ?? 0),
          ),
          note: 'import() chunks among both first loads of a round',
        },
        {
          name: 'ML-KEM chunk, fetched at sign-up',
          unit: 'KB gzip',
          higherIsBetter: false,
          samples: chunkSample(signUpScripts, build.mlKemChunk),
        },
        {
          name: 'Chart chunk, admin page only',
          unit: 'KB gzip',
          higherIsBetter: false,
          samples: chunkSample(adminScripts, build.chartChunk),
        },
        {
          name: 'Service worker precache of lazy chunks',
          unit: 'KB gzip',
          higherIsBetter: false,
          samples: [kilobytes(precachedBytes)],
          note: 'fetched by the worker after install, not by the page',
        },
        {
          name: 'Lazy chunks missing offline',
          unit: 'chunks',
          higherIsBetter: false,
          samples: [missingOffline.length],
          note: "ML-KEM and precache list entries absent from the worker's cache",
        },
      ];

      return {
        measurements,
        limits: [
          {
            name: 'First-load JS, sign-up form',
            measurement: 'First-load JS, sign-up form',
            max: FIRST_LOAD_LIMIT_KB,
          },
          {
            name: 'First-load JS, conversation list',
            measurement: 'First-load JS, conversation list',
            max: FIRST_LOAD_LIMIT_KB,
          },
          {
            name: 'No lazy chunk in a first load',
            measurement: 'Lazy chunks in a first load',
            max: 0,
          },
          {
            name: 'Every lazy chunk cached for offline use',
            measurement: 'Lazy chunks missing offline',
            max: 0,
          },
        ],
        notes: [
          `client build: ${client.origin}`,
          `KB is 1000 bytes of gzip output at zlib's default level 6, summed over every JavaScript response of the page from navigation until ${SETTLE_MS} ms after the screen appeared (CSS, HTML and the service worker script are left out); Vite's build report shows about 1% more for the same file`,
          `times are ms from navigation start until the screen's DOM node is inserted (a MutationObserver reads performance.now()); every round launches a new Chromium process`,
          `signed in: each round copies a profile in which ${USER} signed up and sent one message to ${CONTACT}, so IndexedDB, the HTTP cache and the service worker's cache are warm, as for a returning user`,
          `first-load scripts of a new visitor: ${[...visitorFiles].join(', ')}`,
          `ML-KEM chunk ${build.mlKemChunk}, chart chunk ${build.chartChunk}, precached ${build.precachedLazyAssets.join(', ')}`,
          ...(missingOffline.length > 0
            ? [`missing from the offline cache: ${missingOffline.join(', ')}`]
            : []),
        ],
      };
    } finally {
      await relay.stop();
    }
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

const suite: Suite = {
  name: 'client',
  title: 'Client bundle and cold start in Chromium',
  order: 60,
  run,
};

export default suite;

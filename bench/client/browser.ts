/**
 * Browser-side probes for the client suite: the scripts a page receives
 * with their gzip sizes, and the moment a screen appears.
 */
import { gzipSync } from 'node:zlib';
import type { BrowserContext, Page, Response } from '@playwright/test';

/** Screens whose first appearance the suite times. */
export type Screen = 'signUpForm' | 'conversationList';

/**
 * CSS selectors of each screen once it accepts input: the enabled username
 * field, and a conversation's button inside the list labelled
 * "Conversations". The suite also finds both by role and accessible name,
 * so a selector that drifts from the markup fails the run.
 */
const SCREEN_SELECTORS: Record<Screen, string> = {
  signUpForm: 'form.create-account input:not([disabled])',
  conversationList: 'ul[aria-label="Conversations"] > li button',
};

interface ScreenMarks {
  /** `performance.now()` (ms since navigation start) per screen. */
  readonly marks: Partial<Record<Screen, number>>;
}

/**
 * Runs in every new document before the app's own script. A
 * MutationObserver notes `performance.now()` when a screen's selector first
 * matches, which is when React inserts it, before the next paint. It is
 * source text, not a function, because tsx compiles functions with calls
 * to a `__name` helper that does not exist in the page.
 */
const SCREEN_MARKS_SCRIPT = `(() => {
  const selectors = ${JSON.stringify(SCREEN_SELECTORS)};
  const marks = {};
  const check = () => {
    for (const [screen, selector] of Object.entries(selectors)) {
      if (marks[screen] === undefined && document.querySelector(selector)) {
        marks[screen] = performance.now();
      }
    }
  };
  new MutationObserver(check).observe(document, {
    attributes: true,
    childList: true,
    subtree: true,
  });
  globalThis.cloakBench = { marks };
})();`;

/** Adds the screen probe to every page that `context` opens from now on. */
export async function probeScreens(context: BrowserContext): Promise<void> {
  await context.addInitScript({ content: SCREEN_MARKS_SCRIPT });
}

/**
 * Returns when `screen` appeared, in ms since the navigation started,
 * waiting up to `timeoutMs` for it.
 */
export async function screenTime(
  page: Page,
  screen: Screen,
  timeoutMs: number,
): Promise<number> {
  const handle = await page.waitForFunction(
    (name) =>
      (globalThis as unknown as { cloakBench?: ScreenMarks }).cloakBench?.marks[
        name
      ],
    screen,
    { timeout: timeoutMs, polling: 50 },
  );
  return (await handle.jsonValue()) as number;
}

/** One script response: its URL path and its body's size. */
export interface ScriptSize {
  readonly path: string;
  readonly bytes: number;
  /** Size of the body after gzip at zlib's default level (6). */
  readonly gzipBytes: number;
}

/**
 * Records every JavaScript response a page receives from the relay's
 * origin, including those the service worker serves from its cache.
 */
export class ScriptRecorder {
  private readonly pending: Promise<void>[] = [];
  private readonly scripts = new Map<string, ScriptSize>();
  private readonly failures: string[] = [];

  constructor(
    page: Page,
    private readonly origin: string,
  ) {
    page.on('response', (response) => {
      this.pending.push(this.record(response));
    });
  }

  private async record(response: Response): Promise<void> {
    const url = new URL(response.url());
    if (url.origin !== this.origin) return;
    const type = response.headers()['content-type'] ?? '';
    if (!type.includes('javascript')) return;
    try {
      const body = await response.body();
      this.scripts.set(url.pathname, {
        path: url.pathname,
        bytes: body.length,
        gzipBytes: gzipSync(body).length,
      });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.failures.push(`${url.pathname}: ${reason}`);
    }
  }

  /**
   * Returns the scripts received so far, once their bodies are read. Throws
   * when a body could not be read, because the sum would then be too low.
   */
  async received(): Promise<ScriptSize[]> {
    await Promise.all(this.pending);
    if (this.failures.length > 0) {
      throw new Error(
        `Failed to read script bodies (${this.failures.join('; ')}), so the first-load sum would be too low. Rerun the suite.`,
      );
    }
    return [...this.scripts.values()].sort((a, b) =>
      a.path.localeCompare(b.path),
    );
  }
}

export function totalGzipBytes(scripts: readonly ScriptSize[]): number {
  return scripts.reduce((sum, script) => sum + script.gzipBytes, 0);
}

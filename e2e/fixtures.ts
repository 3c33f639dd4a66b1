/**
 * Shared steps for the end-to-end scenarios: each person gets an isolated
 * browser context (its own IndexedDB), and every step is narrated with
 * `test.step` so that a failure names the person and the action.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Browser,
  type BrowserContext,
  type Page,
  expect,
  test,
} from '@playwright/test';

export function relayUrl(): string {
  const url = process.env.CLOAK_URL;
  if (!url)
    throw new Error('CLOAK_URL is not set; run through playwright.config.ts');
  return url;
}

export interface Person {
  readonly name: string;
  readonly context: BrowserContext;
  page: Page;
}

export async function openPerson(
  browser: Browser,
  name: string,
  url: string = relayUrl(),
): Promise<Person> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(url);
  return { name, context, page };
}

export async function createAccount(person: Person): Promise<void> {
  await test.step(`${person.name} creates an account`, async () => {
    await person.page
      .getByRole('textbox', { name: 'Username' })
      .fill(person.name);
    await person.page.getByRole('button', { name: 'Create account' }).click();
    await expect(
      person.page.getByRole('textbox', { name: 'Recipient' }),
    ).toBeVisible({ timeout: 60_000 });
    await expect(person.page.getByRole('status')).toContainText('Connected');
  });
}

export async function startChat(
  person: Person,
  recipient: string,
): Promise<void> {
  await test.step(`${person.name} starts a chat with ${recipient}`, async () => {
    await person.page
      .getByRole('textbox', { name: 'Recipient' })
      .fill(recipient);
    await person.page.getByRole('button', { name: 'Start chat' }).click();
    await expect(
      person.page.getByRole('textbox', { name: 'Message' }),
    ).toBeVisible();
  });
}

export async function openConversation(
  person: Person,
  contact: string,
): Promise<void> {
  await test.step(`${person.name} opens the conversation with ${contact}`, async () => {
    const item = person.page
      .getByRole('list', { name: 'Conversations' })
      .getByRole('listitem')
      .filter({ hasText: contact });
    await expect(item).toBeVisible();
    await item.click();
    // A group the person left shows a notice in place of the composer.
    await expect(
      person.page
        .getByRole('textbox', { name: 'Message' })
        .or(person.page.getByText('so you cannot send here')),
    ).toBeVisible();
  });
}

export async function sendMessage(person: Person, text: string): Promise<void> {
  await test.step(`${person.name} sends "${text}"`, async () => {
    const box = person.page.getByRole('textbox', { name: 'Message' });
    await box.fill(text);
    await box.press('Enter');
    await expect(box).toHaveValue('');
  });
}

export function messageItem(person: Person, text: string) {
  return person.page
    .getByRole('list', { name: 'Messages' })
    .getByRole('listitem')
    .filter({ hasText: text });
}

/** Lists every file below `folder`, SQLite's WAL and shared-memory files included. */
export function filesBelow(folder: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(folder)) {
    const path = join(folder, entry);
    if (statSync(path).isDirectory()) files.push(...filesBelow(path));
    else files.push(path);
  }
  return files;
}

/** Returns the relay-side files that contain `needle` as raw bytes. */
export function relayFilesContaining(needle: string): string[] {
  const dataDir = process.env.CLOAK_DATA_DIR;
  const logFile = process.env.CLOAK_LOG_FILE;
  if (!dataDir || !logFile) {
    throw new Error(
      'CLOAK_DATA_DIR or CLOAK_LOG_FILE is not set; run through playwright.config.ts',
    );
  }
  const raw = Buffer.from(needle, 'utf8');
  const forms = [raw, Buffer.from(needle, 'utf16le')];
  // Base64 of the needle at each of the three byte alignments, minus the
  // edge characters that depend on the neighbouring bytes.
  for (const offset of [0, 1, 2]) {
    const encoded = Buffer.concat([Buffer.alloc(offset), raw]).toString(
      'base64',
    );
    const start = offset === 0 ? 0 : Math.ceil((offset * 4) / 3) + 1;
    forms.push(Buffer.from(encoded.slice(start, -4)));
    forms.push(Buffer.from(toBase64Url(encoded.slice(start, -4))));
  }
  return [...filesBelow(dataDir), logFile].filter((file) => {
    const content = readFileSync(file);
    return forms.some((form) => content.includes(form));
  });
}

function toBase64Url(base64: string): string {
  return base64.replace(/\+/g, '-').replace(/\//g, '_');
}

const RELAY_READY_TIMEOUT_MS = 120_000;

/**
 * A relay of one scenario's own, which the scenario can kill with SIGKILL
 * and start again on the same port and data folder.
 */
export interface RestartableRelay {
  readonly url: string;
  /** Kills the relay process with SIGKILL and waits until it has exited. */
  kill(): Promise<void>;
  /** Starts the relay again and waits for its ready line. */
  restart(): Promise<void>;
  /** Kills the relay, empties its data folder and starts it again. */
  wipe(): Promise<void>;
  /** Kills the relay and deletes its data folder. */
  dispose(): Promise<void>;
}

async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (typeof address !== 'object' || address === null) {
    throw new Error('no free port on 127.0.0.1');
  }
  return address.port;
}

/** Spawns `server/start.ts` and resolves once it logs its ready line. */
async function spawnRelay(
  port: number,
  dataDir: string,
): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'server/start.ts'],
    {
      env: {
        ...process.env,
        PORT: `${port}`,
        HOST: '127.0.0.1',
        DATA_DIR: dataDir,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const ready = `"url":"http://127.0.0.1:${port}"`;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`relay not ready after ${RELAY_READY_TIMEOUT_MS} ms`));
    }, RELAY_READY_TIMEOUT_MS);
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (!output.includes(ready)) return;
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      // Keeps reading so that a full pipe never blocks the relay.
      child.stdout?.resume();
      resolve();
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`relay exited (${code ?? signal}) before it was ready`));
    });
  });
  return child;
}

/** Starts a relay on a free 127.0.0.1 port with a fresh data folder. */
export async function startRestartableRelay(): Promise<RestartableRelay> {
  const dataDir = mkdtempSync(join(tmpdir(), 'cloak-e2e-restart-'));
  const port = await freeLoopbackPort();
  let child: ChildProcess | undefined = await spawnRelay(port, dataDir);
  const kill = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) {
      return;
    }
    const exited = once(running, 'exit');
    running.kill('SIGKILL');
    await exited;
  };
  return {
    url: `http://127.0.0.1:${port}`,
    kill,
    restart: async () => {
      await kill();
      child = await spawnRelay(port, dataDir);
    },
    wipe: async () => {
      await kill();
      for (const entry of readdirSync(dataDir)) {
        rmSync(join(dataDir, entry), { recursive: true, force: true });
      }
      child = await spawnRelay(port, dataDir);
    },
    dispose: async () => {
      await kill();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

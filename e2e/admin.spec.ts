import { type Page, expect, test } from '@playwright/test';
import {
  createAccount,
  messageItem,
  openConversation,
  openPerson,
  relayUrl,
  sendMessage,
  startChat,
} from './fixtures';

function adminToken(): string {
  const token = process.env.CLOAK_ADMIN_TOKEN;
  if (!token) {
    throw new Error(
      'CLOAK_ADMIN_TOKEN is not set; run through playwright.config.ts',
    );
  }
  return token;
}

/** Finds the value shown after a label in the "Relay health" region. */
function figure(page: Page, label: string) {
  return page
    .getByRole('region', { name: 'Relay health' })
    .locator('dt', { hasText: new RegExp(`^${label}$`) })
    .locator('+ dd');
}

async function readFigure(page: Page, label: string): Promise<number> {
  return Number(await figure(page, label).textContent());
}

test('admin watches relay health during a chat', async ({ browser }) => {
  const adminContext = await browser.newContext();
  const admin = await adminContext.newPage();
  const policyViolations: string[] = [];
  admin.on('console', (message) => {
    if (message.text().includes('Content Security Policy')) {
      policyViolations.push(message.text());
    }
  });

  await test.step('a wrong token is rejected', async () => {
    await admin.goto(`${relayUrl()}/admin`);
    await admin
      .getByRole('textbox', { name: 'Admin token' })
      .fill('not-the-admin-token');
    await admin.getByRole('button', { name: 'Sign in' }).click();
    await expect(admin.getByRole('alert')).toContainText('wrong');
    await expect(
      admin.getByRole('region', { name: 'Relay health' }),
    ).toHaveCount(0);
  });

  await test.step('the admin signs in with the token', async () => {
    await admin
      .getByRole('textbox', { name: 'Admin token' })
      .fill(adminToken());
    await admin.getByRole('button', { name: 'Sign in' }).click();
    await expect(
      admin.getByRole('region', { name: 'Relay health' }),
    ).toBeVisible();
    await expect(
      admin.getByRole('status', { name: 'Relay status' }),
    ).toContainText('Green');
  });

  const devicesBefore = await readFigure(admin, 'Connected devices');
  const relayedBefore = await readFigure(admin, 'Messages relayed');

  const alice = await openPerson(browser, 'admin-alice');
  const bob = await openPerson(browser, 'admin-bob');
  await createAccount(alice);
  await createAccount(bob);

  await test.step('both devices appear as connected', async () => {
    await expect(figure(admin, 'Connected devices')).toHaveText(
      String(devicesBefore + 2),
    );
  });

  await startChat(alice, 'admin-bob');
  await sendMessage(alice, 'hello from the admin test');
  await test.step('bob receives the message', async () => {
    await openConversation(bob, 'admin-alice');
    await expect(messageItem(bob, 'hello from the admin test')).toBeVisible();
  });

  await test.step('messages relayed grows', async () => {
    await expect
      .poll(() => readFigure(admin, 'Messages relayed'))
      .toBeGreaterThan(relayedBefore);
    await expect(figure(admin, 'Queued envelopes')).toHaveText(/^\d+$/);
  });

  await test.step('the page names no user', async () => {
    const text = await admin.locator('body').innerText();
    expect(text).not.toContain('admin-alice');
    expect(text).not.toContain('admin-bob');
  });

  await test.step('the page breaks no Content Security Policy rule', () => {
    expect(policyViolations).toEqual([]);
  });

  await test.step('the admin signs out', async () => {
    await admin.getByRole('button', { name: 'Sign out' }).click();
    await expect(
      admin.getByRole('textbox', { name: 'Admin token' }),
    ).toBeVisible();
  });

  await alice.context.close();
  await bob.context.close();
  await adminContext.close();
});

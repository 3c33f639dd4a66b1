import { randomBytes } from 'node:crypto';
import { expect, test } from '@playwright/test';
import {
  createAccount,
  messageItem,
  openConversation,
  openPerson,
  relayFilesContaining,
  relayUrl,
  sendMessage,
  startChat,
} from './fixtures';

// A random marker inside every message: the relay's data folder and log
// output must never contain it.
const canary = `canary-${randomBytes(8).toString('hex')}`;

test('two people chat end-to-end encrypted', async ({ browser }) => {
  const alice = await openPerson(browser, 'alice');
  const bob = await openPerson(browser, 'bob');
  await createAccount(alice);
  await createAccount(bob);

  await test.step('the storage notice is inline and shown once', async () => {
    await expect(alice.page.getByRole('dialog')).toHaveCount(0);
    await expect(alice.page.getByText(/this browser/i).first()).toBeVisible();
  });

  await startChat(alice, 'bob');
  await sendMessage(alice, `hello bob ${canary}`);

  await test.step('bob sees the conversation appear and reads it', async () => {
    await openConversation(bob, 'alice');
    await expect(messageItem(bob, `hello bob ${canary}`)).toBeVisible();
  });

  await test.step('alice sees her message delivered', async () => {
    await expect(messageItem(alice, `hello bob ${canary}`)).toContainText(
      'delivered',
    );
  });

  await sendMessage(bob, `hi alice ${canary}`);
  await test.step('alice receives the reply', async () => {
    await expect(messageItem(alice, `hi alice ${canary}`)).toBeVisible();
  });

  await test.step('bob goes offline by closing his tab', async () => {
    await bob.page.close();
  });
  await sendMessage(alice, `while you were away ${canary}`);
  await test.step('alice sees "sent" while bob is offline', async () => {
    const item = messageItem(alice, `while you were away ${canary}`);
    await expect(item).toContainText('sent');
    await expect(item).not.toContainText('delivered');
  });

  await test.step('bob comes back and receives the queued message', async () => {
    bob.page = await bob.context.newPage();
    await bob.page.goto(relayUrl());
    await openConversation(bob, 'alice');
    await expect(
      messageItem(bob, `while you were away ${canary}`),
    ).toBeVisible();
    await expect(messageItem(bob, `hello bob ${canary}`)).toBeVisible();
    await expect(
      messageItem(alice, `while you were away ${canary}`),
    ).toContainText('delivered');
  });

  await test.step('a reload keeps history and keys', async () => {
    await alice.page.reload();
    await openConversation(alice, 'bob');
    await expect(messageItem(alice, `hi alice ${canary}`)).toBeVisible();
    await expect(messageItem(alice, `hello bob ${canary}`)).toBeVisible();
  });
  await sendMessage(alice, `after reload ${canary}`);
  await test.step('bob receives the message sent after the reload', async () => {
    await expect(messageItem(bob, `after reload ${canary}`)).toBeVisible();
  });

  await test.step('markup in a message is shown as text', async () => {
    const markup = '<img src=x onerror="document.title=1">';
    await sendMessage(bob, markup);
    await expect(messageItem(alice, markup)).toBeVisible();
    await expect(alice.page.locator('img[src="x"]')).toHaveCount(0);
  });

  await test.step('an unknown recipient gives a clear error', async () => {
    await alice.page.getByRole('textbox', { name: 'Recipient' }).fill('nobody');
    await alice.page.getByRole('button', { name: 'Start chat' }).click();
    await expect(alice.page.getByRole('alert')).toContainText('nobody');
  });

  await test.step('a taken username is rejected', async () => {
    const mallory = await openPerson(browser, 'mallory');
    await mallory.page.getByRole('textbox', { name: 'Username' }).fill('alice');
    await mallory.page.getByRole('button', { name: 'Create account' }).click();
    await expect(mallory.page.getByRole('alert')).toContainText(/taken/i);
    await mallory.context.close();
  });

  await test.step('the relay stored and logged no plaintext', async () => {
    expect(relayFilesContaining(canary)).toEqual([]);
  });

  await alice.context.close();
  await bob.context.close();
});

import { expect, test } from '@playwright/test';
import {
  createAccount,
  messageItem,
  openConversation,
  openPerson,
  type Person,
  relayUrl,
  sendMessage,
  startChat,
} from './fixtures';

test('two tabs of one account share a conversation', async ({ browser }) => {
  const tara = await openPerson(browser, 'tara');
  const tom = await openPerson(browser, 'tom');
  await createAccount(tara);
  await createAccount(tom);

  // A second page of the same context shares tara's IndexedDB and locks.
  const secondTab: Person = {
    name: 'tara (second tab)',
    context: tara.context,
    page: await tara.context.newPage(),
  };
  await test.step('a second tab of tara follows the first', async () => {
    await secondTab.page.goto(relayUrl());
    await expect(secondTab.page.getByRole('status')).toHaveText(
      'Connected through another tab',
    );
    await expect(tara.page.getByRole('status')).toHaveText('Connected');
    await expect(
      secondTab.page.getByText('Signed in as', { exact: false }),
    ).toContainText('tara');
  });

  await startChat(tom, 'tara');
  await sendMessage(tom, 'hello to both tabs');
  await test.step('both tabs show the incoming message', async () => {
    await openConversation(tara, 'tom');
    await openConversation(secondTab, 'tom');
    await expect(messageItem(tara, 'hello to both tabs')).toBeVisible();
    await expect(messageItem(secondTab, 'hello to both tabs')).toBeVisible();
  });

  await sendMessage(secondTab, 'sent from the second tab');
  await test.step('the message from the second tab arrives once', async () => {
    const text = 'sent from the second tab';
    await expect(messageItem(secondTab, text)).toContainText('delivered');
    await expect(messageItem(tara, text)).toContainText('delivered');
    await expect(messageItem(tom, text)).toHaveCount(1);
    await expect(messageItem(secondTab, text)).toHaveCount(1);
  });

  await sendMessage(tom, 'second message to both tabs');
  await test.step('both tabs show the next message', async () => {
    const text = 'second message to both tabs';
    await expect(messageItem(tara, text)).toBeVisible();
    await expect(messageItem(secondTab, text)).toBeVisible();
  });

  await test.step('a message sent as the first tab closes arrives once', async () => {
    const box = secondTab.page.getByRole('textbox', { name: 'Message' });
    await box.fill('sent during the handover');
    await box.press('Enter');
    await tara.page.close();
    await expect(messageItem(tom, 'sent during the handover')).toHaveCount(1);
    await expect(
      messageItem(secondTab, 'sent during the handover'),
    ).toContainText('delivered');
  });

  await test.step('the second tab takes over the connection', async () => {
    await expect(secondTab.page.getByRole('status')).toHaveText('Connected');
  });

  await sendMessage(secondTab, 'after the handover');
  await test.step('tom receives the message sent after the handover', async () => {
    await expect(messageItem(tom, 'after the handover')).toHaveCount(1);
    await expect(messageItem(secondTab, 'after the handover')).toContainText(
      'delivered',
    );
  });

  await sendMessage(tom, 'reply after the handover');
  await test.step('the second tab receives the reply', async () => {
    await expect(
      messageItem(secondTab, 'reply after the handover'),
    ).toBeVisible();
    await expect(messageItem(secondTab, 'hello to both tabs')).toHaveCount(1);
    await expect(
      messageItem(secondTab, 'sent during the handover'),
    ).toHaveCount(1);
  });

  await tara.context.close();
  await tom.context.close();
});

import { expect, test } from '@playwright/test';
import {
  type RestartableRelay,
  createAccount,
  messageItem,
  openConversation,
  openPerson,
  sendMessage,
  startChat,
  startRestartableRelay,
} from './fixtures';

let relay: RestartableRelay | undefined;

test.afterEach(async () => {
  await relay?.dispose();
  relay = undefined;
});

test('relay-down message arrives once', async ({ browser }) => {
  relay = await startRestartableRelay();
  const dora = await openPerson(browser, 'dora', relay.url);
  const dan = await openPerson(browser, 'dan', relay.url);
  await createAccount(dora);
  await createAccount(dan);

  await startChat(dora, 'dan');
  await sendMessage(dora, 'hello dan');
  await openConversation(dan, 'dora');
  await test.step('dan receives the first message', async () => {
    await expect(messageItem(dan, 'hello dan')).toBeVisible();
    await expect(messageItem(dora, 'hello dan')).toContainText('delivered');
  });

  await test.step('the relay is killed with SIGKILL', async () => {
    await relay?.kill();
    await expect(dora.page.getByRole('status')).toContainText('Offline');
  });

  const text = 'typed while the relay was down';
  await sendMessage(dora, text);
  await test.step('dora sees her message as sending', async () => {
    await expect(messageItem(dora, text)).toContainText('sending');
  });

  await test.step('the relay starts again on the same port and data', async () => {
    await relay?.restart();
    await expect(dora.page.getByRole('status')).toContainText('Connected', {
      timeout: 30_000,
    });
  });

  await test.step('dan receives the message exactly once', async () => {
    await expect(messageItem(dan, text)).toHaveCount(1, { timeout: 30_000 });
    await expect(messageItem(dora, text)).toContainText('delivered', {
      timeout: 30_000,
    });
    // A late resend would show up as a second item.
    await dan.page.waitForTimeout(2_000);
    await expect(messageItem(dan, text)).toHaveCount(1);
  });

  await dora.context.close();
  await dan.context.close();
});

test('register again after the relay lost its data', async ({ browser }) => {
  relay = await startRestartableRelay();
  const rita = await openPerson(browser, 'rita', relay.url);
  const ron = await openPerson(browser, 'ron', relay.url);
  await createAccount(rita);
  await createAccount(ron);
  await startChat(ron, 'rita');
  await sendMessage(ron, 'before the wipe');
  await openConversation(rita, 'ron');
  await expect(messageItem(rita, 'before the wipe')).toBeVisible();

  await test.step('the relay restarts with an empty data folder', async () => {
    await relay?.wipe();
    await expect(rita.page.getByRole('alert')).toContainText(
      'no longer knows the account "rita"',
      { timeout: 30_000 },
    );
  });

  await test.step('rita registers again with the same keys', async () => {
    await rita.page.getByRole('button', { name: 'Register again' }).click();
    await expect(rita.page.getByRole('status')).toContainText('Connected', {
      timeout: 30_000,
    });
    await expect(messageItem(rita, 'before the wipe')).toBeVisible();
  });

  await test.step('ron registers again and the two chat on', async () => {
    await ron.page.getByRole('button', { name: 'Register again' }).click();
    await expect(ron.page.getByRole('status')).toContainText('Connected', {
      timeout: 30_000,
    });
    await sendMessage(rita, 'after the wipe');
    await expect(messageItem(ron, 'after the wipe')).toBeVisible({
      timeout: 30_000,
    });
    await sendMessage(ron, 'and back');
    await expect(messageItem(rita, 'and back')).toBeVisible({
      timeout: 30_000,
    });
  });

  await rita.context.close();
  await ron.context.close();
});

import { expect, test } from '@playwright/test';
import {
  type Person,
  createAccount,
  messageItem,
  openConversation,
  openPerson,
  relayUrl,
  sendMessage,
  startChat,
} from './fixtures';

/** Opens the safety number panel and returns its 60 digits. */
async function readSafetyNumber(person: Person): Promise<string> {
  await person.page
    .getByRole('button', { name: 'Verify safety number' })
    .click();
  const region = person.page.getByRole('region', { name: 'Safety number' });
  await expect(region).toContainText(/(\d{5}\s*){12}/);
  await expect(region.getByRole('img')).toBeVisible();
  return (await region.innerText()).replace(/\D/g, '');
}

test('verifying a contact and a key change', async ({ browser, request }) => {
  const vera = await openPerson(browser, 'vera');
  const victor = await openPerson(browser, 'victor');
  await createAccount(vera);
  await createAccount(victor);
  await startChat(vera, 'victor');
  await sendMessage(vera, 'hello victor');
  await openConversation(victor, 'vera');
  await expect(messageItem(victor, 'hello victor')).toBeVisible();

  await test.step('both read the same safety number', async () => {
    const seenByVera = await readSafetyNumber(vera);
    const seenByVictor = await readSafetyNumber(victor);
    expect(seenByVera).toMatch(/^\d{60}$/);
    expect(seenByVictor).toBe(seenByVera);
  });

  await test.step('vera scans the QR codes from images', async () => {
    const qrOf = (person: Person) =>
      person.page
        .getByRole('img', { name: /QR code of the safety number/ })
        .screenshot();
    const upload = vera.page.getByLabel('Scan QR code from an image');
    const result = vera.page.getByText(/^(Match|No match):/);

    await upload.setInputFiles({
      name: 'victor.png',
      mimeType: 'image/png',
      buffer: await qrOf(victor),
    });
    await expect(result).toHaveText(/^Match:/);

    // Her own code lists the fingerprints the other way round.
    await upload.setInputFiles({
      name: 'vera.png',
      mimeType: 'image/png',
      buffer: await qrOf(vera),
    });
    await expect(result).toHaveText(/^No match:/);
  });

  await test.step('both mark the other as verified', async () => {
    for (const person of [vera, victor]) {
      await person.page
        .getByRole('button', { name: 'Mark as verified' })
        .click();
      await expect(
        person.page.getByText('Verified', { exact: true }),
      ).toBeVisible();
    }
  });

  await test.step('the relay serves a forged key for victor', async () => {
    const response = await request.post(`${relayUrl()}/test/swap-identity`, {
      data: { userId: 'victor' },
    });
    expect(response.ok()).toBe(true);
  });

  const thread = vera.page.getByRole('region', { name: 'victor' });
  const keyAlert = vera.page.getByRole('alert').filter({
    hasText: "victor's safety number changed",
  });
  const send = vera.page.getByRole('button', { name: 'Send' });

  await test.step('vera sees the blocking alert', async () => {
    await expect(keyAlert).toBeVisible();
    await expect(vera.page.getByText('Verified', { exact: true })).toHaveCount(
      0,
    );
    await expect(send).toBeDisabled();
    await expect(
      messageItem(vera, "victor's safety number changed"),
    ).toBeVisible();
    await expect(thread).toBeVisible();
  });

  await test.step('the block survives a reload', async () => {
    await vera.page.reload();
    await expect(keyAlert).toBeVisible();
    await vera.page
      .getByRole('textbox', { name: 'Message' })
      .fill('not while blocked');
    await vera.page.getByRole('textbox', { name: 'Message' }).press('Enter');
    await expect(messageItem(vera, 'not while blocked')).toHaveCount(0);
    await expect(send).toBeDisabled();
  });

  await test.step('vera accepts the new key and sends again', async () => {
    await vera.page.getByRole('button', { name: 'Accept new key' }).click();
    await expect(keyAlert).toHaveCount(0);
    await expect(send).toBeEnabled();
    await vera.page.getByRole('textbox', { name: 'Message' }).fill('');
    await sendMessage(vera, 'after the key change');
    await expect(messageItem(vera, 'after the key change')).toContainText(
      'sent',
    );
  });

  await vera.context.close();
  await victor.context.close();
});

test('the key access log lists who fetched keys', async ({ browser }) => {
  const wendy = await openPerson(browser, 'wendy');
  const xavier = await openPerson(browser, 'xavier');
  await createAccount(wendy);
  await createAccount(xavier);
  await startChat(xavier, 'wendy');

  await wendy.page.getByRole('button', { name: 'Key access log' }).click();
  const log = wendy.page.getByRole('list', { name: 'Key fetches' });
  await expect(log.getByRole('listitem').first()).toContainText('xavier');
  await expect(wendy.page.getByText(/30 days/).first()).toBeVisible();

  await wendy.context.close();
  await xavier.context.close();
});

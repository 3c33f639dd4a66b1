import { expect, test } from '@playwright/test';
import { createAccount, openPerson, relayUrl } from './fixtures';

test('missing IndexedDB shows a full-page alert', async ({ page }) => {
  await page.addInitScript(() => {
    Object.defineProperty(window, 'indexedDB', {
      value: undefined,
      configurable: true,
    });
  });
  await page.goto(relayUrl());

  await expect(page.getByRole('alert')).toContainText(
    'This browser offers no storage for Cloak',
  );
  await expect(page.getByRole('textbox', { name: 'Username' })).toHaveCount(0);
});

test('failed database open creates no account', async ({ page }) => {
  await page.addInitScript(() => {
    IDBFactory.prototype.open = () => {
      throw new DOMException('Access denied', 'InvalidStateError');
    };
  });
  await page.goto(relayUrl());

  await expect(page.getByRole('alert')).toContainText(
    'The local database could not be opened',
  );
  await expect(page.getByRole('alert')).toContainText(
    'No new account was created',
  );
  await expect(page.getByRole('textbox', { name: 'Username' })).toHaveCount(0);
});

test('account notice states persistent storage', async ({ browser }) => {
  const stella = await openPerson(browser, 'stella');
  await createAccount(stella);

  const notice = stella.page.getByRole('region', {
    name: 'Your account lives in this browser',
  });
  await expect(notice).toContainText('Persistent storage');
  await stella.context.close();
});

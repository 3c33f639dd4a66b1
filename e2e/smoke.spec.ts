import { expect, test } from '@playwright/test';
import { relayUrl } from './fixtures';

test('app loads under the content security policy', async ({ page }) => {
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));

  const response = await page.goto(relayUrl());
  expect(response?.headers()['content-security-policy']).toContain(
    "script-src 'self'",
  );
  await expect(page.getByRole('textbox', { name: 'Username' })).toBeVisible();
  await expect(
    page.getByRole('button', { name: 'Create account' }),
  ).toBeVisible();
  expect(problems).toEqual([]);
});

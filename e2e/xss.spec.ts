import { expect, test } from '@playwright/test';
import {
  createAccount,
  messageItem,
  openConversation,
  openPerson,
  type Person,
  sendMessage,
  startChat,
} from './fixtures';

// Classic injection payloads, each with its own number so that a dialog or
// a stray element names the payload that caused it.
const payloads = [
  "<script>alert('xss-1')</script>",
  '<img src=x onerror="alert(\'xss-2\')">',
  '<svg onload="alert(\'xss-3\')"></svg>',
  '<a href="javascript:alert(\'xss-4\')">click xss-4</a>',
  "javascript:alert('xss-5')",
  '<iframe srcdoc="<script>parent.alert(\'xss-6\')</script>"></iframe>',
  '<div style="width:expression(alert(\'xss-7\'))">xss-7</div>',
  '{{7*7}} ${7*7} <%= 7*7 %> xss-8',
  '</textarea><img src=x onerror="alert(\'xss-9\')">',
  "</p></li></ol><script>document.title='xss-10'</script>",
  "\"><svg/onload=alert('xss-11')>",
  'invoice\u202Etxt.exe xss-12',
  `xss-13 ${'A'.repeat(3000)}`,
  "[click xss-14](javascript:alert('xss-14'))",
  '<details open ontoggle="alert(\'xss-15\')">xss-15</details>',
  "<math><mtext><table><mglyph><style><img src=x onerror=alert('xss-16')>",
];

// Elements a payload would add if the thread rendered it as markup. The
// content security policy already stops inline handlers, so these element
// checks, more than the dialog check, catch markup rendering.
const payloadElements =
  'script, img, svg, iframe, style, a, textarea, details, math, table, div';
const handlerAttributes = '[onerror], [onload], [ontoggle], [srcdoc]';

function watchDialogs(person: Person, dialogs: string[]): void {
  person.page.on('dialog', (dialog) => {
    dialogs.push(`${person.name}: ${dialog.message()}`);
    void dialog.dismiss();
  });
}

async function expectLiteral(person: Person): Promise<void> {
  await test.step(`${person.name} sees every payload as text`, async () => {
    for (const payload of payloads) {
      const text = messageItem(person, payload).locator('p.text');
      await expect(text).toHaveJSProperty('textContent', payload);
    }
    const thread = person.page.getByRole('list', { name: 'Messages' });
    await expect(thread.locator(payloadElements)).toHaveCount(0);
    await expect(person.page.locator(handlerAttributes)).toHaveCount(0);
  });
}

test('message text renders injection payloads literally', async ({
  browser,
}) => {
  const xena = await openPerson(browser, 'xena');
  const xerxes = await openPerson(browser, 'xerxes');
  const dialogs: string[] = [];
  watchDialogs(xena, dialogs);
  watchDialogs(xerxes, dialogs);
  await createAccount(xena);
  await createAccount(xerxes);
  const title = await xena.page.title();

  await startChat(xena, 'xerxes');
  for (const payload of payloads) await sendMessage(xena, payload);
  await openConversation(xerxes, 'xena');

  await expectLiteral(xena);
  await expectLiteral(xerxes);
  await test.step('no dialog opened and the title is unchanged', async () => {
    expect(dialogs).toEqual([]);
    await expect(xena.page).toHaveTitle(title);
    await expect(xerxes.page).toHaveTitle(title);
  });

  await xena.context.close();
  await xerxes.context.close();
});

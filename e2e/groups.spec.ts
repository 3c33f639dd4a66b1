import { randomBytes } from 'node:crypto';
import { expect, test } from '@playwright/test';
import {
  createAccount,
  messageItem,
  openConversation,
  openPerson,
  type Person,
  relayFilesContaining,
  sendMessage,
} from './fixtures';

// A random marker inside every message: the relay's data folder and log
// output must never contain it.
const canary = `canary-${randomBytes(8).toString('hex')}`;

function members(person: Person) {
  return person.page.getByRole('list', { name: 'Members' });
}

async function addMember(person: Person, username: string): Promise<void> {
  await test.step(`${person.name} adds ${username}`, async () => {
    await person.page
      .getByRole('textbox', { name: 'Add member' })
      .fill(username);
    await person.page.getByRole('button', { name: 'Add', exact: true }).click();
    await expect(
      members(person).getByRole('listitem').filter({ hasText: username }),
    ).toBeVisible();
  });
}

test('three people chat in a group and one is removed', async ({ browser }) => {
  const gina = await openPerson(browser, 'gina');
  const gus = await openPerson(browser, 'gus');
  const gwen = await openPerson(browser, 'gwen');
  await createAccount(gina);
  await createAccount(gus);
  await createAccount(gwen);

  await test.step('gina creates the group "Hikers"', async () => {
    await gina.page.getByRole('button', { name: 'New group' }).click();
    await gina.page.getByRole('textbox', { name: 'Group name' }).fill('Hikers');
    await gina.page.getByRole('button', { name: 'Create group' }).click();
    await expect(
      gina.page.getByRole('heading', { name: 'Hikers' }),
    ).toBeVisible();
  });
  await addMember(gina, 'gus');
  await addMember(gina, 'gwen');

  await openConversation(gus, 'Hikers');
  await openConversation(gwen, 'Hikers');
  await test.step('every member sees the same member list', async () => {
    for (const person of [gus, gwen]) {
      await expect(members(person).getByRole('listitem')).toHaveCount(3);
      await expect(messageItem(person, 'gina added gwen')).toBeVisible();
    }
  });

  await sendMessage(gina, `hello hikers ${canary}`);
  await sendMessage(gus, `hi from gus ${canary}`);
  await sendMessage(gwen, `hi from gwen ${canary}`);
  await test.step('all three read every message', async () => {
    for (const person of [gina, gus, gwen]) {
      for (const text of ['hello hikers', 'hi from gus', 'hi from gwen']) {
        await expect(messageItem(person, `${text} ${canary}`)).toBeVisible();
      }
    }
  });

  await test.step('gina removes gwen', async () => {
    await members(gina)
      .getByRole('listitem')
      .filter({ hasText: 'gwen' })
      .getByRole('button', { name: 'Remove' })
      .click();
    await expect(members(gina).getByRole('listitem')).toHaveCount(2);
    await expect(messageItem(gus, 'gina removed gwen')).toBeVisible();
    await expect(messageItem(gwen, 'gina removed gwen')).toBeVisible();
    await expect(gwen.page.getByText(/no longer a member/)).toBeVisible();
  });

  await sendMessage(gus, `gus after removal ${canary}`);
  await sendMessage(gina, `gina after removal ${canary}`);
  await test.step('the two others keep chatting', async () => {
    await expect(
      messageItem(gina, `gus after removal ${canary}`),
    ).toBeVisible();
    await expect(
      messageItem(gus, `gina after removal ${canary}`),
    ).toBeVisible();
  });

  await test.step('gwen sees none of the later messages', async () => {
    await gwen.page.reload();
    await openConversation(gwen, 'Hikers');
    await expect(messageItem(gwen, `hi from gwen ${canary}`)).toBeVisible();
    await expect(messageItem(gwen, 'after removal')).toHaveCount(0);
    await expect(
      gwen.page.getByRole('textbox', { name: 'Message' }),
    ).toHaveCount(0);
  });

  await test.step('the relay stored and logged no plaintext', async () => {
    expect(relayFilesContaining(canary)).toEqual([]);
  });

  await gina.context.close();
  await gus.context.close();
  await gwen.context.close();
});

test('admins rename the group and change admins', async ({ browser }) => {
  const rita = await openPerson(browser, 'rita');
  const rolf = await openPerson(browser, 'rolf');
  await createAccount(rita);
  await createAccount(rolf);

  await test.step('rita creates the group "Rowers"', async () => {
    await rita.page.getByRole('button', { name: 'New group' }).click();
    await rita.page.getByRole('textbox', { name: 'Group name' }).fill('Rowers');
    await rita.page.getByRole('button', { name: 'Create group' }).click();
    await expect(
      rita.page.getByRole('heading', { name: 'Rowers' }),
    ).toBeVisible();
  });
  await addMember(rita, 'rolf');
  await openConversation(rolf, 'Rowers');

  await test.step('rita renames the group to "Scullers"', async () => {
    await rita.page
      .getByRole('textbox', { name: 'Rename group' })
      .fill('Scullers');
    await rita.page.getByRole('button', { name: 'Rename' }).click();
    await expect(
      rolf.page.getByRole('heading', { name: 'Scullers' }),
    ).toBeVisible();
    await expect(
      messageItem(rolf, 'rita renamed the group to "Scullers"'),
    ).toBeVisible();
  });

  await test.step('rita makes rolf an admin', async () => {
    await expect(
      rolf.page.getByRole('textbox', { name: 'Add member' }),
    ).toHaveCount(0);
    await members(rita)
      .getByRole('button', { name: 'Grant admin to rolf' })
      .click();
    await expect(messageItem(rolf, 'rita made rolf an admin')).toBeVisible();
    await expect(
      members(rolf).getByRole('listitem').filter({ hasText: 'rolf (admin)' }),
    ).toBeVisible();
    await expect(
      rolf.page.getByRole('textbox', { name: 'Add member' }),
    ).toBeVisible();
  });

  await test.step("rolf revokes rita's admin role", async () => {
    await members(rolf)
      .getByRole('button', { name: 'Revoke admin from rita' })
      .click();
    await expect(messageItem(rita, 'rolf removed rita as admin')).toBeVisible();
    await expect(
      rita.page.getByRole('textbox', { name: 'Rename group' }),
    ).toHaveCount(0);
    await expect(
      members(rita).getByRole('listitem').filter({ hasText: 'rita (admin)' }),
    ).toHaveCount(0);
  });

  await rita.context.close();
  await rolf.context.close();
});

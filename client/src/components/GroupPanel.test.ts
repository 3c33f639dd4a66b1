import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { GroupPanel, type GroupPanelProps } from './GroupPanel';

function renderPanel(props: Partial<GroupPanelProps> = {}): string {
  return renderToStaticMarkup(
    createElement(GroupPanel, {
      name: 'Hikers',
      members: ['alice', 'bob', 'carol'],
      admins: ['alice', 'bob'],
      self: 'alice',
      isMember: true,
      isAdmin: true,
      onAdd: () => Promise.resolve(true),
      onRemove: () => undefined,
      onRename: () => Promise.resolve(true),
      onSetAdmin: () => undefined,
      onLeave: () => undefined,
      ...props,
    }),
  );
}

/** Returns the text of each button, hidden parts included. */
function buttons(html: string): string[] {
  return [...html.matchAll(/<button[^>]*>(.*?)<\/button>/g)].map((match) =>
    (match[1] ?? '').replace(/<[^>]+>/g, ''),
  );
}

describe('GroupPanel', () => {
  it('gives admins a control per member', () => {
    expect(buttons(renderPanel())).toEqual([
      'Add',
      'Rename',
      'Revoke admin from bob',
      'Remove',
      'Grant admin to carol',
      'Remove',
      'Leave group',
    ]);
  });

  it('marks admins in the member list', () => {
    const html = renderPanel({ isAdmin: false, self: 'carol' });
    const items = [...html.matchAll(/<li>(.*?)<\/li>/g)].map((match) =>
      (match[1] ?? '').replace(/<[^>]+>/g, ''),
    );
    expect(items).toEqual(['alice (admin)', 'bob (admin)', 'carol']);
  });

  it('shows no changes to non-admins', () => {
    const html = renderPanel({ isAdmin: false, self: 'carol' });
    expect(buttons(html)).toEqual(['Leave group']);
    expect(html).not.toContain('Rename group');
  });

  it('fills the rename field with the name', () => {
    const html = renderPanel();
    expect(html).toMatch(/<label[^>]*>Rename group<\/label>/);
    expect(html).toContain('value="Hikers"');
  });
});

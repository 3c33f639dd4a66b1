import { describe, expect, it } from 'vitest';
import { unreadTitle } from './unread-title';

describe('unreadTitle', () => {
  it('sums unread messages of all conversations', () => {
    expect(unreadTitle([{ unread: 2 }, { unread: 0 }, { unread: 1 }])).toBe(
      '(3) Cloak',
    );
  });

  it('omits the count when all are read', () => {
    expect(unreadTitle([{ unread: 0 }])).toBe('Cloak');
    expect(unreadTitle([])).toBe('Cloak');
  });
});

import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { ConversationList } from './ConversationList';
import { MessageThread } from './MessageThread';

const override = 'evil\u202Etxt.exe';

describe('bidi isolation', () => {
  it('isolates message text in the thread', () => {
    const html = renderToStaticMarkup(
      createElement(MessageThread, {
        peerId: 'bob',
        messages: [
          {
            key: 'bob/1',
            direction: 'in',
            text: override,
            sentAt: 0,
            state: 'received',
          },
        ],
        onSend: () => undefined,
        onBack: () => undefined,
      }),
    );
    expect(html).toContain(`<p class="text" dir="auto">${override}</p>`);
    expect(html).toContain('<h2 id="thread-title" dir="auto">bob</h2>');
  });

  it('isolates previews and usernames', () => {
    const html = renderToStaticMarkup(
      createElement(ConversationList, {
        conversations: [
          {
            peerId: 'bob',
            unread: 0,
            lastActivity: 0,
            lastMessage: { direction: 'out', text: override },
          },
        ],
        activePeer: undefined,
        onOpen: () => undefined,
      }),
    );
    expect(html).toContain('<span class="peer" dir="auto">bob</span>');
    expect(html).toContain(`You: <bdi>${override}</bdi>`);
  });
});

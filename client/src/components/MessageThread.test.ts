import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { ConnectionStatus } from './ConnectionStatus';
import { MessageThread, type MessageThreadProps } from './MessageThread';

function renderThread(props: Partial<MessageThreadProps> = {}): string {
  return renderToStaticMarkup(
    createElement(MessageThread, {
      peerId: 'bob',
      messages: [],
      onSend: () => undefined,
      onBack: () => undefined,
      ...props,
    }),
  );
}

describe('MessageThread', () => {
  it('shows the status in its header', () => {
    const status = createElement(ConnectionStatus, { state: 'offline' });
    const html = renderThread({ status });
    const header = /<header class="thread-header">.*<\/header>/.exec(html);
    expect(header?.[0]).toContain('role="status"');
    expect(header?.[0]).toContain('Offline');
  });

  it('has no status by default', () => {
    expect(renderThread()).not.toContain('role="status"');
  });

  it('never cuts the draft with maxlength', () => {
    expect(renderThread()).not.toContain('maxlength');
  });

  it('replaces the composer with a closed notice', () => {
    const html = renderThread({ closedNotice: 'You left this group.' });
    expect(html).toContain('You left this group.');
    expect(html).not.toContain('<textarea');
    expect(html).not.toContain('>Send</button>');
  });

  it('has a composer by default', () => {
    const html = renderThread();
    expect(html).toContain('<textarea');
    expect(html).toContain('>Send</button>');
  });
});

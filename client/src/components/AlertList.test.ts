import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { AlertMessage } from '../app/cloak-store';
import { AlertList } from './AlertList';

function renderAlerts(alerts: AlertMessage[], actionBusy = false): string {
  return renderToStaticMarkup(
    createElement(AlertList, {
      alerts,
      onDismiss: () => undefined,
      actionBusy,
    }),
  );
}

describe('AlertList', () => {
  const unknown: AlertMessage = {
    id: 1,
    text: 'The relay no longer knows the account.',
    source: 'account',
    action: 'register-again',
  };

  it('offers the alert action', () => {
    const html = renderAlerts([unknown]);
    expect(html).toContain('>Register again</button>');
    expect(html).toContain('>Dismiss error</button>');
    expect(html.match(/role="alert"/g)).toHaveLength(1);
  });

  it('disables a running action', () => {
    expect(renderAlerts([unknown], true)).toContain(
      '<button type="button" disabled="">Registering again…</button>',
    );
  });

  it('shows no action by default', () => {
    const html = renderAlerts([{ id: 2, text: 'Failed.', source: 'send' }]);
    expect(html).not.toContain('Register again');
  });
});

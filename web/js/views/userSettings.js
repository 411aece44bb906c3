// The person's own settings: push notifications on this device (the
// browser asks for permission only when they turn it on) and the
// notification settings of direct messages.

import { h, toast } from '../dom.js';
import { disablePush, enablePush, pushEnabled, pushSupported } from '../notifications.js';
import { openDialog } from './dialog.js';
import { openNotificationSettings } from './notificationSettings.js';
import { THEMES, currentTheme, setTheme } from '../theme.js';

export function openUserSettings(ctx) {
  return openDialog({
    title: 'Settings',
    testid: 'user-settings-dialog',
    render(close) {
      const toggle = h('input', { type: 'checkbox', testid: 'push-toggle', disabled: !pushSupported() });
      const status = h('p', { class: 'hint', testid: 'push-status', role: 'status' });
      const show = (on) => {
        toggle.checked = on;
        status.textContent = !pushSupported()
          ? 'This browser cannot receive push notifications.'
          : on
            ? 'This device gets notifications while you are away.'
            : 'Off on this device.';
      };
      pushEnabled().then(show, () => show(false));
      toggle.addEventListener('change', async () => {
        toggle.disabled = true;
        try {
          if (toggle.checked) await enablePush(ctx.api);
          else await disablePush(ctx.api);
          show(toggle.checked);
        } catch (e) {
          toast(e.message, 'error');
          show(false);
        } finally {
          toggle.disabled = false;
        }
      });
      const theme = h('fieldset', { class: 'field', testid: 'theme-choice' },
        h('legend', { text: 'Theme' }),
        ...THEMES.map(([value, text]) =>
          h('label', { class: 'field-inline' },
            h('input', { type: 'radio', name: 'theme', value, checked: currentTheme() === value, testid: `theme-${value}`, onChange: () => setTheme(value) }),
            h('span', { text }))));
      return h('div', { class: 'form' },
        h('h3', { text: 'Appearance' }),
        theme,
        h('h3', { text: 'Notifications' }),
        h('label', { class: 'field field-inline' }, toggle, h('span', { text: 'Push notifications on this device' })),
        status,
        h('button', {
          type: 'button',
          class: 'button button-secondary',
          testid: 'dm-notification-settings',
          onClick: () => {
            close(null);
            openNotificationSettings(ctx, null);
          },
        }, 'Direct message notifications…'),
        h('div', { class: 'form-actions' }, h('button', { type: 'button', class: 'button', onClick: () => close(null) }, 'Done')),
      );
    },
  });
}

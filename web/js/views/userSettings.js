// The person's own settings: their avatar, push notifications on this device (the
// browser asks for permission only when they turn it on) and the
// notification settings of direct messages.

import { avatar, h, toast } from '../dom.js';
import { imageField } from './imageUpload.js';
import { disablePush, enablePush, pushEnabled, pushSupported } from '../notifications.js';
import { actionForm, confirmAction, openDialog } from './dialog.js';
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
        imageField({
          label: 'Avatar',
          testid: 'avatar',
          preview: () => avatar(ctx.store.state.me, { size: 64 }),
          async save(image) {
            const me = await ctx.api.patchMe({ avatar: image });
            ctx.store.applyDispatch('USER_UPDATE', me);
          },
        }),
        profileForm(ctx),
        passwordForm(ctx),
        h('h3', { text: 'Sessions' }),
        h('p', { class: 'hint', text: 'Logs this account out on every device and browser, this one included.' }),
        h('div', { class: 'form-actions' }, h('button', {
          type: 'button',
          class: 'button button-small button-danger',
          testid: 'logout-everywhere',
          async onClick() {
            close(null);
            await logOutEverywhere(ctx);
          },
        }, 'Log out everywhere')),
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

/** Ends every session of the account on the server, then this one here. */
async function logOutEverywhere(ctx) {
  const sure = await confirmAction({
    title: 'Log out everywhere?',
    text: 'Every device and browser signed in to this account is logged out, this one too.',
    confirm: 'Log out everywhere',
  });
  if (!sure) return;
  try {
    await ctx.api.logoutEverywhere();
  } catch (e) {
    toast(e.message, 'error');
    return;
  }
  ctx.session.logout();
}

/** The name others see (Discord's global name). */
function profileForm(ctx) {
  const me = ctx.store.state.me;
  const name = h('input', { type: 'text', maxLength: 32, value: me?.global_name ?? '', placeholder: me?.username ?? '', testid: 'display-name', 'aria-label': 'Display name' });
  return h('form', {
    class: 'form',
    async onSubmit(e) {
      e.preventDefault();
      try {
        await ctx.api.patchMe({ global_name: name.value.trim() || null });
        toast('Display name saved.');
      } catch (err) {
        toast(err.message, 'error');
      }
    },
  },
  h('h3', { text: 'Profile' }),
  h('label', { class: 'field' }, h('span', { text: 'Display name' }), name),
  h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'button button-small', testid: 'save-display-name' }, 'Save')));
}

/** A new password; every other session is logged out by it, this one goes on. */
function passwordForm(ctx) {
  const current = h('input', { type: 'password', autocomplete: 'current-password', required: true, testid: 'current-password', 'aria-label': 'Current password' });
  const next = h('input', { type: 'password', autocomplete: 'new-password', required: true, minLength: 8, testid: 'new-password', 'aria-label': 'New password' });
  return actionForm(
    async () => {
      await ctx.session.rotateToken(async (api) => {
        const answer = await api.patchMe({ password: current.value, new_password: next.value });
        return answer.token;
      });
      current.value = '';
      next.value = '';
      toast('Password changed. Other sessions are logged out.');
    },
    h('h3', { text: 'Password' }),
    h('label', { class: 'field' }, h('span', { text: 'Current password' }), current),
    h('label', { class: 'field' }, h('span', { text: 'New password' }), next),
    h('p', { class: 'hint', text: 'Changing it logs you out everywhere else.' }),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'button button-small', testid: 'change-password' }, 'Change password')));
}

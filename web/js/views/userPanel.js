// The current user at the bottom of the sidebar: name, status picker,
// log out.

import { h, avatar, iconButton } from '../dom.js';
import { redraw } from './common.js';
import { showMenu } from './dialog.js';
import { openUserSettings } from './userSettings.js';

export const STATUSES = [
  ['online', 'Online'],
  ['idle', 'Idle'],
  ['dnd', 'Do not disturb'],
  ['invisible', 'Invisible'],
];

export function currentStatus() {
  const saved = localStorage.getItem('concord.status');
  return STATUSES.some(([s]) => s === saved) ? saved : 'online';
}

export function mountUserPanel(ctx) {
  const { store } = ctx;
  const el = h('section', { class: 'user-panel', 'aria-label': 'You', testid: 'user-panel' });
  const render = () => redraw(el, () => build(ctx));
  const offs = [store.on('me', render), store.on('connection', render)];
  render();
  return { el, destroy: () => offs.forEach((off) => off()) };
}

function build(ctx) {
  const me = ctx.store.state.me;
  if (!me) return null;
  const status = currentStatus();
  const shown = status === 'invisible' ? 'offline' : status;
  const label = STATUSES.find(([s]) => s === status)[1];
  const picker = h(
    'button',
    {
      type: 'button',
      class: 'user-panel-main',
      'data-key': 'status',
      testid: 'status-picker',
      'data-status': status,
      'aria-haspopup': 'menu',
      onClick: () =>
        showMenu(
          picker,
          STATUSES.map(([value, text]) => ({
            label: text,
            icon: '●',
            checked: value === status,
            testid: `status-${value}`,
            onSelect: () => ctx.actions.setStatus(value),
          })),
          { label: 'Set status', testid: 'status-menu' },
        ),
    },
    avatar(me, { size: 32, status: shown }),
    h(
      'span',
      { class: 'user-panel-names' },
      h('span', { class: 'truncate user-panel-name', testid: 'me-name', text: me.global_name || me.username }),
      h('span', { class: 'truncate hint', text: label }),
      h('span', { class: 'visually-hidden', text: ', change status' }),
    ),
  );
  return [picker, iconButton('User settings', 'gear', () => openUserSettings(ctx), { testid: 'user-settings', 'data-key': 'settings' }), iconButton('Log out', 'logout', () => ctx.session.logout(), { testid: 'logout', 'data-key': 'logout' })];
}

// The channel's pinned messages in a popover from the header: each with
// its author, time and text, a jump to it in the channel, and an unpin
// for those who may pin.

import { h, iconButton, toast } from '../dom.js';
import { parse, plainText } from '../markdown.js';
import { P, has } from '../permissions.js';
import { displayName, formatTimestamp } from '../util.js';
import { channelPerms } from './common.js';
import { closeMenu, showMenu } from './dialog.js';

export function mayPin(store, channelId) {
  const perms = channelPerms(store, channelId);
  return has(perms, P.PIN_MESSAGES) || has(perms, P.MANAGE_MESSAGES);
}

export async function openPins(ctx, channelId, anchor) {
  const { store } = ctx;
  const panel = h('div', { class: 'pins-panel', testid: 'pins-panel' }, h('p', { class: 'hint', role: 'status', text: 'Loading pinned messages…' }));
  showMenu(anchor, panel, { label: 'Pinned messages', testid: 'pins-menu', align: 'end' });
  let pins;
  try {
    pins = await ctx.actions.loadPins(channelId);
  } catch (e) {
    panel.replaceChildren(h('p', { class: 'form-error', role: 'alert', text: e.message }));
    return;
  }
  const guildId = store.state.channels.get(channelId)?.guild_id ?? null;
  const canPin = mayPin(store, channelId);
  panel.replaceChildren(
    h('h2', { class: 'pins-title', text: 'Pinned messages' }),
    pins.length
      ? h('ul', { class: 'pins-list' },
        ...pins.map((m) =>
          h('li', { class: 'pin', testid: 'pin', 'data-message-id': m.id },
            h('div', { class: 'pin-header' },
              h('strong', { text: displayName(m.author, guildId ? store.member(guildId, m.author?.id) : null) }),
              h('span', { class: 'hint', text: ` ${formatTimestamp(m.timestamp)}` })),
            h('p', { class: 'pin-text', text: plainText(parse(m.content || '')).slice(0, 300) || (m.attachments?.length ? 'Attachment' : '') }),
            h('div', { class: 'pin-actions' },
              h('button', {
                type: 'button',
                class: 'button button-small button-secondary',
                testid: 'pin-jump',
                onClick: () => {
                  closeMenu();
                  ctx.actions.jumpTo(channelId, m.id);
                },
              }, 'Jump'),
              canPin
                ? iconButton('Unpin', 'close', () => {
                  closeMenu();
                  ctx.actions.setPinned(channelId, m, false).catch((e) => toast(e.message, 'error'));
                }, { testid: 'pin-remove', size: 16 })
                : null),
          ),
        ))
      : h('p', { class: 'hint', testid: 'pins-empty', text: 'This channel has no pinned messages yet.' }),
  );
}

// The channel's pinned messages in a popover from the header: each with
// its author, time and text, a jump to it in the channel, and an unpin
// for those who may pin. `summaryItem` draws one such entry, shared with
// the mentions inbox.

import { h, iconButton, toast } from '../dom.js';
import { parse, toDom } from '../markdown.js';
import { P, has } from '../permissions.js';
import { displayName, formatTimestamp } from '../util.js';
import { channelPerms } from './common.js';
import { closeMenu, showMenu } from './dialog.js';
import { mentionResolver } from './message.js';

export function mayPin(store, channelId) {
  const perms = channelPerms(store, channelId);
  return has(perms, P.PIN_MESSAGES) || has(perms, P.MANAGE_MESSAGES);
}

/**
 * One message in a list panel (its text with mentions named): author, `where` (a channel's name, or
 * nothing), time and text, a Jump button and, with `onRemove`, a remove
 * button named `removeLabel`. Test ids are `prefix`, `prefix-jump`, `prefix-remove`.
 */
export function summaryItem(store, m, { prefix, where = '', onJump, onRemove = null, removeLabel = 'Remove' }) {
  const guildId = store.state.channels.get(m.channel_id)?.guild_id ?? null;
  return h('li', { class: 'pin', testid: prefix, 'data-message-id': m.id },
    h('div', { class: 'pin-header' },
      h('strong', { text: displayName(m.author, guildId ? store.member(guildId, m.author?.id) : null) }),
      where ? h('span', { class: 'hint', text: ` in ${where}` }) : null,
      h('span', { class: 'hint', text: ` ${formatTimestamp(m.timestamp)}` })),
    h('p', { class: 'pin-text' },
      m.content
        ? toDom(parse(m.content.slice(0, 300)), document, mentionResolver(store, guildId))
        : (m.attachments?.length ? 'Attachment' : '')),
    h('div', { class: 'pin-actions' },
      h('button', {
        type: 'button',
        class: 'button button-small button-secondary',
        testid: `${prefix}-jump`,
        onClick: () => {
          closeMenu();
          onJump();
        },
      }, 'Jump'),
      onRemove ? iconButton(removeLabel, 'close', onRemove, { testid: `${prefix}-remove`, size: 16 }) : null),
  );
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
  const canPin = mayPin(store, channelId);
  panel.replaceChildren(
    h('h2', { class: 'pins-title', text: 'Pinned messages' }),
    pins.length
      ? h('ul', { class: 'pins-list' },
        ...pins.map((m) => summaryItem(store, { ...m, channel_id: channelId }, {
          prefix: 'pin',
          onJump: () => ctx.actions.jumpTo(channelId, m.id),
          removeLabel: 'Unpin',
          onRemove: canPin
            ? () => {
              closeMenu();
              ctx.actions.setPinned(channelId, m, false).catch((e) => toast(e.message, 'error'));
            }
            : null,
        })))
      : h('p', { class: 'hint', testid: 'pins-empty', text: 'This channel has no pinned messages yet.' }),
  );
}

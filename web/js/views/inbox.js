// The mentions inbox in a popover from the header: the recent messages
// that mention me (my roles and @everyone too), newest first, from every
// guild and DM I can read. Each jumps to its message; removing one takes
// it out of the inbox on the server (every device of mine).

import { h, toast } from '../dom.js';
import { channelTitle } from './common.js';
import { showMenu } from './dialog.js';
import { summaryItem } from './pins.js';

export async function openInbox(ctx, anchor) {
  const { store } = ctx;
  const panel = h('div', { class: 'pins-panel', testid: 'inbox-panel' }, h('p', { class: 'hint', role: 'status', text: 'Loading mentions…' }));
  showMenu(anchor, panel, { label: 'Mentions', testid: 'inbox-menu', align: 'end' });
  let mentions;
  try {
    mentions = await ctx.actions.loadMentions();
  } catch (e) {
    panel.replaceChildren(h('p', { class: 'form-error', role: 'alert', text: e.message }));
    return;
  }
  const empty = () => h('p', { class: 'hint', testid: 'inbox-empty', text: 'Nobody has mentioned you lately.' });
  const list = h('ul', { class: 'pins-list' });
  for (const m of mentions) {
    const channel = store.state.channels.get(m.channel_id);
    const item = summaryItem(store, m, {
      prefix: 'inbox-item',
      where: channel ? `${channel.guild_id ? '#' : ''}${channelTitle(store, channel)}` : '',
      onJump: () => {
        ctx.navigate(`/channels/${channel?.guild_id ?? '@me'}/${m.channel_id}`);
        ctx.actions.jumpTo(m.channel_id, m.id).catch((e) => toast(e.message, 'error'));
      },
      removeLabel: 'Remove from inbox',
      onRemove: async () => {
        try {
          await ctx.actions.dismissMention(m.id);
          item.remove();
          if (!list.children.length) list.replaceWith(empty());
        } catch (e) {
          toast(e.message, 'error');
        }
      },
    });
    list.append(item);
  }
  panel.replaceChildren(h('h2', { class: 'pins-title', text: 'Recent mentions' }), mentions.length ? list : empty());
}

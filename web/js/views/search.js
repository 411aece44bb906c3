// The search box in the channel header: text with Discord's filters
// (`from:`, `mentions:`, `has:`, `in:`, `before:`, `after:`, `during:`,
// `pinned:`) searches the guild (or this DM); the results open under it,
// each with its channel, author, time and text, and a jump to it in its
// channel (the page around it).

import { h, toast } from '../dom.js';
import { parse, plainText } from '../markdown.js';
import { parseSearch, searchQuery } from '../search.js';
import { displayName, formatTimestamp } from '../util.js';
import { closeMenu, showMenu } from './dialog.js';

const HELP = 'Filters: from:name mentions:name has:image|file|link|poll in:channel before:YYYY-MM-DD after:YYYY-MM-DD pinned:true';

/** Names → ids among what the client knows of the guild (or DM). */
function lookups(store, guildId, channelId) {
  const lower = (s) => String(s ?? '').toLowerCase();
  return {
    user(name) {
      const wanted = lower(name);
      const ids = guildId ? [...(store.state.members.get(guildId)?.keys() ?? [])] : (store.state.channels.get(channelId)?.recipients ?? []).map((u) => u.id).concat(store.state.me?.id);
      return ids.find((id) => {
        const user = store.state.users.get(id);
        return [user?.username, user?.global_name, guildId ? store.member(guildId, id)?.nick : null].some((n) => n && lower(n) === wanted);
      }) ?? null;
    },
    channel(name) {
      if (!guildId) return null;
      return store.guildChannels(guildId).find((c) => lower(c.name) === lower(name))?.id ?? null;
    },
  };
}

export function mountSearch(ctx) {
  const { store } = ctx;
  const input = h('input', {
    type: 'search',
    class: 'search-input',
    testid: 'search-input',
    placeholder: 'Search',
    'aria-label': 'Search messages',
    title: HELP,
    onKeydown(e) {
      if (e.key === 'Enter') {
        e.preventDefault();
        run();
      }
    },
  });

  async function run() {
    const channelId = store.state.ui.channelId;
    const channel = store.state.channels.get(channelId);
    if (!channel) return;
    const guildId = channel.guild_id ?? null;
    const built = searchQuery(parseSearch(input.value), lookups(store, guildId, channelId));
    if (built.error) {
      toast(built.error, 'error');
      return;
    }
    const panel = h('div', { class: 'search-panel', testid: 'search-results' }, h('p', { class: 'hint', role: 'status', text: 'Searching…' }));
    showMenu(input, panel, { label: 'Search results', testid: 'search-menu', align: 'end' });
    input.focus();
    let results;
    try {
      results = guildId ? await ctx.api.searchGuild(guildId, built.query) : await ctx.api.searchChannel(channelId, built.query);
    } catch (e) {
      panel.replaceChildren(h('p', { class: 'form-error', role: 'alert', text: e.message }));
      return;
    }
    const hits = (results.messages ?? []).map((group) => group[0]).filter(Boolean);
    panel.replaceChildren(
      h('h2', { class: 'pins-title', testid: 'search-count', text: `${results.total_results ?? hits.length} result${results.total_results === 1 ? '' : 's'}` }),
      h('p', { class: 'hint', text: HELP }),
      hits.length
        ? h('ul', { class: 'pins-list' }, ...hits.map((m) => result(ctx, m, guildId)))
        : h('p', { class: 'hint', testid: 'search-empty', text: 'Nothing found.' }),
    );
  }

  return { el: input };
}

function result(ctx, m, guildId) {
  const { store } = ctx;
  const channel = store.state.channels.get(m.channel_id);
  if (m.author) store.putUser(m.author);
  const name = displayName(m.author, guildId ? store.member(guildId, m.author?.id) : null);
  const text = plainText(parse(m.content || '')).slice(0, 300) || (m.attachments?.length ? 'Attachment' : m.poll ? `Poll: ${m.poll.question?.text ?? ''}` : '');
  return h('li', { class: 'pin', testid: 'search-result', 'data-message-id': m.id },
    h('div', { class: 'pin-header' },
      h('strong', { text: name }),
      h('span', { class: 'hint', text: ` ${channel?.name ? `in #${channel.name} · ` : ''}${formatTimestamp(m.timestamp)}` })),
    h('p', { class: 'pin-text', text }),
    h('div', { class: 'pin-actions' },
      h('button', {
        type: 'button',
        class: 'button button-small button-secondary',
        testid: 'search-jump',
        onClick: () => {
          closeMenu();
          ctx.navigate(`/channels/${guildId ?? '@me'}/${m.channel_id}`);
          ctx.actions.jumpTo(m.channel_id, m.id).catch?.((e) => toast(e.message, 'error'));
        },
      }, 'Jump')),
  );
}

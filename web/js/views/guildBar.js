// The leftmost column: Home (direct messages), one icon per guild with
// unread and mention marks, and buttons to create or join a guild.

import { h, imageOr, toast } from '../dom.js';
import { imagePath, inviteCodeFrom, initials } from '../util.js';
import { channelPerms, redraw, isThread } from './common.js';
import { P, has } from '../permissions.js';
import { promptText } from './dialog.js';
import { icon } from '../icons.js';

export function mountGuildBar(ctx) {
  const { store } = ctx;
  const list = h('div', { class: 'guild-list', role: 'list' });
  const el = h('nav', { class: 'guild-bar', 'aria-label': 'Servers', testid: 'guild-bar' }, list);

  const render = () => redraw(list, () => build(ctx));
  const offs = [store.on('guilds', render), store.on('channels', render), store.on('readstate', render), store.on('ui', render)];
  render();
  return { el, destroy: () => offs.forEach((off) => off()) };
}

/** Unread and mention totals of a guild's readable channels (or of DMs, for '@me'). */
export function unreadSummary(store, guildId) {
  let unread = false;
  let mentions = 0;
  const channels = guildId === '@me' ? store.privateChannels() : store.guildChannels(guildId);
  for (const c of channels) {
    if (c.type === 4 || isThread(c)) continue;
    if (guildId !== '@me' && !has(channelPerms(store, c.id), P.VIEW_CHANNEL)) continue;
    if (store.isUnread(c.id)) unread = true;
    mentions += store.mentionCount(c.id);
  }
  // At Home every unread conversation counts, as a mention would.
  if (guildId === '@me') mentions = channels.filter((c) => store.isUnread(c.id)).length;
  return { unread, mentions };
}

function build(ctx) {
  const { store } = ctx;
  const { state } = store;
  const current = state.ui.guildId;
  const items = [];
  const home = unreadSummary(store, '@me');
  items.push(
    guildIcon(ctx, {
      key: '@me',
      label: 'Direct messages',
      glyph: 'home',
      href: '/channels/@me',
      active: current === '@me',
      testid: 'guild-home',
      ...home,
    }),
    h('hr', { class: 'guild-separator', role: 'presentation' }),
  );
  for (const id of state.guildOrder) {
    const guild = state.guilds.get(id);
    if (!guild) continue;
    const summary = unreadSummary(store, id);
    items.push(
      guildIcon(ctx, {
        key: id,
        label: guild.name ?? 'Loading server',
        text: guild.name ? initials(guild.name) : '…',
        image: imagePath('icons', id, guild.icon, 96),
        href: `/channels/${id}`,
        active: current === id,
        testid: 'guild-icon',
        guildId: id,
        ...summary,
      }),
    );
  }
  items.push(
    h('div', { role: 'listitem', class: 'guild-item', 'data-key': 'create' },
      h('button', { type: 'button', class: 'guild-icon guild-action', 'aria-label': 'Create a server', title: 'Create a server', testid: 'create-guild', onClick: () => createGuild(ctx) }, icon('plus', 24)),
    ),
    h('div', { role: 'listitem', class: 'guild-item', 'data-key': 'join' },
      h('button', { type: 'button', class: 'guild-icon guild-action', 'aria-label': 'Join a server', title: 'Join a server', testid: 'join-guild', onClick: () => joinGuild(ctx) }, icon('join', 22)),
    ),
  );
  return items;
}

function guildIcon(ctx, { key, label, text, glyph, image, href, active, testid, guildId, unread, mentions }) {
  const name = mentions ? `${label}, ${mentions} mentions` : unread ? `${label}, unread messages` : label;
  return h(
    'div',
    { role: 'listitem', class: ['guild-item', active && 'active', unread && 'unread'], 'data-key': key },
    h('span', { class: 'guild-pill', 'aria-hidden': 'true' }),
    h(
      'a',
      {
        href,
        class: 'guild-icon',
        title: label,
        'aria-current': active ? 'page' : undefined,
        testid,
        'data-guild-id': guildId,
        onClick(e) {
          e.preventDefault();
          ctx.navigate(href);
          // On a phone, stay in the drawer to pick one of the guild's channels.
          if (window.matchMedia('(max-width: 700px)').matches) ctx.store.setUi({ sidebarOpen: true });
        },
      },
      glyph ? icon(glyph, 24) : imageOr(image, h('span', { 'aria-hidden': 'true', text }), 'guild-icon-image'),
      // Named by its content, not a label unlike what it shows.
      h('span', { class: 'visually-hidden', text: name }),
    ),
    mentions ? h('span', { class: 'badge', testid: 'guild-mention-badge', 'aria-hidden': 'true', text: String(mentions) }) : null,
  );
}

async function createGuild(ctx) {
  const name = await promptText({ title: 'Create a server', label: 'Server name', confirm: 'Create', testid: 'create-guild-dialog' });
  if (!name) return;
  try {
    const guild = await ctx.actions.createGuild(name);
    const channel = guild.system_channel_id ?? guild.channels?.find((c) => c.type === 0)?.id;
    ctx.navigate(`/channels/${guild.id}${channel ? `/${channel}` : ''}`);
  } catch (e) {
    toast(e.message, 'error');
  }
}

async function joinGuild(ctx) {
  const input = await promptText({
    title: 'Join a server',
    label: 'Invite link or code',
    confirm: 'Continue',
    testid: 'join-guild-dialog',
    placeholder: 'https://…/invite/AbCd1234',
  });
  if (!input) return;
  const code = inviteCodeFrom(input);
  if (!code) {
    toast('That is not an invite link or code.', 'error');
    return;
  }
  ctx.navigate(`/invite/${code}`);
}

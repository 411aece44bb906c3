// The second column: a guild's channels under their categories (with
// unread marks, mention badges and management buttons) or, at Home, the
// direct messages; below it, the user panel.

import { h, iconButton, avatar, toast } from '../dom.js';
import { compareIds } from '../util.js';
import { P, has } from '../permissions.js';
import { redraw, guildPerms, channelPerms, channelTitle, isThread } from './common.js';
import { promptText, confirmAction, showMenu } from './dialog.js';
import { openNotificationSettings } from './notificationSettings.js';
import { channelMuted } from '../notify.js';
import { mountUserPanel } from './userPanel.js';
import { icon } from '../icons.js';
import { openGuildSettings } from './guildSettings.js';
import { openChannelSettings } from './channelSettings.js';
import { openInviteDialog, openGroupDmDialog } from './people.js';
import { groupIcon } from './groupSettings.js';
import { joinVoice, voiceParticipants, mountVoicePanel } from './voicePanel.js';

const collapsed = new Set();

export function mountChannelList(ctx) {
  const { store } = ctx;
  const header = h('div', { class: 'sidebar-header' });
  const list = h('div', { class: 'channel-list', testid: 'channel-list' });
  const userPanel = mountUserPanel(ctx);
  const voicePanel = mountVoicePanel(ctx);
  const el = h('nav', { class: 'channel-sidebar', 'aria-label': 'Channels' }, header, list, voicePanel.el, userPanel.el);

  const render = () => {
    const guildId = store.state.ui.guildId;
    redraw(header, () => (guildId === '@me' ? homeHeader(ctx) : guildHeader(ctx, guildId)));
    redraw(list, () => (guildId === '@me' ? dmList(ctx) : guildChannelList(ctx, guildId)));
  };
  const offs = [
    store.on('channels', render),
    store.on('guilds', render),
    store.on('readstate', render),
    store.on('ui', render),
    store.on('members', (g) => g === store.state.ui.guildId && render()),
    store.on('voice', (g) => g === store.state.ui.guildId && render()),
  ];
  render();
  return {
    el,
    destroy() {
      offs.forEach((off) => off());
      userPanel.destroy();
      voicePanel.destroy();
    },
  };
}

// ---- guild ----

function guildHeader(ctx, guildId) {
  const guild = ctx.store.state.guilds.get(guildId);
  if (!guild) return h('h2', { class: 'sidebar-title', text: 'Loading…' });
  const button = h(
    'button',
    {
      type: 'button',
      class: 'sidebar-title guild-menu-button',
      testid: 'guild-menu',
      'aria-haspopup': 'menu',
      'aria-label': `${guild.name}, server menu`,
      onClick: () => guildMenu(ctx, guild, button),
    },
    h('span', { class: 'truncate', testid: 'guild-name', text: guild.name }),
    icon('chevron', 18),
  );
  return button;
}

function guildMenu(ctx, guild, anchor) {
  const { store, actions } = ctx;
  const perms = guildPerms(store, guild.id);
  const isOwner = guild.owner_id === store.state.me?.id;
  const firstText = sortedChannels(store, guild.id).find((c) => c.type === 0 && has(channelPerms(store, c.id), P.CREATE_INSTANT_INVITE));
  const items = [];
  if (firstText) {
    const target = store.state.channels.get(store.state.ui.channelId);
    const channel = target && target.type === 0 && target.guild_id === guild.id ? target : firstText;
    items.push({ label: 'Invite people', icon: '➕', testid: 'menu-invite', onSelect: () => openInviteDialog(ctx, channel) });
  }
  items.push({ label: 'Notification settings', icon: '🔔', testid: 'menu-notifications', onSelect: () => openNotificationSettings(ctx, guild.id) });
  if (isOwner || has(perms, P.MANAGE_GUILD) || has(perms, P.MANAGE_ROLES) || has(perms, P.KICK_MEMBERS) || has(perms, P.BAN_MEMBERS)) {
    items.push({ label: 'Server settings', icon: '⚙', testid: 'menu-settings', onSelect: () => openGuildSettings(ctx, guild.id) });
  }
  if (has(perms, P.MANAGE_CHANNELS)) {
    items.push({ label: 'Create channel', icon: '#', testid: 'menu-create-channel', onSelect: () => createChannel(ctx, guild.id, 0) });
    items.push({ label: 'Create category', icon: '▤', testid: 'menu-create-category', onSelect: () => createChannel(ctx, guild.id, 4) });
  }
  if (!isOwner) {
    items.push('separator', {
      label: 'Leave server',
      icon: '⎋',
      danger: true,
      testid: 'menu-leave',
      async onSelect() {
        if (!(await confirmAction({ title: `Leave ${guild.name}`, text: 'You will need a new invite to come back.', confirm: 'Leave' }))) return;
        try {
          await actions.leaveGuild(guild.id);
          ctx.navigate('/channels/@me');
        } catch (e) {
          toast(e.message, 'error');
        }
      },
    });
  }
  showMenu(anchor, items, { label: `${guild.name} menu`, testid: 'guild-menu-popup' });
}

export async function createChannel(ctx, guildId, type, parentId = null) {
  const isCategory = type === 4;
  const raw = await promptText({
    title: isCategory ? 'Create category' : 'Create channel',
    label: isCategory ? 'Category name' : 'Channel name',
    confirm: 'Create',
    testid: 'create-channel-dialog',
  });
  if (!raw) return;
  const name = isCategory ? raw : raw.toLowerCase().replace(/\s+/g, '-');
  try {
    const channel = await ctx.actions.createChannel(guildId, name, type, parentId);
    if (!isCategory) ctx.navigate(`/channels/${guildId}/${channel.id}`);
  } catch (e) {
    toast(e.message, 'error');
  }
}

/** Top-level channels, then each category with its children; by position. */
export function sortedChannels(store, guildId) {
  const all = store.guildChannels(guildId).filter((c) => !isThread(c));
  const byPosition = (a, b) => (a.position ?? 0) - (b.position ?? 0) || compareIds(a.id, b.id);
  const categories = all.filter((c) => c.type === 4).sort(byPosition);
  const out = all.filter((c) => c.type !== 4 && !categories.some((k) => k.id === c.parent_id)).sort(byPosition);
  for (const category of categories) {
    out.push(category, ...all.filter((c) => c.parent_id === category.id && c.type !== 4).sort(byPosition));
  }
  return out;
}

function guildChannelList(ctx, guildId) {
  const { store } = ctx;
  if (!store.state.guilds.get(guildId)) return h('p', { class: 'hint pad', text: 'Loading…' });
  const canManage = has(guildPerms(store, guildId), P.MANAGE_CHANNELS);
  const out = [];
  let currentCategory = null;
  for (const c of sortedChannels(store, guildId)) {
    if (c.type === 4) {
      currentCategory = c;
      const children = store.guildChannels(guildId).filter((x) => x.parent_id === c.id && has(channelPerms(store, x.id), P.VIEW_CHANNEL));
      if (!children.length && !canManage) continue;
      out.push(categoryRow(ctx, c, canManage));
      continue;
    }
    if (!has(channelPerms(store, c.id), P.VIEW_CHANNEL)) continue;
    if (currentCategory && c.parent_id === currentCategory.id && collapsed.has(currentCategory.id) && c.id !== store.state.ui.channelId && !store.isUnread(c.id)) continue;
    out.push(channelRow(ctx, c));
    if (c.type === 2) out.push(voiceParticipants(ctx, c));
    for (const t of threadsOf(store, c.id)) out.push(channelRow(ctx, t, true));
  }
  if (!out.length) out.push(h('p', { class: 'hint pad', text: 'No channels you can see.' }));
  return out;
}

function threadsOf(store, channelId) {
  const current = store.state.ui.channelId;
  return [...store.state.channels.values()]
    .filter((t) => isThread(t) && t.parent_id === channelId && !t.thread_metadata?.archived && (t.member || t.id === current || store.isUnread(t.id)))
    .sort((a, b) => compareIds(a.id, b.id));
}

function categoryRow(ctx, category, canManage) {
  const open = !collapsed.has(category.id);
  return h(
    'div',
    { class: 'category-row', 'data-key': category.id },
    h(
      'button',
      {
        type: 'button',
        class: 'category-toggle',
        'aria-expanded': String(open),
        testid: 'category',
        onClick() {
          if (open) collapsed.add(category.id);
          else collapsed.delete(category.id);
          ctx.store.emit('channels', category.guild_id);
        },
      },
      h('span', { class: 'chevron', 'aria-hidden': 'true', text: open ? '▾' : '▸' }),
      h('span', { class: 'truncate', text: category.name }),
    ),
    canManage ? iconButton(`Create channel in ${category.name}`, 'plus', () => createChannel(ctx, category.guild_id, 0, category.id), { class: 'row-action' }) : null,
    canManage ? iconButton(`Edit category ${category.name}`, 'gear', () => openChannelSettings(ctx, category.id), { class: 'row-action' }) : null,
  );
}

function channelRow(ctx, channel, nested = false) {
  const { store } = ctx;
  const active = store.state.ui.channelId === channel.id;
  const unread = store.isUnread(channel.id);
  const mentions = store.mentionCount(channel.id);
  const perms = channelPerms(store, channel.id);
  const href = `/channels/${channel.guild_id}/${channel.id}`;
  const muted = channelMuted(store.guildSettings(channel.guild_id), [channel.id, channel.parent_id].filter(Boolean));
  // Named by its content (a label unlike the text shown would not be).
  const state = `${mentions ? `, ${mentions} mentions` : unread ? ', unread' : ''}${muted ? ', muted' : ''}`;
  return h(
    'div',
    { class: ['channel-row', nested && 'nested', active && 'active', unread && !muted && 'unread', muted && 'muted'], 'data-key': channel.id },
    h(
      'a',
      {
        href,
        class: 'channel-item',
        testid: 'channel-item',
        'data-channel-id': channel.id,
        'data-unread': String(unread),
        'data-muted': String(muted),
        'aria-current': active ? 'page' : undefined,
        onClick(e) {
          e.preventDefault();
          if (channel.type === 2) joinVoice(ctx, channel);
          else ctx.navigate(href);
        },
      },
      h('span', { class: 'channel-glyph' }, icon(isThread(channel) ? 'threads' : channel.type === 2 ? 'speaker' : 'hash', 18)),
      h('span', { class: 'visually-hidden', text: isThread(channel) ? 'thread ' : 'channel ' }),
      h('span', { class: 'truncate channel-name', text: channel.name }),
      state ? h('span', { class: 'visually-hidden', text: state }) : null,
      mentions ? h('span', { class: 'badge', testid: 'mention-badge', 'aria-hidden': 'true', text: String(mentions) }) : null,
    ),
    has(perms, isThread(channel) ? P.MANAGE_THREADS : P.MANAGE_CHANNELS)
      ? iconButton(`Edit ${channel.name}`, 'gear', () => openChannelSettings(ctx, channel.id), { class: 'row-action', testid: 'channel-settings' })
      : null,
  );
}

// ---- home (DMs) ----

function homeHeader(ctx) {
  return h(
    'div',
    { class: 'sidebar-title' },
    h('h2', { class: 'truncate', text: 'Direct messages' }),
    iconButton('New group message', 'plus', () => openGroupDmDialog(ctx), { testid: 'new-group-dm' }),
  );
}

function dmList(ctx) {
  const { store } = ctx;
  const channels = store.privateChannels();
  if (!channels.length) {
    return h('p', { class: 'hint pad', text: 'No conversations yet. Open one from a member list, or start a group with +.' });
  }
  return channels.map((c) => {
    const active = store.state.ui.channelId === c.id;
    const unread = store.isUnread(c.id);
    const title = channelTitle(store, c);
    const other = c.type === 1 ? c.recipients?.[0] : null;
    const href = `/channels/@me/${c.id}`;
    return h(
      'div',
      { class: ['channel-row', active && 'active', unread && 'unread'], 'data-key': c.id },
      h(
        'a',
        {
          href,
          class: 'channel-item dm-item',
          testid: 'dm-item',
          'data-channel-id': c.id,
          'data-unread': String(unread),
          'aria-current': active ? 'page' : undefined,
          'aria-label': `${c.type === 3 ? 'Group' : 'Direct message'} ${title}${unread ? ', unread' : ''}`,
          onClick(e) {
            e.preventDefault();
            ctx.navigate(href);
          },
        },
        other ? avatar(other, { size: 28, status: store.presence(other.id) }) : groupIcon(c, 28),
        h('span', { class: 'truncate channel-name', text: title }),
        unread ? h('span', { class: 'unread-dot', 'aria-hidden': 'true' }) : null,
      ),
    );
  });
}

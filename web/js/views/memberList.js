// The right column: a guild's members grouped by hoisted role, then
// online and offline, each with presence and role colour; in a group DM,
// its participants.

import { h, avatar } from '../dom.js';
import { displayName } from '../util.js';
import { redraw } from './common.js';
import { showMemberCard, openMemberMenu } from './people.js';
import { icon } from '../icons.js';

export function mountMemberList(ctx) {
  const { store } = ctx;
  const list = h('div', { class: 'member-scroll' });
  const el = h('aside', { class: 'members-panel', 'aria-label': 'Members', testid: 'member-list' }, list);
  const render = () => redraw(list, () => build(ctx));
  const offs = [
    store.on('members', (g) => (g === store.state.ui.guildId ? render() : null)),
    store.on('presence', render),
    store.on('guilds', render),
    store.on('ui', render),
    store.on('channels', render),
  ];
  render();
  return { el, destroy: () => offs.forEach((off) => off()) };
}

function roleColor(guild, member) {
  let best = null;
  for (const id of member?.roles ?? []) {
    const role = guild.roles.get(id);
    if (role?.color && (!best || role.position > best.position)) best = role;
  }
  return best ? `#${best.color.toString(16).padStart(6, '0')}` : null;
}

function hoistedRole(guild, member) {
  let best = null;
  for (const id of member?.roles ?? []) {
    const role = guild.roles.get(id);
    if (role?.hoist && (!best || role.position > best.position)) best = role;
  }
  return best;
}

function build(ctx) {
  const { store } = ctx;
  const { state } = store;
  const { guildId, channelId } = state.ui;
  if (guildId === '@me') {
    const channel = state.channels.get(channelId);
    if (!channel || channel.type !== 3) return null;
    const people = [state.me, ...(channel.recipients ?? [])].filter(Boolean);
    return section(`Members — ${people.length}`, people.map((u) => memberItem(ctx, null, u, null)));
  }
  const guild = state.guilds.get(guildId);
  const members = state.members.get(guildId);
  if (!guild || !members) return h('p', { class: 'hint pad', text: 'Loading members…' });

  const groups = new Map();
  const online = [];
  const offline = [];
  for (const [userId, member] of members) {
    const user = state.users.get(userId);
    if (!user) continue;
    const status = store.presence(userId);
    const entry = { user, member, status, name: displayName(user, member) };
    if (status === 'offline') {
      offline.push(entry);
      continue;
    }
    const role = hoistedRole(guild, member);
    if (role) {
      if (!groups.has(role.id)) groups.set(role.id, { role, entries: [] });
      groups.get(role.id).entries.push(entry);
    } else {
      online.push(entry);
    }
  }
  const byName = (a, b) => a.name.localeCompare(b.name);
  const out = [];
  for (const { role, entries } of [...groups.values()].sort((a, b) => b.role.position - a.role.position)) {
    out.push(section(`${role.name} — ${entries.length}`, entries.sort(byName).map((e) => memberItem(ctx, guild, e.user, e.member))));
  }
  if (online.length) out.push(section(`Online — ${online.length}`, online.sort(byName).map((e) => memberItem(ctx, guild, e.user, e.member))));
  if (offline.length) out.push(section(`Offline — ${offline.length}`, offline.sort(byName).map((e) => memberItem(ctx, guild, e.user, e.member))));
  return out;
}

function section(title, items) {
  return h('section', { class: 'member-group' }, h('h3', { class: 'member-group-title', text: title }), h('ul', { class: 'member-items' }, items));
}

function memberItem(ctx, guild, user, member) {
  const { store } = ctx;
  const status = store.presence(user.id);
  const name = displayName(user, member);
  const color = guild ? roleColor(guild, member) : null;
  const roleNames = guild
    ? (member?.roles ?? []).map((id) => guild.roles.get(id)?.name).filter(Boolean)
    : [];
  const nameEl = h('span', { class: 'truncate member-name', text: name });
  if (color) nameEl.style.color = color;
  const button = h(
    'button',
    {
      type: 'button',
      class: ['member-item', status === 'offline' && 'offline'],
      testid: 'member',
      'data-key': `member-${user.id}`,
      'data-user-id': user.id,
      'data-status': status,
      onClick: () => showMemberCard(ctx, guild?.id ?? null, user.id, button),
      onContextmenu: (e) => {
        e.preventDefault();
        openMemberMenu(ctx, guild?.id ?? null, user.id, button, e);
      },
    },
    avatar(user, { size: 32, status }),
    h('span', { class: 'member-names' }, nameEl, guild?.owner_id === user.id ? h('span', { class: 'owner-crown', title: 'Server owner' }, icon('crown', 14)) : null),
    h('span', { class: 'visually-hidden', text: `, ${status}${roleNames.length ? `, roles ${roleNames.join(', ')}` : ''}${guild?.owner_id === user.id ? ', server owner' : ''}` }),
  );
  return h('li', {}, button);
}

// Helpers several views share: redrawing a panel without losing keyboard
// focus, and what the current user may do where.

import { basePermissions, channelPermissions, has } from '../permissions.js';

/**
 * Rebuilds `container`'s children with `build()`, then puts focus back on
 * the element with the same `data-key` if focus was inside.
 */
export function redraw(container, build) {
  const active = document.activeElement;
  const key = container.contains(active) ? active.closest('[data-key]')?.dataset.key : null;
  const scroll = container.scrollTop;
  container.replaceChildren(...[build()].flat(Infinity).filter(Boolean));
  container.scrollTop = scroll;
  if (key) {
    const again = container.querySelector(`[data-key="${CSS.escape(key)}"]`);
    (again?.matches('button, a, input, [tabindex]') ? again : again?.querySelector('button, a, [tabindex]'))?.focus();
  }
}

/** The current user's permissions in a guild (roles only). */
export function guildPerms(store, guildId) {
  const { state } = store;
  const guild = state.guilds.get(guildId);
  const me = state.me?.id;
  return basePermissions(guild, store.member(guildId, me), me);
}

/** The current user's permissions in a channel. */
export function channelPerms(store, channelId) {
  const { state } = store;
  const channel = state.channels.get(channelId);
  if (!channel) return 0n;
  const me = state.me?.id;
  const guild = state.guilds.get(channel.guild_id);
  return channelPermissions(guild, channel, store.member(channel.guild_id, me), me, (id) => state.channels.get(id));
}

export function can(perms, bit) {
  return has(perms, bit);
}

/** A channel's name as shown: `#name`, a DM's other person, a group's names. */
export function channelTitle(store, channel) {
  if (!channel) return '';
  if (channel.type === 1 || channel.type === 3) {
    if (channel.name) return channel.name;
    const names = (channel.recipients ?? []).map((u) => u.global_name || u.username);
    return names.join(', ') || 'Empty group';
  }
  return channel.name;
}

export const isThread = (c) => c && [10, 11, 12].includes(c.type);

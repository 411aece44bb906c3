// Whether a message would notify this person, by Discord's notification
// settings as the server keeps them (USER_GUILD_SETTINGS): why it concerns
// them (a DM, a mention of them, of a role of theirs, @everyone, a reply to
// them), then mutes (a guild's, a channel's, each until an end or for
// good), the level (the channel's own unless it inherits, else the
// guild's, else the guild's default) and the suppressions. The same rule
// the server applies before it pushes.

/** Notification levels. */
export const LEVEL = { ALL: 0, MENTIONS: 1, NOTHING: 2, INHERIT: 3 };

/** Why `m` concerns user `me` (with `myRoles` in its guild), or null. */
export function alertReason(m, me, myRoles = [], { direct = false, repliedToMe = false } = {}) {
  if (!me || m.author?.id === me) return null;
  if (direct) return 'direct';
  if ((m.mentions ?? []).some((u) => u.id === me)) return 'mention';
  if (repliedToMe) return 'reply';
  if ((m.mention_roles ?? []).some((r) => myRoles.includes(r))) return 'role';
  if (m.mention_everyone) return 'everyone';
  return null;
}

/** A mute in force at `now`: muted, with no end or an end still ahead. */
export function muteActive(muted, muteConfig, now = Date.now()) {
  if (!muted) return false;
  const end = muteConfig?.end_time ? Date.parse(muteConfig.end_time) : null;
  return end === null || !Number.isFinite(end) || end > now;
}

/** The override of the first of `channelIds` (a thread, then its parent) that has one. */
function ownOverride(settings, channelIds) {
  for (const id of channelIds) {
    const found = (settings?.channel_overrides ?? []).find((o) => o.channel_id === id);
    if (found) return found;
  }
  return null;
}

/** Whether a message concerning the user for `reason` notifies. */
export function letsThrough(settings, guildDefault, channelIds, reason, now = Date.now()) {
  if (!reason) return false;
  if (!settings) return guildDefault !== LEVEL.NOTHING || reason === 'direct';
  const own = ownOverride(settings, channelIds);
  if (own && muteActive(own.muted, own.mute_config, now)) return false;
  if (muteActive(settings.muted, settings.mute_config, now)) return false;
  const ownLevel = own && own.message_notifications !== LEVEL.INHERIT ? own.message_notifications : null;
  const level = ownLevel ?? settings.message_notifications ?? guildDefault;
  if (level === LEVEL.NOTHING) return false;
  if (reason === 'everyone') return !settings.suppress_everyone;
  if (reason === 'role') return !settings.suppress_roles;
  return true;
}

/** Whether the channel (or its guild) is muted now, for the channel list. */
export function channelMuted(settings, channelIds, now = Date.now()) {
  if (!settings) return false;
  const own = ownOverride(settings, channelIds);
  return Boolean(own && muteActive(own.muted, own.mute_config, now));
}

/** A mute's end for a chosen duration in minutes (null: until turned off). */
export function muteUntil(minutes, now = Date.now()) {
  return minutes ? new Date(now + minutes * 60_000).toISOString() : null;
}

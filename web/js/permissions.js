// Permission bits and the computation Discord defines (roles, then
// channel overwrites), used to show only the controls that will work.
// The server decides; this only avoids offering what it would refuse.

const NAMES = [
  'CREATE_INSTANT_INVITE', 'KICK_MEMBERS', 'BAN_MEMBERS', 'ADMINISTRATOR', 'MANAGE_CHANNELS',
  'MANAGE_GUILD', 'ADD_REACTIONS', 'VIEW_AUDIT_LOG', 'PRIORITY_SPEAKER', 'STREAM', 'VIEW_CHANNEL',
  'SEND_MESSAGES', 'SEND_TTS_MESSAGES', 'MANAGE_MESSAGES', 'EMBED_LINKS', 'ATTACH_FILES',
  'READ_MESSAGE_HISTORY', 'MENTION_EVERYONE', 'USE_EXTERNAL_EMOJIS', 'VIEW_GUILD_INSIGHTS', 'CONNECT',
  'SPEAK', 'MUTE_MEMBERS', 'DEAFEN_MEMBERS', 'MOVE_MEMBERS', 'USE_VAD', 'CHANGE_NICKNAME',
  'MANAGE_NICKNAMES', 'MANAGE_ROLES', 'MANAGE_WEBHOOKS', 'MANAGE_GUILD_EXPRESSIONS',
  'USE_APPLICATION_COMMANDS', 'REQUEST_TO_SPEAK', 'MANAGE_EVENTS', 'MANAGE_THREADS',
  'CREATE_PUBLIC_THREADS', 'CREATE_PRIVATE_THREADS', 'USE_EXTERNAL_STICKERS',
  'SEND_MESSAGES_IN_THREADS', 'USE_EMBEDDED_ACTIVITIES', 'MODERATE_MEMBERS',
];

/** Bit values by name, as BigInt. */
export const P = Object.fromEntries(NAMES.map((name, bit) => [name, 1n << BigInt(bit)]));
P.PIN_MESSAGES = 1n << 51n;

export const ALL = 8866461766385663n;

/** What every participant may do in a DM or group DM. */
const PRIVATE = [6, 10, 11, 12, 14, 15, 16, 18, 37, 46, 49, 51].reduce((a, b) => a | (1n << BigInt(b)), 0n);

/** The permissions shown in role and overwrite editors, with labels. */
export const EDITABLE = [
  ['VIEW_CHANNEL', 'View channels'],
  ['SEND_MESSAGES', 'Send messages'],
  ['READ_MESSAGE_HISTORY', 'Read message history'],
  ['ADD_REACTIONS', 'Add reactions'],
  ['ATTACH_FILES', 'Attach files'],
  ['EMBED_LINKS', 'Embed links'],
  ['MENTION_EVERYONE', 'Mention @everyone'],
  ['SEND_MESSAGES_IN_THREADS', 'Send messages in threads'],
  ['CREATE_PUBLIC_THREADS', 'Create public threads'],
  ['MANAGE_MESSAGES', 'Manage messages'],
  ['MANAGE_THREADS', 'Manage threads'],
  ['MANAGE_CHANNELS', 'Manage channels'],
  ['CREATE_INSTANT_INVITE', 'Create invites'],
];

/** Guild-wide permissions, in the role editor only. */
export const GUILD_ONLY = [
  ['ADMINISTRATOR', 'Administrator'],
  ['MANAGE_GUILD', 'Manage server'],
  ['MANAGE_ROLES', 'Manage roles'],
  ['KICK_MEMBERS', 'Kick members'],
  ['BAN_MEMBERS', 'Ban members'],
  ['CHANGE_NICKNAME', 'Change nickname'],
  ['MANAGE_NICKNAMES', 'Manage nicknames'],
  ['MODERATE_MEMBERS', 'Time out members'],
];

export function has(perms, bit) {
  return (perms & bit) === bit;
}

const big = (s) => {
  try {
    return BigInt(s ?? 0);
  } catch {
    return 0n;
  }
};

/** Guild-level permissions of a member (roles only). */
export function basePermissions(guild, member, userId) {
  if (!guild) return 0n;
  if (guild.owner_id === userId) return ALL;
  const roles = guild.roles;
  let perms = big(roles.get(guild.id)?.permissions);
  for (const roleId of member?.roles ?? []) perms |= big(roles.get(roleId)?.permissions);
  if (has(perms, P.ADMINISTRATOR)) return ALL;
  return perms;
}

/**
 * A member's permissions in a channel. Threads use their parent's
 * overwrites and SEND_MESSAGES_IN_THREADS; `parentOf` finds the parent.
 */
export function channelPermissions(guild, channel, member, userId, parentOf = () => null) {
  if (!channel) return 0n;
  if (!channel.guild_id) return PRIVATE;
  const base = basePermissions(guild, member, userId);
  if (base === ALL) return ALL;
  const isThread = [10, 11, 12].includes(channel.type);
  const source = isThread ? parentOf(channel.parent_id) ?? channel : channel;
  const overwrites = source.permission_overwrites ?? [];
  let p = base;
  const everyone = overwrites.find((o) => o.id === guild.id);
  if (everyone) p = (p & ~big(everyone.deny)) | big(everyone.allow);
  let allow = 0n;
  let deny = 0n;
  for (const o of overwrites) {
    if (o.type === 0 && member?.roles?.includes(o.id)) {
      allow |= big(o.allow);
      deny |= big(o.deny);
    }
  }
  p = (p & ~deny) | allow;
  const own = overwrites.find((o) => o.type === 1 && o.id === userId);
  if (own) p = (p & ~big(own.deny)) | big(own.allow);
  if (!has(p, P.VIEW_CHANNEL)) return 0n;
  if (isThread) {
    // In a thread, "send" means SEND_MESSAGES_IN_THREADS.
    p = has(p, P.SEND_MESSAGES_IN_THREADS) ? p | P.SEND_MESSAGES : p & ~P.SEND_MESSAGES;
  }
  if (!has(p, P.SEND_MESSAGES)) {
    p &= ~(P.MENTION_EVERYONE | P.SEND_TTS_MESSAGES | P.ATTACH_FILES | P.EMBED_LINKS);
  }
  return p;
}

/** The highest position among a member's roles (the owner outranks all). */
export function topRolePosition(guild, member, userId) {
  if (guild.owner_id === userId) return Infinity;
  let top = 0;
  for (const id of member?.roles ?? []) top = Math.max(top, guild.roles.get(id)?.position ?? 0);
  return top;
}

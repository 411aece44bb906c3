// Small helpers shared by the store and the views: snowflakes, time,
// names. Nothing here touches the DOM.

const DISCORD_EPOCH = 1420070400000n;

/** Orders two snowflakes (decimal strings) numerically. */
export function compareIds(a, b) {
  if (a === b) return 0;
  if (a == null) return -1;
  if (b == null) return 1;
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : 1;
}

/** Milliseconds since the Unix epoch at which a snowflake was made. */
export function snowflakeTime(id) {
  return Number((BigInt(id) >> 22n) + DISCORD_EPOCH);
}

/** Inserts `item` into `list` (sorted by id, ascending) or replaces the one with its id. */
export function upsertSorted(list, item) {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const c = compareIds(list[mid].id, item.id);
    if (c === 0) {
      list[mid] = item;
      return list;
    }
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, item);
  return list;
}

/** The name people see for a user: nick, then global name, then username. */
export function displayName(user, member) {
  return member?.nick || user?.global_name || user?.username || 'Unknown user';
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dateFormat = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: '2-digit', day: '2-digit' });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'short' });

/** "Today at 14:05", "Yesterday at 09:00" or a date. */
export function formatTimestamp(iso, now = new Date()) {
  const date = new Date(iso);
  const startOfToday = new Date(now.getFullYear(), now.getMonth(), now.getDate()).getTime();
  const t = date.getTime();
  if (t >= startOfToday) return `Today at ${timeFormat.format(date)}`;
  if (t >= startOfToday - 86400000) return `Yesterday at ${timeFormat.format(date)}`;
  return `${dateFormat.format(date)} ${timeFormat.format(date)}`;
}

export function formatTime(iso) {
  return timeFormat.format(new Date(iso));
}

export function formatFull(iso) {
  return fullFormat.format(new Date(iso));
}

/**
 * The path the server serves an uploaded image at (Discord's CDN paths):
 * `kind` is `avatars` (users, webhooks), `icons` (guilds) or
 * `channel-icons` (group DMs); a hash that starts with `a_` is an animated
 * GIF. `size` is the pixels wanted, asked for as the power of two from 16
 * to 4096 at or above it, the sizes the server takes. Null without a hash.
 */
export function imagePath(kind, id, hash, size = 128) {
  if (!id || typeof hash !== 'string' || !/^(a_)?[0-9a-f]{32}$/.test(hash)) return null;
  const extension = hash.startsWith('a_') ? 'gif' : 'png';
  const asked = 2 ** Math.min(12, Math.max(4, Math.ceil(Math.log2(Math.max(size, 1)))));
  return `/${kind}/${id}/${hash}.${extension}?size=${asked}`;
}

/** A stable colour for a user without an avatar image. */
export function avatarHue(id) {
  let h = 0;
  for (const c of String(id ?? '')) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return h % 360;
}

export function initials(name) {
  const words = String(name || '?').trim().split(/\s+/).slice(0, 2);
  return words.map((w) => [...w][0] ?? '').join('').toUpperCase() || '?';
}

/** The invite code in a pasted link (`https://host/invite/CODE`) or the code itself. */
export function inviteCodeFrom(input) {
  const text = String(input || '').trim();
  const match = text.match(/(?:\/invite\/|\/inv\/)([A-Za-z0-9-]+)\/?$/) || text.match(/^([A-Za-z0-9-]+)$/);
  return match ? match[1] : null;
}

/** A random nonce for message sends (≤ 25 characters). */
export function makeNonce() {
  return String(Date.now()) + String(Math.floor(Math.random() * 1e6)).padStart(6, '0');
}

/** Same-origin URL for a server file URL (attachments): the page talks to one host only. */
export function sameOriginUrl(raw, origin) {
  try {
    const url = new URL(raw, origin);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
    if (url.origin !== origin && /^\/(attachments|emojis|avatars|icons)\//.test(url.pathname)) {
      return origin + url.pathname + url.search;
    }
    return url.origin === origin ? url.href : null;
  } catch {
    return null;
  }
}

export function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

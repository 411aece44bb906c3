// Web Push without the DOM, shared by the page and the service worker:
// the server's VAPID key as the bytes `PushManager.subscribe` takes, and
// what a pushed payload (`{type, guild_id?, channel_id, message_id, title,
// body, icon?}`) shows and where a click on it leads.

/** base64url (no padding) → bytes. */
export function base64UrlToBytes(text) {
  const b64 = String(text).replace(/-/g, '+').replace(/_/g, '/');
  const padded = b64 + '='.repeat((4 - (b64.length % 4)) % 4);
  const raw = atob(padded);
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

/** The client's path for the payload's channel (and message). */
export function notificationPath(payload) {
  const guild = payload?.guild_id ?? '@me';
  if (!payload?.channel_id || !/^\d+$/.test(String(payload.channel_id))) return '/channels/@me';
  if (guild !== '@me' && !/^\d+$/.test(String(guild))) return '/channels/@me';
  return `/channels/${guild}/${payload.channel_id}`;
}

/** The title and options of the notification for a payload. */
export function notificationFor(payload) {
  const title = String(payload?.title || 'Concord').slice(0, 200);
  const options = {
    body: String(payload?.body ?? '').slice(0, 500),
    // One notification per channel: a newer message replaces the older.
    tag: payload?.channel_id ? `channel-${payload.channel_id}` : 'concord',
    renotify: true,
    data: { path: notificationPath(payload) },
  };
  if (payload?.icon && String(payload.icon).startsWith('/')) options.icon = payload.icon;
  return { title, options };
}

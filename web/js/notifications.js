// Notifications in the page: Web Push turned on and off from the settings
// (the browser asks for permission only then, never on load), the service
// worker's clicks followed to their channel, and while the tab is open but
// hidden, a notification per message that would push and a count in the
// title.

import { base64UrlToBytes, notificationFor, notificationPath } from './push.js';

const WORKER = '/static/js/sw.js';

export function pushSupported() {
  return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

/**
 * The worker's registration once it is active (its scope is its own
 * folder, not the page's, so `navigator.serviceWorker.ready` never
 * settles for it: its state is watched instead).
 */
async function registration() {
  const reg = await navigator.serviceWorker.register(WORKER, { type: 'module' });
  const worker = reg.installing ?? reg.waiting ?? reg.active;
  if (worker && worker.state !== 'activated') {
    await new Promise((resolve) => {
      worker.addEventListener('statechange', () => ['activated', 'redundant'].includes(worker.state) && resolve());
    });
  }
  return reg;
}

/** Whether this browser has a subscription (the toggle's state). */
export async function pushEnabled() {
  if (!pushSupported()) return false;
  const reg = await navigator.serviceWorker.getRegistration(WORKER);
  return Boolean(await reg?.pushManager.getSubscription());
}

/** Asks for permission, subscribes with the server's key and tells the server. */
export async function enablePush(api) {
  if (!pushSupported()) throw new Error('This browser cannot receive push notifications.');
  const permission = await Notification.requestPermission();
  if (permission !== 'granted') throw new Error('Notifications are blocked for this site.');
  const reg = await registration();
  const { public_key: key } = await api.vapidKey();
  let subscription = await reg.pushManager.getSubscription();
  if (!subscription) {
    subscription = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: base64UrlToBytes(key) });
  }
  await api.pushSubscribe(subscription.toJSON());
}

/** Drops the subscription here and on the server. */
export async function disablePush(api) {
  const reg = await navigator.serviceWorker.getRegistration(WORKER);
  const subscription = await reg?.pushManager.getSubscription();
  if (!subscription) return;
  await api.pushUnsubscribe(subscription.endpoint).catch(() => {});
  await subscription.unsubscribe();
}

/** Follows the service worker's "open this channel" after a click. */
export function followWorkerClicks(navigate) {
  if (!('serviceWorker' in navigator)) return;
  navigator.serviceWorker.addEventListener('message', (e) => {
    if (e.data?.type === 'navigate' && typeof e.data.path === 'string' && e.data.path.startsWith('/channels/')) navigate(e.data.path);
  });
}

/**
 * While the tab is hidden: a count of what would notify in the title, and
 * a notification (when permitted) for each such message. Returns
 * `onMessage(message, {title, body})`.
 */
export function hiddenTabAlerts({ navigate }) {
  let count = 0;
  const base = () => document.title.replace(/^\(\d+\) /, '');
  const badge = () => {
    if (count && !document.title.startsWith(`(${count}) `)) document.title = `(${count}) ${base()}`;
  };
  // The views set the title as the channel changes: the count stays in front.
  const title = document.querySelector('title');
  if (title) new MutationObserver(badge).observe(title, { childList: true, characterData: true, subtree: true });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && count) {
      count = 0;
      document.title = base();
    }
  });
  return (message, { title, body }) => {
    if (document.visibilityState !== 'hidden') return;
    count += 1;
    badge();
    if (!('Notification' in window) || Notification.permission !== 'granted') return;
    const payload = { title, body, guild_id: message.guild_id, channel_id: message.channel_id };
    const shown = notificationFor(payload);
    const n = new Notification(shown.title, shown.options);
    n.onclick = () => {
      window.focus();
      navigate(notificationPath(payload));
      n.close();
    };
  };
}

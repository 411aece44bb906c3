// The service worker: shows each Web Push the server sends (it is
// encrypted for this browser; the browser hands over the JSON payload) and,
// on a click, brings a Concord tab to the message's channel or opens one.
// It caches nothing: the client is always fetched from the server.

import { notificationFor } from './push.js';

self.addEventListener('push', (event) => {
  let payload = {};
  try {
    payload = event.data ? event.data.json() : {};
  } catch {
    payload = { body: event.data?.text() ?? '' };
  }
  const { title, options } = notificationFor(payload);
  event.waitUntil(self.registration.showNotification(title, options));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const path = event.notification.data?.path ?? '/channels/@me';
  event.waitUntil(
    (async () => {
      const tabs = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
      const tab = tabs.find((c) => new URL(c.url).origin === self.location.origin);
      if (tab) {
        tab.postMessage({ type: 'navigate', path });
        return tab.focus();
      }
      return self.clients.openWindow(path);
    })(),
  );
});

// Lifechain service worker: caches the app shell so the volunteer app opens installed; API calls always go live.
const CACHE = 'lifechain-shell-v1';
const SHELL = ['/', '/volunteer', '/manifest.webmanifest', '/icon.svg'];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys().then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin || url.pathname.startsWith('/api/')) {
    return;
  }
  // Network first (the dispatcher may have shipped a new build), the cached shell when offline.
  event.respondWith(
    fetch(event.request)
      .then((resp) => {
        if (resp.ok && url.pathname.startsWith('/assets/')) {
          const copy = resp.clone();
          caches.open(CACHE).then((c) => c.put(event.request, copy));
        }
        return resp;
      })
      .catch(() => caches.match(event.request).then((r) => r || caches.match('/'))),
  );
});

self.addEventListener('push', (event) => {
  const data = event.data ? event.data.json() : {};
  event.waitUntil(
    self.registration.showNotification(data.title || 'Lifechain', {
      body: data.body || '',
      tag: 'lifechain-alert',
      requireInteraction: true,
      vibrate: [400, 200, 400, 200, 400],
      data: { url: '/volunteer' },
    }),
  );
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  event.waitUntil(self.clients.openWindow((event.notification.data && event.notification.data.url) || '/volunteer'));
});

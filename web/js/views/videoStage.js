// Cameras and screens of the voice call, above the conversation: our own
// (muted preview) and the others' the server sends us. Hidden while nothing
// is shown.

import { h } from '../dom.js';
import { displayName } from '../util.js';

export function mountVideoStage(ctx) {
  const { store, voice } = ctx;
  const el = h('section', { class: 'video-stage', testid: 'video-stage', 'aria-label': 'Video', hidden: true });
  // One element per shown video, kept across renders so playback never restarts.
  const tiles = new Map();

  const render = () => {
    const now = voice.current();
    const shown = voice.videos();
    el.hidden = !shown.length;
    const keep = new Set();
    for (const v of shown) {
      const key = `${v.userId}:${v.type}`;
      keep.add(key);
      let tile = tiles.get(key);
      if (!tile) {
        const video = h('video', { autoplay: true, playsinline: true, muted: true });
        video.muted = true;
        const label = h('span', { class: 'video-label truncate' });
        tile = { el: h('figure', { class: 'video-tile', testid: 'video-tile' }, video, label), video, label };
        tiles.set(key, tile);
      }
      if (tile.video.srcObject !== v.stream) {
        tile.video.srcObject = v.stream;
        tile.video.play().catch(() => {});
      }
      const user = store.state.users.get(v.userId) ?? { id: v.userId };
      const member = now && store.state.members.get(now.guildId)?.get(v.userId);
      const name = v.own ? 'You' : displayName(user, member);
      tile.label.textContent = v.type === 'screen' ? `${name} (screen)` : name;
      tile.el.dataset.userId = v.userId;
      tile.el.dataset.type = v.type;
      tile.el.classList.toggle('own', Boolean(v.own));
    }
    for (const [key, tile] of tiles) {
      if (keep.has(key)) continue;
      tile.video.srcObject = null;
      tiles.delete(key);
    }
    el.replaceChildren(...[...tiles.values()].map((t) => t.el));
  };

  const off = store.on('voice', render);
  render();
  return {
    el,
    destroy() {
      off();
      for (const tile of tiles.values()) tile.video.srcObject = null;
    },
  };
}

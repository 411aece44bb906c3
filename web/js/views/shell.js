// The signed-in layout: guild bar, channel sidebar, chat, member list
// and threads panel. Below ~700px the sidebars become drawers.

import { h } from '../dom.js';
import { P, has } from '../permissions.js';
import { mountGuildBar } from './guildBar.js';
import { mountChannelList, sortedChannels } from './channelList.js';
import { mountChat } from './chat.js';
import { mountMemberList } from './memberList.js';
import { mountThreadsPanel } from './threads.js';
import { channelPerms } from './common.js';
import { mountAppModals } from './appModal.js';

const NARROW = '(max-width: 700px)';

export function mountShell(ctx) {
  const { store } = ctx;
  const narrow = window.matchMedia(NARROW);
  if (narrow.matches) store.setUi({ membersOpen: false });

  const guildBar = mountGuildBar(ctx);
  const channels = mountChannelList(ctx);
  const chat = mountChat(ctx);
  const members = mountMemberList(ctx);
  const threads = mountThreadsPanel(ctx);
  const scrim = h('div', {
    class: 'scrim',
    'aria-hidden': 'true',
    onClick: () => store.setUi({ sidebarOpen: false, ...(narrow.matches ? { membersOpen: false, threadsOpen: false } : {}) }),
  });
  const drawer = h('div', { class: 'nav-drawer', testid: 'nav-drawer' }, guildBar.el, channels.el);
  const el = h('div', { class: 'app', testid: 'app' }, drawer, chat.el, members.el, threads.el, scrim);

  let route = { guildId: null, channelId: null };
  let wasOpen = false;

  function layout() {
    const { ui } = store.state;
    const channel = store.state.channels.get(ui.channelId);
    const showMembers = ui.membersOpen && (ui.guildId !== '@me' || channel?.type === 3);
    el.classList.toggle('sidebar-open', ui.sidebarOpen);
    el.classList.toggle('members-open', Boolean(showMembers));
    el.classList.toggle('threads-open', ui.threadsOpen && ui.guildId !== '@me');
    members.el.hidden = !showMembers;
    // On a phone the drawer covers the chat: keep focus out of what is hidden,
    // and move it into the drawer when it opens.
    drawer.inert = narrow.matches && !ui.sidebarOpen;
    if (narrow.matches && ui.sidebarOpen && !wasOpen && !drawer.contains(document.activeElement)) {
      (drawer.querySelector('[aria-current="page"]') ?? drawer.querySelector('a, button'))?.focus();
    }
    wasOpen = ui.sidebarOpen;
  }

  /** Picks a channel for a guild route without one: the last visited, else the first readable. */
  function defaultChannel(guildId) {
    const last = localStorage.getItem(`concord.last.${guildId}`);
    const readable = (id) => has(channelPerms(store, id), P.VIEW_CHANNEL);
    if (last && store.state.channels.get(last)?.guild_id === guildId && readable(last)) return last;
    return sortedChannels(store, guildId).find((c) => c.type === 0 && readable(c.id))?.id ?? null;
  }

  function resolve() {
    let { guildId, channelId } = route;
    if (guildId !== '@me' && !channelId && store.state.guilds.get(guildId) && !store.state.guilds.get(guildId).unavailable) {
      channelId = defaultChannel(guildId);
      if (channelId) {
        ctx.navigate(`/channels/${guildId}/${channelId}`, { replace: true });
        return;
      }
    }
    if (guildId === '@me' && channelId && !store.state.channels.has(channelId)) ctx.actions.learnChannel(channelId);
    if (channelId && guildId !== '@me') localStorage.setItem(`concord.last.${guildId}`, channelId);
    const changed = store.state.ui.channelId !== channelId || store.state.ui.guildId !== guildId;
    if (changed) {
      store.setUi({ guildId, channelId, replyTo: null, editingId: null, highlightId: null, sidebarOpen: narrow.matches ? !channelId : false });
    }
    chat.setChannel(channelId);
    if (changed && channelId && !narrow.matches) chat.focusComposer();
  }

  const offs = [
    mountAppModals(ctx),
    store.on('ui', layout),
    // A guild that arrives after its route (just joined, or still loading).
    store.on('guilds', () => route.guildId && !route.channelId && resolve()),
    store.on('channels', () => route.guildId && !route.channelId && resolve()),
  ];
  // Crossing the breakpoint: panels that were side by side would now cover the chat.
  const onBreakpoint = () => store.setUi({ sidebarOpen: false, threadsOpen: false, membersOpen: !narrow.matches });
  narrow.addEventListener('change', onBreakpoint);
  el.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && narrow.matches && store.state.ui.sidebarOpen) store.setUi({ sidebarOpen: false });
  });
  layout();

  return {
    el,
    show(next) {
      route = next;
      resolve();
    },
    destroy() {
      offs.forEach((off) => off());
      narrow.removeEventListener('change', onBreakpoint);
      [guildBar, channels, chat, members, threads].forEach((v) => v.destroy());
    },
  };
}

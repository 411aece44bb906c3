// The scrolling message log of one channel. Elements are kept by message
// id and rebuilt only when their message object (or grouping) changes;
// the scroll position is held on an anchor message across changes, stuck
// to the bottom when the reader is there. Scrolling near the top loads
// older pages; after a jump into history, scrolling down loads newer ones.

import { h } from '../dom.js';
import { renderMessage } from './message.js';
import { channelTitle, isThread } from './common.js';
import { interactionNotices } from './slashCommands.js';
import { compareIds } from '../util.js';

const dayFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'long' });
const dayOf = (iso) => new Date(iso).toDateString();

const GROUP_MS = 7 * 60 * 1000;
const LOAD_MARGIN_PX = 600;
const STICK_PX = 48;

/** Puts a message's buttons and links in or out of the tab order. */
function setControlsReachable(article, reachable) {
  for (const control of article.querySelectorAll('button, a[href], .md-spoiler[role="button"]')) {
    control.tabIndex = reachable ? 0 : -1;
  }
}

export function mountMessageList(ctx) {
  const { store, actions } = ctx;
  const top = h('div', { class: 'messages-top', testid: 'messages-top' });
  const items = h('div', { class: 'message-items' });
  const notices = h('div', { class: 'interaction-notices', testid: 'interaction-notices' });
  const scroller = h('div', {
    class: 'messages',
    testid: 'message-list',
    role: 'log',
    'aria-label': 'Messages',
    'aria-live': 'polite',
    'aria-relevant': 'additions',
    tabIndex: 0,
  }, top, items, notices);
  const present = h('div', { class: 'jump-bar', hidden: true },
    h('span', { text: 'You are viewing older messages' }),
    h('button', { type: 'button', class: 'button button-small', testid: 'jump-to-present', onClick: () => actions.jumpToPresent(channelId) }, 'Jump to present'),
  );
  const unreadBar = h('div', { class: 'jump-bar unread-bar', hidden: true },
    h('span', { text: 'You have unread messages' }),
    h('button', { type: 'button', class: 'button button-small', testid: 'jump-to-unread', onClick: () => {
      const line = items.querySelector('[data-testid="new-messages-divider"]');
      if (!line) return;
      stick = false;
      line.scrollIntoView({ block: 'start' });
      unreadBar.hidden = true;
    } }, 'Jump to first unread'));
  const el = h('div', { class: 'message-pane' }, unreadBar, scroller, present);

  /** The bar shows while the new messages line is above the view. */
  function showUnreadBar() {
    const line = items.querySelector('[data-testid="new-messages-divider"]');
    unreadBar.hidden = !line || line.offsetTop + line.offsetHeight >= scroller.scrollTop;
  }

  let channelId = null;
  let cache = new Map();
  let stick = true;
  let highlightTimer = null;

  // Where the reader had read to when they opened the channel: the
  // "new messages" line stays there while they are in it.
  let readMark = null;
  const dividers = new Map();

  /** A divider element, kept by key so the list does not rebuild it. */
  function divider(key, build) {
    if (!dividers.has(key)) dividers.set(key, build());
    return dividers.get(key);
  }

  function setChannel(id) {
    if (id === channelId) return;
    channelId = id;
    readMark = id ? store.state.serverRead.get(id) ?? store.state.readStates.get(id)?.lastMessageId ?? null : null;
    dividers.clear();
    cache = new Map();
    items.replaceChildren();
    stick = true;
    render();
  }

  function anchorOf() {
    const viewTop = scroller.scrollTop;
    // Messages only: a divider moves when older messages come before it.
    for (const child of items.querySelectorAll(':scope > [data-message-id]')) {
      if (child.offsetTop + child.offsetHeight > viewTop) return { el: child, offset: child.offsetTop - viewTop };
    }
    return null;
  }

  function render() {
    if (!channelId) return;
    const channel = store.state.channels.get(channelId);
    // Unknown (not loaded yet, or just deleted): nothing to fetch.
    if (!channel) return;
    const entry = store.channelMessages(channelId);
    if (!entry.loaded && !entry.loading) {
      actions.loadLatest(channelId);
    }
    const anchor = stick ? null : anchorOf();
    const { editingId, highlightId } = store.state.ui;
    const me = store.state.me?.id;

    const wanted = [];
    let prev = null;
    let newLine = false;
    for (const m of [...entry.list, ...entry.pending]) {
      const newDay = !m.pending && (!prev || dayOf(prev.timestamp) !== dayOf(m.timestamp));
      if (newDay && m.timestamp) {
        const day = dayOf(m.timestamp);
        wanted.push(divider(`day-${day}`, () => h('div', { class: 'day-divider', role: 'separator', testid: 'day-divider', 'aria-label': dayFormat.format(new Date(m.timestamp)) },
          h('span', { text: dayFormat.format(new Date(m.timestamp)) }))));
      }
      const unseen = !newLine && readMark && !m.pending && m.author?.id !== me && compareIds(m.id, readMark) > 0;
      if (unseen) {
        newLine = true;
        wanted.push(divider('new-messages', () => h('div', { class: 'new-divider', role: 'separator', testid: 'new-messages-divider', 'aria-label': 'New messages' }, h('span', { text: 'New' }))));
      }
      const grouped = Boolean(
        !newDay &&
        !unseen &&
        prev &&
          prev.author?.id === m.author?.id &&
          [0, 19].includes(prev.type ?? 0) &&
          [0, 19].includes(m.type ?? 0) &&
          Date.parse(m.timestamp) - Date.parse(prev.timestamp) < GROUP_MS,
      );
      const editing = m.id === editingId;
      const key = m.id;
      const cached = cache.get(key);
      let node;
      if (cached && cached.m === m && cached.grouped === grouped && cached.editing === editing && cached.me === me) {
        node = cached.node;
      } else {
        node = renderMessage(ctx, m, { grouped, editing, channel });
        if (!editing) setControlsReachable(node, node.contains(document.activeElement));
        cache.set(key, { m, grouped, editing, me, node });
      }
      wanted.push(node);
      prev = m;
    }
    // Drop elements of messages no longer shown.
    const keep = new Set(wanted);
    for (const [key, c] of cache) if (!keep.has(c.node)) cache.delete(key);
    // Put the wanted elements in order, moving as few as possible.
    let cursor = items.firstChild;
    for (const node of wanted) {
      if (node === cursor) {
        cursor = cursor.nextSibling;
      } else {
        items.insertBefore(node, cursor);
      }
    }
    while (cursor) {
      const next = cursor.nextSibling;
      cursor.remove();
      cursor = next;
    }

    top.replaceChildren(topContent(entry, channel));
    notices.replaceChildren(...interactionNotices(ctx, channelId));
    present.hidden = !entry.hasNewer;

    if (stick) scroller.scrollTop = scroller.scrollHeight;
    else if (anchor && anchor.el.isConnected) scroller.scrollTop = anchor.el.offsetTop - anchor.offset;

    if (highlightId) {
      const target = items.querySelector(`[data-message-id="${CSS.escape(highlightId)}"]`);
      if (target) {
        stick = false;
        target.scrollIntoView({ block: 'center' });
        target.classList.add('highlight');
        target.focus({ preventScroll: true });
        clearTimeout(highlightTimer);
        highlightTimer = setTimeout(() => target.classList.remove('highlight'), 2500);
        store.state.ui.highlightId = null;
      }
    }
    // Too few messages to scroll: fetch more now rather than waiting for a scroll.
    if (entry.loaded && entry.hasOlder && !entry.loading && scroller.scrollHeight <= scroller.clientHeight + 10) {
      actions.loadOlder(channelId);
    }
    if (stick && !entry.hasNewer) maybeMarkRead();
    showUnreadBar();
  }

  function topContent(entry, channel) {
    if (entry.loading === 'older' || (!entry.loaded && entry.loading)) return h('div', { class: 'loading', role: 'status', text: 'Loading messages…' });
    if (entry.error && !entry.loaded) return h('div', { class: 'form-error', role: 'alert', text: entry.error });
    if (entry.loaded && !entry.hasOlder) {
      const title = channelTitle(store, channel);
      return h('div', { class: 'channel-start', testid: 'channel-start' },
        h('h2', { text: isThread(channel) ? title : channel?.guild_id ? `Welcome to #${title}` : title }),
        h('p', { class: 'hint', text: 'This is the beginning of the conversation.' }),
      );
    }
    return h('div', { class: 'spacer' });
  }

  function maybeMarkRead() {
    if (document.visibilityState !== 'visible' || !channelId) return;
    // Read as it arrives: no line for it.
    if (!items.querySelector('[data-testid="new-messages-divider"]')) {
      const list = store.state.messages.get(channelId)?.list ?? [];
      readMark = list[list.length - 1]?.id ?? readMark;
    }
    actions.markRead(channelId);
  }

  scroller.addEventListener('scroll', () => {
    if (!channelId) return;
    const entry = store.channelMessages(channelId);
    const fromBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight;
    stick = fromBottom < STICK_PX && !entry.hasNewer;
    if (scroller.scrollTop < LOAD_MARGIN_PX && entry.hasOlder) actions.loadOlder(channelId);
    if (fromBottom < LOAD_MARGIN_PX && entry.hasNewer) actions.loadNewer(channelId);
    if (stick) maybeMarkRead();
    showUnreadBar();
  }, { passive: true });

  // Keyboard: the log is one tab stop; arrows move between messages, and
  // only the focused message's controls are in the tab order.
  scroller.addEventListener('keydown', (e) => {
    if (!['ArrowUp', 'ArrowDown', 'Home', 'End'].includes(e.key)) return;
    if (e.target.closest('textarea, input')) return;
    const all = [...items.querySelectorAll('[data-testid="message"]')];
    if (!all.length) return;
    const current = e.target.closest?.('[data-testid="message"]');
    let i = current ? all.indexOf(current) : e.key === 'ArrowUp' ? all.length : -1;
    if (e.key === 'ArrowUp') i -= 1;
    else if (e.key === 'ArrowDown') i += 1;
    else if (e.key === 'Home') i = 0;
    else i = all.length - 1;
    const next = all[Math.max(0, Math.min(all.length - 1, i))];
    e.preventDefault();
    next.focus({ preventScroll: true });
    next.scrollIntoView({ block: 'nearest' });
  });
  items.addEventListener('focusin', (e) => {
    const article = e.target.closest('[data-testid="message"]');
    if (article) setControlsReachable(article, true);
  });
  items.addEventListener('focusout', (e) => {
    const article = e.target.closest('[data-testid="message"]');
    if (article && !article.contains(e.relatedTarget)) setControlsReachable(article, false);
  });

  // Spoilers reveal on click or Enter/Space.
  const reveal = (e) => {
    const spoiler = e.target.closest?.('.md-spoiler');
    if (!spoiler || (e.type === 'keydown' && e.key !== 'Enter' && e.key !== ' ')) return;
    e.preventDefault();
    spoiler.classList.add('revealed');
    spoiler.removeAttribute('role');
    spoiler.removeAttribute('tabindex');
  };
  scroller.addEventListener('click', reveal);
  scroller.addEventListener('keydown', reveal);

  // Images load after layout: keep the bottom in view if we were there.
  scroller.addEventListener('media-loaded', () => {
    if (stick) scroller.scrollTop = scroller.scrollHeight;
  });
  // A resize (keyboard on phones, window) keeps the reader at the bottom.
  new ResizeObserver(() => {
    if (stick) scroller.scrollTop = scroller.scrollHeight;
  }).observe(scroller);
  document.addEventListener('visibilitychange', () => stick && maybeMarkRead());

  const offs = [
    store.on('messages', (id) => id === channelId && render()),
    store.on('ui', () => render()),
    store.on('interactions', (id) => id === channelId && render()),
    store.on('channels', () => {
      if (channelId && !store.state.messages.get(channelId)?.loaded) render();
    }),
    store.on('members', (g) => {
      if (g && g === store.state.channels.get(channelId)?.guild_id) {
        // Names and colours may have changed.
        cache = new Map();
        render();
      }
    }),
  ];

  return {
    el,
    setChannel,
    /** Newest own message, for editing with the Up key. */
    lastOwnMessage() {
      const entry = store.state.messages.get(channelId);
      const me = store.state.me?.id;
      return [...(entry?.list ?? [])].reverse().find((m) => m.author?.id === me && [0, 19].includes(m.type));
    },
    scrollToBottom() {
      stick = true;
      scroller.scrollTop = scroller.scrollHeight;
    },
    destroy: () => offs.forEach((off) => off()),
  };
}

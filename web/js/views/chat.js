// The middle column: channel header, connection banner, message log,
// typing indicator and composer.

import { h, iconButton } from '../dom.js';
import { displayName } from '../util.js';
import { channelTitle, isThread } from './common.js';
import { mountMessageList } from './messageList.js';
import { mountComposer } from './composer.js';
import { openNotificationSettings } from './notificationSettings.js';
import { openInbox } from './inbox.js';
import { openGroupSettings } from './groupSettings.js';
import { openPins } from './pins.js';
import { mountSearch } from './search.js';
import { mountVideoStage } from './videoStage.js';

export function mountChat(ctx) {
  const { store } = ctx;
  const title = h('h1', { class: 'chat-title truncate', testid: 'channel-title' });
  const topic = h('p', { class: 'chat-topic truncate', testid: 'channel-topic' });
  const threadsButton = iconButton('Threads', 'threads', () => store.setUi({ threadsOpen: !store.state.ui.threadsOpen }), { testid: 'toggle-threads' });
  const notifyButton = iconButton('Notification settings', 'bell', () => {
    const channel = store.state.channels.get(channelId);
    if (channel) openNotificationSettings(ctx, channel.guild_id ?? null, channel.guild_id ? channel.id : null);
  }, { testid: 'channel-notifications' });
  const search = mountSearch(ctx);
  const pinsButton = iconButton('Pinned messages', 'pin', (e) => channelId && openPins(ctx, channelId, e.currentTarget), { testid: 'toggle-pins' });
  const inboxButton = iconButton('Recent mentions', 'inbox', (e) => openInbox(ctx, e.currentTarget), { testid: 'toggle-inbox' });
  const groupButton = iconButton('Group settings', 'gear', () => channelId && openGroupSettings(ctx, channelId), { testid: 'group-settings-button' });
  const membersButton = iconButton('Member list', 'members', () => store.setUi({ membersOpen: !store.state.ui.membersOpen }), { testid: 'toggle-members' });
  const header = h('header', { class: 'chat-header' },
    iconButton('Open navigation', 'menu', () => store.setUi({ sidebarOpen: !store.state.ui.sidebarOpen }), { class: 'nav-toggle', testid: 'toggle-sidebar' }),
    h('div', { class: 'chat-heading' }, title, topic),
    search.el,
    notifyButton,
    pinsButton,
    inboxButton,
    threadsButton,
    groupButton,
    membersButton,
  );
  const banner = h('div', { class: 'connection-banner', role: 'status', testid: 'reconnecting-banner', hidden: true });
  const typing = h('div', { class: 'typing-indicator', testid: 'typing-indicator', 'aria-live': 'polite' });
  const list = mountMessageList(ctx);
  const composer = mountComposer(ctx, { lastOwnMessage: list.lastOwnMessage, scrollToBottom: list.scrollToBottom });
  const empty = h('div', { class: 'chat-empty', testid: 'chat-empty' });
  const main = h('div', { class: 'chat-main' }, list.el, typing, composer.el);
  const stage = mountVideoStage(ctx);
  const el = h('section', { class: 'chat', 'aria-label': 'Conversation' }, header, banner, stage.el, main, empty);

  let channelId = null;
  let typingTimer = null;

  function renderHeader() {
    const channel = store.state.channels.get(channelId);
    title.replaceChildren();
    // Only guild channels and group DMs have a member list.
    membersButton.hidden = !(channel?.guild_id || channel?.type === 3);
    groupButton.hidden = channel?.type !== 3;
    if (!channel) {
      title.textContent = store.state.ui.guildId === '@me' ? 'Direct messages' : '';
      topic.textContent = '';
      threadsButton.hidden = true;
      return;
    }
    if (isThread(channel)) {
      const parent = store.state.channels.get(channel.parent_id);
      if (parent) {
        title.append(
          h('a', {
            href: `/channels/${channel.guild_id}/${parent.id}`,
            class: 'crumb',
            text: `#${parent.name}`,
            onClick(e) {
              e.preventDefault();
              ctx.navigate(`/channels/${channel.guild_id}/${parent.id}`);
            },
          }),
          h('span', { 'aria-hidden': 'true', text: ' › ' }),
        );
      }
      title.append(h('span', { text: channel.name }));
    } else {
      title.textContent = channel.guild_id ? `#${channel.name}` : channelTitle(store, channel);
    }
    topic.textContent = channel.topic ?? '';
    threadsButton.hidden = !channel.guild_id;
    document.title = `${channel.guild_id ? '#' : ''}${channelTitle(store, channel)} · Concord`;
  }

  function renderBanner() {
    const state = store.state.connection;
    const show = state === 'reconnecting' || state === 'connecting';
    banner.hidden = !show;
    banner.dataset.state = state;
    banner.textContent = state === 'connecting' ? 'Connecting…' : 'Connection lost. Reconnecting…';
  }

  function renderTyping() {
    clearTimeout(typingTimer);
    const ids = channelId ? store.typingUsers(channelId) : [];
    const channel = store.state.channels.get(channelId);
    const names = ids.map((id) => displayName(store.state.users.get(id), channel?.guild_id ? store.member(channel.guild_id, id) : null));
    let text = '';
    if (names.length === 1) text = `${names[0]} is typing…`;
    else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
    else if (names.length > 2) text = 'Several people are typing…';
    typing.textContent = text;
    typing.dataset.active = String(names.length > 0);
    // Typing notices expire after 10 s; look again shortly.
    if (names.length) typingTimer = setTimeout(renderTyping, 1000);
  }

  function renderEmpty() {
    const has = Boolean(channelId && store.state.channels.get(channelId));
    main.hidden = !has;
    empty.hidden = has;
    if (!has) {
      const guildId = store.state.ui.guildId;
      empty.replaceChildren(
        h('p', { class: 'hint', text: guildId === '@me' ? 'Pick a conversation, or start one from a member list.' : store.state.guilds.get(guildId) ? 'Pick a channel.' : 'Loading…' }),
      );
    }
  }

  const offs = [
    store.on('channels', () => {
      renderHeader();
      renderEmpty();
    }),
    store.on('connection', renderBanner),
    store.on('typing', (id) => id === channelId && renderTyping()),
    store.on('guilds', renderEmpty),
  ];
  renderBanner();

  return {
    el,
    setChannel(id) {
      channelId = id;
      list.setChannel(id);
      composer.setChannel(id);
      renderHeader();
      renderTyping();
      renderEmpty();
    },
    focusComposer: () => composer.focus(),
    destroy() {
      offs.forEach((off) => off());
      list.destroy();
      composer.destroy();
      stage.destroy();
    },
  };
}

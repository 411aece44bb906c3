// One message as DOM: author, time, markdown content, edited mark, reply
// preview, attachments, reactions and its action toolbar.

import { h, avatar, iconButton, toast } from '../dom.js';
import { parse, toDom, plainText } from '../markdown.js';
import { displayName, formatTimestamp, formatTime, formatFull, sameOriginUrl, formatBytes } from '../util.js';
import { P, has } from '../permissions.js';
import { channelPerms, isThread } from './common.js';
import { showMenu, closeMenu, confirmAction, promptText } from './dialog.js';
import { showMemberCard } from './people.js';
import { COMMON_EMOJI } from '../emoji.js';
import { icon } from '../icons.js';
import { renderComponents } from './components.js';
import { renderPoll } from './poll.js';
import { mayPin } from './pins.js';
import { openEmojiPicker } from './emojiPicker.js';

/** Message flags the client shows. */
const EPHEMERAL = 64;
const LOADING = 128;

const IMAGE_EXT = /\.(png|jpe?g|gif|webp|avif|bmp)$/i;

/** What resolves mentions in this channel's messages. */
export function mentionResolver(store, guildId) {
  const { state } = store;
  const guild = guildId ? state.guilds.get(guildId) : null;
  const me = state.me?.id;
  const myRoles = guild ? store.member(guildId, me)?.roles ?? [] : [];
  return {
    user: (id) => {
      const user = state.users.get(id);
      return user ? displayName(user, guildId ? store.member(guildId, id) : null) : null;
    },
    role: (id) => guild?.roles.get(id)?.name ?? null,
    channel: (id) => state.channels.get(id)?.name ?? null,
    isMe: (node) =>
      (node.kind === 'user' && node.id === me) || node.kind === 'everyone' || (node.kind === 'role' && myRoles.includes(node.id)),
  };
}

function authorColor(store, guildId, userId) {
  const guild = guildId && store.state.guilds.get(guildId);
  if (!guild) return null;
  let best = null;
  for (const id of store.member(guildId, userId)?.roles ?? []) {
    const role = guild.roles.get(id);
    if (role?.color && (!best || role.position > best.position)) best = role;
  }
  return best ? `#${best.color.toString(16).padStart(6, '0')}` : null;
}

const SYSTEM_TEXT = {
  6: (name) => `${name} pinned a message to this channel.`,
  7: (name) => `${name} joined the server.`,
  18: (name, m) => `${name} started a thread: ${m.content}`,
  1: (name, m) => `${name} added ${m.mentions?.[0]?.username ?? 'someone'} to the group.`,
  2: (name, m) => `${name} removed ${m.mentions?.[0]?.username ?? 'someone'} from the group.`,
  4: (name, m) => `${name} changed the group name: ${m.content}`,
  46: (name) => `${name}'s poll has closed.`,
};

/**
 * The element for message `m`. `opts`: grouped (same author as the one
 * above), editing, channel (its channel object).
 */
export function renderMessage(ctx, m, opts) {
  const { store } = ctx;
  const { state } = store;
  const channel = opts.channel;
  const guildId = channel?.guild_id ?? null;
  const member = guildId ? store.member(guildId, m.author?.id) : null;
  const name = displayName(m.author, member);
  const mine = m.author?.id === state.me?.id;
  const mentioned = !mine && !m.pending && store.mentionsMe({ ...m, guild_id: guildId });

  if (SYSTEM_TEXT[m.type]) {
    return h(
      'article',
      { class: 'message system', testid: 'message', 'data-message-id': m.id, 'data-author-id': m.author?.id, tabIndex: -1 },
      h('span', { class: 'system-glyph' }, icon('arrow', 16)),
      h('span', { class: 'system-text', text: SYSTEM_TEXT[m.type](name, m) }),
      h('time', { class: 'message-time', dateTime: m.timestamp, title: formatFull(m.timestamp), text: formatTimestamp(m.timestamp) }),
    );
  }

  const grouped = opts.grouped && !m.message_reference;
  const el = h('article', {
    class: ['message', grouped && 'grouped', mentioned && 'mentioned', m.pending && 'pending', m.failed && 'failed'],
    testid: 'message',
    'data-message-id': m.id,
    'data-author-id': m.author?.id,
    tabIndex: -1,
    'aria-label': `${name}, ${formatTimestamp(m.timestamp)}`,
  });

  if (m.message_reference && m.type === 19) el.appendChild(replyPreview(ctx, m, channel));
  if (m.interaction_metadata) el.appendChild(interactionHeader(ctx, m, guildId));

  const gutter = grouped
    ? h('time', { class: 'gutter-time', dateTime: m.timestamp, title: formatFull(m.timestamp), text: formatTime(m.timestamp) })
    : avatar(m.author, { size: 40 });
  const body = h('div', { class: 'message-body' });
  if (!grouped) {
    const author = h('button', {
      type: 'button',
      class: 'message-author',
      testid: 'message-author',
      text: name,
      onClick: (e) => showMemberCard(ctx, guildId, m.author.id, e.currentTarget),
    });
    const color = authorColor(store, guildId, m.author?.id);
    if (color) author.style.color = color;
    body.appendChild(
      h('header', { class: 'message-header' },
        author,
        m.author?.bot ? h('span', { class: 'bot-tag', text: m.webhook_id ? 'APP' : 'BOT' }) : null,
        m.pinned ? h('span', { class: 'pinned-mark', testid: 'pinned-mark', text: 'Pinned' }) : null,
        h('time', { class: 'message-time', dateTime: m.timestamp, title: formatFull(m.timestamp), testid: 'message-time', text: formatTimestamp(m.timestamp) }),
      ),
    );
  }

  if ((m.flags ?? 0) & LOADING) {
    body.appendChild(h('div', { class: 'message-content thinking', testid: 'thinking', role: 'status', text: `${name} is thinking…` }));
  } else if (opts.editing) {
    body.appendChild(editForm(ctx, m, opts));
  } else if (m.content) {
    const content = h('div', { class: 'message-content', testid: 'message-content' });
    content.appendChild(toDom(parse(m.content), document, mentionResolver(store, guildId)));
    if (m.edited_timestamp) {
      content.appendChild(h('span', { class: 'edited', testid: 'edited-mark', title: formatFull(m.edited_timestamp), text: ' (edited)' }));
    }
    body.appendChild(content);
  }
  if (m.attachments?.length) body.appendChild(attachments(m));
  if (m.poll) body.appendChild(renderPoll(ctx, m));
  if (m.components?.length) body.appendChild(renderComponents(ctx, m));
  if ((m.flags ?? 0) & EPHEMERAL) {
    el.classList.add('ephemeral');
    body.appendChild(
      h('p', { class: 'ephemeral-note hint', testid: 'ephemeral-note' },
        'Only you can see this · ',
        h('button', { type: 'button', class: 'link-button', testid: 'dismiss-ephemeral', onClick: () => ctx.actions.dismissEphemeral(m.channel_id, m.id) }, 'Dismiss message'),
      ),
    );
  }
  if (m.thread && !m.pending) body.appendChild(threadLink(ctx, m.thread));
  if (m.failed) {
    body.appendChild(
      h('div', { class: 'send-failed', role: 'alert' },
        `Not sent: ${m.failed} `,
        h('button', { type: 'button', class: 'link-button', onClick: () => ctx.actions.discardPending(m.channel_id, m.nonce) }, 'Dismiss'),
      ),
    );
  }
  if (m.reactions?.length) body.appendChild(reactions(ctx, m));

  el.append(gutter, body);
  if (!m.pending && !opts.editing && !((m.flags ?? 0) & EPHEMERAL)) {
    el.appendChild(toolbar(ctx, m, channel, mine, name));
    el.addEventListener('contextmenu', (e) => {
      if (e.target.closest('a, textarea, input')) return;
      e.preventDefault();
      openMessageMenu(ctx, m, channel, mine, el, e);
    });
  }
  return el;
}

/** "Someone used /command" above an application's answer. */
function interactionHeader(ctx, m, guildId) {
  const meta = m.interaction_metadata;
  const userId = meta.user?.id ?? meta.user_id;
  const user = meta.user ?? ctx.store.state.users.get(userId);
  const who = displayName(user, guildId ? ctx.store.member(guildId, userId) : null);
  const what = meta.name ?? m.interaction?.name;
  return h('div', { class: 'reply-preview interaction-header', testid: 'interaction-header' },
    h('span', { 'aria-hidden': 'true', text: '↱ ' }),
    h('span', { class: 'reply-author', text: who }),
    h('span', { class: 'hint', text: what ? ` used /${what}` : ' used a command' }),
  );
}

function replyPreview(ctx, m, channel) {
  const ref = m.referenced_message;
  const guildId = channel?.guild_id ?? null;
  if (!ref) {
    return h('div', { class: 'reply-preview deleted', testid: 'reply-preview' }, h('span', { 'aria-hidden': 'true', text: '↱ ' }), 'Original message was deleted');
  }
  const name = displayName(ref.author, guildId ? ctx.store.member(guildId, ref.author?.id) : null);
  const snippet = plainText(parse(ref.content || '')).slice(0, 120) || (ref.attachments?.length ? 'Attachment' : '');
  return h(
    'button',
    {
      type: 'button',
      class: 'reply-preview',
      testid: 'reply-preview',
      onClick: () => ctx.actions.jumpTo(m.channel_id, ref.id),
    },
    h('span', { 'aria-hidden': 'true', text: '↱ ' }),
    h('span', { class: 'visually-hidden', text: 'Reply to ' }),
    h('span', { class: 'reply-author', text: `@${name}` }),
    h('span', { class: 'reply-snippet truncate', text: snippet }),
    h('span', { class: 'visually-hidden', text: '. Jump to the original message' }),
  );
}

function attachments(m) {
  const box = h('div', { class: 'attachments' });
  for (const a of m.attachments) {
    const url = a.url ? sameOriginUrl(a.url, location.origin) : null;
    const isImage = (a.content_type ?? '').startsWith('image/') ? !a.content_type.includes('svg') : IMAGE_EXT.test(a.filename ?? '');
    if (url && isImage) {
      const img = h('img', { src: url, alt: a.filename, loading: 'lazy', testid: 'attachment-image', decoding: 'async' });
      if (a.width && a.height) {
        img.width = Math.min(a.width, 400);
        img.height = Math.round((img.width / a.width) * a.height);
      }
      img.addEventListener('load', () => img.dispatchEvent(new CustomEvent('media-loaded', { bubbles: true })));
      box.appendChild(h('a', { href: url, target: '_blank', rel: 'noopener noreferrer', class: 'attachment-image', 'aria-label': `Open image ${a.filename}` }, img));
    } else {
      box.appendChild(
        h('div', { class: 'attachment-file', testid: 'attachment-file' },
          icon('file', 28),
          url ? h('a', { href: url, download: a.filename, rel: 'noopener noreferrer', text: a.filename }) : h('span', { text: a.filename }),
          h('span', { class: 'hint', text: a.size != null ? formatBytes(a.size) : '' }),
        ),
      );
    }
  }
  return box;
}

function threadLink(ctx, thread) {
  const href = `/channels/${thread.guild_id}/${thread.id}`;
  return h('a', {
    href,
    class: 'thread-link',
    testid: 'thread-link',
    onClick(e) {
      e.preventDefault();
      ctx.navigate(href);
    },
  }, icon('threads', 16), ' ', thread.name, h('span', { class: 'hint', text: ` · ${thread.message_count ?? 0} message${thread.message_count === 1 ? '' : 's'}` }));
}

function emojiLabel(emoji) {
  return emoji.id ? `:${emoji.name}:` : emoji.name;
}

function reactions(ctx, m) {
  const row = h('div', { class: 'reactions', role: 'group', 'aria-label': 'Reactions' });
  for (const r of m.reactions) {
    const label = emojiLabel(r.emoji);
    row.appendChild(
      h('button', {
        type: 'button',
        class: ['reaction', r.me && 'me'],
        testid: 'reaction',
        'data-emoji': r.emoji.name,
        'data-count': String(r.count),
        'aria-pressed': String(Boolean(r.me)),
        'aria-label': `${label} ${r.count} reaction${r.count === 1 ? '' : 's'}${r.me ? ', including yours' : ''}`,
        onClick: () => ctx.actions.toggleReaction(m.channel_id, m, r.emoji).catch((e) => toast(e.message, 'error')),
      }, h('span', { class: 'reaction-emoji', 'aria-hidden': 'true', text: label }), h('span', { class: 'reaction-count', text: String(r.count) })),
    );
  }
  return row;
}

/** The reaction picker: a grid of common emoji, arrow-key navigable. */
export function openReactionPicker(ctx, m, anchor) {
  const grid = h('div', { class: 'emoji-grid', role: 'group', 'aria-label': 'Pick a reaction', testid: 'reaction-picker' });
  for (const [emoji, name] of COMMON_EMOJI) {
    grid.appendChild(
      h('button', {
        type: 'button',
        class: 'emoji-option',
        testid: 'emoji-option',
        'data-emoji': emoji,
        'aria-label': name,
        title: name,
        text: emoji,
        onClick: () => {
          closeMenu();
          const mine = (m.reactions ?? []).some((r) => r.emoji.name === emoji && r.me);
          if (!mine) ctx.api.addReaction(m.channel_id, m.id, emoji).catch((e) => toast(e.message, 'error'));
        },
      }),
    );
  }
  const channel = ctx.store.state.channels.get(m.channel_id);
  const more = h('button', {
    type: 'button',
    class: 'button button-small button-secondary emoji-more',
    testid: 'more-emoji',
    onClick: () => openEmojiPicker(ctx, anchor, {
      guildId: channel?.guild_id ?? null,
      label: 'Pick a reaction',
      onPick: (emoji) => ctx.actions.toggleReaction(m.channel_id, m, emoji).catch((e) => toast(e.message, 'error')),
    }),
  }, 'More emoji…');
  grid.addEventListener('keydown', (e) => {
    const buttons = [...grid.querySelectorAll('button')];
    const i = buttons.indexOf(document.activeElement);
    const step = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
    if (step) {
      buttons[(i + step + buttons.length) % buttons.length].focus();
      e.preventDefault();
      e.stopPropagation();
    }
  });
  showMenu(anchor, h('div', { class: 'reaction-menu-body' }, grid, more), { label: 'Reactions', testid: 'reaction-menu', align: 'end' });
}

/** What one may do with a message; the toolbar and the context menu both list these. */
function messageActions(ctx, m, channel, mine) {
  const { store, actions } = ctx;
  const perms = channelPerms(store, m.channel_id);
  const editable = [0, 19].includes(m.type);
  const list = [];
  if (has(perms, P.ADD_REACTIONS) || (m.reactions ?? []).length) {
    list.push({ label: 'Add reaction', glyph: 'smile', testid: 'add-reaction', run: (anchor) => openReactionPicker(ctx, m, anchor) });
  }
  if (has(perms, P.SEND_MESSAGES) && editable) {
    list.push({ label: 'Reply', glyph: 'reply', testid: 'reply', run: () => {
      store.setUi({ replyTo: m.id });
      document.querySelector('[data-testid="composer-input"]')?.focus();
    } });
  }
  if (channel?.guild_id && !isThread(channel) && channel.type === 0 && !m.thread && has(perms, P.CREATE_PUBLIC_THREADS)) {
    list.push({ label: 'Create thread', glyph: 'threads', testid: 'create-thread', run: async () => {
      const threadName = await promptText({ title: 'Create thread', label: 'Thread name', value: plainText(parse(m.content || '')).slice(0, 80) || 'New thread', confirm: 'Create' });
      if (!threadName) return;
      try {
        const thread = await actions.startThread(m.channel_id, threadName, m.id);
        ctx.navigate(`/channels/${thread.guild_id}/${thread.id}`);
      } catch (e) {
        toast(e.message, 'error');
      }
    } });
  }
  if (mayPin(store, m.channel_id)) {
    list.push({ label: m.pinned ? 'Unpin message' : 'Pin message', glyph: 'pin', testid: m.pinned ? 'unpin' : 'pin', menuOnly: true, run: () =>
      actions.setPinned(m.channel_id, m, !m.pinned).catch((e) => toast(e.message, 'error')) });
  }
  list.push({ label: 'Copy message link', glyph: 'file', testid: 'copy-link', menuOnly: true, run: () =>
    copy(`${location.origin}/channels/${channel?.guild_id ?? '@me'}/${m.channel_id}/${m.id}`, 'Link copied.') });
  if (m.content) list.push({ label: 'Copy text', glyph: 'file', testid: 'copy-text', menuOnly: true, run: () => copy(m.content, 'Text copied.') });
  if (mine && editable) list.push({ label: 'Edit', glyph: 'edit', testid: 'edit', run: () => store.setUi({ editingId: m.id }) });
  if (mine || has(perms, P.MANAGE_MESSAGES)) {
    list.push({ label: 'Delete', glyph: 'trash', testid: 'delete', danger: true, run: async (_anchor, e) => {
      if (!e?.shiftKey && !(await confirmAction({ title: 'Delete message', text: 'This cannot be undone.', confirm: 'Delete' }))) return;
      actions.remove(m.channel_id, m.id).catch((err) => toast(err.message, 'error'));
    } });
  }
  return list;
}

function copy(text, done) {
  navigator.clipboard?.writeText(text).then(() => toast(done), () => toast('Cannot copy here.', 'error'));
}

function toolbar(ctx, m, channel, mine, name) {
  const bar = h('div', { class: 'message-toolbar', role: 'toolbar', 'aria-label': `Actions for message by ${name}` });
  for (const action of messageActions(ctx, m, channel, mine)) {
    if (action.menuOnly) continue;
    bar.appendChild(iconButton(action.label, action.glyph, (e) => action.run(e.currentTarget, e), { testid: action.testid }));
  }
  return bar;
}

/** The message's context menu (right click, or the menu key), at the pointer. */
function openMessageMenu(ctx, m, channel, mine, article, e) {
  const x = e.clientX || article.getBoundingClientRect().left + 40;
  const y = e.clientY || article.getBoundingClientRect().top + 20;
  const anchor = {
    getBoundingClientRect: () => new DOMRect(x, y, 0, 0),
    contains: () => false,
    focus: () => article.focus(),
  };
  const items = messageActions(ctx, m, channel, mine).map((action) => ({
    label: action.label,
    testid: `menu-${action.testid}`,
    danger: action.danger,
    onSelect: () => action.run(article, null),
  }));
  showMenu(anchor, items, { label: 'Message actions', testid: 'message-menu' });
}

function editForm(ctx, m, opts) {
  const input = h('textarea', { class: 'edit-input', testid: 'edit-input', 'aria-label': 'Edit message', rows: 1, value: m.content ?? '' });
  const done = () => {
    ctx.store.setUi({ editingId: null });
    document.querySelector('[data-testid="composer-input"]')?.focus();
  };
  const save = async () => {
    const content = input.value.trim();
    if (content === m.content) return done();
    try {
      if (!content) {
        if (await confirmAction({ title: 'Delete message', text: 'An empty message is deleted.', confirm: 'Delete' })) await ctx.actions.remove(m.channel_id, m.id);
      } else {
        await ctx.actions.edit(m.channel_id, m.id, content);
      }
      done();
    } catch (e) {
      toast(e.message, 'error');
    }
  };
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      save();
    } else if (e.key === 'Escape') {
      e.preventDefault();
      done();
    }
  });
  requestAnimationFrame(() => {
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
    autosize(input);
  });
  input.addEventListener('input', () => autosize(input));
  return h('div', { class: 'edit-box' }, input, h('p', { class: 'hint', text: 'Enter to save · Escape to cancel · Shift+Enter for a new line' }));
}

export function autosize(textarea) {
  textarea.style.height = 'auto';
  textarea.style.height = `${Math.min(textarea.scrollHeight, 240)}px`;
}

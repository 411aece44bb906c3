// The threads panel: the active threads of the open channel (or of the
// thread's parent), a button to start one, and links to open them.

import { h, iconButton, toast } from '../dom.js';
import { compareIds, formatTimestamp, snowflakeTime } from '../util.js';
import { P, has } from '../permissions.js';
import { redraw, channelPerms, isThread } from './common.js';
import { promptText } from './dialog.js';

const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function mountThreadsPanel(ctx) {
  const { store, actions } = ctx;
  const body = h('div', { class: 'threads-body' });
  const el = h('aside', { class: 'threads-panel', 'aria-label': 'Threads', testid: 'threads-panel' },
    h('header', { class: 'panel-header' },
      h('h2', { text: 'Threads' }),
      iconButton('Close threads', 'close', () => store.setUi({ threadsOpen: false }), { testid: 'close-threads' }),
    ),
    body,
  );
  let loadedFor = null;

  function parentId() {
    const c = store.state.channels.get(store.state.ui.channelId);
    if (!c?.guild_id) return null;
    return isThread(c) ? c.parent_id : c.id;
  }

  function render() {
    const { threadsOpen, guildId } = store.state.ui;
    el.hidden = !threadsOpen;
    if (!threadsOpen) return;
    if (guildId && guildId !== '@me' && loadedFor !== guildId) {
      loadedFor = guildId;
      actions.loadActiveThreads(guildId).catch(() => {});
    }
    redraw(body, build);
  }

  function build() {
    const parent = store.state.channels.get(parentId());
    if (!parent) return h('p', { class: 'hint pad', text: 'Threads live in server text channels.' });
    const canCreate = has(channelPerms(store, parent.id), P.CREATE_PUBLIC_THREADS);
    const threads = [...store.state.channels.values()]
      .filter((t) => isThread(t) && t.parent_id === parent.id && !t.thread_metadata?.archived)
      .sort((a, b) => compareIds(b.last_message_id ?? b.id, a.last_message_id ?? a.id));
    return [
      canCreate
        ? h('button', {
            type: 'button',
            class: 'button button-wide',
            testid: 'new-thread',
            'data-key': 'new-thread',
            async onClick() {
              const name = await promptText({ title: `New thread in #${parent.name}`, label: 'Thread name', confirm: 'Create', testid: 'new-thread-dialog' });
              if (!name) return;
              try {
                const thread = await actions.startThread(parent.id, name);
                ctx.navigate(`/channels/${thread.guild_id}/${thread.id}`);
              } catch (e) {
                toast(e.message, 'error');
              }
            },
          }, 'New thread')
        : null,
      threads.length
        ? h('ul', { class: 'thread-items' }, threads.map(threadItem))
        : h('p', { class: 'hint pad', text: `No active threads in #${parent.name}.` }),
    ];
  }

  function threadItem(t) {
    const href = `/channels/${t.guild_id}/${t.id}`;
    const active = store.state.ui.channelId === t.id;
    const last = t.last_message_id ?? t.id;
    return h('li', {},
      h('a', {
        href,
        class: ['thread-item', active && 'active', store.isUnread(t.id) && 'unread'],
        testid: 'thread-item',
        'data-channel-id': t.id,
        'data-key': t.id,
        'aria-current': active ? 'page' : undefined,
        onClick(e) {
          e.preventDefault();
          ctx.navigate(href);
        },
      },
      h('span', { class: 'thread-name truncate', text: t.name }),
      h('span', { class: 'hint', text: `${plural(t.message_count ?? 0, 'message')} · ${formatTimestamp(new Date(snowflakeTime(last)).toISOString())}` }),
      ),
    );
  }

  const offs = [store.on('ui', render), store.on('channels', render), store.on('readstate', render)];
  render();
  return { el, destroy: () => offs.forEach((off) => off()) };
}

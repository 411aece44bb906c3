// The message composer: Enter sends, Shift+Enter breaks the line, Up
// edits the last own message, Escape cancels a reply; files with image
// previews; typing notices to others; `/` lists the channel's commands
// and a picked one becomes a form (`slashCommands`); a poll is composed
// in a dialog (`poll`).

import { h, toast, iconButton } from '../dom.js';
import { displayName, formatBytes } from '../util.js';
import { P, has } from '../permissions.js';
import { channelPerms, channelTitle } from './common.js';
import { autosize } from './message.js';
import { icon } from '../icons.js';
import { mountCommandPicker, commandForm } from './slashCommands.js';
import { openPollComposer } from './poll.js';
import { mountMentionPicker } from './mentionPicker.js';
import { openEmojiPicker } from './emojiPicker.js';

const MAX_FILES = 10;

export function mountComposer(ctx, { lastOwnMessage, scrollToBottom }) {
  const { store, actions } = ctx;
  let channelId = null;
  let files = [];
  const drafts = new Map();

  const replyBar = h('div', { class: 'reply-bar', hidden: true, testid: 'reply-bar' });
  const previews = h('ul', { class: 'upload-previews', hidden: true, 'aria-label': 'Files to send', testid: 'upload-previews' });
  const fileInput = h('input', {
    type: 'file',
    multiple: true,
    class: 'visually-hidden',
    tabIndex: -1,
    testid: 'upload-input',
    'aria-label': 'Upload files',
    onChange: () => {
      addFiles([...fileInput.files]);
      fileInput.value = '';
    },
  });
  const attach = iconButton('Attach files', 'plus', () => fileInput.click(), { class: 'attach-button', testid: 'attach-button' });
  const input = h('textarea', {
    class: 'composer-input',
    rows: 1,
    testid: 'composer-input',
    maxLength: 2000,
    onKeydown,
    onInput() {
      autosize(input);
      picker.update();
      mentions.update();
      if (input.value.trim() && !input.value.startsWith('/') && channelId) actions.typing(channelId);
    },
    onPaste(e) {
      const pasted = [...(e.clipboardData?.files ?? [])];
      if (pasted.length) {
        e.preventDefault();
        addFiles(pasted);
      }
    },
  });
  const emojiButton = iconButton('Emoji', 'smile', () => channelId && openEmojiPicker(ctx, emojiButton, {
    guildId: store.state.channels.get(channelId)?.guild_id ?? null,
    onPick(emoji) {
      const at = input.selectionStart ?? input.value.length;
      input.setRangeText(emoji.text, at, input.selectionEnd ?? at, 'end');
      input.focus();
      autosize(input);
    },
  }), { class: 'attach-button', testid: 'emoji-button' });
  const pollButton = iconButton('Create a poll', 'poll', () => channelId && openPollComposer(ctx, channelId), { class: 'attach-button', testid: 'poll-button' });
  const send = h('button', { type: 'submit', class: 'send-button', testid: 'send-button', 'aria-label': 'Send message', title: 'Send' }, icon('send'));
  const picker = mountCommandPicker(ctx, { input, channelId: () => channelId, onPick: openCommand });
  const mentions = mountMentionPicker(ctx, { input, channelId: () => channelId, onChange: () => autosize(input) });
  const row = h('div', { class: 'composer-row' }, attach, fileInput, input, emojiButton, pollButton, send);
  let command = null;
  const form = h('form', { class: 'composer', testid: 'composer', onSubmit: (e) => { e.preventDefault(); submit(); } },
    replyBar,
    previews,
    picker.el,
    mentions.el,
    row,
  );

  /** A picked command: its form takes the input's place until sent or cancelled. */
  function openCommand(entry) {
    closeCommand();
    command = commandForm(ctx, { channelId, entry, onDone: () => {
      closeCommand();
      input.value = '';
      autosize(input);
      input.focus();
    } });
    row.hidden = true;
    form.parentNode.insertBefore(command.el, form);
    command.focus();
  }

  function closeCommand() {
    command?.el.remove();
    command = null;
    row.hidden = false;
  }
  form.addEventListener('dragover', (e) => e.preventDefault());
  form.addEventListener('drop', (e) => {
    e.preventDefault();
    addFiles([...(e.dataTransfer?.files ?? [])]);
  });

  function onKeydown(e) {
    if (picker.handleKey(e) || mentions.handleKey(e)) return;
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    } else if (e.key === 'ArrowUp' && !input.value && !files.length) {
      const last = lastOwnMessage();
      if (last) {
        e.preventDefault();
        store.setUi({ editingId: last.id });
      }
    } else if (e.key === 'Escape') {
      if (store.state.ui.replyTo) store.setUi({ replyTo: null });
      else if (files.length) setFiles([]);
    }
  }

  function addFiles(list) {
    setFiles([...files, ...list].slice(0, MAX_FILES));
    input.focus();
  }

  function setFiles(list) {
    for (const f of files) if (f.previewUrl && !list.includes(f)) URL.revokeObjectURL(f.previewUrl);
    files = list;
    for (const f of files) if (!f.previewUrl && f.type.startsWith('image/') && !f.type.includes('svg')) f.previewUrl = URL.createObjectURL(f);
    previews.hidden = !files.length;
    previews.replaceChildren(
      ...files.map((f, i) =>
        h('li', { class: 'upload-preview', testid: 'upload-preview' },
          f.previewUrl ? h('img', { src: f.previewUrl, alt: '', testid: 'upload-preview-image' }) : icon('file', 32),
          h('span', { class: 'truncate', text: f.name }),
          h('span', { class: 'hint', text: formatBytes(f.size) }),
          iconButton(`Remove ${f.name}`, 'close', () => setFiles(files.filter((_, j) => j !== i))),
        ),
      ),
    );
  }

  async function submit() {
    if (!channelId) return;
    const content = input.value.trim();
    if (!content && !files.length) return;
    if (content.length > 2000) {
      toast('Messages can be at most 2000 characters.', 'error');
      return;
    }
    const sending = files;
    const replyTo = store.state.ui.replyTo;
    input.value = '';
    autosize(input);
    drafts.delete(channelId);
    setFiles([]);
    if (replyTo) store.setUi({ replyTo: null });
    scrollToBottom();
    try {
      await actions.send(channelId, content, { files: sending, replyTo });
    } catch (e) {
      toast(e.message, 'error');
    }
  }

  function renderReplyBar() {
    const replyTo = store.state.ui.replyTo;
    const m = replyTo && store.state.messages.get(channelId)?.list.find((x) => x.id === replyTo);
    replyBar.hidden = !m;
    if (!m) return replyBar.replaceChildren();
    const channel = store.state.channels.get(channelId);
    const name = displayName(m.author, channel?.guild_id ? store.member(channel.guild_id, m.author.id) : null);
    replyBar.replaceChildren(
      h('span', {}, 'Replying to ', h('strong', { text: name })),
      iconButton('Cancel reply', 'close', () => {
        store.setUi({ replyTo: null });
        input.focus();
      }, { testid: 'cancel-reply' }),
    );
  }

  function renderPermissions() {
    const channel = store.state.channels.get(channelId);
    const perms = channelPerms(store, channelId);
    const canSend = has(perms, P.SEND_MESSAGES) && !(channel?.thread_metadata?.locked);
    const archived = channel?.thread_metadata?.archived;
    input.disabled = !canSend;
    send.disabled = !canSend;
    attach.disabled = !canSend || !has(perms, P.ATTACH_FILES);
    pollButton.disabled = !canSend;
    emojiButton.disabled = !canSend;
    const title = channelTitle(store, channel);
    const label = channel?.guild_id ? `Message #${title}` : `Message ${title}`;
    input.setAttribute('aria-label', label);
    input.placeholder = canSend ? (archived ? `${label} (sending reopens the thread)` : label) : 'You cannot send messages here.';
  }

  const offs = [
    store.on('ui', renderReplyBar),
    store.on('channels', renderPermissions),
    store.on('guilds', renderPermissions),
    store.on('members', renderPermissions),
  ];

  return {
    el: form,
    focus: () => input.focus(),
    setChannel(id) {
      if (channelId) drafts.set(channelId, input.value);
      channelId = id;
      picker.reset();
      mentions.close();
      closeCommand();
      input.value = drafts.get(id) ?? '';
      autosize(input);
      setFiles([]);
      renderPermissions();
      renderReplyBar();
    },
    destroy: () => offs.forEach((off) => off()),
  };
}

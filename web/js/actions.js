// What the user can do: each action calls the HTTP API and records the
// answer in the store (the gateway's echo of the same change is applied
// idempotently). Views call these and never talk to the API themselves.

import { compareIds, makeNonce, upsertSorted } from './util.js';
import { INTERACTION, buildCommandData, commandEntries, entryName, interactionNonce } from './commands.js';

const PAGE = 50;
const ACK_DELAY_MS = 400;
const TYPING_EVERY_MS = 8000;
// How long the `/` list of a channel is reused before it is asked again.
const COMMANDS_FRESH_MS = 30_000;
const AUTOCOMPLETE_WAIT_MS = 5000;

export function createActions({ api, store, getGateway }) {
  const { state } = store;
  // One pending ack per channel: leaving a channel must not cancel its ack.
  const ackTimers = new Map();
  let lastTyping = { channelId: null, at: 0 };

  // ---- history ----

  async function loadLatest(channelId) {
    const entry = store.channelMessages(channelId);
    if (entry.loading) return;
    entry.loading = 'latest';
    try {
      const page = await api.messages(channelId, { limit: PAGE });
      page.reverse().forEach(noteMessage);
      // Messages that arrived while the page was on its way.
      for (const m of entry.early) upsertSorted(page, m);
      entry.early = [];
      entry.list = page;
      entry.loaded = true;
      entry.hasOlder = page.length === PAGE;
      entry.hasNewer = false;
    } catch (e) {
      entry.error = e.message;
    } finally {
      entry.loading = null;
      store.emit('messages', channelId);
    }
  }

  async function loadOlder(channelId) {
    const entry = store.channelMessages(channelId);
    if (entry.loading || !entry.hasOlder || !entry.list.length) return;
    entry.loading = 'older';
    store.emit('messages', channelId);
    try {
      const page = await api.messages(channelId, { before: entry.list[0].id, limit: PAGE });
      page.reverse().forEach(noteMessage);
      entry.list = dedupe([...page, ...entry.list]);
      entry.hasOlder = page.length === PAGE;
    } catch (e) {
      entry.error = e.message;
    } finally {
      entry.loading = null;
      store.emit('messages', channelId);
    }
  }

  async function loadNewer(channelId) {
    const entry = store.channelMessages(channelId);
    if (entry.loading || !entry.hasNewer || !entry.list.length) return;
    entry.loading = 'newer';
    store.emit('messages', channelId);
    try {
      // `after` returns the oldest page after the id, newest first.
      const page = await api.messages(channelId, { after: entry.list[entry.list.length - 1].id, limit: PAGE });
      page.reverse().forEach(noteMessage);
      entry.list = dedupe([...entry.list, ...page]);
      entry.hasNewer = page.length === PAGE;
    } catch (e) {
      entry.error = e.message;
    } finally {
      entry.loading = null;
      store.emit('messages', channelId);
    }
  }

  /** Shows `messageId` in context: from memory, else the page around it. */
  async function jumpTo(channelId, messageId) {
    const entry = store.channelMessages(channelId);
    if (!entry.list.some((m) => m.id === messageId)) {
      entry.loading = 'around';
      try {
        const page = await api.messages(channelId, { around: messageId, limit: PAGE });
        page.reverse().forEach(noteMessage);
        entry.list = page;
        entry.loaded = true;
        entry.hasOlder = true;
        entry.hasNewer = page.length > 0 && compareIds(page[page.length - 1].id, store.state.channels.get(channelId)?.last_message_id) < 0;
      } catch (e) {
        entry.error = e.message;
      } finally {
        entry.loading = null;
      }
    }
    store.setUi({ highlightId: messageId });
    store.emit('messages', channelId);
  }

  /** Back to the newest messages after a jump into history. */
  async function jumpToPresent(channelId) {
    const entry = store.channelMessages(channelId);
    entry.loaded = false;
    entry.list = [];
    await loadLatest(channelId);
  }

  function noteMessage(m) {
    if (m.author) store.putUser(m.author);
    for (const u of m.mentions ?? []) store.putUser(u);
    if (m.referenced_message?.author) store.putUser(m.referenced_message.author);
  }

  function dedupe(list) {
    const seen = new Set();
    return list.filter((m) => !seen.has(m.id) && seen.add(m.id));
  }

  // ---- sending ----

  async function send(channelId, content, { files = [], replyTo = null } = {}) {
    const entry = store.channelMessages(channelId);
    const nonce = makeNonce();
    const body = { content, nonce };
    if (replyTo) {
      body.message_reference = { message_id: replyTo, fail_if_not_exists: false };
      body.allowed_mentions = { parse: ['users', 'roles', 'everyone'], replied_user: true };
    }
    // A pending copy shows at once; the real one replaces it by nonce.
    const pending = {
      id: `pending-${nonce}`,
      nonce,
      channel_id: channelId,
      author: state.me,
      content,
      timestamp: new Date().toISOString(),
      attachments: files.map((f) => ({ filename: f.name, size: f.size })),
      pending: true,
    };
    entry.pending = [...entry.pending, pending];
    store.emit('messages', channelId);
    lastTyping = { channelId: null, at: 0 };
    try {
      const message = await api.sendMessage(channelId, body, files);
      entry.pending = entry.pending.filter((p) => p.nonce !== nonce);
      store.messageCreate(message);
      markRead(channelId);
      return message;
    } catch (e) {
      entry.pending = entry.pending.map((p) => (p.nonce === nonce ? { ...p, failed: e.message } : p));
      store.emit('messages', channelId);
      throw e;
    }
  }

  function discardPending(channelId, nonce) {
    const entry = store.channelMessages(channelId);
    entry.pending = entry.pending.filter((p) => p.nonce !== nonce);
    store.emit('messages', channelId);
  }

  async function edit(channelId, messageId, content) {
    const message = await api.editMessage(channelId, messageId, content);
    store.messageUpdate(message);
    return message;
  }

  async function remove(channelId, messageId) {
    await api.deleteMessage(channelId, messageId);
    store.messageDelete(channelId, [messageId]);
  }

  /** Adds or removes our reaction; `emoji` is `{id, name}` (id null for unicode). */
  async function toggleReaction(channelId, message, emoji) {
    const same = (r) => (emoji.id ? r.emoji.id === emoji.id : !r.emoji.id && r.emoji.name === emoji.name);
    const mine = (message.reactions ?? []).find(same)?.me;
    // The route names a custom emoji as name:id, a unicode one by itself.
    const key = emoji.id ? `${emoji.name}:${emoji.id}` : emoji.name;
    if (mine) await api.removeReaction(channelId, message.id, key);
    else await api.addReaction(channelId, message.id, key);
  }

  /** Tells others the user is typing, at most every 8 s per channel. */
  function typing(channelId) {
    const now = Date.now();
    if (lastTyping.channelId === channelId && now - lastTyping.at < TYPING_EVERY_MS) return;
    lastTyping = { channelId, at: now };
    api.typing(channelId).catch(() => {});
  }

  /**
   * Marks the channel read up to its newest message: at once here, and for
   * the server shortly after (a burst of messages gives one ack). Own
   * messages count too: the server does not move read states when we send.
   */
  function markRead(channelId) {
    const target = newestId(channelId);
    if (!target) return;
    if (store.isUnread(channelId) || store.mentionCount(channelId)) store.setReadState(channelId, target, 0);
    if (compareIds(state.serverRead.get(channelId), target) >= 0) return;
    const pending = ackTimers.get(channelId);
    if (pending) {
      // Seen since the ack was scheduled: it will cover this too.
      if (compareIds(pending.target, target) < 0) pending.target = target;
      return;
    }
    const entry = { target };
    entry.timer = setTimeout(() => {
      ackTimers.delete(channelId);
      // Gone meanwhile (left, kicked, deleted): nothing to tell the server.
      if (!state.channels.has(channelId)) return;
      if (compareIds(state.serverRead.get(channelId), entry.target) >= 0) return;
      store.noteAcked(channelId, entry.target);
      api.ack(channelId, entry.target).catch(() => {});
    }, ACK_DELAY_MS);
    ackTimers.set(channelId, entry);
  }

  function newestId(channelId) {
    const channel = state.channels.get(channelId);
    const entry = state.messages.get(channelId);
    const loaded = entry?.list[entry.list.length - 1]?.id;
    return [channel?.last_message_id, loaded].filter(Boolean).sort(compareIds).pop() ?? null;
  }

  // ---- guilds, channels, invites ----

  async function createGuild(name) {
    const guild = await api.createGuild(name);
    store.guildCreate(guild);
    return guild;
  }

  async function acceptInvite(code) {
    const invite = await api.acceptInvite(code);
    return invite;
  }

  async function leaveGuild(guildId) {
    await api.leaveGuild(guildId);
    store.guildRemove(guildId);
  }

  async function createChannel(guildId, name, type = 0, parentId = null) {
    const body = { name, type };
    if (parentId) body.parent_id = parentId;
    return store.putChannel(await api.createChannel(guildId, body));
  }

  async function patchChannel(channelId, body) {
    return store.putChannel(await api.patchChannel(channelId, body));
  }

  async function deleteChannel(channelId) {
    const c = state.channels.get(channelId);
    await api.deleteChannel(channelId);
    store.applyDispatch('CHANNEL_DELETE', { id: channelId, guild_id: c?.guild_id });
  }

  async function createInvite(channelId, options = {}) {
    const invite = await api.createInvite(channelId, options);
    store.putInvite(invite);
    return invite;
  }

  async function startThread(channelId, name, fromMessageId = null) {
    const thread = fromMessageId
      ? await api.startThreadFromMessage(channelId, fromMessageId, name)
      : await api.startThread(channelId, name);
    return store.putChannel(thread);
  }

  async function loadActiveThreads(guildId) {
    const { threads = [] } = await api.activeThreads(guildId);
    for (const t of threads) store.putChannel({ ...t, guild_id: guildId });
    return threads;
  }

  async function openDm(userId) {
    return store.putChannel(await api.openDm(userId));
  }

  async function openGroupDm(userIds) {
    return store.putChannel(await api.openGroupDm(userIds));
  }

  /** A private channel first seen in a message: fetch it so it can be listed. */
  async function learnChannel(channelId) {
    if (state.channels.has(channelId)) return;
    try {
      store.putChannel(await api.channel(channelId));
    } catch {
      // Not visible to us after all.
    }
  }

  function setStatus(status) {
    localStorage.setItem('concord.status', status);
    getGateway()?.setStatus(status);
    state.selfStatus = status;
    if (state.me) store.emit('presence', state.me.id);
    store.emit('me');
  }

  // ---- applications: commands, components, modals ----

  const commandCache = new Map();

  /** The command entries usable in a channel (cached briefly). */
  async function loadCommands(channelId) {
    const cached = commandCache.get(channelId);
    if (cached && Date.now() - cached.at < COMMANDS_FRESH_MS) return cached.entries;
    const index = await api.commandIndex(channelId);
    const entries = commandEntries(index.application_commands ?? [], index.applications ?? []);
    commandCache.set(channelId, { at: Date.now(), entries });
    return entries;
  }

  /** The fields every interaction a person sends carries. */
  function interactionBody(type, channelId, applicationId, data, extra = {}) {
    const channel = state.channels.get(channelId);
    const body = {
      type,
      application_id: applicationId,
      channel_id: channelId,
      session_id: getGateway()?.sessionId ?? null,
      nonce: interactionNonce(),
      data,
      ...extra,
    };
    if (channel?.guild_id) body.guild_id = channel.guild_id;
    return body;
  }

  /** Sends an interaction and follows it in the store until it is answered. */
  async function interact(body, { name = null, messageId = null } = {}) {
    store.interactionStart({ nonce: body.nonce, kind: body.type, channelId: body.channel_id, messageId, name });
    try {
      await api.interact(body);
    } catch (e) {
      store.interactionUpdate(body.nonce, { status: 'failed', reason: e.message });
      throw e;
    }
  }

  /** Invokes a command entry with the field texts; `{errors}` if a field is wrong. */
  async function invokeCommand(channelId, entry, values) {
    const built = buildCommandData(entry, values);
    if (built.errors) return built;
    const body = interactionBody(INTERACTION.COMMAND, channelId, entry.command.application_id, built.data);
    await interact(body, { name: entryName(entry) });
    return {};
  }

  /** The application's choices for the option being typed. */
  async function autocomplete(channelId, entry, values, focused) {
    const { data } = buildCommandData(entry, values, { focused });
    const body = interactionBody(INTERACTION.AUTOCOMPLETE, channelId, entry.command.application_id, data);
    const answer = new Promise((resolve) => {
      const timer = setTimeout(() => done([]), AUTOCOMPLETE_WAIT_MS);
      const off = store.on('autocomplete', (a) => a.nonce === body.nonce && done(a.choices));
      function done(choices) {
        clearTimeout(timer);
        off();
        resolve(choices);
      }
    });
    await api.interact(body);
    return answer;
  }

  /** A button clicked or a select chosen on an application's message. */
  async function useComponent(message, component, values = null) {
    const data = { custom_id: component.custom_id, component_type: component.type };
    if (values) data.values = values;
    const applicationId = message.application_id ?? message.author?.id;
    const body = interactionBody(INTERACTION.COMPONENT, message.channel_id, applicationId, data, { message_id: message.id, message_flags: message.flags ?? 0 });
    await interact(body, { messageId: message.id });
  }

  /** Submits the open modal with its text inputs' values (by custom_id). */
  async function submitModal(modal, values) {
    const components = (modal.components ?? []).map((row) => ({
      type: 1,
      components: (row.components ?? []).map((input) => ({ type: input.type, custom_id: input.custom_id, value: values[input.custom_id] ?? '' })),
    }));
    const body = interactionBody(INTERACTION.MODAL_SUBMIT, modal.channel_id, modal.application?.id, { custom_id: modal.custom_id, components });
    store.closeModal();
    await interact(body, { name: modal.title });
  }

  /** Forgets a failed interaction's notice. */
  function dismissInteraction(nonce) {
    store.interactionDone(nonce);
  }

  /** An ephemeral message is ours alone: dismissing it removes it here. */
  function dismissEphemeral(channelId, messageId) {
    store.messageDelete(channelId, [messageId]);
  }

  // ---- pins ----

  /** The channel's pinned messages, newest pin first. */
  async function loadPins(channelId) {
    const { items = [] } = await api.pins(channelId);
    for (const { message } of items) noteMessage(message);
    return items.map((i) => i.message);
  }

  /** The recent mentions of me, newest first, as Discord's client asks. */
  async function loadMentions() {
    const mentions = await api.mentions({ limit: 25, roles: true, everyone: true });
    mentions.forEach(noteMessage);
    return mentions;
  }

  const dismissMention = (messageId) => api.dismissMention(messageId);

  /** Pins or unpins; the message shows it at once (MESSAGE_UPDATE follows). */
  async function setPinned(channelId, message, pinned) {
    if (pinned) await api.pin(channelId, message.id);
    else await api.unpin(channelId, message.id);
    store.messageUpdate({ id: message.id, channel_id: channelId, pinned });
  }

  // ---- polls ----

  /** Replaces our votes on a poll (none removes them). */
  async function votePoll(channelId, messageId, answerIds) {
    await api.votePoll(channelId, messageId, answerIds.map(String));
  }

  async function endPoll(channelId, messageId) {
    store.messageUpdate(await api.expirePoll(channelId, messageId));
  }

  /** Sends a message carrying a poll. */
  async function createPoll(channelId, { question, answers, hours, multiselect }) {
    const poll = {
      question: { text: question },
      answers: answers.map((text) => ({ poll_media: { text } })),
      duration: hours,
      allow_multiselect: multiselect,
      layout_type: 1,
    };
    const message = await api.sendMessage(channelId, { poll, nonce: makeNonce() });
    store.messageCreate(message);
    return message;
  }

  // ---- notification settings ----

  async function patchGuildSettings(guildId, body) {
    store.putGuildSettings(await api.patchGuildSettings(guildId, body));
  }

  /** Drops scheduled work (acks) when the session ends. */
  function cancelPending() {
    for (const { timer } of ackTimers.values()) clearTimeout(timer);
    ackTimers.clear();
    commandCache.clear();
    lastTyping = { channelId: null, at: 0 };
  }

  return {
    cancelPending,
    loadLatest,
    loadOlder,
    loadNewer,
    jumpTo,
    loadMentions,
    dismissMention,
    jumpToPresent,
    send,
    discardPending,
    edit,
    remove,
    toggleReaction,
    typing,
    markRead,
    createGuild,
    acceptInvite,
    leaveGuild,
    createChannel,
    patchChannel,
    deleteChannel,
    createInvite,
    startThread,
    loadActiveThreads,
    openDm,
    openGroupDm,
    learnChannel,
    setStatus,
    loadCommands,
    invokeCommand,
    autocomplete,
    useComponent,
    submitModal,
    dismissInteraction,
    dismissEphemeral,
    loadPins,
    setPinned,
    votePoll,
    endPoll,
    createPoll,
    patchGuildSettings,
  };
}

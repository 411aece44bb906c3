// The client's state: plain objects and Maps, changed only by the
// functions here (gateway dispatches through `applyDispatch`, HTTP results
// through the named mutators), each of which notifies the topics it
// touched. Views subscribe to topics and read what they need.
//
// Topics: 'me', 'connection', 'guilds', 'channels' (arg: guild id or
// '@me'), 'members' (guild id), 'presence' (user id), 'messages'
// (channel id), 'readstate' (channel id), 'typing' (channel id),
// 'invites' (guild id), 'ui', 'interactions' (channel id), 'modal',
// 'autocomplete' (nonce), 'settings' (guild id or '@me').
//
// Messages are never mutated in place: a change replaces the object, so a
// view can tell what to redraw by identity.

import { compareIds, upsertSorted } from './util.js';

const TYPING_MS = 10_000;
const THREAD_TYPES = new Set([10, 11, 12]);

export function createStore() {
  const listeners = new Map();
  const state = {
    me: null,
    connection: 'idle',
    guilds: new Map(),
    guildOrder: [],
    channels: new Map(),
    members: new Map(),
    users: new Map(),
    presences: new Map(),
    messages: new Map(),
    readStates: new Map(),
    // How far the server knows we read (acks), which own messages do not move.
    serverRead: new Map(),
    typing: new Map(),
    invites: new Map(),
    // Interactions this person started, by nonce: {nonce, id, kind,
    // channelId, messageId, name, status: sending|pending|failed, reason}.
    interactions: new Map(),
    // The modal an application opened for us, until submitted or closed.
    modal: null,
    // Notification settings by guild id ('@me' for DMs), as READY and
    // USER_GUILD_SETTINGS_UPDATE give them.
    guildSettings: new Map(),
    selfStatus: null,
    ui: {
      guildId: null,
      channelId: null,
      replyTo: null,
      editingId: null,
      highlightId: null,
      sidebarOpen: false,
      membersOpen: true,
      threadsOpen: false,
    },
  };

  function on(topic, fn) {
    if (!listeners.has(topic)) listeners.set(topic, new Set());
    listeners.get(topic).add(fn);
    return () => listeners.get(topic)?.delete(fn);
  }

  function emit(topic, arg) {
    for (const fn of [...(listeners.get(topic) ?? [])]) {
      try {
        fn(arg);
      } catch (e) {
        console.error(`listener of ${topic} failed`, e);
      }
    }
  }

  // ---- users, members, presences ----

  function putUser(user) {
    if (!user?.id) return;
    const old = state.users.get(user.id);
    state.users.set(user.id, old ? { ...old, ...user } : user);
  }

  function guildMembers(guildId) {
    let map = state.members.get(guildId);
    if (!map) {
      map = new Map();
      state.members.set(guildId, map);
    }
    return map;
  }

  function putMember(guildId, member) {
    const user = member.user;
    const userId = user?.id ?? member.user_id;
    if (!userId) return;
    if (user) putUser(user);
    const { user: _u, ...rest } = member;
    const map = guildMembers(guildId);
    map.set(userId, { ...(map.get(userId) ?? {}), ...rest, user_id: userId });
  }

  function putPresence(p) {
    const id = p.user?.id;
    if (!id) return;
    if (p.user.username) putUser(p.user);
    state.presences.set(id, { status: p.status ?? 'offline', activities: p.activities ?? [] });
    emit('presence', id);
  }

  // ---- guilds and channels ----

  function putChannel(channel, guildId = channel.guild_id) {
    const c = guildId ? { ...channel, guild_id: guildId } : { ...channel };
    const old = state.channels.get(c.id);
    // Keep what a partial update leaves out (e.g. a thread's member).
    state.channels.set(c.id, old ? { ...old, ...c } : c);
    for (const r of c.recipients ?? []) putUser(r);
    return state.channels.get(c.id);
  }

  function removeChannel(id) {
    const c = state.channels.get(id);
    state.channels.delete(id);
    state.messages.delete(id);
    return c;
  }

  function rolesMap(roles) {
    return new Map((roles ?? []).map((r) => [r.id, r]));
  }

  function putGuild(d) {
    const old = state.guilds.get(d.id);
    const guild = {
      ...(old ?? {}),
      ...d,
      roles: d.roles ? rolesMap(d.roles) : old?.roles ?? new Map(),
      unavailable: Boolean(d.unavailable),
    };
    delete guild.channels;
    delete guild.members;
    delete guild.threads;
    delete guild.presences;
    state.guilds.set(d.id, guild);
    if (!state.guildOrder.includes(d.id)) state.guildOrder.push(d.id);
    return guild;
  }

  function guildCreate(d) {
    putGuild(d);
    for (const c of state.channels.values()) {
      if (c.guild_id === d.id) state.channels.delete(c.id);
    }
    for (const c of d.channels ?? []) putChannel(c, d.id);
    for (const t of d.threads ?? []) putChannel(t, d.id);
    for (const m of d.members ?? []) putMember(d.id, m);
    for (const p of d.presences ?? []) putPresence(p);
    emit('guilds');
    emit('channels', d.id);
    emit('members', d.id);
  }

  function guildRemove(id) {
    state.guilds.delete(id);
    state.guildOrder = state.guildOrder.filter((g) => g !== id);
    state.members.delete(id);
    for (const c of [...state.channels.values()]) if (c.guild_id === id) removeChannel(c.id);
    emit('guilds');
    emit('channels', id);
  }

  // ---- messages ----

  function channelMessages(channelId) {
    let entry = state.messages.get(channelId);
    if (!entry) {
      entry = { list: [], pending: [], early: [], loaded: false, hasOlder: true, hasNewer: false, loading: null };
      state.messages.set(channelId, entry);
    }
    return entry;
  }

  function noteAuthor(message) {
    if (message.author) putUser(message.author);
    if (message.member && message.guild_id) {
      putMember(message.guild_id, { ...message.member, user_id: message.author.id });
    }
    for (const u of message.mentions ?? []) putUser(u);
  }

  function replaceMessage(channelId, id, change) {
    const entry = state.messages.get(channelId);
    if (!entry) return;
    const i = entry.list.findIndex((m) => m.id === id);
    if (i < 0) return;
    entry.list[i] = change(entry.list[i]);
    emit('messages', channelId);
  }

  function mentionsMe(message) {
    const me = state.me?.id;
    if (!me || message.author?.id === me) return false;
    if (message.mention_everyone) return true;
    if ((message.mentions ?? []).some((u) => u.id === me)) return true;
    const guild = state.guilds.get(message.guild_id);
    const member = guild && state.members.get(guild.id)?.get(me);
    return (message.mention_roles ?? []).some((r) => member?.roles?.includes(r));
  }

  function messageCreate(m) {
    noteAuthor(m);
    const entry = channelMessages(m.channel_id);
    if (m.nonce != null) entry.pending = entry.pending.filter((p) => p.nonce !== String(m.nonce));
    // A channel scrolled back in history gets the message when it comes back;
    // one still loading keeps it for when its first page arrives.
    if (entry.loaded && !entry.hasNewer) upsertSorted(entry.list, m);
    else if (!entry.loaded) entry.early = [...entry.early.slice(-49), m];
    const channel = state.channels.get(m.channel_id);
    if (channel && compareIds(channel.last_message_id, m.id) < 0) {
      state.channels.set(m.channel_id, { ...channel, last_message_id: m.id });
    }
    // Typing ends with the message.
    state.typing.get(m.channel_id)?.delete(m.author?.id);
    if (m.author?.id === state.me?.id) {
      setReadState(m.channel_id, m.id, 0);
    } else if (mentionsMe(m)) {
      const rs = state.readStates.get(m.channel_id) ?? { lastMessageId: null, mentionCount: 0 };
      state.readStates.set(m.channel_id, { ...rs, mentionCount: rs.mentionCount + 1 });
      emit('readstate', m.channel_id);
    } else {
      emit('readstate', m.channel_id);
    }
    emit('messages', m.channel_id);
    emit('typing', m.channel_id);
    emit('channels', m.guild_id ?? '@me');
  }

  function messageUpdate(m) {
    if (m.author) noteAuthor(m);
    replaceMessage(m.channel_id, m.id, (old) => ({ ...old, ...m }));
  }

  function messageDelete(channelId, ids) {
    const entry = state.messages.get(channelId);
    if (!entry) return;
    const gone = new Set(ids);
    entry.list = entry.list.filter((m) => !gone.has(m.id));
    // Replies to a deleted message show it as deleted.
    entry.list = entry.list.map((m) =>
      m.message_reference && gone.has(m.message_reference.message_id) && m.referenced_message
        ? { ...m, referenced_message: null }
        : m,
    );
    emit('messages', channelId);
  }

  function sameEmoji(a, b) {
    return a.id ? a.id === b.id : !b.id && a.name === b.name;
  }

  function reaction(d, delta) {
    const mine = d.user_id === state.me?.id;
    replaceMessage(d.channel_id, d.message_id, (m) => {
      const reactions = [...(m.reactions ?? [])];
      const i = reactions.findIndex((r) => sameEmoji(r.emoji, d.emoji));
      if (i < 0) {
        if (delta > 0) reactions.push({ count: 1, me: mine, emoji: { id: d.emoji.id ?? null, name: d.emoji.name } });
      } else {
        const r = reactions[i];
        const count = r.count + delta;
        if (count <= 0) reactions.splice(i, 1);
        else reactions[i] = { ...r, count, me: mine ? delta > 0 : r.me };
      }
      return { ...m, reactions };
    });
  }

  // ---- read states ----

  function setReadState(channelId, messageId, mentionCount = 0) {
    const rs = state.readStates.get(channelId);
    if (rs && compareIds(rs.lastMessageId, messageId) > 0) return;
    state.readStates.set(channelId, { lastMessageId: messageId, mentionCount });
    emit('readstate', channelId);
    const c = state.channels.get(channelId);
    emit('channels', c?.guild_id ?? '@me');
  }

  function noteAcked(channelId, messageId) {
    if (compareIds(state.serverRead.get(channelId), messageId) < 0) state.serverRead.set(channelId, messageId);
  }

  // ---- the dispatch reducer ----

  const reducers = {
    READY(d) {
      state.me = d.user;
      putUser(d.user);
      state.guilds.clear();
      state.guildOrder = [];
      state.channels.clear();
      state.members.clear();
      state.presences.clear();
      state.readStates.clear();
      state.serverRead.clear();
      state.typing.clear();
      // A new session missed events: cached history is stale.
      state.messages.clear();
      for (const g of d.guilds ?? []) putGuild({ ...g, unavailable: true });
      for (const c of d.private_channels ?? []) putChannel(c);
      state.guildSettings.clear();
      for (const e of d.user_guild_settings?.entries ?? []) state.guildSettings.set(e.guild_id ?? '@me', e);
      for (const e of d.read_state?.entries ?? []) {
        state.readStates.set(e.id, { lastMessageId: e.last_message_id, mentionCount: e.mention_count ?? 0 });
        state.serverRead.set(e.id, e.last_message_id);
      }
      emit('me');
      emit('guilds');
      emit('channels', '@me');
      emit('messages', state.ui.channelId);
    },
    GUILD_CREATE: guildCreate,
    GUILD_UPDATE(d) {
      putGuild(d);
      emit('guilds');
      emit('channels', d.id);
    },
    GUILD_DELETE(d) {
      if (d.unavailable) {
        const g = state.guilds.get(d.id);
        if (g) state.guilds.set(d.id, { ...g, unavailable: true });
        emit('guilds');
      } else {
        guildRemove(d.id);
      }
    },
    GUILD_ROLE_CREATE(d) {
      const g = state.guilds.get(d.guild_id);
      if (!g) return;
      g.roles = new Map(g.roles).set(d.role.id, d.role);
      emit('guilds');
      emit('members', d.guild_id);
    },
    GUILD_ROLE_UPDATE(d) {
      reducers.GUILD_ROLE_CREATE(d);
      emit('channels', d.guild_id);
    },
    GUILD_ROLE_DELETE(d) {
      const g = state.guilds.get(d.guild_id);
      if (!g) return;
      g.roles = new Map(g.roles);
      g.roles.delete(d.role_id);
      for (const m of state.members.get(d.guild_id)?.values() ?? []) {
        if (m.roles?.includes(d.role_id)) m.roles = m.roles.filter((r) => r !== d.role_id);
      }
      emit('guilds');
      emit('members', d.guild_id);
      emit('channels', d.guild_id);
    },
    CHANNEL_CREATE(d) {
      putChannel(d);
      emit('channels', d.guild_id ?? '@me');
    },
    CHANNEL_UPDATE(d) {
      putChannel(d);
      emit('channels', d.guild_id ?? '@me');
      emit('messages', d.id);
    },
    CHANNEL_DELETE(d) {
      removeChannel(d.id);
      // Children of a deleted category move to the top level.
      for (const c of state.channels.values()) {
        if (c.parent_id === d.id && !THREAD_TYPES.has(c.type)) state.channels.set(c.id, { ...c, parent_id: null });
      }
      emit('channels', d.guild_id ?? '@me');
    },
    CHANNEL_RECIPIENT_ADD(d) {
      const c = state.channels.get(d.channel_id);
      putUser(d.user);
      if (c) putChannel({ ...c, recipients: [...(c.recipients ?? []).filter((u) => u.id !== d.user.id), d.user] });
      emit('channels', '@me');
    },
    CHANNEL_RECIPIENT_REMOVE(d) {
      const c = state.channels.get(d.channel_id);
      if (c) putChannel({ ...c, recipients: (c.recipients ?? []).filter((u) => u.id !== d.user.id) });
      emit('channels', '@me');
    },
    THREAD_CREATE(d) {
      putChannel(d);
      emit('channels', d.guild_id);
    },
    THREAD_UPDATE(d) {
      putChannel(d);
      emit('channels', d.guild_id);
      emit('messages', d.id);
    },
    THREAD_DELETE(d) {
      removeChannel(d.id);
      emit('channels', d.guild_id);
    },
    THREAD_LIST_SYNC(d) {
      // The synced channels' threads are replaced; for a whole guild, all of them.
      const synced = d.channel_ids ? new Set(d.channel_ids) : null;
      for (const c of [...state.channels.values()]) {
        if (c.guild_id === d.guild_id && THREAD_TYPES.has(c.type) && (!synced || synced.has(c.parent_id))) {
          state.channels.delete(c.id);
        }
      }
      const mine = new Map((d.members ?? []).map((m) => [m.id, m]));
      for (const t of d.threads ?? []) putChannel({ ...t, member: t.member ?? mine.get(t.id) }, d.guild_id);
      emit('channels', d.guild_id);
    },
    THREAD_MEMBER_UPDATE(d) {
      // The user's own membership: the thread now counts as joined.
      const t = state.channels.get(d.id);
      if (t) putChannel({ ...t, member: d });
      emit('channels', d.guild_id);
    },
    THREAD_MEMBERS_UPDATE(d) {
      const t = state.channels.get(d.id);
      if (!t) return;
      const me = state.me?.id;
      const left = (d.removed_member_ids ?? []).includes(me);
      const joined = (d.added_members ?? []).find((m) => m.user_id === me);
      const member = left ? undefined : joined ?? t.member;
      putChannel({ ...t, member_count: d.member_count, member });
      emit('channels', d.guild_id);
    },
    GUILD_MEMBER_ADD(d) {
      putMember(d.guild_id, d);
      const g = state.guilds.get(d.guild_id);
      if (g) g.member_count = (g.member_count ?? 0) + 1;
      emit('members', d.guild_id);
    },
    GUILD_MEMBER_UPDATE(d) {
      putMember(d.guild_id, d);
      emit('members', d.guild_id);
      emit('channels', d.guild_id);
      emit('messages', state.ui.channelId);
    },
    GUILD_MEMBER_REMOVE(d) {
      state.members.get(d.guild_id)?.delete(d.user.id);
      const g = state.guilds.get(d.guild_id);
      if (g) g.member_count = Math.max(0, (g.member_count ?? 1) - 1);
      emit('members', d.guild_id);
    },
    GUILD_MEMBERS_CHUNK(d) {
      for (const m of d.members ?? []) putMember(d.guild_id, m);
      for (const p of d.presences ?? []) putPresence(p);
      emit('members', d.guild_id);
    },
    PRESENCE_UPDATE(d) {
      putPresence(d);
    },
    USER_UPDATE(d) {
      state.me = { ...state.me, ...d };
      putUser(d);
      emit('me');
    },
    MESSAGE_CREATE: messageCreate,
    MESSAGE_UPDATE: messageUpdate,
    MESSAGE_DELETE(d) {
      messageDelete(d.channel_id, [d.id]);
    },
    MESSAGE_DELETE_BULK(d) {
      messageDelete(d.channel_id, d.ids);
    },
    MESSAGE_REACTION_ADD(d) {
      reaction(d, +1);
    },
    MESSAGE_REACTION_REMOVE(d) {
      reaction(d, -1);
    },
    MESSAGE_REACTION_REMOVE_ALL(d) {
      replaceMessage(d.channel_id, d.message_id, (m) => ({ ...m, reactions: [] }));
    },
    MESSAGE_REACTION_REMOVE_EMOJI(d) {
      replaceMessage(d.channel_id, d.message_id, (m) => ({
        ...m,
        reactions: (m.reactions ?? []).filter((r) => !sameEmoji(r.emoji, d.emoji)),
      }));
    },
    MESSAGE_ACK(d) {
      noteAcked(d.channel_id, d.message_id);
      setReadState(d.channel_id, d.message_id, d.mention_count ?? 0);
    },
    TYPING_START(d) {
      if (d.user_id === state.me?.id) return;
      if (d.member?.user && d.guild_id) putMember(d.guild_id, d.member);
      let map = state.typing.get(d.channel_id);
      if (!map) {
        map = new Map();
        state.typing.set(d.channel_id, map);
      }
      map.set(d.user_id, Date.now() + TYPING_MS);
      emit('typing', d.channel_id);
    },
    INVITE_CREATE(d) {
      putInvite(d);
    },
    INTERACTION_CREATE(d) {
      // A person hears `{id, nonce}` of their own interaction.
      if (d.nonce != null) interactionUpdate(String(d.nonce), { id: d.id, status: 'pending' });
    },
    INTERACTION_SUCCESS(d) {
      if (d.nonce != null) interactionDone(String(d.nonce));
    },
    INTERACTION_FAILURE(d) {
      if (d.nonce != null) interactionUpdate(String(d.nonce), { status: 'failed', reason: d.reason || 'The application did not respond.' });
    },
    INTERACTION_MODAL_CREATE(d) {
      if (d.nonce != null) interactionDone(String(d.nonce));
      state.modal = d;
      emit('modal');
    },
    APPLICATION_COMMAND_AUTOCOMPLETE_RESPONSE(d) {
      emit('autocomplete', { nonce: String(d.nonce), choices: d.choices ?? [] });
    },
    MESSAGE_POLL_VOTE_ADD(d) {
      pollVote(d, +1);
    },
    MESSAGE_POLL_VOTE_REMOVE(d) {
      pollVote(d, -1);
    },
    USER_GUILD_SETTINGS_UPDATE(d) {
      const key = d.guild_id ?? '@me';
      state.guildSettings.set(key, d);
      emit('settings', key);
      emit('channels', key);
      emit('guilds');
    },
    INVITE_DELETE(d) {
      state.invites.get(d.guild_id)?.delete(d.code);
      emit('invites', d.guild_id);
    },
  };

  // ---- interactions and polls ----

  /** Records an interaction we started (before the server knows its id). */
  function interactionStart(entry) {
    state.interactions.set(entry.nonce, { status: 'sending', ...entry });
    interactionChanged(entry.nonce);
  }

  function interactionUpdate(nonce, patch) {
    const old = state.interactions.get(nonce);
    if (!old) return;
    state.interactions.set(nonce, { ...old, ...patch });
    interactionChanged(nonce);
  }

  /** Answered (or dismissed): forgotten. */
  function interactionDone(nonce) {
    const old = state.interactions.get(nonce);
    if (!old) return;
    state.interactions.delete(nonce);
    interactionChanged(nonce, old);
  }

  function interactionChanged(nonce, gone = null) {
    const i = state.interactions.get(nonce) ?? gone;
    if (!i) return;
    // The message whose component it was redraws (a new object).
    if (i.messageId) replaceMessage(i.channelId, i.messageId, (m) => ({ ...m }));
    emit('interactions', i.channelId);
  }

  /** Our interactions in a channel, for a message's component or none. */
  function interactionsIn(channelId, messageId = null) {
    return [...state.interactions.values()].filter((i) => i.channelId === channelId && (i.messageId ?? null) === messageId);
  }

  function pollVote(d, delta) {
    const mine = d.user_id === state.me?.id;
    const answerId = Number(d.answer_id);
    replaceMessage(d.channel_id, d.message_id, (m) => {
      if (!m.poll) return m;
      const counts = [...(m.poll.results?.answer_counts ?? [])];
      const i = counts.findIndex((c) => c.id === answerId);
      const old = i < 0 ? { id: answerId, count: 0, me_voted: false } : counts[i];
      const next = { ...old, count: Math.max(0, old.count + delta), me_voted: mine ? delta > 0 : old.me_voted };
      if (i < 0) counts.push(next);
      else counts[i] = next;
      const results = { is_finalized: false, ...(m.poll.results ?? {}), answer_counts: counts };
      return { ...m, poll: { ...m.poll, results } };
    });
  }

  /** Notification settings for a guild ('@me' for DMs), or null. */
  function guildSettings(guildId) {
    return state.guildSettings.get(guildId ?? '@me') ?? null;
  }

  function putGuildSettings(settings) {
    reducers.USER_GUILD_SETTINGS_UPDATE(settings);
  }

  function putInvite(invite) {
    const guildId = invite.guild_id ?? invite.guild?.id;
    if (!guildId) return;
    if (!state.invites.has(guildId)) state.invites.set(guildId, new Map());
    state.invites.get(guildId).set(invite.code, invite);
    emit('invites', guildId);
  }

  function applyDispatch(type, data) {
    const reducer = reducers[type];
    if (reducer && data) reducer(data);
  }

  // ---- queries ----

  function guildChannels(guildId) {
    return [...state.channels.values()].filter((c) => c.guild_id === guildId);
  }

  function privateChannels() {
    return [...state.channels.values()]
      .filter((c) => !c.guild_id && (c.type === 1 || c.type === 3))
      .sort((a, b) => compareIds(b.last_message_id ?? b.id, a.last_message_id ?? a.id));
  }

  function member(guildId, userId) {
    return state.members.get(guildId)?.get(userId) ?? null;
  }

  function isUnread(channelId) {
    const c = state.channels.get(channelId);
    if (!c?.last_message_id) return false;
    const rs = state.readStates.get(channelId);
    return compareIds(c.last_message_id, rs?.lastMessageId ?? '0') > 0;
  }

  function mentionCount(channelId) {
    return state.readStates.get(channelId)?.mentionCount ?? 0;
  }

  function typingUsers(channelId) {
    const map = state.typing.get(channelId);
    if (!map) return [];
    const now = Date.now();
    for (const [id, until] of map) if (until <= now) map.delete(id);
    return [...map.keys()];
  }

  function presence(userId) {
    // Our own status is what we chose, whatever the server has echoed so far.
    if (userId && userId === state.me?.id && state.selfStatus) {
      return state.selfStatus === 'invisible' ? 'offline' : state.selfStatus;
    }
    return state.presences.get(userId)?.status ?? 'offline';
  }

  function setUi(patch) {
    state.ui = { ...state.ui, ...patch };
    emit('ui');
  }

  function setConnection(value) {
    state.connection = value;
    emit('connection');
  }

  /** Forgets everything (logout). */
  function reset() {
    state.me = null;
    state.guilds.clear();
    state.guildOrder = [];
    state.channels.clear();
    state.members.clear();
    state.users.clear();
    state.presences.clear();
    state.messages.clear();
    state.readStates.clear();
    state.serverRead.clear();
    state.typing.clear();
    state.invites.clear();
    state.interactions.clear();
    state.guildSettings.clear();
    state.modal = null;
    state.ui = { ...state.ui, guildId: null, channelId: null };
    emit('me');
    emit('guilds');
  }

  return {
    state,
    on,
    emit,
    applyDispatch,
    // mutators used by actions after HTTP calls
    putUser,
    putMember,
    putChannel(c) {
      const out = putChannel(c);
      emit('channels', c.guild_id ?? '@me');
      return out;
    },
    guildCreate,
    guildRemove,
    putInvite,
    channelMessages,
    setReadState,
    noteAcked,
    messageCreate,
    messageUpdate,
    messageDelete,
    setUi,
    setConnection,
    reset,
    interactionStart,
    interactionUpdate,
    interactionDone,
    closeModal() {
      state.modal = null;
      emit('modal');
    },
    putGuildSettings,
    // queries
    guildChannels,
    privateChannels,
    member,
    isUnread,
    mentionCount,
    typingUsers,
    presence,
    mentionsMe,
    interactionsIn,
    guildSettings,
  };
}

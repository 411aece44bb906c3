// Unit tests of the web client's state store and its dispatch reducers:
// `node --test tests/web/`.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { createStore } from '../../web/js/store.js';
import { basePermissions, channelPermissions, P, has } from '../../web/js/permissions.js';

const ME = '100';
const OTHER = '200';
const GUILD = '1000';
const user = (id, username) => ({ id, username, discriminator: '0', global_name: null, avatar: null });
const message = (id, author, extra = {}) => ({
  id,
  channel_id: '2001',
  guild_id: GUILD,
  author: user(author, author === ME ? 'me' : 'other'),
  content: `message ${id}`,
  timestamp: '2026-01-01T00:00:00.000000+00:00',
  edited_timestamp: null,
  mentions: [],
  mention_roles: [],
  mention_everyone: false,
  attachments: [],
  embeds: [],
  type: 0,
  ...extra,
});

function readyStore() {
  const store = createStore();
  store.applyDispatch('READY', {
    user: user(ME, 'me'),
    guilds: [{ id: GUILD, unavailable: true }],
    private_channels: [],
    read_state: { entries: [{ id: '2001', last_message_id: '5000', mention_count: 0 }] },
  });
  store.applyDispatch('GUILD_CREATE', {
    id: GUILD,
    name: 'Guild',
    owner_id: OTHER,
    roles: [{ id: GUILD, name: '@everyone', permissions: String(P.VIEW_CHANNEL | P.SEND_MESSAGES), position: 0 }],
    channels: [
      { id: '2000', type: 4, name: 'Text', position: 0, permission_overwrites: [] },
      { id: '2001', type: 0, name: 'general', position: 0, parent_id: '2000', last_message_id: '5000', permission_overwrites: [] },
    ],
    threads: [],
    members: [
      { user: user(ME, 'me'), roles: [], joined_at: 'x' },
      { user: user(OTHER, 'other'), roles: [], joined_at: 'x' },
    ],
    presences: [{ user: { id: OTHER }, status: 'idle', activities: [] }],
    member_count: 2,
  });
  return store;
}

test('READY and GUILD_CREATE fill guilds, channels, members and presences', () => {
  const store = readyStore();
  const { state } = store;
  assert.equal(state.me.id, ME);
  assert.equal(state.guilds.get(GUILD).name, 'Guild');
  assert.equal(state.guilds.get(GUILD).unavailable, false);
  assert.equal(state.channels.get('2001').guild_id, GUILD);
  assert.equal(state.members.get(GUILD).size, 2);
  assert.equal(store.presence(OTHER), 'idle');
  assert.equal(store.presence('999'), 'offline');
  assert.equal(store.isUnread('2001'), false);
});

test('messages append in order, notify, and mark unread and mentions', () => {
  const store = readyStore();
  const seen = [];
  store.on('messages', (id) => seen.push(id));
  const entry = store.channelMessages('2001');
  entry.loaded = true;
  entry.hasOlder = false;
  store.applyDispatch('MESSAGE_CREATE', message('5002', OTHER));
  store.applyDispatch('MESSAGE_CREATE', message('5001', OTHER, { mentions: [user(ME, 'me')] }));
  assert.deepEqual(entry.list.map((m) => m.id), ['5001', '5002']);
  assert.deepEqual(seen, ['2001', '2001']);
  assert.equal(store.isUnread('2001'), true);
  assert.equal(store.mentionCount('2001'), 1);
  store.applyDispatch('MESSAGE_ACK', { channel_id: '2001', message_id: '5002' });
  assert.equal(store.isUnread('2001'), false);
  assert.equal(store.mentionCount('2001'), 0);
  // An own message is read by definition.
  store.applyDispatch('MESSAGE_CREATE', message('5003', ME));
  assert.equal(store.isUnread('2001'), false);
});

test('a channel scrolled back in history does not take new messages', () => {
  const store = readyStore();
  const entry = store.channelMessages('2001');
  entry.loaded = true;
  entry.hasNewer = true;
  store.applyDispatch('MESSAGE_CREATE', message('6000', OTHER));
  assert.equal(entry.list.length, 0);
  assert.equal(store.state.channels.get('2001').last_message_id, '6000');
});

test('updates and deletes replace messages instead of mutating them', () => {
  const store = readyStore();
  const entry = store.channelMessages('2001');
  entry.loaded = true;
  store.applyDispatch('MESSAGE_CREATE', message('5001', OTHER));
  const before = entry.list[0];
  store.applyDispatch('MESSAGE_UPDATE', { ...message('5001', OTHER), content: 'edited', edited_timestamp: 'now' });
  assert.notEqual(entry.list[0], before);
  assert.equal(before.content, 'message 5001');
  assert.equal(entry.list[0].content, 'edited');
  store.applyDispatch('MESSAGE_DELETE', { id: '5001', channel_id: '2001', guild_id: GUILD });
  assert.equal(entry.list.length, 0);
});

test('reactions count and track our own', () => {
  const store = readyStore();
  const entry = store.channelMessages('2001');
  entry.loaded = true;
  store.applyDispatch('MESSAGE_CREATE', message('5001', OTHER));
  const react = (type, userId) =>
    store.applyDispatch(type, { user_id: userId, channel_id: '2001', message_id: '5001', emoji: { id: null, name: '👍' } });
  react('MESSAGE_REACTION_ADD', OTHER);
  react('MESSAGE_REACTION_ADD', ME);
  assert.deepEqual(entry.list[0].reactions, [{ count: 2, me: true, emoji: { id: null, name: '👍' } }]);
  react('MESSAGE_REACTION_REMOVE', ME);
  assert.deepEqual(entry.list[0].reactions, [{ count: 1, me: false, emoji: { id: null, name: '👍' } }]);
  react('MESSAGE_REACTION_REMOVE', OTHER);
  assert.deepEqual(entry.list[0].reactions, []);
});

test('typing expires and ends with a message', () => {
  const store = readyStore();
  store.applyDispatch('TYPING_START', { channel_id: '2001', user_id: OTHER, timestamp: 0 });
  store.applyDispatch('TYPING_START', { channel_id: '2001', user_id: ME, timestamp: 0 });
  assert.deepEqual(store.typingUsers('2001'), [OTHER]);
  store.applyDispatch('MESSAGE_CREATE', message('5001', OTHER));
  assert.deepEqual(store.typingUsers('2001'), []);
});

test('presence updates and our own chosen status', () => {
  const store = readyStore();
  store.applyDispatch('PRESENCE_UPDATE', { user: { id: OTHER }, guild_id: GUILD, status: 'dnd', activities: [] });
  assert.equal(store.presence(OTHER), 'dnd');
  store.state.selfStatus = 'invisible';
  assert.equal(store.presence(ME), 'offline');
});

test('leaving a guild forgets its channels', () => {
  const store = readyStore();
  store.applyDispatch('GUILD_DELETE', { id: GUILD });
  assert.equal(store.state.guilds.size, 0);
  assert.equal(store.state.channels.size, 0);
});

test('permissions: roles, then overwrites in Discord order', () => {
  const store = readyStore();
  const { state } = store;
  const guild = state.guilds.get(GUILD);
  const me = store.member(GUILD, ME);
  assert.ok(has(basePermissions(guild, me, ME), P.SEND_MESSAGES));
  const channel = {
    ...state.channels.get('2001'),
    permission_overwrites: [
      { id: GUILD, type: 0, allow: '0', deny: String(P.SEND_MESSAGES) },
      { id: ME, type: 1, allow: String(P.SEND_MESSAGES), deny: '0' },
    ],
  };
  assert.ok(has(channelPermissions(guild, channel, me, ME), P.SEND_MESSAGES), 'member overwrite allows');
  const other = store.member(GUILD, OTHER);
  // OTHER owns the guild: everything.
  assert.ok(has(channelPermissions(guild, channel, other, OTHER), P.MANAGE_CHANNELS));
  const hidden = { ...channel, permission_overwrites: [{ id: GUILD, type: 0, allow: '0', deny: String(P.VIEW_CHANNEL) }] };
  assert.equal(channelPermissions(guild, hidden, me, ME), 0n);
});

test('thread membership follows THREAD_MEMBER(S)_UPDATE and THREAD_LIST_SYNC', () => {
  const store = readyStore();
  const thread = { id: '3001', type: 11, guild_id: GUILD, parent_id: '2001', name: 'talk', member_count: 1, message_count: 0 };
  store.applyDispatch('THREAD_CREATE', { ...thread, newly_created: true });
  assert.equal(store.state.channels.get('3001').member, undefined);

  store.applyDispatch('THREAD_MEMBER_UPDATE', { id: '3001', user_id: ME, guild_id: GUILD, join_timestamp: 'now', flags: 0 });
  store.applyDispatch('THREAD_MEMBERS_UPDATE', { id: '3001', guild_id: GUILD, member_count: 2, added_members: [{ id: '3001', user_id: ME, join_timestamp: 'now', flags: 0 }] });
  assert.equal(store.state.channels.get('3001').member_count, 2);
  assert.ok(store.state.channels.get('3001').member, 'joined');

  store.applyDispatch('THREAD_MEMBERS_UPDATE', { id: '3001', guild_id: GUILD, member_count: 1, removed_member_ids: [ME] });
  assert.equal(store.state.channels.get('3001').member, undefined, 'left');

  // A sync for the parent replaces its threads; another channel's stay.
  store.applyDispatch('THREAD_CREATE', { ...thread, id: '3002', parent_id: '2002' });
  store.applyDispatch('THREAD_LIST_SYNC', {
    guild_id: GUILD,
    channel_ids: ['2001'],
    threads: [{ ...thread, id: '3003' }],
    members: [{ id: '3003', user_id: ME, join_timestamp: 'now', flags: 0 }],
  });
  assert.equal(store.state.channels.get('3001'), undefined, 'no longer listed');
  assert.ok(store.state.channels.get('3002'), 'other channel untouched');
  assert.ok(store.state.channels.get('3003').member, 'membership from the sync');
});

test('an interaction is followed from sending to its answer or failure', () => {
  const store = createStore();
  store.applyDispatch('READY', { user: { id: '1', username: 'me' }, guilds: [], private_channels: [] });
  store.interactionStart({ nonce: '77', kind: 2, channelId: 'c', name: 'ping' });
  assert.equal(store.interactionsIn('c')[0].status, 'sending');
  store.applyDispatch('INTERACTION_CREATE', { id: '500', nonce: '77' });
  assert.deepEqual([store.interactionsIn('c')[0].status, store.interactionsIn('c')[0].id], ['pending', '500']);
  store.applyDispatch('INTERACTION_FAILURE', { id: '500', nonce: '77', reason: 'The application did not respond' });
  assert.equal(store.interactionsIn('c')[0].reason, 'The application did not respond');
  store.interactionStart({ nonce: '78', kind: 2, channelId: 'c', name: 'ping' });
  store.applyDispatch('INTERACTION_SUCCESS', { id: '501', nonce: '78' });
  assert.deepEqual(store.interactionsIn('c').map((i) => i.nonce), ['77']);
  // A modal answers it too, and is kept until shown.
  store.interactionStart({ nonce: '79', kind: 3, channelId: 'c', messageId: 'm' });
  assert.equal(store.interactionsIn('c', 'm').length, 1);
  store.applyDispatch('INTERACTION_MODAL_CREATE', { id: '502', nonce: '79', custom_id: 'form', title: 'T', components: [] });
  assert.equal(store.interactionsIn('c', 'm').length, 0);
  assert.equal(store.state.modal.custom_id, 'form');
});

test('poll votes move counts and our own mark', () => {
  const store = createStore();
  store.applyDispatch('READY', { user: { id: '1', username: 'me' }, guilds: [], private_channels: [] });
  const entry = store.channelMessages('c');
  entry.loaded = true;
  entry.list = [{ id: 'm', channel_id: 'c', poll: { answers: [{ answer_id: 1 }, { answer_id: 2 }], results: { is_finalized: false, answer_counts: [] } } }];
  store.applyDispatch('MESSAGE_POLL_VOTE_ADD', { user_id: '1', channel_id: 'c', message_id: 'm', answer_id: 2 });
  store.applyDispatch('MESSAGE_POLL_VOTE_ADD', { user_id: '5', channel_id: 'c', message_id: 'm', answer_id: 2 });
  assert.deepEqual(entry.list[0].poll.results.answer_counts, [{ id: 2, count: 2, me_voted: true }]);
  store.applyDispatch('MESSAGE_POLL_VOTE_REMOVE', { user_id: '1', channel_id: 'c', message_id: 'm', answer_id: 2 });
  assert.deepEqual(entry.list[0].poll.results.answer_counts, [{ id: 2, count: 1, me_voted: false }]);
});

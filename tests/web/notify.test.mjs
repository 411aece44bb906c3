// Notification rules in the client and the push payload's presentation.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LEVEL, alertReason, channelMuted, letsThrough, muteActive, muteUntil } from '../../web/js/notify.js';
import { base64UrlToBytes, notificationFor, notificationPath } from '../../web/js/push.js';

const NOW = Date.parse('2030-01-01T00:00:00Z');

test('why a message concerns someone', () => {
  const m = { author: { id: '2' }, mentions: [{ id: '1' }], mention_roles: ['r'], mention_everyone: true };
  assert.equal(alertReason(m, '1'), 'mention');
  assert.equal(alertReason({ ...m, mentions: [] }, '1', ['r']), 'role');
  assert.equal(alertReason({ ...m, mentions: [], mention_roles: [] }, '1'), 'everyone');
  assert.equal(alertReason({ author: { id: '2' } }, '1', [], { direct: true }), 'direct');
  assert.equal(alertReason({ author: { id: '2' } }, '1', [], { repliedToMe: true }), 'reply');
  assert.equal(alertReason({ author: { id: '1' }, mentions: [{ id: '1' }] }, '1'), null);
  assert.equal(alertReason({ author: { id: '2' } }, '1'), null);
});

test('mutes, levels and suppressions decide as the server does', () => {
  const none = { message_notifications: LEVEL.ALL, suppress_everyone: false, suppress_roles: false, muted: false, channel_overrides: [] };
  assert.equal(letsThrough(null, LEVEL.ALL, ['c'], 'mention', NOW), true);
  assert.equal(letsThrough(null, LEVEL.NOTHING, ['c'], 'mention', NOW), false);
  assert.equal(letsThrough(null, LEVEL.NOTHING, ['c'], 'direct', NOW), true);
  assert.equal(letsThrough(none, LEVEL.ALL, ['c'], null, NOW), false);
  // A guild muted until later, or for good; a mute that ended does nothing.
  assert.equal(letsThrough({ ...none, muted: true, mute_config: { end_time: '2030-01-01T01:00:00Z' } }, 0, ['c'], 'mention', NOW), false);
  assert.equal(letsThrough({ ...none, muted: true, mute_config: null }, 0, ['c'], 'mention', NOW), false);
  assert.equal(letsThrough({ ...none, muted: true, mute_config: { end_time: '2029-12-31T00:00:00Z' } }, 0, ['c'], 'mention', NOW), true);
  // The channel's level beats the guild's unless it inherits.
  const nothing = { ...none, message_notifications: LEVEL.NOTHING };
  assert.equal(letsThrough(nothing, 0, ['c'], 'mention', NOW), false);
  assert.equal(letsThrough({ ...nothing, channel_overrides: [{ channel_id: 'c', message_notifications: LEVEL.MENTIONS, muted: false }] }, 0, ['c'], 'mention', NOW), true);
  assert.equal(letsThrough({ ...nothing, channel_overrides: [{ channel_id: 'c', message_notifications: LEVEL.INHERIT, muted: false }] }, 0, ['c'], 'mention', NOW), false);
  // A thread follows its parent's override.
  const mutedParent = { ...none, channel_overrides: [{ channel_id: 'p', message_notifications: LEVEL.INHERIT, muted: true, mute_config: null }] };
  assert.equal(letsThrough(mutedParent, 0, ['t', 'p'], 'mention', NOW), false);
  assert.equal(channelMuted(mutedParent, ['t', 'p'], NOW), true);
  assert.equal(letsThrough({ ...none, suppress_everyone: true }, 0, ['c'], 'everyone', NOW), false);
  assert.equal(letsThrough({ ...none, suppress_roles: true }, 0, ['c'], 'role', NOW), false);
  assert.equal(letsThrough({ ...none, suppress_roles: true }, 0, ['c'], 'mention', NOW), true);
});

test('mute durations', () => {
  assert.equal(muteUntil(60, NOW), '2030-01-01T01:00:00.000Z');
  assert.equal(muteUntil(null, NOW), null);
  assert.equal(muteActive(false, null, NOW), false);
});

test('a pushed payload shows its title and body and opens its channel', () => {
  const { title, options } = notificationFor({ type: 'mention', guild_id: '5', channel_id: '6', message_id: '7', title: 'ann in #general', body: 'hi @bob' });
  assert.equal(title, 'ann in #general');
  assert.equal(options.body, 'hi @bob');
  assert.equal(options.data.path, '/channels/5/6');
  assert.equal(notificationPath({ channel_id: '6' }), '/channels/@me/6');
  // Nothing from the payload can lead off the client's paths.
  assert.equal(notificationPath({ guild_id: '//evil.example', channel_id: '6' }), '/channels/@me');
  assert.equal(notificationPath({ channel_id: '../x' }), '/channels/@me');
  assert.deepEqual([...base64UrlToBytes('AQID_-8')], [1, 2, 3, 255, 239]);
});

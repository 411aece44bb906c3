// The emoji picker's sections and search.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emojiSections, loadEmojiGroups } from '../../web/js/emoji.js';

const groups = [
  { name: 'Smileys & Emotion', slug: 'smileys_emotion', emojis: [{ emoji: '😀', name: 'grinning face', slug: 'grinning_face' }, { emoji: '😂', name: 'face with tears of joy', slug: 'face_with_tears_of_joy' }] },
  { name: 'Food & Drink', slug: 'food_drink', emojis: [{ emoji: '🍕', name: 'pizza', slug: 'pizza' }] },
];
const custom = [{ id: '9', name: 'party_parrot', animated: true }];

test('the guild\'s emoji come first, then the groups', () => {
  const sections = emojiSections(groups, custom);
  assert.deepEqual(sections.map((s) => s.name), ['This server', 'Smileys & Emotion', 'Food & Drink']);
  assert.equal(sections[0].emojis[0].custom.id, '9');
  assert.deepEqual(emojiSections(groups, []).map((s) => s.name), ['Smileys & Emotion', 'Food & Drink']);
});

test('search matches every word of names and slugs', () => {
  assert.deepEqual(emojiSections(groups, custom, 'face joy')[0].emojis.map((e) => e.emoji), ['😂']);
  assert.deepEqual(emojiSections(groups, custom, 'parrot')[0].emojis.map((e) => e.key), ['custom-9']);
  assert.deepEqual(emojiSections(groups, custom, ':pizza:')[0].emojis.map((e) => e.emoji), ['🍕']);
  assert.equal(emojiSections(groups, custom, 'nothing like it')[0].emojis.length, 0);
});

test('the data is fetched once, and again after a failure', async () => {
  let calls = 0;
  const failing = async () => {
    calls += 1;
    return { ok: false, status: 503 };
  };
  await assert.rejects(loadEmojiGroups(failing), /503/);
  const working = async () => {
    calls += 1;
    return { ok: true, json: async () => groups };
  };
  assert.equal((await loadEmojiGroups(working)).length, 2);
  assert.equal((await loadEmojiGroups(working)).length, 2);
  assert.equal(calls, 2);
});

// The search box's filters.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSearch, searchQuery, snowflakeAt } from '../../web/js/search.js';

const lookup = {
  user: (name) => ({ alice: '11', bob: '12' })[name.toLowerCase()] ?? null,
  channel: (name) => ({ general: '21', 'off topic': '22' })[name] ?? null,
};

test('filters are picked out of the text', () => {
  assert.deepEqual(parseSearch('lunch from:alice has:image  today'), {
    content: 'lunch today',
    filters: [{ key: 'from', value: 'alice' }, { key: 'has', value: 'image' }],
  });
  assert.deepEqual(parseSearch('in:"off topic" pinned:true').filters, [{ key: 'in', value: 'off topic' }, { key: 'pinned', value: 'true' }]);
  // A colon inside a word is text.
  assert.equal(parseSearch('time 12:30 at:noon').content, 'time 12:30 at:noon');
});

test('the route\'s query, names resolved to ids', () => {
  const { query } = searchQuery(parseSearch('soup from:@Alice mentions:bob in:#general has:-link'), lookup);
  assert.deepEqual(query, { content: 'soup', author_id: ['11'], mentions: ['12'], channel_id: ['21'], has: ['-link'] });
  assert.equal(searchQuery(parseSearch('from:carol'), lookup).error, 'No member named carol.');
  assert.match(searchQuery(parseSearch('has:gif'), lookup).error, /has: takes one of/);
  assert.equal(searchQuery(parseSearch(''), lookup).error, 'Type something to search for.');
});

test('dates become snowflake bounds', () => {
  const { query } = searchQuery(parseSearch('before:2025-01-02 after:2024-12-30'), lookup);
  assert.equal(query.max_id, snowflakeAt(Date.parse('2025-01-02T00:00:00Z')));
  assert.equal(query.min_id, snowflakeAt(Date.parse('2024-12-31T00:00:00Z')));
  assert.equal(snowflakeAt(1420070400000), '0');
  assert.equal(snowflakeAt(1420070400001), String(1n << 22n));
  assert.match(searchQuery(parseSearch('before:yesterday'), lookup).error, /YYYY-MM-DD/);
});

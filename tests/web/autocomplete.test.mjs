// Composer autocomplete: the token before the caret, ranking, completing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { complete, rank, tokenAt } from '../../web/js/autocomplete.js';

test('the token being typed before the caret', () => {
  assert.deepEqual(tokenAt('hi @bo', 6), { trigger: '@', query: 'bo', start: 3 });
  assert.deepEqual(tokenAt('@', 1), { trigger: '@', query: '', start: 0 });
  assert.deepEqual(tokenAt('see #gen and', 8), { trigger: '#', query: 'gen', start: 4 });
  assert.deepEqual(tokenAt('so :sm', 6), { trigger: ':', query: 'sm', start: 3 });
  assert.equal(tokenAt('so :s', 5), null);
  assert.equal(tokenAt('mail@bob', 8), null);
  assert.equal(tokenAt('@bob done', 9), null);
});

test('names starting with the query come first', () => {
  const c = (label) => ({ label, insert: label, search: [label] });
  assert.deepEqual(rank([c('Abbot'), c('bob'), c('Bobby'), c('alice')], 'bo').map((x) => x.label), ['bob', 'Bobby', 'Abbot']);
  assert.equal(rank([c('a'), c('b')], '').length, 2);
  assert.equal(rank(Array.from({ length: 30 }, (_, i) => c(`n${i}`)), 'n', 10).length, 10);
});

test('completing replaces the token and keeps what follows', () => {
  assert.deepEqual(complete('hi @bo', 6, { start: 3 }, '<@12>'), { text: 'hi <@12> ', caret: 9 });
  assert.deepEqual(complete('hi @bo there', 6, { start: 3 }, '<@12>'), { text: 'hi <@12> there', caret: 9 });
});

// Polls: counts and shares, the end, and what a click makes of our votes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextVotes, pollEnded, pollTally, timeLeft } from '../../web/js/polls.js';

const poll = (results, extra = {}) => ({
  question: { text: 'Lunch?' },
  answers: [1, 2, 3].map((id) => ({ answer_id: id, poll_media: { text: `A${id}` } })),
  allow_multiselect: false,
  expiry: '2030-01-01T00:00:00Z',
  results,
  ...extra,
});

test('counts, whole percentages and our own votes', () => {
  const tally = pollTally(poll({ is_finalized: false, answer_counts: [{ id: 1, count: 2, me_voted: true }, { id: 3, count: 1, me_voted: false }] }));
  assert.equal(tally.total, 3);
  assert.deepEqual(tally.answers.map((a) => [a.id, a.count, a.percent, a.mine, a.winner]), [
    [1, 2, 67, true, true],
    [2, 0, 0, false, false],
    [3, 1, 33, false, false],
  ]);
  // No votes: no winner, no division by zero.
  assert.deepEqual(pollTally(poll(undefined)).answers.map((a) => [a.percent, a.winner]), [[0, false], [0, false], [0, false]]);
});

test('a poll ends when finalized or past its expiry', () => {
  const now = Date.parse('2029-12-31T23:00:00Z');
  assert.equal(pollEnded(poll({ is_finalized: false, answer_counts: [] }), now), false);
  assert.equal(pollEnded(poll({ is_finalized: true, answer_counts: [] }), now), true);
  assert.equal(pollEnded(poll(undefined), Date.parse('2030-01-02T00:00:00Z')), true);
  assert.equal(timeLeft('2030-01-01T00:00:00Z', now), '1h left');
  assert.equal(timeLeft('2030-01-01T00:00:00Z', now - 5 * 3600_000), '6h left');
  assert.equal(timeLeft('2030-01-01T00:00:00Z', now - 72 * 3600_000), '3d left');
  assert.equal(timeLeft('2030-01-01T00:00:00Z', now + 7200_000), 'Ended');
});

test('a click toggles a vote; one answer unless the poll takes several', () => {
  const single = poll(undefined);
  assert.deepEqual(nextVotes(single, [], 2), [2]);
  assert.deepEqual(nextVotes(single, [2], 3), [3]);
  assert.deepEqual(nextVotes(single, [2], 2), []);
  const multi = poll(undefined, { allow_multiselect: true });
  assert.deepEqual(nextVotes(multi, [3], 1), [1, 3]);
  assert.deepEqual(nextVotes(multi, [1, 3], 3), [1]);
});

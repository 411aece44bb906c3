// Polls without the DOM: a poll's answers with their counts and shares,
// whether it is still open, and what a click on an answer makes of our
// votes. The view (`views/poll.js`) draws what this computes.

/** The answers with `count`, `percent` (whole, of all votes) and `mine`. */
export function pollTally(poll) {
  const counts = new Map((poll.results?.answer_counts ?? []).map((c) => [Number(c.id), c]));
  const answers = (poll.answers ?? []).map((a) => {
    const c = counts.get(Number(a.answer_id));
    return { id: Number(a.answer_id), text: a.poll_media?.text ?? '', emoji: a.poll_media?.emoji ?? null, count: c?.count ?? 0, mine: Boolean(c?.me_voted) };
  });
  const total = answers.reduce((sum, a) => sum + a.count, 0);
  const top = Math.max(0, ...answers.map((a) => a.count));
  return {
    total,
    answers: answers.map((a) => ({ ...a, percent: total ? Math.round((a.count / total) * 100) : 0, winner: top > 0 && a.count === top })),
  };
}

/** Ended: finalized by the server, or past its expiry. */
export function pollEnded(poll, now = Date.now()) {
  if (poll.results?.is_finalized) return true;
  return Boolean(poll.expiry) && Date.parse(poll.expiry) <= now;
}

/** Our answer ids after clicking `answerId`: toggled; one answer unless the poll takes several. */
export function nextVotes(poll, mine, answerId) {
  const id = Number(answerId);
  if (mine.includes(id)) return mine.filter((a) => a !== id);
  return poll.allow_multiselect ? [...mine, id].sort((a, b) => a - b) : [id];
}

/** "3h left", "12m left", "2d left"; "Ended" once past. */
export function timeLeft(expiry, now = Date.now()) {
  const ms = Date.parse(expiry) - now;
  if (!Number.isFinite(ms)) return '';
  if (ms <= 0) return 'Ended';
  const minutes = Math.ceil(ms / 60000);
  if (minutes < 60) return `${minutes}m left`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours}h left`;
  return `${Math.round(hours / 24)}d left`;
}

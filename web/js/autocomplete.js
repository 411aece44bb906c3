// Composer autocomplete without the DOM: the `@name`, `#channel` or
// `:emoji` being typed before the caret, the candidates matching it
// (names starting with it first), and the text once one is chosen.

const TRIGGER = /(^|\s)([@#:])([^\s@#:]{0,32})$/;

/** What is being typed before `caret`: {trigger, query, start}, or null. */
export function tokenAt(text, caret) {
  const match = TRIGGER.exec(text.slice(0, caret));
  if (!match) return null;
  const [, lead, trigger, query] = match;
  // An emoji needs two letters first, as in Discord (a lone ':' is punctuation).
  if (trigger === ':' && query.length < 2) return null;
  return { trigger, query, start: match.index + lead.length };
}

/** Candidates `{label, insert, search[]}` matching `query`, best first, at most `limit`. */
export function rank(candidates, query, limit = 10) {
  const q = query.toLowerCase();
  const starts = [];
  const contains = [];
  for (const c of candidates) {
    const names = c.search.map((s) => String(s ?? '').toLowerCase());
    if (names.some((n) => n.startsWith(q))) starts.push(c);
    else if (q && names.some((n) => n.includes(q))) contains.push(c);
  }
  return [...starts, ...contains].slice(0, limit);
}

/** The text with the token at `token.start..caret` replaced by `insert` and a space; the new caret. */
export function complete(text, caret, token, insert) {
  const before = text.slice(0, token.start) + insert + ' ';
  return { text: before + text.slice(caret).replace(/^ /, ''), caret: before.length };
}

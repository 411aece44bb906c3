// The reaction picker's common emoji, with names for screen readers and search.
export const COMMON_EMOJI = [
  ['👍', 'thumbs up'], ['👎', 'thumbs down'], ['❤️', 'red heart'], ['😂', 'tears of joy'],
  ['😄', 'grinning'], ['😊', 'smiling'], ['😉', 'winking'], ['😍', 'heart eyes'],
  ['🤔', 'thinking'], ['😮', 'open mouth'], ['😢', 'crying'], ['😡', 'angry'],
  ['🎉', 'party popper'], ['🔥', 'fire'], ['👀', 'eyes'], ['🙏', 'folded hands'],
  ['👏', 'clapping'], ['💯', 'hundred points'], ['✅', 'check mark'], ['❌', 'cross mark'],
  ['⭐', 'star'], ['🚀', 'rocket'], ['💡', 'light bulb'], ['🐛', 'bug'],
  ['☕', 'coffee'], ['🍕', 'pizza'], ['🎂', 'birthday cake'], ['🙌', 'raising hands'],
  ['🤝', 'handshake'], ['👋', 'waving hand'], ['💪', 'flexed biceps'], ['🤷', 'shrug'],
];

/** Where the full emoji set is served (vendored from the npm registry). */
export const EMOJI_DATA_URL = '/static/vendor/unicode-emoji-json/data-by-group.json';

let groups = null;

/** The Unicode emoji by group, fetched once. */
export function loadEmojiGroups(fetchImpl = (...a) => fetch(...a)) {
  groups ??= fetchImpl(EMOJI_DATA_URL)
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`emoji data: ${r.status}`))))
    .catch((e) => {
      groups = null;
      throw e;
    });
  return groups;
}

/**
 * The picker's sections: the guild's own emoji first (`custom`, as the
 * gateway gives them), then the Unicode groups; with a query, the emoji
 * whose name or slug contains every word of it, in one section.
 */
export function emojiSections(unicodeGroups, custom, query = '') {
  const own = custom.map((e) => ({ key: `custom-${e.id}`, name: e.name, custom: e }));
  const words = query.toLowerCase().split(/[\s_:]+/).filter(Boolean);
  const all = [
    { name: 'This server', emojis: own },
    ...unicodeGroups.map((g) => ({ name: g.name, emojis: g.emojis.map((e) => ({ key: e.slug, name: e.name, emoji: e.emoji })) })),
  ];
  if (!words.length) return all.filter((s) => s.emojis.length);
  const matches = all.flatMap((s) => s.emojis).filter((e) => {
    const text = `${e.name} ${e.key}`.toLowerCase().replace(/_/g, ' ');
    return words.every((w) => text.includes(w));
  });
  return [{ name: 'Search results', emojis: matches }];
}

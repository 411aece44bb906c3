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

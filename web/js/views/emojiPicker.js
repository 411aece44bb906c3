// The full emoji picker: a search field and the guild's own emoji, then
// every Unicode emoji by group (vendored data, loaded on first use);
// arrow keys move in the grid. `onPick({id, name, text})`: a custom
// emoji has an id, a Unicode one is its own name; `text` is what a
// message says for it.

import { h, toast } from '../dom.js';
import { emojiSections, loadEmojiGroups } from '../emoji.js';
import { closeMenu, showMenu } from './dialog.js';

export function openEmojiPicker(ctx, anchor, { guildId = null, label = 'Emoji', onPick }) {
  const custom = guildId ? ctx.store.state.guilds.get(guildId)?.emojis ?? [] : [];
  const search = h('input', { type: 'search', class: 'emoji-search', testid: 'emoji-search', placeholder: 'Find an emoji', 'aria-label': 'Find an emoji' });
  const body = h('div', { class: 'emoji-sections', testid: 'emoji-sections' }, h('p', { class: 'hint', role: 'status', text: 'Loading emoji…' }));
  const panel = h('div', { class: 'emoji-picker', testid: 'emoji-picker' }, search, body);
  showMenu(anchor, panel, { label, testid: 'emoji-picker-menu', align: 'end' });
  search.focus();

  let groups = [];
  const pick = (e) => {
    closeMenu();
    if (e.custom) onPick({ id: e.custom.id, name: e.custom.name, text: `<${e.custom.animated ? 'a' : ''}:${e.custom.name}:${e.custom.id}>` });
    else onPick({ id: null, name: e.emoji, text: e.emoji });
  };
  const draw = () => {
    const sections = emojiSections(groups, custom, search.value);
    body.replaceChildren(
      ...sections.map((s) =>
        h('section', { class: 'emoji-section', 'aria-label': s.name },
          h('h3', { class: 'emoji-section-title', text: s.name }),
          s.emojis.length
            ? h('div', { class: 'emoji-grid', role: 'group', 'aria-label': s.name },
              ...s.emojis.map((e) =>
                h('button', {
                  type: 'button',
                  class: 'emoji-option',
                  testid: 'picker-emoji',
                  'data-key': e.key,
                  'aria-label': e.name,
                  title: `:${e.custom ? e.name : e.key}:`,
                  onClick: () => pick(e),
                }, e.custom ? h('span', { 'aria-hidden': 'true', class: 'custom-emoji-name', text: `:${e.name}:` }) : h('span', { 'aria-hidden': 'true', text: e.emoji }))))
            : h('p', { class: 'hint', testid: 'emoji-none', text: 'No emoji match.' }),
        ),
      ),
    );
  };
  loadEmojiGroups()
    .then((g) => {
      groups = g;
      draw();
    })
    .catch((e) => {
      toast(e.message, 'error');
      draw();
    });
  search.addEventListener('input', draw);
  // Arrows move between the buttons of the grid, Enter picks.
  body.addEventListener('keydown', (e) => {
    const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: 8, ArrowUp: -8 }[e.key];
    if (!step) return;
    const buttons = [...body.querySelectorAll('button')];
    const i = buttons.indexOf(document.activeElement);
    buttons[Math.max(0, Math.min(buttons.length - 1, i + step))]?.focus();
    e.preventDefault();
    e.stopPropagation();
  });
}

// A suggestion list under a text field (the `/` commands, `@` members,
// `#` channels, `:` emoji): the field keeps focus, arrows move the active
// option (announced through aria-activedescendant), Enter or Tab picks,
// Escape closes, a click picks.

import { h } from '../dom.js';

let uid = 0;

/**
 * `render(item)` gives an option's content and `key(item)` its data-key;
 * `onPick(item)` when one is chosen. Returns {el, show(items, empty),
 * close(), handleKey(e) → handled, open()}.
 */
export function mountListbox({ input, label, testid, optionTestid, render, key, onPick }) {
  const id = `listbox-${++uid}`;
  const el = h('ul', { class: 'command-picker', id, role: 'listbox', 'aria-label': label, testid, hidden: true });
  let items = [];
  let active = 0;

  function attach() {
    input.setAttribute('aria-controls', id);
    input.setAttribute('aria-autocomplete', 'list');
  }

  function close() {
    items = [];
    el.hidden = true;
    input.removeAttribute('aria-activedescendant');
  }

  function draw(empty) {
    el.hidden = false;
    if (!items.length) {
      el.replaceChildren(h('li', { class: 'command-empty hint', role: 'presentation', testid: `${testid}-empty`, text: empty }));
      input.removeAttribute('aria-activedescendant');
      return;
    }
    el.replaceChildren(
      ...items.map((item, i) =>
        h('li', {
          id: `${id}-${i}`,
          role: 'option',
          class: ['command-option', i === active && 'active'],
          testid: optionTestid,
          'data-key': key(item),
          'aria-selected': String(i === active),
          onPointerdown: (e) => {
            e.preventDefault();
            pick(i);
          },
        }, ...render(item)),
      ),
    );
    input.setAttribute('aria-activedescendant', `${id}-${active}`);
  }

  function pick(i) {
    const item = items[i];
    close();
    if (item) onPick(item);
  }

  return {
    el,
    open: () => !el.hidden,
    close,
    /** Shows `list` (or `empty` when there is nothing), the input's list from now on. */
    show(list, empty = 'Nothing matches.') {
      attach();
      items = list;
      active = Math.min(active, Math.max(0, items.length - 1));
      draw(empty);
    },
    handleKey(e) {
      if (el.hidden) return false;
      if (e.key === 'Escape') {
        close();
      } else if (!items.length) {
        return false;
      } else if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        active = (active + (e.key === 'ArrowDown' ? 1 : -1) + items.length) % items.length;
        draw();
      } else if (e.key === 'Enter' || e.key === 'Tab') {
        pick(active);
      } else {
        return false;
      }
      e.preventDefault();
      return true;
    },
  };
}

// An accessible tab set: arrow keys move between tabs, the panel is
// rebuilt when its tab is chosen.

import { h } from '../dom.js';

/** `tabs`: [{ id, label, render() -> Node }]. */
export function tabSet(tabs, { label, testid = 'tabs' }) {
  const list = h('div', { class: 'tab-list', role: 'tablist', 'aria-label': label, testid });
  const panel = h('div', { class: 'tab-panel', role: 'tabpanel', tabIndex: 0 });
  const buttons = tabs.map((tab, i) =>
    h('button', {
      type: 'button',
      role: 'tab',
      id: `tab-${tab.id}`,
      class: 'tab',
      testid: `tab-${tab.id}`,
      'aria-controls': 'tab-panel',
      onClick: () => select(i),
      onKeydown(e) {
        const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[e.key];
        if (!step) return;
        e.preventDefault();
        const next = (i + step + tabs.length) % tabs.length;
        select(next);
        buttons[next].focus();
      },
    }, tab.label),
  );
  list.append(...buttons);
  panel.id = 'tab-panel';

  function select(index) {
    buttons.forEach((b, i) => {
      b.setAttribute('aria-selected', String(i === index));
      b.tabIndex = i === index ? 0 : -1;
    });
    panel.setAttribute('aria-labelledby', buttons[index].id);
    panel.replaceChildren(tabs[index].render(() => select(index)));
  }
  select(0);
  return h('div', { class: 'tabs' }, list, panel);
}

// Modal dialogs on <dialog> (focus trap and Escape for free), a prompt
// and a confirm built on them, and small popover menus.

import { h } from '../dom.js';

/**
 * Opens a modal. `render(close)` returns its body. Resolves with what
 * `close(value)` is given (undefined on Escape or the close button).
 */
export function openDialog({ title, render, testid = 'dialog', wide = false }) {
  return new Promise((resolve) => {
    const previous = document.activeElement;
    let done = false;
    const dialog = h('dialog', { class: ['dialog', wide && 'dialog-wide'], testid, 'aria-label': title });
    const close = (value) => {
      if (done) return;
      done = true;
      dialog.close();
      dialog.remove();
      if (previous && previous.isConnected) previous.focus?.();
      resolve(value);
    };
    dialog.addEventListener('cancel', (e) => {
      e.preventDefault();
      close(undefined);
    });
    dialog.addEventListener('click', (e) => {
      // A click on the backdrop (outside the box) closes.
      if (e.target === dialog) close(undefined);
    });
    const header = h(
      'header',
      { class: 'dialog-header' },
      h('h2', { text: title }),
      h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Close', onClick: () => close(undefined) }, '✕'),
    );
    dialog.append(header, h('div', { class: 'dialog-body' }, render(close)));
    document.body.appendChild(dialog);
    dialog.showModal();
    const first = dialog.querySelector('[autofocus], input, textarea, select, .dialog-body button');
    first?.focus();
  });
}

/**
 * A form whose submit runs `action()`. What it throws is shown in the
 * form's alert line, which stands before the last child (the buttons).
 */
export function actionForm(action, ...children) {
  const error = h('p', { class: 'form-error', role: 'alert' });
  const buttons = children.pop();
  return h(
    'form',
    {
      class: 'form',
      async onSubmit(e) {
        e.preventDefault();
        error.textContent = '';
        try {
          await action();
        } catch (err) {
          error.textContent = err.message;
        }
      },
    },
    ...children,
    error,
    buttons,
  );
}

/** Asks for one line of text; resolves with it, or null if cancelled. */
export function promptText({ title, label, value = '', confirm = 'Save', testid = 'prompt-dialog', placeholder = '' }) {
  return openDialog({
    title,
    testid,
    render(close) {
      const input = h('input', { type: 'text', value, placeholder, required: true, autofocus: true, testid: 'prompt-input', 'aria-label': label });
      const form = h(
        'form',
        {
          class: 'form',
          onSubmit(e) {
            e.preventDefault();
            const text = input.value.trim();
            if (text) close(text);
          },
        },
        h('label', { class: 'field' }, h('span', { text: label }), input),
        h(
          'div',
          { class: 'form-actions' },
          h('button', { type: 'button', class: 'button button-secondary', onClick: () => close(null) }, 'Cancel'),
          h('button', { type: 'submit', class: 'button', testid: 'prompt-submit' }, confirm),
        ),
      );
      return form;
    },
  }).then((v) => v ?? null);
}

/** Asks yes or no; resolves true only on the confirm button. */
export function confirmAction({ title, text, confirm = 'Confirm', danger = true }) {
  return openDialog({
    title,
    testid: 'confirm-dialog',
    render(close) {
      return h(
        'div',
        { class: 'form' },
        h('p', { text }),
        h(
          'div',
          { class: 'form-actions' },
          h('button', { type: 'button', class: 'button button-secondary', onClick: () => close(false) }, 'Cancel'),
          h('button', { type: 'button', class: ['button', danger && 'button-danger'], testid: 'confirm-button', autofocus: true, onClick: () => close(true) }, confirm),
        ),
      );
    },
  }).then((v) => v === true);
}

let openMenu = null;

/**
 * A popover next to `anchor` with `items` [{label, onSelect, danger, testid}]
 * or a custom element. Arrow keys move between items; Escape closes.
 */
export function showMenu(anchor, items, { label = 'Menu', testid = 'menu', align = 'start' } = {}) {
  closeMenu();
  // A list of items is a menu; other content (a picker, a panel) a popover dialog.
  const menu = h('div', { class: 'menu', role: items instanceof Node ? 'dialog' : 'menu', 'aria-label': label, testid });
  if (items instanceof Node) {
    menu.appendChild(items);
  } else {
    for (const item of items) {
      if (item === 'separator') {
        menu.appendChild(h('hr', { class: 'menu-separator' }));
        continue;
      }
      menu.appendChild(
        h(
          'button',
          {
            type: 'button',
            role: 'menuitem',
            class: ['menu-item', item.danger && 'danger', item.checked && 'checked'],
            testid: item.testid,
            'aria-checked': item.checked === undefined ? undefined : String(Boolean(item.checked)),
            onClick: () => {
              closeMenu();
              item.onSelect();
            },
          },
          item.icon ? h('span', { class: 'menu-icon', 'aria-hidden': 'true', text: item.icon }) : null,
          item.label,
        ),
      );
    }
  }
  document.body.appendChild(menu);
  position(menu, anchor, align);
  const buttons = () => [...menu.querySelectorAll('button, [tabindex="0"]')];
  menu.addEventListener('keydown', (e) => {
    const list = buttons();
    const i = list.indexOf(document.activeElement);
    if (e.key === 'ArrowDown') list[(i + 1) % list.length]?.focus();
    else if (e.key === 'ArrowUp') list[(i - 1 + list.length) % list.length]?.focus();
    else if (e.key === 'Escape') {
      closeMenu();
      anchor.focus?.();
    } else return;
    e.preventDefault();
  });
  const outside = (e) => {
    if (!menu.contains(e.target) && !anchor.contains(e.target)) closeMenu();
  };
  setTimeout(() => document.addEventListener('pointerdown', outside), 0);
  openMenu = { menu, outside };
  buttons()[0]?.focus();
  return menu;
}

export function closeMenu() {
  if (!openMenu) return;
  document.removeEventListener('pointerdown', openMenu.outside);
  openMenu.menu.remove();
  openMenu = null;
}

function position(menu, anchor, align) {
  const rect = anchor.getBoundingClientRect();
  const width = menu.offsetWidth;
  const height = menu.offsetHeight;
  let left = align === 'end' ? rect.right - width : rect.left;
  let top = rect.bottom + 4;
  if (top + height > window.innerHeight - 8) top = Math.max(8, rect.top - height - 4);
  left = Math.min(Math.max(8, left), window.innerWidth - width - 8);
  menu.style.left = `${left}px`;
  menu.style.top = `${top}px`;
}

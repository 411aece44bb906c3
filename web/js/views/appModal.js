// The modal an application opens in answer to an interaction
// (INTERACTION_MODAL_CREATE): a dialog with its text inputs (short or
// paragraph, with their labels, lengths, placeholders and values),
// submitted as a modal interaction; closing it drops it.

import { h, toast } from '../dom.js';
import { openDialog } from './dialog.js';

const TEXT_INPUT = 4;
const PARAGRAPH = 2;

/** Opens each modal the store receives; returns the unsubscribe. */
export function mountAppModals(ctx) {
  const { store } = ctx;
  let shown = null;
  return store.on('modal', () => {
    const modal = store.state.modal;
    if (!modal || modal === shown) return;
    shown = modal;
    openAppModal(ctx, modal).finally(() => {
      if (store.state.modal === modal) store.closeModal();
      shown = null;
    });
  });
}

function field(input) {
  const props = {
    testid: 'modal-input',
    'data-custom-id': input.custom_id,
    required: input.required !== false,
    placeholder: input.placeholder ?? '',
    value: input.value ?? '',
  };
  if (input.min_length != null) props.minLength = input.min_length;
  if (input.max_length != null) props.maxLength = input.max_length;
  const control = input.style === PARAGRAPH ? h('textarea', { ...props, rows: 4 }) : h('input', { ...props, type: 'text' });
  return { control, label: h('label', { class: 'field' }, h('span', { text: input.label ?? input.custom_id }), control) };
}

function openAppModal(ctx, modal) {
  return openDialog({
    title: modal.title ?? 'Form',
    testid: 'app-modal',
    render(close) {
      const controls = [];
      const fields = [];
      for (const row of modal.components ?? []) {
        for (const input of row.components ?? []) {
          if (input.type !== TEXT_INPUT) continue;
          const { control, label } = field(input);
          controls.push([input.custom_id, control]);
          fields.push(label);
        }
      }
      const error = h('p', { class: 'form-error', role: 'alert' });
      return h('form', {
        class: 'form',
        async onSubmit(e) {
          e.preventDefault();
          const values = Object.fromEntries(controls.map(([id, control]) => [id, control.value]));
          try {
            close(true);
            await ctx.actions.submitModal(modal, values);
          } catch (err) {
            toast(err.message, 'error');
          }
        },
      },
      ...fields,
      error,
      h('div', { class: 'form-actions' },
        h('button', { type: 'button', class: 'button button-secondary', onClick: () => close(null) }, 'Cancel'),
        h('button', { type: 'submit', class: 'button', testid: 'modal-submit' }, 'Submit')),
      );
    },
  });
}

// Slash commands in the composer. Typing `/` lists the commands this
// person may use in the channel (the server's command index); picking one
// opens a form with a field per option (text, numbers, true/false, the
// guild's members, roles and channels, the option's choices, and the
// application's suggestions for autocomplete options); sending it invokes
// the command. What happens next (sending, thinking, failure) shows in the
// message list (`interactionNotices`).

import { h, toast } from '../dom.js';
import { OPTION, entryName, matchEntries } from '../commands.js';
import { displayName } from '../util.js';
import { mountListbox } from './listbox.js';

const AUTOCOMPLETE_DELAY_MS = 250;

/**
 * The `/` list under the composer's `input`. `onPick(entry)` when one is
 * chosen. Returns {el, update(), handleKey(e) → handled, close(), reset()}.
 */
export function mountCommandPicker(ctx, { input, channelId, onPick }) {
  const list = mountListbox({
    input,
    label: 'Commands',
    testid: 'command-picker',
    optionTestid: 'command-option',
    key: entryName,
    render: (entry) => [
      h('span', { class: 'command-name', text: `/${entryName(entry)}` }),
      h('span', { class: 'command-description hint truncate', text: entry.description }),
      h('span', { class: 'command-app hint', text: entry.application }),
    ],
    onPick,
  });
  let entries = null;
  let loadingFor = null;

  async function update() {
    const channel = channelId();
    if (!channel || !input.value.startsWith('/')) return list.close();
    if (!entries || entries.channel !== channel) {
      if (loadingFor === channel) return;
      loadingFor = channel;
      try {
        entries = { channel, list: await ctx.actions.loadCommands(channel) };
      } catch (e) {
        entries = { channel, list: [] };
        toast(e.message, 'error');
      } finally {
        loadingFor = null;
      }
      if (channelId() !== channel) return;
    }
    list.show(matchEntries(entries.list, input.value) ?? [], 'No commands match.');
  }

  return {
    el: list.el,
    update,
    handleKey: list.handleKey,
    close: list.close,
    /** Forget the cached list (another channel). */
    reset() {
      entries = null;
      list.close();
    },
  };
}

/** The choices a member, role, mentionable or channel option offers. */
function guildChoices(ctx, channelId, option) {
  const { store } = ctx;
  const channel = store.state.channels.get(channelId);
  const guildId = channel?.guild_id;
  const users = () => {
    if (!guildId) return (channel?.recipients ?? []).map((u) => ({ value: u.id, name: u.global_name || u.username }));
    return [...(store.state.members.get(guildId)?.keys() ?? [])].map((id) => ({
      value: id,
      name: displayName(store.state.users.get(id), store.member(guildId, id)),
    }));
  };
  const roles = () => [...(store.state.guilds.get(guildId)?.roles.values() ?? [])].map((r) => ({ value: r.id, name: `@${r.name}` }));
  switch (option.type) {
    case OPTION.USER:
      return users();
    case OPTION.ROLE:
      return roles();
    case OPTION.MENTIONABLE:
      return [...users(), ...roles()];
    case OPTION.CHANNEL:
      return store
        .guildChannels(guildId)
        .filter((c) => !option.channel_types || option.channel_types.includes(c.type))
        .map((c) => ({ value: c.id, name: `#${c.name}` }));
    case OPTION.BOOLEAN:
      return [{ value: 'true', name: 'True' }, { value: 'false', name: 'False' }];
    default:
      return (option.choices ?? []).map((c) => ({ value: String(c.value), name: c.name }));
  }
}

const PICKED_TYPES = new Set([OPTION.USER, OPTION.ROLE, OPTION.MENTIONABLE, OPTION.CHANNEL, OPTION.BOOLEAN]);

/**
 * The form of a picked command. `onDone()` after it was sent or
 * cancelled. Returns {el, focus()}.
 */
export function commandForm(ctx, { channelId, entry, onDone }) {
  const values = {};
  const errors = new Map();
  const fields = [];

  for (const option of entry.options) {
    const label = `${option.name}${option.required ? '' : ' (optional)'}`;
    const error = h('span', { class: 'field-error', role: 'alert' });
    errors.set(option.name, error);
    let control;
    if (PICKED_TYPES.has(option.type) || option.choices?.length) {
      control = h('select', { testid: 'command-field', 'data-option': option.name },
        h('option', { value: '', text: option.required ? 'Choose…' : '(none)' }),
        ...guildChoices(ctx, channelId, option).map((c) => h('option', { value: c.value, text: c.name })));
      control.addEventListener('change', () => (values[option.name] = control.value));
    } else if (option.type === OPTION.ATTACHMENT) {
      control = h('input', { type: 'text', disabled: true, value: 'Files cannot be attached to commands here.', testid: 'command-field', 'data-option': option.name });
    } else {
      const numeric = option.type === OPTION.INTEGER || option.type === OPTION.NUMBER;
      control = h('input', {
        type: numeric && !option.autocomplete ? 'number' : 'text',
        step: option.type === OPTION.INTEGER ? '1' : 'any',
        min: option.min_value ?? undefined,
        max: option.max_value ?? undefined,
        maxLength: option.max_length ?? undefined,
        testid: 'command-field',
        'data-option': option.name,
        autocomplete: 'off',
      });
      control.addEventListener('input', () => {
        values[option.name] = control.value;
        delete control.dataset.value;
      });
    }
    control.setAttribute('aria-label', `${option.name}: ${option.description ?? ''}`);
    const suggestions = option.autocomplete ? autocompleteList(ctx, { channelId, entry, values, option, control }) : null;
    fields.push(
      h('div', { class: 'command-field' },
        h('label', { class: 'field' }, h('span', { text: label, title: option.description ?? '' }), control),
        suggestions,
        error,
      ),
    );
  }

  const send = h('button', { type: 'submit', class: 'button button-small', testid: 'command-send' }, 'Send');
  const form = h('form', {
    class: 'command-form',
    testid: 'command-form',
    'aria-label': `Command /${entryName(entry)}`,
    async onSubmit(e) {
      e.preventDefault();
      for (const error of errors.values()) error.textContent = '';
      send.disabled = true;
      try {
        const result = await ctx.actions.invokeCommand(channelId, entry, values);
        if (result.errors) {
          for (const [name, message] of Object.entries(result.errors)) errors.get(name).textContent = message;
          return;
        }
        onDone();
      } catch (err) {
        toast(err.message, 'error');
        onDone();
      } finally {
        send.disabled = false;
      }
    },
    onKeydown(e) {
      if (e.key === 'Escape') {
        e.preventDefault();
        onDone();
      }
    },
  },
  h('header', { class: 'command-form-header' },
    h('strong', { class: 'command-name', text: `/${entryName(entry)}` }),
    h('span', { class: 'hint truncate', text: entry.description }),
    h('span', { class: 'hint', text: entry.application })),
  h('div', { class: 'command-fields' }, ...fields),
  h('div', { class: 'form-actions' },
    h('button', { type: 'button', class: 'button button-secondary button-small', testid: 'command-cancel', onClick: onDone }, 'Cancel'),
    send),
  );
  return {
    el: form,
    focus: () => (form.querySelector('[data-option]:not([disabled])') ?? send).focus(),
  };
}

/** The application's suggestions under an autocomplete option's field. */
function autocompleteList(ctx, { channelId, entry, values, option, control }) {
  const list = h('ul', { class: 'autocomplete-list', role: 'listbox', 'aria-label': `Suggestions for ${option.name}`, testid: 'autocomplete-list', hidden: true });
  let timer = null;
  let asked = 0;
  const ask = async () => {
    const n = ++asked;
    const choices = await ctx.actions.autocomplete(channelId, entry, { ...values, [option.name]: control.value }, option.name).catch(() => []);
    if (n !== asked) return;
    list.hidden = !choices.length;
    list.replaceChildren(
      ...choices.map((c) =>
        h('li', { role: 'presentation' },
          h('button', {
            type: 'button',
            role: 'option',
            class: 'autocomplete-option',
            testid: 'autocomplete-option',
            'data-value': String(c.value),
            onClick: () => {
              control.value = c.name;
              values[option.name] = String(c.value);
              list.hidden = true;
              control.focus();
            },
          }, c.name),
        ),
      ),
    );
  };
  control.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(ask, AUTOCOMPLETE_DELAY_MS);
  });
  control.addEventListener('focus', () => {
    if (!control.value) ask();
  });
  return list;
}

/** Our commands on their way in a channel: sending, thinking, or failed. */
export function interactionNotices(ctx, channelId) {
  const items = ctx.store.interactionsIn(channelId, null);
  return items.map((i) =>
    h('div', { class: ['interaction-notice', i.status === 'failed' && 'failed'], testid: 'interaction-notice', 'data-status': i.status, role: i.status === 'failed' ? 'alert' : 'status' },
      h('span', { class: 'command-name', text: i.kind === 5 ? i.name ?? 'Form' : `/${i.name}` }),
      ' ',
      i.status === 'failed'
        ? h('span', { testid: 'interaction-failed', text: `failed: ${i.reason}` })
        : h('span', { class: 'hint', text: i.status === 'sending' ? 'Sending command…' : 'Waiting for the application…' }),
      i.status === 'failed'
        ? h('button', { type: 'button', class: 'link-button', testid: 'dismiss-interaction', onClick: () => ctx.actions.dismissInteraction(i.nonce) }, 'Dismiss')
        : null,
    ),
  );
}

// An application's message components: action rows of buttons (every
// style; link buttons open in a new tab) and select menus (strings, or
// the guild's users, roles, mentionables and channels). Using one sends a
// component interaction; while it is on its way the row says so, and a
// failure is shown under the components.

import { h, toast } from '../dom.js';
import { sameOriginUrl } from '../util.js';
import { displayName } from '../util.js';

const ROW = 1;
const BUTTON = 2;
const STRING_SELECT = 3;
const USER_SELECT = 5;
const ROLE_SELECT = 6;
const MENTIONABLE_SELECT = 7;
const CHANNEL_SELECT = 8;

const BUTTON_STYLE = { 1: 'primary', 2: 'secondary', 3: 'success', 4: 'danger', 5: 'link' };

/** A link button's target: http(s) only; the page opens it in a new tab. */
export function linkTarget(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.href : null;
  } catch {
    return null;
  }
}

/** The components of message `m`, with the state of our interactions on it. */
export function renderComponents(ctx, m) {
  const { store } = ctx;
  const mine = store.interactionsIn(m.channel_id, m.id);
  const busy = mine.some((i) => i.status !== 'failed');
  const failed = mine.find((i) => i.status === 'failed');
  const box = h('div', { class: 'components', testid: 'components', 'aria-busy': String(busy) });
  for (const row of m.components ?? []) {
    if (row.type !== ROW) continue;
    const line = h('div', { class: 'component-row', role: 'group' });
    for (const c of row.components ?? []) line.appendChild(renderComponent(ctx, m, c, busy));
    box.appendChild(line);
  }
  if (busy) box.appendChild(h('div', { class: 'hint interaction-status', role: 'status', testid: 'interaction-sending', text: 'Sending…' }));
  if (failed) {
    box.appendChild(
      h('div', { class: 'interaction-failed', role: 'alert', testid: 'interaction-failed' },
        `This interaction failed: ${failed.reason} `,
        h('button', { type: 'button', class: 'link-button', onClick: () => ctx.actions.dismissInteraction(failed.nonce) }, 'Dismiss'),
      ),
    );
  }
  return box;
}

function renderComponent(ctx, m, c, busy) {
  if (c.type === BUTTON) return button(ctx, m, c, busy);
  if ([STRING_SELECT, USER_SELECT, ROLE_SELECT, MENTIONABLE_SELECT, CHANNEL_SELECT].includes(c.type)) return select(ctx, m, c, busy);
  return h('span', { class: 'hint', text: 'Unsupported component' });
}

function buttonFace(c) {
  const emoji = c.emoji?.name && !c.emoji.id ? c.emoji.name : c.emoji?.name ? `:${c.emoji.name}:` : null;
  return [emoji ? h('span', { class: 'button-emoji', 'aria-hidden': c.label ? 'true' : undefined, text: emoji }) : null, c.label ?? ''];
}

function button(ctx, m, c, busy) {
  const style = BUTTON_STYLE[c.style] ?? 'secondary';
  const label = c.label || c.emoji?.name || 'Button';
  if (c.style === 5) {
    const href = linkTarget(c.url);
    // A link to this site stays a same-origin link; others open in a new tab.
    const local = href && sameOriginUrl(href, location.origin);
    if (!href || c.disabled) {
      return h('button', { type: 'button', class: 'component-button style-link', disabled: true, testid: 'component-button' }, ...buttonFace(c));
    }
    return h('a', {
      class: 'component-button style-link',
      href: local ?? href,
      target: '_blank',
      rel: 'noopener noreferrer',
      testid: 'component-link',
      'aria-label': `${label} (opens in a new tab)`,
    }, ...buttonFace(c), h('span', { 'aria-hidden': 'true', text: ' ↗' }));
  }
  return h('button', {
    type: 'button',
    class: ['component-button', `style-${style}`],
    testid: 'component-button',
    'data-custom-id': c.custom_id,
    disabled: Boolean(c.disabled) || busy || m.pending,
    onClick: () => ctx.actions.useComponent(m, c).catch((e) => toast(e.message, 'error')),
  }, ...buttonFace(c));
}

/** The choices of a select: its options, or what the guild has. */
function selectChoices(ctx, m, c) {
  const { store } = ctx;
  const guildId = store.state.channels.get(m.channel_id)?.guild_id;
  const guild = guildId ? store.state.guilds.get(guildId) : null;
  const users = () =>
    [...(store.state.members.get(guildId)?.keys() ?? [])].map((id) => ({
      value: id,
      label: displayName(store.state.users.get(id), store.member(guildId, id)),
    }));
  const roles = () => [...(guild?.roles.values() ?? [])].filter((r) => r.id !== guildId).map((r) => ({ value: r.id, label: `@${r.name}` }));
  switch (c.type) {
    case STRING_SELECT:
      return (c.options ?? []).map((o) => ({ value: o.value, label: o.label, description: o.description, selected: o.default }));
    case USER_SELECT:
      return users();
    case ROLE_SELECT:
      return roles();
    case MENTIONABLE_SELECT:
      return [...users(), ...roles()];
    default:
      return store
        .guildChannels(guildId)
        .filter((ch) => !c.channel_types || c.channel_types.includes(ch.type))
        .map((ch) => ({ value: ch.id, label: `#${ch.name}` }));
  }
}

function select(ctx, m, c, busy) {
  const min = c.min_values ?? 1;
  const max = c.max_values ?? 1;
  const multiple = max > 1;
  const choices = selectChoices(ctx, m, c);
  const el = h('select', {
    class: 'component-select',
    testid: 'component-select',
    'data-custom-id': c.custom_id,
    multiple,
    disabled: Boolean(c.disabled) || busy || m.pending,
    'aria-label': c.placeholder || 'Make a selection',
  });
  if (!multiple) el.appendChild(h('option', { value: '', text: c.placeholder || 'Make a selection', disabled: true, selected: true }));
  for (const choice of choices) {
    el.appendChild(h('option', { value: choice.value, title: choice.description ?? '', text: choice.label, selected: Boolean(choice.selected) && multiple }));
  }
  const send = () => {
    const values = [...el.selectedOptions].map((o) => o.value).filter(Boolean);
    if (values.length < min || values.length > max) {
      toast(min === max ? `Pick ${min}.` : `Pick between ${min} and ${max}.`, 'error');
      return;
    }
    ctx.actions.useComponent(m, c, values).catch((e) => toast(e.message, 'error'));
  };
  if (!multiple) {
    el.addEventListener('change', send);
    return el;
  }
  return h('span', { class: 'component-multi' },
    el,
    h('button', { type: 'button', class: 'button button-small', testid: 'component-select-send', disabled: el.disabled, onClick: send }, 'Choose'),
  );
}

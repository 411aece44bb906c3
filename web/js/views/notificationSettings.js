// Notification settings as Discord keeps them, for a guild (level,
// suppressing @everyone and roles, a mute with an end) or for one of its
// channels (its own level or the guild's, a mute), saved through the
// user guild settings route; DMs are the '@me' guild.

import { h, toast } from '../dom.js';
import { LEVEL, muteActive, muteUntil } from '../notify.js';
import { openDialog } from './dialog.js';

const MUTES = [
  ['', 'Not muted'],
  ['15', 'For 15 minutes'],
  ['60', 'For 1 hour'],
  ['480', 'For 8 hours'],
  ['1440', 'For 24 hours'],
  ['forever', 'Until I turn it back on'],
];

function levelChoice(name, current, withInherit) {
  const choices = [
    ...(withInherit ? [[LEVEL.INHERIT, 'Use the server default']] : []),
    [LEVEL.ALL, 'All messages'],
    [LEVEL.MENTIONS, 'Only @mentions'],
    [LEVEL.NOTHING, 'Nothing'],
  ];
  return h('fieldset', { class: 'field', testid: 'notify-level' },
    h('legend', { text: 'Notify me of' }),
    ...choices.map(([value, text]) =>
      h('label', { class: 'field-inline' },
        h('input', { type: 'radio', name, value: String(value), checked: value === current, 'data-level': String(value) }),
        h('span', { text }),
      ),
    ),
  );
}

function muteSelect(muted, config) {
  const active = muteActive(muted, config);
  const select = h('select', { testid: 'notify-mute', 'aria-label': 'Mute' },
    ...MUTES.map(([value, text]) => h('option', { value, text })));
  if (active) {
    const until = config?.end_time ? `Muted until ${new Date(config.end_time).toLocaleString()}` : 'Muted until turned back on';
    select.insertBefore(h('option', { value: 'keep', text: until, selected: true }), select.firstChild);
  }
  return select;
}

/** The mute fields of a PATCH for the select's choice (none to keep it). */
function muteBody(choice) {
  if (choice === 'keep') return {};
  if (!choice) return { muted: false, mute_config: null };
  const minutes = choice === 'forever' ? null : Number(choice);
  return { muted: true, mute_config: { end_time: muteUntil(minutes), selected_time_window: minutes ? minutes * 60 : -1 } };
}

export function openNotificationSettings(ctx, guildId, channelId = null) {
  const { store } = ctx;
  const key = guildId ?? '@me';
  const settings = store.guildSettings(key);
  const guild = store.state.guilds.get(guildId);
  const channel = channelId ? store.state.channels.get(channelId) : null;
  const guildDefault = guild?.default_message_notifications ?? LEVEL.ALL;
  const title = channel ? `Notifications for #${channel.name}` : `Notifications for ${guild?.name ?? 'direct messages'}`;
  return openDialog({
    title,
    testid: 'notification-settings',
    render(close) {
      const own = channel ? (settings?.channel_overrides ?? []).find((o) => o.channel_id === channelId) : null;
      const level = channel ? own?.message_notifications ?? LEVEL.INHERIT : settings?.message_notifications ?? guildDefault;
      const levels = levelChoice('notify-level', level, Boolean(channel));
      const mute = channel ? muteSelect(own?.muted, own?.mute_config) : muteSelect(settings?.muted, settings?.mute_config);
      const everyone = h('input', { type: 'checkbox', testid: 'notify-suppress-everyone', checked: Boolean(settings?.suppress_everyone) });
      const roles = h('input', { type: 'checkbox', testid: 'notify-suppress-roles', checked: Boolean(settings?.suppress_roles) });
      const error = h('p', { class: 'form-error', role: 'alert' });
      return h('form', {
        class: 'form',
        async onSubmit(e) {
          e.preventDefault();
          const chosen = Number(levels.querySelector('input:checked')?.value ?? level);
          let body;
          if (channel) {
            body = { channel_overrides: { [channelId]: { message_notifications: chosen, ...muteBody(mute.value) } } };
          } else {
            body = { message_notifications: chosen, suppress_everyone: everyone.checked, suppress_roles: roles.checked, ...muteBody(mute.value) };
          }
          try {
            await ctx.actions.patchGuildSettings(guildId, body);
            toast('Notification settings saved.');
            close(true);
          } catch (err) {
            error.textContent = err.message;
          }
        },
      },
      levels,
      channel ? null : h('label', { class: 'field field-inline' }, everyone, h('span', { text: 'Suppress @everyone and @here' })),
      channel ? null : h('label', { class: 'field field-inline' }, roles, h('span', { text: 'Suppress all role @mentions' })),
      h('label', { class: 'field' }, h('span', { text: channel ? 'Mute this channel' : 'Mute this server' }), mute),
      error,
      h('div', { class: 'form-actions' },
        h('button', { type: 'button', class: 'button button-secondary', onClick: () => close(null) }, 'Cancel'),
        h('button', { type: 'submit', class: 'button', testid: 'notify-save' }, 'Save')),
      );
    },
  });
}

// Channel settings: name and topic, permission overwrites (allow, inherit
// or deny per permission for a role or member), delete.

import { h, toast } from '../dom.js';
import { displayName } from '../util.js';
import { P, has, EDITABLE } from '../permissions.js';
import { channelPerms, guildPerms, isThread } from './common.js';
import { openDialog, confirmAction } from './dialog.js';
import { tabSet } from './tabs.js';

export function openChannelSettings(ctx, channelId) {
  const channel = ctx.store.state.channels.get(channelId);
  if (!channel) return;
  let closeDialog = () => {};
  const tabs = [{ id: 'channel-overview', label: 'Overview', render: () => overview(ctx, channelId, () => closeDialog()) }];
  const canRoles = has(channelPerms(ctx.store, channelId), P.MANAGE_ROLES) || has(guildPerms(ctx.store, channel.guild_id), P.MANAGE_ROLES);
  if (!isThread(channel) && canRoles) {
    tabs.push({ id: 'channel-permissions', label: 'Permissions', render: (refresh) => permissions(ctx, channelId, refresh) });
  }
  return openDialog({
    title: `${channel.type === 4 ? 'Category' : isThread(channel) ? 'Thread' : 'Channel'} settings`,
    testid: 'channel-settings-dialog',
    wide: true,
    render: (close) => {
      closeDialog = close;
      return tabSet(tabs, { label: 'Channel settings sections', testid: 'channel-settings-tabs' });
    },
  });
}

function overview(ctx, channelId, closeDialog) {
  const channel = ctx.store.state.channels.get(channelId);
  const name = h('input', { type: 'text', value: channel.name, required: true, maxLength: 100, testid: 'channel-name-input' });
  const topic = h('textarea', { rows: 2, value: channel.topic ?? '', maxLength: 1024, testid: 'channel-topic-input' });
  const archived = h('input', { type: 'checkbox', checked: Boolean(channel.thread_metadata?.archived) });
  const error = h('p', { class: 'form-error', role: 'alert' });
  const textual = channel.type === 0 || channel.type === 5;
  return h('div', {},
    h('form', {
      class: 'form',
      async onSubmit(e) {
        e.preventDefault();
        error.textContent = '';
        const body = { name: channel.type === 4 || isThread(channel) ? name.value.trim() : name.value.trim().toLowerCase().replace(/\s+/g, '-') };
        if (textual) body.topic = topic.value.trim() || null;
        if (isThread(channel)) body.archived = archived.checked;
        try {
          await ctx.actions.patchChannel(channelId, body);
          toast('Channel saved.');
        } catch (err) {
          error.textContent = err.message;
        }
      },
    },
    h('label', { class: 'field' }, h('span', { text: 'Name' }), name),
    textual ? h('label', { class: 'field' }, h('span', { text: 'Topic' }), topic) : null,
    isThread(channel) ? h('label', { class: 'check-row' }, archived, 'Archived') : null,
    error,
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'button', testid: 'save-channel' }, 'Save changes')),
    ),
    h('section', { class: 'danger-zone' },
      h('button', {
        type: 'button',
        class: 'button button-danger',
        testid: 'delete-channel',
        async onClick() {
          if (!(await confirmAction({ title: `Delete ${channel.name}`, text: 'Its messages are deleted too. This cannot be undone.', confirm: 'Delete' }))) return;
          try {
            await ctx.actions.deleteChannel(channelId);
            closeDialog();
            if (ctx.store.state.ui.channelId === channelId) ctx.navigate(`/channels/${channel.guild_id}`);
          } catch (err) {
            toast(err.message, 'error');
          }
        },
      }, `Delete ${channel.type === 4 ? 'category' : 'channel'}`),
    ),
  );
}

function targetName(ctx, guild, overwrite) {
  if (overwrite.type === 0) return overwrite.id === guild.id ? '@everyone' : guild.roles.get(overwrite.id)?.name ?? 'deleted role';
  return displayName(ctx.store.state.users.get(overwrite.id), ctx.store.member(guild.id, overwrite.id));
}

function permissions(ctx, channelId, refresh) {
  const { store } = ctx;
  const channel = store.state.channels.get(channelId);
  const guild = store.state.guilds.get(channel.guild_id);
  const overwrites = [...(channel.permission_overwrites ?? [])];
  if (!overwrites.some((o) => o.id === guild.id)) overwrites.unshift({ id: guild.id, type: 0, allow: '0', deny: '0' });
  const editor = h('div', { class: 'overwrite-editor', testid: 'overwrite-editor' }, h('p', { class: 'hint', text: 'Choose a role or member.' }));
  const list = h('ul', { class: 'role-list', 'aria-label': 'Overwrites' });
  const open = (o) => {
    for (const b of list.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.targetId === o.id));
    editor.replaceChildren(overwriteEditor(ctx, channel, guild, o, refresh));
  };
  for (const o of overwrites) {
    list.appendChild(h('li', {}, h('button', { type: 'button', class: 'role-list-item', testid: 'overwrite-item', 'data-target-id': o.id, 'aria-pressed': 'false', onClick: () => open(o) }, `${o.type === 1 ? '👤 ' : ''}${targetName(ctx, guild, o)}`)));
  }
  // Add an overwrite for a role or member that has none yet.
  const choices = [
    ...[...guild.roles.values()].filter((r) => r.id !== guild.id && !overwrites.some((o) => o.id === r.id)).map((r) => ({ id: r.id, type: 0, label: `Role: ${r.name}` })),
    ...[...(store.state.members.get(guild.id)?.keys() ?? [])]
      .filter((id) => !overwrites.some((o) => o.id === id))
      .map((id) => ({ id, type: 1, label: `Member: ${displayName(store.state.users.get(id), store.member(guild.id, id))}` })),
  ];
  const picker = h('select', { 'aria-label': 'Add a role or member', testid: 'overwrite-add' },
    h('option', { value: '' }, 'Add role or member…'),
    choices.map((c) => h('option', { value: `${c.type}:${c.id}` }, c.label)),
  );
  picker.addEventListener('change', () => {
    if (!picker.value) return;
    const [type, id] = picker.value.split(':');
    const o = { id, type: Number(type), allow: '0', deny: '0' };
    list.appendChild(h('li', {}, h('button', { type: 'button', class: 'role-list-item', 'data-target-id': id, 'aria-pressed': 'false', onClick: () => open(o) }, targetName(ctx, guild, o))));
    open(o);
  });
  return h('div', { class: 'split' }, h('div', { class: 'split-side' }, picker, list), editor);
}

function overwriteEditor(ctx, channel, guild, overwrite, refresh) {
  const allow = BigInt(overwrite.allow ?? 0);
  const deny = BigInt(overwrite.deny ?? 0);
  const rows = EDITABLE.map(([key, label]) => {
    const bit = P[key];
    const value = has(allow, bit) ? 'allow' : has(deny, bit) ? 'deny' : 'inherit';
    const group = `ow-${key}`;
    const option = (v, text, glyph) =>
      h('label', { class: `tri tri-${v}`, title: text },
        h('input', { type: 'radio', name: group, value: v, checked: value === v, testid: `ow-${key}-${v}`, 'aria-label': `${label}: ${text}` }),
        h('span', { 'aria-hidden': 'true', text: glyph }),
      );
    return h('div', { class: 'tri-row', role: 'radiogroup', 'aria-label': label, 'data-perm': key },
      h('span', { class: 'tri-label', text: label }),
      option('deny', 'Deny', '✕'),
      option('inherit', 'Inherit', '/'),
      option('allow', 'Allow', '✓'),
    );
  });
  const error = h('p', { class: 'form-error', role: 'alert' });
  return h('form', {
    class: 'form',
    testid: 'overwrite-form',
    async onSubmit(e) {
      e.preventDefault();
      let a = allow;
      let d = deny;
      for (const row of rows) {
        const bit = P[row.dataset.perm];
        const chosen = row.querySelector('input:checked')?.value;
        a &= ~bit;
        d &= ~bit;
        if (chosen === 'allow') a |= bit;
        if (chosen === 'deny') d |= bit;
      }
      try {
        await ctx.api.putOverwrite(channel.id, overwrite.id, { type: overwrite.type, allow: a.toString(), deny: d.toString() });
        const fresh = await ctx.api.channel(channel.id);
        ctx.store.putChannel(fresh);
        toast('Permissions saved.');
        refresh();
      } catch (err) {
        error.textContent = err.message;
      }
    },
  },
  h('h3', { text: targetName(ctx, guild, overwrite) }),
  h('div', { class: 'tri-table' }, rows),
  error,
  h('div', { class: 'form-actions' },
    overwrite.id !== guild.id
      ? h('button', {
          type: 'button',
          class: 'button button-danger',
          testid: 'remove-overwrite',
          async onClick() {
            try {
              await ctx.api.deleteOverwrite(channel.id, overwrite.id);
              ctx.store.putChannel(await ctx.api.channel(channel.id));
              refresh();
            } catch (err) {
              error.textContent = err.message;
            }
          },
        }, 'Remove')
      : null,
    h('button', { type: 'submit', class: 'button', testid: 'save-overwrite' }, 'Save permissions'),
  ),
  );
}

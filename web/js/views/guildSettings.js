// Server settings for its owner and managers: overview (name, delete),
// roles with permissions, members (roles, kick, ban), invites and bans.

import { h, toast, avatar, imageOr } from '../dom.js';
import { imageField } from './imageUpload.js';
import { displayName, formatFull, imagePath, initials } from '../util.js';
import { P, has, EDITABLE, GUILD_ONLY, topRolePosition } from '../permissions.js';
import { guildPerms } from './common.js';
import { actionForm, openDialog, confirmAction } from './dialog.js';
import { tabSet } from './tabs.js';
import { inviteUrl, openInviteDialog } from './people.js';
import { sortedChannels } from './channelList.js';

export function openGuildSettings(ctx, guildId) {
  const guild = ctx.store.state.guilds.get(guildId);
  if (!guild) return;
  const perms = guildPerms(ctx.store, guildId);
  // What stays chosen when a tab is redrawn after a save.
  const memo = { roleId: null };
  let closeDialog = () => {};
  const tabs = [];
  if (has(perms, P.MANAGE_GUILD)) tabs.push({ id: 'overview', label: 'Overview', render: () => overview(ctx, guildId, () => closeDialog()) });
  if (has(perms, P.MANAGE_ROLES)) tabs.push({ id: 'roles', label: 'Roles', render: (refresh) => roles(ctx, guildId, refresh, memo) });
  tabs.push({ id: 'members', label: 'Members', render: (refresh) => members(ctx, guildId, refresh) });
  if (has(perms, P.MANAGE_GUILD)) tabs.push({ id: 'invites', label: 'Invites', render: (refresh) => invites(ctx, guildId, refresh) });
  if (has(perms, P.BAN_MEMBERS)) tabs.push({ id: 'bans', label: 'Bans', render: (refresh) => bans(ctx, guildId, refresh) });
  return openDialog({
    title: `${guild.name} settings`,
    testid: 'guild-settings',
    wide: true,
    render: (close) => {
      closeDialog = close;
      return tabSet(tabs, { label: 'Server settings sections', testid: 'guild-settings-tabs' });
    },
  });
}

function field(label, input) {
  return h('label', { class: 'field' }, h('span', { text: label }), input);
}

function overview(ctx, guildId, closeDialog) {
  const guild = ctx.store.state.guilds.get(guildId);
  const name = h('input', { type: 'text', value: guild.name, required: true, minLength: 2, maxLength: 100, testid: 'guild-name-input' });
  const description = h('textarea', { rows: 2, value: guild.description ?? '', maxLength: 120, testid: 'guild-description-input' });
  const isOwner = guild.owner_id === ctx.store.state.me?.id;
  const iconPreview = () => {
    const current = ctx.store.state.guilds.get(guildId) ?? guild;
    const fallback = h('span', { class: 'guild-icon', 'aria-hidden': 'true', text: initials(current.name ?? '') });
    const image = imageOr(imagePath('icons', guildId, current.icon, 128), fallback, 'guild-icon-image');
    return image === fallback ? fallback : h('span', { class: 'guild-icon' }, image);
  };
  return h('div', {},
    imageField({
      label: 'Icon',
      testid: 'guild-icon',
      preview: iconPreview,
      async save(icon) {
        const updated = await ctx.api.patchGuild(guildId, { icon });
        ctx.store.applyDispatch('GUILD_UPDATE', updated);
      },
    }),
    actionForm(
      async () => {
        const updated = await ctx.api.patchGuild(guildId, { name: name.value.trim(), description: description.value.trim() || null });
        ctx.store.applyDispatch('GUILD_UPDATE', updated);
        toast('Server updated.');
      },
      field('Server name', name),
      field('Description', description),
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'button', testid: 'save-guild' }, 'Save changes')),
    ),
    isOwner
      ? h('section', { class: 'danger-zone' },
          h('h3', { text: 'Delete server' }),
          h('p', { class: 'hint', text: 'Deletes every channel and message. This cannot be undone.' }),
          h('button', {
            type: 'button',
            class: 'button button-danger',
            testid: 'delete-guild',
            async onClick() {
              if (!(await confirmAction({ title: `Delete ${guild.name}`, text: 'Everything in this server will be deleted.', confirm: 'Delete server' }))) return;
              try {
                await ctx.api.deleteGuild(guildId);
                ctx.store.guildRemove(guildId);
                closeDialog();
                ctx.navigate('/channels/@me');
              } catch (err) {
                toast(err.message, 'error');
              }
            },
          }, 'Delete server'),
        )
      : null,
  );
}

const hex = (n) => `#${(n ?? 0).toString(16).padStart(6, '0')}`;

function sortedRoles(guild) {
  return [...guild.roles.values()].sort((a, b) => b.position - a.position);
}

function roles(ctx, guildId, refresh, memo) {
  const guild = ctx.store.state.guilds.get(guildId);
  const me = ctx.store.state.me?.id;
  const myTop = topRolePosition(guild, ctx.store.member(guildId, me), me);
  const editor = h('div', { class: 'role-editor', testid: 'role-editor' });
  const list = h('ul', { class: 'role-list', 'aria-label': 'Roles' });
  const select = (role) => {
    memo.roleId = role.id;
    for (const b of list.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.roleId === role.id));
    editor.replaceChildren(roleEditor(ctx, guild, role, role.position < myTop || guild.owner_id === me, refresh));
  };
  for (const role of sortedRoles(guild)) {
    const button = h('button', { type: 'button', class: 'role-list-item', testid: 'role-item', 'data-role-id': role.id, 'aria-pressed': 'false', onClick: () => select(role) },
      h('span', { class: 'role-dot', 'aria-hidden': 'true' }),
      role.id === guild.id ? '@everyone' : role.name,
    );
    button.firstChild.style.background = role.color ? hex(role.color) : 'var(--text-muted)';
    list.appendChild(h('li', {}, button));
  }
  const create = h('button', {
    type: 'button',
    class: 'button',
    testid: 'create-role',
    async onClick() {
      try {
        const role = await ctx.api.createRole(guildId, { name: 'new role' });
        ctx.store.applyDispatch('GUILD_ROLE_CREATE', { guild_id: guildId, role });
        memo.roleId = role.id;
        refresh();
      } catch (e) {
        toast(e.message, 'error');
      }
    },
  }, 'Create role');
  editor.appendChild(h('p', { class: 'hint', text: 'Choose a role to edit it.' }));
  const chosen = memo.roleId && guild.roles.get(memo.roleId);
  if (chosen) select(chosen);
  return h('div', { class: 'split' }, h('div', { class: 'split-side' }, create, list), editor);
}

function roleEditor(ctx, guild, role, editable, refresh) {
  const isEveryone = role.id === guild.id;
  const name = h('input', { type: 'text', value: isEveryone ? '@everyone' : role.name, disabled: isEveryone || !editable, maxLength: 100, testid: 'role-name-input' });
  const color = h('input', { type: 'color', value: hex(role.color), disabled: isEveryone || !editable, testid: 'role-color-input' });
  const hoist = h('input', { type: 'checkbox', checked: role.hoist, disabled: isEveryone || !editable });
  const mentionable = h('input', { type: 'checkbox', checked: role.mentionable, disabled: isEveryone || !editable });
  const current = BigInt(role.permissions ?? 0);
  const boxes = [...GUILD_ONLY, ...EDITABLE].map(([key, label]) => {
    const input = h('input', { type: 'checkbox', checked: has(current, P[key]), disabled: !editable, 'data-perm': key, testid: `perm-${key}` });
    return h('label', { class: 'check-row' }, input, h('span', { text: label }));
  });
  const error = h('p', { class: 'form-error', role: 'alert' });
  return h('form', {
    class: 'form',
    testid: 'role-form',
    async onSubmit(e) {
      e.preventDefault();
      let permissions = current;
      for (const box of boxes) {
        const input = box.querySelector('input');
        const bit = P[input.dataset.perm];
        permissions = input.checked ? permissions | bit : permissions & ~bit;
      }
      const body = { permissions: permissions.toString() };
      if (!isEveryone) {
        Object.assign(body, { name: name.value.trim(), color: parseInt(color.value.slice(1), 16), hoist: hoist.checked, mentionable: mentionable.checked });
      }
      try {
        const updated = await ctx.api.patchRole(guild.id, role.id, body);
        ctx.store.applyDispatch('GUILD_ROLE_UPDATE', { guild_id: guild.id, role: updated });
        toast('Role saved.');
        refresh();
      } catch (err) {
        error.textContent = err.message;
      }
    },
  },
  field('Role name', name),
  h('div', { class: 'row' }, field('Colour', color), h('label', { class: 'check-row' }, hoist, 'Show separately'), h('label', { class: 'check-row' }, mentionable, 'Mentionable')),
  h('fieldset', { class: 'perm-grid' }, h('legend', { text: 'Permissions' }), boxes),
  error,
  editable
    ? h('div', { class: 'form-actions' },
        isEveryone
          ? null
          : h('button', {
              type: 'button',
              class: 'button button-danger',
              testid: 'delete-role',
              async onClick() {
                if (!(await confirmAction({ title: `Delete ${role.name}`, text: 'Members lose this role.', confirm: 'Delete role' }))) return;
                try {
                  await ctx.api.deleteRole(guild.id, role.id);
                  ctx.store.applyDispatch('GUILD_ROLE_DELETE', { guild_id: guild.id, role_id: role.id });
                  refresh();
                } catch (err) {
                  error.textContent = err.message;
                }
              },
            }, 'Delete role'),
        h('button', { type: 'submit', class: 'button', testid: 'save-role' }, 'Save role'),
      )
    : h('p', { class: 'hint', text: 'This role is above your highest role.' }),
  );
}

function members(ctx, guildId, refresh) {
  const { store, api } = ctx;
  const guild = store.state.guilds.get(guildId);
  const me = store.state.me?.id;
  const perms = guildPerms(store, guildId);
  const myTop = topRolePosition(guild, store.member(guildId, me), me);
  const assignable = sortedRoles(guild).filter((r) => r.id !== guild.id && (guild.owner_id === me || r.position < myTop));
  const rows = [...(store.state.members.get(guildId) ?? new Map())]
    .map(([id, member]) => ({ id, member, user: store.state.users.get(id) }))
    .filter((r) => r.user)
    .sort((a, b) => displayName(a.user, a.member).localeCompare(displayName(b.user, b.member)));
  return h('ul', { class: 'settings-members' }, rows.map(({ id, member, user }) => {
    const name = displayName(user, member);
    const outranks = id !== guild.owner_id && myTop > topRolePosition(guild, member, id);
    const roleBoxes = has(perms, P.MANAGE_ROLES) && outranks
      ? assignable.map((role) =>
          h('label', { class: 'check-row small' },
            h('input', {
              type: 'checkbox',
              checked: member.roles?.includes(role.id),
              testid: 'member-role-toggle',
              'data-role-id': role.id,
              async onChange(e) {
                try {
                  if (e.target.checked) await api.addMemberRole(guildId, id, role.id);
                  else await api.removeMemberRole(guildId, id, role.id);
                } catch (err) {
                  e.target.checked = !e.target.checked;
                  toast(err.message, 'error');
                }
              },
            }),
            role.name,
          ),
        )
      : (member.roles ?? []).map((r) => guild.roles.get(r)?.name).filter(Boolean).map((n) => h('span', { class: 'role-chip', text: n }));
    return h('li', { class: 'settings-member', testid: 'settings-member', 'data-user-id': id },
      avatar(user, { size: 32 }),
      h('div', { class: 'settings-member-main' },
        h('strong', { text: name }), id === guild.owner_id ? h('span', { class: 'hint', text: ' · owner' }) : null,
        h('div', { class: 'role-toggles' }, roleBoxes),
      ),
      id !== me && outranks && has(perms, P.KICK_MEMBERS)
        ? h('button', {
            type: 'button',
            class: 'button button-small button-danger',
            testid: 'settings-kick',
            async onClick() {
              if (!(await confirmAction({ title: `Kick ${name}`, text: 'They can rejoin with an invite.', confirm: 'Kick' }))) return;
              api.kick(guildId, id).then(() => { store.applyDispatch('GUILD_MEMBER_REMOVE', { guild_id: guildId, user }); refresh(); }).catch((e) => toast(e.message, 'error'));
            },
          }, 'Kick')
        : null,
      id !== me && outranks && has(perms, P.BAN_MEMBERS)
        ? h('button', {
            type: 'button',
            class: 'button button-small button-danger',
            testid: 'settings-ban',
            async onClick() {
              if (!(await confirmAction({ title: `Ban ${name}`, text: 'They cannot rejoin until unbanned.', confirm: 'Ban' }))) return;
              api.ban(guildId, id).then(() => { store.applyDispatch('GUILD_MEMBER_REMOVE', { guild_id: guildId, user }); refresh(); }).catch((e) => toast(e.message, 'error'));
            },
          }, 'Ban')
        : null,
    );
  }));
}

function invites(ctx, guildId, refresh) {
  const { store, api } = ctx;
  const firstText = sortedChannels(store, guildId).find((c) => c.type === 0);
  const box = h('div', {}, h('p', { class: 'hint', role: 'status', text: 'Loading invites…' }));
  const row = (invite) =>
    h('li', { class: 'invite-row', testid: 'invite-row' },
      h('code', { text: invite.code }),
      h('span', { class: 'hint', text: `#${store.state.channels.get(invite.channel_id ?? invite.channel?.id)?.name ?? '?'} · ${invite.uses ?? 0} uses${invite.expires_at ? ` · expires ${formatFull(invite.expires_at)}` : ''}` }),
      h('button', { type: 'button', class: 'button button-small button-secondary', onClick: () => navigator.clipboard?.writeText(inviteUrl(invite.code)).then(() => toast('Copied.')) }, 'Copy'),
      h('button', {
        type: 'button',
        class: 'button button-small button-danger',
        testid: 'revoke-invite',
        async onClick() {
          try {
            await api.deleteInvite(invite.code);
            store.applyDispatch('INVITE_DELETE', { guild_id: guildId, code: invite.code });
            refresh();
          } catch (e) {
            toast(e.message, 'error');
          }
        },
      }, 'Revoke'),
    );
  api.guildInvites(guildId).then((list) => {
    for (const invite of list) store.putInvite(invite);
    box.replaceChildren(
      list.length
        ? h('ul', { class: 'invite-list' }, list.map(row))
        : h('p', { class: 'hint', text: 'No invites yet.' }),
    );
  }).catch((e) => {
    box.replaceChildren(h('p', { class: 'form-error', role: 'alert', text: e.message }));
  });
  return h('div', { class: 'form' },
    h('p', { class: 'hint', text: 'The server\'s live invites. Revoking one stops it working at once.' }),
    firstText ? h('button', { type: 'button', class: 'button', testid: 'settings-create-invite', onClick: () => openInviteDialog(ctx, firstText).then(refresh) }, 'Create invite') : null,
    box,
  );
}

function bans(ctx, guildId, refresh) {
  const box = h('div', {}, h('p', { class: 'hint', role: 'status', text: 'Loading bans…' }));
  ctx.api.bans(guildId).then((list) => {
    box.replaceChildren(
      list.length
        ? h('ul', { class: 'invite-list' }, list.map((ban) =>
            h('li', { class: 'invite-row', testid: 'ban-row' },
              avatar(ban.user, { size: 24 }),
              h('span', { text: displayName(ban.user) }),
              ban.reason ? h('span', { class: 'hint', text: ban.reason }) : null,
              h('button', {
                type: 'button',
                class: 'button button-small',
                testid: 'unban',
                async onClick() {
                  try {
                    await ctx.api.unban(guildId, ban.user.id);
                    refresh();
                  } catch (e) {
                    toast(e.message, 'error');
                  }
                },
              }, 'Unban'),
            )))
        : h('p', { class: 'hint', text: 'Nobody is banned.' }),
    );
  }).catch((e) => box.replaceChildren(h('p', { class: 'form-error', role: 'alert', text: e.message })));
  return box;
}

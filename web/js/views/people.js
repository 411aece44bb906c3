// Dialogs about people: inviting to a guild, starting a group DM, and a
// member's profile card (message them; roles, kick and ban for moderators).

import { h, avatar, toast } from '../dom.js';
import { displayName } from '../util.js';
import { P, has, topRolePosition } from '../permissions.js';
import { guildPerms } from './common.js';
import { openDialog, showMenu, confirmAction } from './dialog.js';

export function inviteUrl(code) {
  return `${location.origin}/invite/${code}`;
}

/** Creates an invite to `channel` and shows its link. */
export function openInviteDialog(ctx, channel) {
  return openDialog({
    title: `Invite people to #${channel.name}`,
    testid: 'invite-dialog',
    render(close) {
      const output = h('input', { type: 'text', readOnly: true, class: 'invite-link', testid: 'invite-link', 'aria-label': 'Invite link', value: 'Creating…' });
      const maxAge = h(
        'select',
        { 'aria-label': 'Expires after', testid: 'invite-max-age' },
        h('option', { value: '3600' }, '1 hour'),
        h('option', { value: '86400', selected: true }, '1 day'),
        h('option', { value: '604800' }, '7 days'),
        h('option', { value: '0' }, 'Never'),
      );
      const create = async () => {
        output.value = 'Creating…';
        try {
          const invite = await ctx.actions.createInvite(channel.id, { max_age: Number(maxAge.value), unique: true });
          output.value = inviteUrl(invite.code);
          output.dataset.code = invite.code;
          output.select();
        } catch (e) {
          output.value = '';
          toast(e.message, 'error');
        }
      };
      maxAge.addEventListener('change', create);
      create();
      return h(
        'div',
        { class: 'form' },
        h('p', { class: 'hint', text: 'Share this link; anyone with it can join.' }),
        h('div', { class: 'row' }, output, h('button', {
          type: 'button',
          class: 'button',
          testid: 'copy-invite',
          onClick: async () => {
            try {
              await navigator.clipboard.writeText(output.value);
              toast('Invite link copied.');
            } catch {
              output.select();
            }
          },
        }, 'Copy')),
        h('label', { class: 'field inline' }, h('span', { text: 'Expires after' }), maxAge),
        h('div', { class: 'form-actions' }, h('button', { type: 'button', class: 'button button-secondary', onClick: () => close() }, 'Done')),
      );
    },
  });
}

/** Everyone the user shares a guild or a conversation with. */
function knownPeople(store) {
  const me = store.state.me?.id;
  const ids = new Set();
  for (const map of store.state.members.values()) for (const id of map.keys()) ids.add(id);
  for (const c of store.privateChannels()) for (const u of c.recipients ?? []) ids.add(u.id);
  ids.delete(me);
  return [...ids].map((id) => store.state.users.get(id)).filter((u) => u && !u.bot).sort((a, b) => displayName(a).localeCompare(displayName(b)));
}

export function openGroupDmDialog(ctx) {
  const people = knownPeople(ctx.store);
  return openDialog({
    title: 'New message',
    testid: 'group-dm-dialog',
    render(close) {
      if (!people.length) return h('p', { class: 'hint', text: 'Join a server first: people you share one with appear here.' });
      const error = h('p', { class: 'form-error', role: 'alert' });
      const boxes = people.map((u) =>
        h('label', { class: 'check-row' }, h('input', { type: 'checkbox', value: u.id, testid: 'group-dm-person' }), avatar(u, { size: 24 }), h('span', { text: displayName(u) })),
      );
      return h(
        'form',
        {
          class: 'form',
          async onSubmit(e) {
            e.preventDefault();
            const chosen = boxes.map((b) => b.querySelector('input')).filter((i) => i.checked).map((i) => i.value);
            if (!chosen.length) {
              error.textContent = 'Choose at least one person.';
              return;
            }
            try {
              const channel = chosen.length === 1 ? await ctx.actions.openDm(chosen[0]) : await ctx.actions.openGroupDm(chosen);
              close();
              ctx.navigate(`/channels/@me/${channel.id}`);
            } catch (err) {
              error.textContent = err.message;
            }
          },
        },
        h('fieldset', { class: 'check-list' }, h('legend', { text: 'Choose one person for a direct message, or several for a group' }), boxes),
        error,
        h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'button', testid: 'group-dm-create' }, 'Start conversation')),
      );
    },
  });
}

/** A member's card next to `anchor`. */
export function showMemberCard(ctx, guildId, userId, anchor) {
  const { store, actions, api } = ctx;
  const { state } = store;
  const user = state.users.get(userId);
  const member = guildId ? store.member(guildId, userId) : null;
  const guild = guildId ? state.guilds.get(guildId) : null;
  const me = state.me?.id;
  const status = store.presence(userId);
  const roles = guild
    ? (member?.roles ?? []).map((id) => guild.roles.get(id)).filter(Boolean).sort((a, b) => b.position - a.position)
    : [];
  const card = h(
    'div',
    { class: 'member-card', testid: 'member-card' },
    h('div', { class: 'member-card-head' }, avatar(user, { size: 48, status }), h('div', {},
      h('div', { class: 'member-card-name', text: displayName(user, member) }),
      h('div', { class: 'hint', text: `${user?.username ?? ''} · ${status}` }),
    )),
    roles.length
      ? h('ul', { class: 'role-chips', 'aria-label': 'Roles' }, roles.map((r) => {
          const chip = h('li', { class: 'role-chip', testid: 'role-chip', text: r.name });
          if (r.color) chip.style.setProperty('--role-color', `#${r.color.toString(16).padStart(6, '0')}`);
          return chip;
        }))
      : null,
  );
  const buttons = h('div', { class: 'member-card-actions' });
  if (userId !== me) {
    buttons.appendChild(h('button', {
      type: 'button',
      class: 'button',
      testid: 'message-member',
      async onClick() {
        try {
          const channel = await actions.openDm(userId);
          ctx.navigate(`/channels/@me/${channel.id}`);
        } catch (e) {
          toast(e.message, 'error');
        }
      },
    }, 'Message'));
  }
  if (guild && userId !== me && userId !== guild.owner_id) {
    const perms = guildPerms(store, guildId);
    const outranks = topRolePosition(guild, store.member(guildId, me), me) > topRolePosition(guild, member, userId);
    const name = displayName(user, member);
    if (has(perms, P.KICK_MEMBERS) && outranks) {
      buttons.appendChild(h('button', {
        type: 'button',
        class: 'button button-danger',
        testid: 'kick-member',
        async onClick() {
          if (!(await confirmAction({ title: `Kick ${name}`, text: 'They can join again with an invite.', confirm: 'Kick' }))) return;
          api.kick(guildId, userId).then(() => toast(`${name} was kicked.`)).catch((e) => toast(e.message, 'error'));
        },
      }, 'Kick'));
    }
    if (has(perms, P.BAN_MEMBERS) && outranks) {
      buttons.appendChild(h('button', {
        type: 'button',
        class: 'button button-danger',
        testid: 'ban-member',
        async onClick() {
          if (!(await confirmAction({ title: `Ban ${name}`, text: 'They will be removed and cannot rejoin until unbanned.', confirm: 'Ban' }))) return;
          api.ban(guildId, userId).then(() => toast(`${name} was banned.`)).catch((e) => toast(e.message, 'error'));
        },
      }, 'Ban'));
    }
  }
  if (buttons.children.length) card.appendChild(buttons);
  showMenu(anchor, card, { label: `${displayName(user, member)} profile`, testid: 'member-popover' });
}

// Dialogs about people: inviting to a guild, starting a group DM, and a
// member's profile card (message them; roles, kick and ban for moderators).

import { h, avatar, toast } from '../dom.js';
import { displayName } from '../util.js';
import { P, has, topRolePosition } from '../permissions.js';
import { guildPerms } from './common.js';
import { openDialog, showMenu, confirmAction, promptText } from './dialog.js';

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
const TIMEOUTS = [[60, '1 minute'], [300, '5 minutes'], [600, '10 minutes'], [3600, '1 hour'], [86400, '1 day'], [604800, '1 week']];

/**
 * What the current user may do to a member (or the person, outside a
 * guild): the card's buttons and the member's context menu list these.
 */
export function memberActions(ctx, guildId, userId) {
  const { store, actions, api } = ctx;
  const { state } = store;
  const me = state.me?.id;
  const user = state.users.get(userId);
  const member = guildId ? store.member(guildId, userId) : null;
  const guild = guildId ? state.guilds.get(guildId) : null;
  const name = displayName(user, member);
  const fail = (e) => toast(e.message, 'error');
  const list = [];
  if (userId !== me) {
    list.push({ label: 'Message', testid: 'message-member', run: async () => {
      try {
        const channel = await actions.openDm(userId);
        ctx.navigate(`/channels/@me/${channel.id}`);
      } catch (e) {
        fail(e);
      }
    } });
  }
  if (!guild) return list;
  const perms = guildPerms(store, guildId);
  const isOwner = guild.owner_id === me;
  const outranks = userId !== guild.owner_id && (isOwner || topRolePosition(guild, store.member(guildId, me), me) > topRolePosition(guild, member, userId));
  const self = userId === me;
  if ((self && has(perms, P.CHANGE_NICKNAME)) || (!self && has(perms, P.MANAGE_NICKNAMES) && outranks)) {
    list.push({ label: 'Change nickname', testid: 'nickname-member', secondary: true, run: async () => {
      const nick = await promptText({ title: `Nickname for ${name}`, label: 'Nickname', value: member?.nick ?? '', confirm: 'Save', testid: 'nickname-dialog' });
      if (nick === null) return;
      const body = { nick: nick.trim() || null };
      (self ? api.request('PATCH', `/guilds/${guildId}/members/@me`, { body }) : api.patchMember(guildId, userId, body)).catch(fail);
    } });
  }
  if (!self && outranks && has(perms, P.MANAGE_ROLES)) {
    list.push({ label: 'Roles', testid: 'roles-member', secondary: true, run: () => openMemberRoles(ctx, guildId, userId) });
  }
  if (!self && outranks && has(perms, P.MODERATE_MEMBERS)) {
    const timedOut = member?.communication_disabled_until && Date.parse(member.communication_disabled_until) > Date.now();
    list.push({ label: timedOut ? 'Remove timeout' : 'Time out', testid: 'timeout-member', danger: !timedOut, secondary: timedOut, run: async () => {
      if (timedOut) return api.patchMember(guildId, userId, { communication_disabled_until: null }).catch(fail);
      const seconds = await openDialog({
        title: `Time out ${name}`,
        testid: 'timeout-dialog',
        render: (close) => h('div', { class: 'form' },
          h('p', { text: 'They will not be able to send messages, react or join voice until it ends.' }),
          h('div', { class: 'form-actions' }, ...TIMEOUTS.map(([secs, text]) =>
            h('button', { type: 'button', class: 'button button-secondary button-small', testid: `timeout-${secs}`, onClick: () => close(secs) }, text)))),
      });
      if (!seconds) return;
      const until = new Date(Date.now() + seconds * 1000).toISOString();
      api.patchMember(guildId, userId, { communication_disabled_until: until }).then(() => toast(`${name} is timed out.`)).catch(fail);
    } });
  }
  if (!self && outranks && has(perms, P.KICK_MEMBERS)) {
    list.push({ label: 'Kick', testid: 'kick-member', danger: true, run: async () => {
      if (!(await confirmAction({ title: `Kick ${name}`, text: 'They can join again with an invite.', confirm: 'Kick' }))) return;
      api.kick(guildId, userId).then(() => toast(`${name} was kicked.`)).catch(fail);
    } });
  }
  if (!self && outranks && has(perms, P.BAN_MEMBERS)) {
    list.push({ label: 'Ban', testid: 'ban-member', danger: true, run: async () => {
      if (!(await confirmAction({ title: `Ban ${name}`, text: 'They will be removed and cannot rejoin until unbanned.', confirm: 'Ban' }))) return;
      api.ban(guildId, userId).then(() => toast(`${name} was banned.`)).catch(fail);
    } });
  }
  return list;
}

/** Toggles the member's roles (those below the current user's highest). */
function openMemberRoles(ctx, guildId, userId) {
  const { store, api } = ctx;
  const guild = store.state.guilds.get(guildId);
  const me = store.state.me?.id;
  const mine = guild.owner_id === me ? Infinity : topRolePosition(guild, store.member(guildId, me), me);
  const roles = [...guild.roles.values()].filter((r) => r.id !== guildId && !r.managed && r.position < mine).sort((a, b) => b.position - a.position);
  return openDialog({
    title: `Roles of ${displayName(store.state.users.get(userId), store.member(guildId, userId))}`,
    testid: 'member-roles-dialog',
    render: () => h('div', { class: 'form' },
      roles.length ? null : h('p', { class: 'hint', text: 'No roles you can give.' }),
      ...roles.map((r) => {
        const box = h('input', { type: 'checkbox', testid: 'member-role', 'data-role-id': r.id, checked: (store.member(guildId, userId)?.roles ?? []).includes(r.id) });
        box.addEventListener('change', () => {
          const call = box.checked ? api.addMemberRole(guildId, userId, r.id) : api.removeMemberRole(guildId, userId, r.id);
          call.catch((e) => {
            box.checked = !box.checked;
            toast(e.message, 'error');
          });
        });
        return h('label', { class: 'field field-inline' }, box, h('span', { text: r.name }));
      })),
  });
}

/** The member's actions as a context menu at the pointer (or under `target`). */
export function openMemberMenu(ctx, guildId, userId, target, e) {
  const rect = target.getBoundingClientRect();
  const x = e.clientX || rect.left + 20;
  const y = e.clientY || rect.bottom;
  const anchor = { getBoundingClientRect: () => new DOMRect(x, y, 0, 0), contains: () => false, focus: () => target.focus() };
  const items = memberActions(ctx, guildId, userId).map((a) => ({ label: a.label, testid: `menu-${a.testid}`, danger: a.danger, onSelect: () => a.run() }));
  if (items.length) showMenu(anchor, items, { label: 'Member actions', testid: 'member-menu' });
}

export function showMemberCard(ctx, guildId, userId, anchor) {
  const { store } = ctx;
  const { state } = store;
  const user = state.users.get(userId);
  const member = guildId ? store.member(guildId, userId) : null;
  const guild = guildId ? state.guilds.get(guildId) : null;
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
  for (const action of memberActions(ctx, guildId, userId)) {
    buttons.appendChild(h('button', {
      type: 'button',
      class: ['button', action.danger && 'button-danger', action.secondary && 'button-secondary'],
      testid: action.testid,
      onClick: () => action.run(),
    }, action.label));
  }
  if (buttons.children.length) card.appendChild(buttons);
  showMenu(anchor, card, { label: `${displayName(user, member)} profile`, testid: 'member-popover' });
}

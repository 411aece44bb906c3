// The join screen for `/invite/CODE`: what the invite leads to, and a
// button to accept it (or to log in or register first).

import { h, replaceChildren } from '../dom.js';
import { link } from './auth.js';

export function renderInvite(ctx, code) {
  const body = h('div', { class: 'invite-body' }, h('p', { class: 'hint', text: 'Loading invite…' }));
  const screen = h(
    'main',
    { class: 'auth-screen', testid: 'invite-screen' },
    h('section', { class: 'auth-card', 'aria-labelledby': 'invite-title' }, h('div', { class: 'brand', 'aria-hidden': 'true', text: 'Concord' }), body),
  );

  ctx.api
    .invite(code)
    .then((invite) => replaceChildren(body, ...details(ctx, code, invite)))
    .catch((e) =>
      replaceChildren(
        body,
        h('h1', { id: 'invite-title', text: 'Invite invalid' }),
        h('p', { class: 'form-error', role: 'alert', testid: 'invite-error', text: e.status === 404 ? 'This invite is invalid or has expired.' : e.message }),
        ctx.session.loggedIn() ? link(ctx, '/channels/@me', 'Back to Concord', 'invite-back') : link(ctx, '/login', 'Log in', 'to-login'),
      ),
    );
  return screen;
}

function details(ctx, code, invite) {
  const guild = invite.guild ?? {};
  const counts = [];
  if (invite.approximate_presence_count != null) counts.push(`${invite.approximate_presence_count} online`);
  const members = invite.approximate_member_count;
  if (members != null) counts.push(`${members} member${members === 1 ? '' : 's'}`);
  const intro = [
    h('p', { class: 'hint', text: invite.inviter ? `${invite.inviter.global_name || invite.inviter.username} invited you to join` : 'You have been invited to join' }),
    h('h1', { id: 'invite-title', testid: 'invite-guild-name', text: guild.name ?? 'a server' }),
    counts.length ? h('p', { class: 'hint', text: counts.join(' · ') }) : null,
    invite.channel ? h('p', { class: 'hint', text: `#${invite.channel.name}` }) : null,
  ];
  if (!ctx.session.loggedIn()) {
    const next = encodeURIComponent(`/invite/${code}`);
    return [
      ...intro,
      h(
        'div',
        { class: 'form-actions stacked' },
        link(ctx, `/register?invite=${encodeURIComponent(code)}&next=${next}`, 'Register to join', 'invite-register'),
        link(ctx, `/login?next=${next}`, 'I have an account', 'invite-login'),
      ),
    ];
  }
  const error = h('p', { class: 'form-error', role: 'alert' });
  const accept = h('button', {
    type: 'button',
    class: 'button button-wide',
    testid: 'accept-invite',
    text: 'Accept invite',
    async onClick() {
      accept.disabled = true;
      error.textContent = '';
      try {
        const joined = await ctx.actions.acceptInvite(code);
        const guildId = joined.guild?.id ?? joined.guild_id;
        const channelId = joined.channel?.id;
        ctx.navigate(`/channels/${guildId}${channelId ? `/${channelId}` : ''}`);
      } catch (e) {
        error.textContent = e.message;
        accept.disabled = false;
      }
    },
  });
  return [...intro, error, accept, h('p', { class: 'auth-switch' }, link(ctx, '/channels/@me', 'Not now', 'invite-decline'))];
}

// The login and registration screens.

import { h } from '../dom.js';
import { ApiError } from '../api.js';

/**
 * `mode` is 'login' or 'register'. `next` is where to go after success;
 * `invite` (from an invite link) lets registration in invite-only mode and
 * joins that guild.
 */
export function renderAuth(ctx, { mode, next = null, invite = null }) {
  const isLogin = mode === 'login';
  const error = h('p', { class: 'form-error', role: 'alert', testid: 'auth-error' });
  const field = (label, input, hint) =>
    h('label', { class: 'field' }, h('span', { text: label }), input, hint ? h('small', { class: 'hint', text: hint }) : null);

  const login = h('input', { name: 'login', type: 'text', autocomplete: 'username', required: true, autofocus: true, testid: 'auth-login' });
  const username = h('input', { name: 'username', type: 'text', autocomplete: 'username', required: true, minLength: 2, maxLength: 32, autofocus: true, testid: 'auth-username' });
  const email = h('input', { name: 'email', type: 'email', autocomplete: 'email', testid: 'auth-email' });
  const password = h('input', {
    name: 'password',
    type: 'password',
    autocomplete: isLogin ? 'current-password' : 'new-password',
    required: true,
    minLength: isLogin ? 1 : 8,
    maxLength: 72,
    testid: 'auth-password',
  });
  const submit = h('button', { type: 'submit', class: 'button button-wide', testid: 'auth-submit' }, isLogin ? 'Log in' : 'Create account');

  async function onSubmit(event) {
    event.preventDefault();
    error.textContent = '';
    submit.disabled = true;
    try {
      let token;
      if (isLogin) {
        ({ token } = await ctx.api.login(login.value.trim(), password.value));
      } else {
        const body = { username: username.value.trim(), password: password.value };
        if (email.value.trim()) body.email = email.value.trim();
        if (invite) body.invite = invite;
        ({ token } = await ctx.api.register(body));
      }
      await ctx.session.login(token, next);
    } catch (e) {
      error.textContent = e instanceof ApiError ? e.message : 'Something went wrong.';
      submit.disabled = false;
    }
  }

  const query = new URLSearchParams();
  if (next) query.set('next', next);
  if (invite) query.set('invite', invite);
  const qs = query.toString() ? `?${query}` : '';
  const switchLink = isLogin
    ? h('p', { class: 'auth-switch' }, 'Need an account? ', link(ctx, `/register${qs}`, 'Register', 'to-register'))
    : h('p', { class: 'auth-switch' }, 'Already have an account? ', link(ctx, `/login${qs}`, 'Log in', 'to-login'));

  return h(
    'main',
    { class: 'auth-screen', testid: isLogin ? 'login-screen' : 'register-screen' },
    h(
      'form',
      { class: 'auth-card form', onSubmit, 'aria-labelledby': 'auth-title' },
      h('div', { class: 'brand', 'aria-hidden': 'true', text: 'Concord' }),
      h('h1', { id: 'auth-title', text: isLogin ? 'Welcome back' : 'Create an account' }),
      invite ? h('p', { class: 'hint', text: 'You will join the server you were invited to.' }) : null,
      isLogin
        ? field('Username or email', login)
        : [field('Username', username), field('Email (optional)', email)],
      field('Password', password, isLogin ? null : 'At least 8 characters.'),
      error,
      submit,
      switchLink,
    ),
  );
}

export function link(ctx, href, text, testid) {
  return h('a', {
    href,
    testid,
    text,
    onClick(e) {
      if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
      e.preventDefault();
      ctx.navigate(href);
    },
  });
}

// Boot and routing. The token lives in localStorage so a reload keeps the
// session; the gateway starts once there is a token. Routes:
//   /login  /register  /invite/CODE  /channels/@me[/CHANNEL]  /channels/GUILD[/CHANNEL]

import { createApi } from './api.js';
import { createStore } from './store.js';
import { createActions } from './actions.js';
import { Gateway } from './gateway.js';
import { renderAuth } from './views/auth.js';
import { renderInvite } from './views/invite.js';
import { mountShell } from './views/shell.js';
import { currentStatus } from './views/userPanel.js';
import { closeMenu } from './views/dialog.js';
import { followWorkerClicks, hiddenTabAlerts } from './notifications.js';
import { alertReason, letsThrough } from './notify.js';
import { displayName } from './util.js';
import { applyTheme } from './theme.js';
import { createVoice } from './voice.js';

applyTheme();

const TOKEN_KEY = 'concord.token';
const root = document.getElementById('root');

let token = localStorage.getItem(TOKEN_KEY);
// A token change in flight: settles when it is done. Meanwhile requests wait
// for the new token, and the old session's close is expected.
let rotation = null;
let gateway = null;
let shell = null;

const store = createStore();
// Only the current token's refusal logs out: one replaced meanwhile is expected to be refused.
const api = createApi({
  getToken: () => (rotation ? rotation.then(() => token) : token),
  onUnauthorized: (used) => used === token && !rotation && session.logout(),
});
const actions = createActions({ api, store, getGateway: () => gateway });
const voice = createVoice({ store, getGateway: () => gateway });

const session = {
  loggedIn: () => Boolean(token),
  async login(newToken, next) {
    token = newToken;
    localStorage.setItem(TOKEN_KEY, token);
    startGateway();
    navigate(localPath(next) ?? '/channels/@me', { replace: true });
  },
  /**
   * Runs `change(api)`, which answers with a new token (a password change
   * revokes the old one). `api` is bound to the old token: it is the one
   * request that does not wait. The app's other requests wait for the
   * change, so none is sent with a token the server has just revoked; the
   * old gateway session, closed by the server, is let go rather than
   * logging out.
   */
  async rotateToken(change) {
    const old = token;
    let settle;
    rotation = new Promise((done) => (settle = done));
    try {
      token = await change(createApi({ getToken: () => old }));
      localStorage.setItem(TOKEN_KEY, token);
      startGateway();
    } finally {
      rotation = null;
      settle();
    }
  },
  logout() {
    if (!token) return;
    voice.leave();
    gateway?.stop();
    gateway = null;
    actions.cancelPending();
    token = null;
    localStorage.removeItem(TOKEN_KEY);
    store.reset();
    navigate('/login', { replace: true });
  },
};

const ctx = { api, store, actions, voice, session, navigate, gateway: () => gateway };

function startGateway() {
  gateway?.stop();
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const status = currentStatus();
  store.state.selfStatus = status;
  const started = new Gateway({
    token,
    url: `${scheme}//${location.host}`,
    presence: { status, since: 0, activities: [], afk: false },
    onDispatch,
    onState: (state) => store.setConnection(state),
    onFatal: (code) => {
      // A replaced session's close (a password change) is no log out.
      if (code === 4004 && gateway === started && !rotation) session.logout();
    },
  });
  gateway = started;
  gateway.start();
}

/** Applies a dispatch to the store, then does what it implies beyond state. */
function onDispatch(type, data) {
  store.applyDispatch(type, data);
  voice.onDispatch(type, data);
  const { ui } = store.state;
  switch (type) {
    case 'GUILD_CREATE': {
      const known = store.state.members.get(data.id)?.size ?? 0;
      // Small guilds list everyone; the gateway sent a partial list.
      if (known < (data.member_count ?? 0) && data.member_count <= 1000) gateway?.requestMembers(data.id);
      break;
    }
    case 'GUILD_MEMBER_ADD':
      // A newcomer's presence is not announced with the join: ask for it.
      if (data.user?.id !== store.state.me?.id) gateway?.requestMembers(data.guild_id, [data.user.id]);
      break;
    case 'GUILD_DELETE':
      if (!data.unavailable && ui.guildId === data.id) navigate('/channels/@me', { replace: true });
      break;
    case 'CHANNEL_DELETE':
    case 'THREAD_DELETE':
      if (ui.channelId === data.id) navigate(data.guild_id ? `/channels/${data.guild_id}` : '/channels/@me', { replace: true });
      break;
    case 'MESSAGE_CREATE':
      if (!data.guild_id && !store.state.channels.has(data.channel_id)) actions.learnChannel(data.channel_id);
      alertIfConcerned(data);
      break;
    default:
      break;
  }
}

const alertHidden = hiddenTabAlerts({ navigate: (path) => navigate(path) });
followWorkerClicks((path) => navigate(path));

/** While the tab is hidden, what would push to this person alerts here. */
function alertIfConcerned(m) {
  const me = store.state.me?.id;
  const guild = m.guild_id ? store.state.guilds.get(m.guild_id) : null;
  const channel = store.state.channels.get(m.channel_id);
  const reason = alertReason(m, me, guild ? store.member(guild.id, me)?.roles ?? [] : [], {
    direct: !m.guild_id,
    repliedToMe: m.referenced_message?.author?.id === me,
  });
  const channels = [m.channel_id, channel?.parent_id].filter(Boolean);
  if (!letsThrough(store.guildSettings(m.guild_id ?? '@me'), guild?.default_message_notifications ?? 0, channels, reason)) return;
  const author = displayName(m.author, m.member);
  const title = channel?.name ? `${author} in #${channel.name}` : author;
  alertHidden(m, { title, body: String(m.content ?? '').slice(0, 200) || 'Sent an attachment' });
}

// ---- routing ----

function navigate(path, { replace = false } = {}) {
  if (path !== location.pathname + location.search) {
    if (replace) history.replaceState(null, '', path);
    else history.pushState(null, '', path);
  }
  route();
}

function showScreen(node) {
  if (shell) {
    shell.destroy();
    shell = null;
  }
  root.replaceChildren(node);
}

/** `next` if it is a path on this site (never `//host` or a URL), else null. */
function localPath(next) {
  return next && next.startsWith('/') && !next.startsWith('//') ? next : null;
}

function safeDecode(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function route() {
  closeMenu();
  const path = location.pathname.replace(/\/+$/, '') || '/';
  const query = new URLSearchParams(location.search);
  const parts = path.split('/').filter(Boolean);

  if (parts[0] === 'invite' && parts[1]) {
    document.title = 'Invite · Concord';
    showScreen(renderInvite(ctx, safeDecode(parts[1])));
    return;
  }
  if (path === '/login' || path === '/register') {
    if (token) return navigate(localPath(query.get('next')) ?? '/channels/@me', { replace: true });
    document.title = path === '/login' ? 'Log in · Concord' : 'Register · Concord';
    showScreen(renderAuth(ctx, { mode: path.slice(1), next: query.get('next'), invite: query.get('invite') }));
    return;
  }
  if (!token) {
    const next = path.startsWith('/channels/') ? `?next=${encodeURIComponent(path)}` : '';
    return navigate(`/login${next}`, { replace: true });
  }
  if (parts[0] !== 'channels' || !parts[1]) return navigate('/channels/@me', { replace: true });

  if (!shell) {
    shell = mountShell(ctx);
    root.replaceChildren(shell.el);
  }
  if (!gateway) startGateway();
  shell.show({ guildId: parts[1], channelId: parts[2] ?? null });
}

window.addEventListener('popstate', route);
// Another tab logged out or in: follow it.
window.addEventListener('storage', (e) => {
  if (e.key !== TOKEN_KEY) return;
  if (!e.newValue) session.logout();
  else if (e.newValue !== token) location.reload();
});

route();

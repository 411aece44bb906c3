// The HTTP API: one fetch wrapper that speaks Discord's conventions
// (raw user token in Authorization, JSON or multipart bodies, error bodies
// with `code`/`message`/`errors`, 429 with `retry_after`).

export const API_BASE = '/api/v10';

/** A failed request: HTTP status (0 when the network failed) and Discord's body. */
export class ApiError extends Error {
  constructor(status, body) {
    super(describeError(status, body));
    this.name = 'ApiError';
    this.status = status;
    this.code = body?.code ?? 0;
    this.body = body ?? null;
  }

  /** The first field error's message, keyed by field path (e.g. `login`). */
  fieldErrors() {
    const out = {};
    collectFieldErrors(this.body?.errors, '', out);
    return out;
  }
}

function describeError(status, body) {
  if (status === 0) return 'Cannot reach the server.';
  const fields = {};
  collectFieldErrors(body?.errors, '', fields);
  const first = Object.entries(fields)[0];
  if (first) return first[0] ? `${first[0]}: ${first[1]}` : first[1];
  return body?.message || `Request failed (${status}).`;
}

// 50035 bodies mirror the request: { field: { _errors: [{ message }] } }.
function collectFieldErrors(errors, path, out) {
  if (!errors || typeof errors !== 'object') return;
  for (const [key, value] of Object.entries(errors)) {
    if (key === '_errors' && Array.isArray(value) && value[0]) {
      if (!(path in out)) out[path] = value[0].message;
    } else {
      collectFieldErrors(value, path ? `${path}.${key}` : key, out);
    }
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A client bound to a token source. `getToken()` may answer with a promise
 * (a token change in flight: the request waits for the new token rather
 * than being refused with the old one). `onUnauthorized(token)` runs on any
 * 401 with a token (the token was revoked or the account disabled).
 */
export function createApi({ getToken, onUnauthorized = () => {}, base = API_BASE, fetchImpl } = {}) {
  const doFetch = fetchImpl ?? ((...args) => fetch(...args));

  async function request(method, path, { body, query, files, reason, retries = 3 } = {}) {
    let url = base + path;
    if (query) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) {
        // A list is the key repeated (`author_id=1&author_id=2`).
        for (const item of Array.isArray(v) ? v : [v]) if (item !== undefined && item !== null) params.append(k, String(item));
      }
      const qs = params.toString();
      if (qs) url += '?' + qs;
    }
    const headers = {};
    const token = await getToken?.();
    if (token) headers.Authorization = token;
    if (reason) headers['X-Audit-Log-Reason'] = encodeURIComponent(reason);
    let payload;
    if (files && files.length) {
      // Multipart: the JSON goes in payload_json, files in files[n].
      payload = new FormData();
      payload.append('payload_json', JSON.stringify(body ?? {}));
      files.forEach((file, i) => payload.append(`files[${i}]`, file, file.name));
    } else if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(body);
    }

    for (let attempt = 0; ; attempt++) {
      let response;
      try {
        response = await doFetch(url, { method, headers, body: payload, credentials: 'omit' });
      } catch {
        throw new ApiError(0, null);
      }
      if (response.status === 204) return null;
      const data = await readJson(response);
      if (response.status === 429 && attempt < retries) {
        // retry_after is in seconds (float); Retry-After is whole seconds.
        const seconds = Number(data?.retry_after ?? response.headers.get('Retry-After') ?? 1);
        await sleep(Math.min(Math.max(seconds, 0.05), 30) * 1000);
        continue;
      }
      if (!response.ok) {
        if (response.status === 401 && token) onUnauthorized(token);
        throw new ApiError(response.status, data);
      }
      return data;
    }
  }

  const enc = encodeURIComponent;
  const api = {
    request,
    get: (path, query) => request('GET', path, { query }),

    // Accounts
    register: (body) => request('POST', '/auth/register', { body }),
    login: (login, password) => request('POST', '/auth/login', { body: { login, password } }),
    me: () => request('GET', '/users/@me'),
    user: (id) => request('GET', `/users/${id}`),
    patchMe: (body) => request('PATCH', '/users/@me', { body }),
    privateChannels: () => request('GET', '/users/@me/channels'),
    openDm: (recipientId) => request('POST', '/users/@me/channels', { body: { recipient_id: recipientId } }),
    openGroupDm: (recipients) => request('POST', '/users/@me/channels', { body: { recipients } }),
    leaveGuild: (guildId) => request('DELETE', `/users/@me/guilds/${guildId}`),
    logoutEverywhere: () => request('POST', '/auth/logout-everywhere', { body: {} }),
    mentions: (query) => request('GET', '/users/@me/mentions', { query }),
    dismissMention: (messageId) => request('DELETE', `/users/@me/mentions/${messageId}`),

    // Guilds
    createGuild: (name) => request('POST', '/guilds', { body: { name } }),
    patchGuild: (guildId, body) => request('PATCH', `/guilds/${guildId}`, { body }),
    deleteGuild: (guildId) => request('DELETE', `/guilds/${guildId}`),
    createChannel: (guildId, body) => request('POST', `/guilds/${guildId}/channels`, { body }),
    members: (guildId, limit = 1000, after) => request('GET', `/guilds/${guildId}/members`, { query: { limit, after } }),
    patchMember: (guildId, userId, body) => request('PATCH', `/guilds/${guildId}/members/${userId}`, { body }),
    kick: (guildId, userId, reason) => request('DELETE', `/guilds/${guildId}/members/${userId}`, { reason }),
    ban: (guildId, userId, reason) => request('PUT', `/guilds/${guildId}/bans/${userId}`, { body: {}, reason }),
    unban: (guildId, userId) => request('DELETE', `/guilds/${guildId}/bans/${userId}`),
    bans: (guildId) => request('GET', `/guilds/${guildId}/bans`),
    createRole: (guildId, body) => request('POST', `/guilds/${guildId}/roles`, { body }),
    patchRole: (guildId, roleId, body) => request('PATCH', `/guilds/${guildId}/roles/${roleId}`, { body }),
    deleteRole: (guildId, roleId) => request('DELETE', `/guilds/${guildId}/roles/${roleId}`),
    addMemberRole: (guildId, userId, roleId) => request('PUT', `/guilds/${guildId}/members/${userId}/roles/${roleId}`),
    removeMemberRole: (guildId, userId, roleId) => request('DELETE', `/guilds/${guildId}/members/${userId}/roles/${roleId}`),
    activeThreads: (guildId) => request('GET', `/guilds/${guildId}/threads/active`),

    // Channels
    channel: (channelId) => request('GET', `/channels/${channelId}`),
    patchChannel: (channelId, body) => request('PATCH', `/channels/${channelId}`, { body }),
    deleteChannel: (channelId) => request('DELETE', `/channels/${channelId}`),
    putOverwrite: (channelId, id, body) => request('PUT', `/channels/${channelId}/permissions/${id}`, { body }),
    deleteOverwrite: (channelId, id) => request('DELETE', `/channels/${channelId}/permissions/${id}`),
    createInvite: (channelId, body = {}) => request('POST', `/channels/${channelId}/invites`, { body }),
    guildInvites: (guildId) => request('GET', `/guilds/${guildId}/invites`),
    invite: (code) => request('GET', `/invites/${enc(code)}`, { query: { with_counts: true } }),
    acceptInvite: (code) => request('POST', `/invites/${enc(code)}`),
    deleteInvite: (code) => request('DELETE', `/invites/${enc(code)}`),
    startThread: (channelId, name) => request('POST', `/channels/${channelId}/threads`, { body: { name, type: 11 } }),
    startThreadFromMessage: (channelId, messageId, name) =>
      request('POST', `/channels/${channelId}/messages/${messageId}/threads`, { body: { name } }),
    joinThread: (threadId) => request('PUT', `/channels/${threadId}/thread-members/@me`),
    archivedThreads: (channelId) => request('GET', `/channels/${channelId}/threads/archived/public`),

    // Messages
    messages: (channelId, query) => request('GET', `/channels/${channelId}/messages`, { query }),
    sendMessage: (channelId, body, files) => request('POST', `/channels/${channelId}/messages`, { body, files }),
    editMessage: (channelId, messageId, content) =>
      request('PATCH', `/channels/${channelId}/messages/${messageId}`, { body: { content } }),
    deleteMessage: (channelId, messageId) => request('DELETE', `/channels/${channelId}/messages/${messageId}`),
    addReaction: (channelId, messageId, emoji) =>
      request('PUT', `/channels/${channelId}/messages/${messageId}/reactions/${enc(emoji)}/@me`),
    removeReaction: (channelId, messageId, emoji) =>
      request('DELETE', `/channels/${channelId}/messages/${messageId}/reactions/${enc(emoji)}/@me`),
    typing: (channelId) => request('POST', `/channels/${channelId}/typing`, { retries: 0 }),
    // Applications: what `/` lists, and invoking (commands, components, modals).
    commandIndex: (channelId) => request('GET', `/channels/${channelId}/application-command-index`),
    interact: (body) => request('POST', '/interactions', { body, retries: 0 }),

    // Polls
    votePoll: (channelId, messageId, answerIds) =>
      request('PUT', `/channels/${channelId}/polls/${messageId}/answers/@me`, { body: { answer_ids: answerIds } }),
    expirePoll: (channelId, messageId) => request('POST', `/channels/${channelId}/polls/${messageId}/expire`),

    // Notifications
    vapidKey: () => request('GET', '/push/vapid-key'),
    pushSubscribe: (subscription) => request('PUT', '/users/@me/push-subscriptions', { body: subscription }),
    pushUnsubscribe: (endpoint) => request('DELETE', '/users/@me/push-subscriptions', { body: { endpoint } }),
    patchGuildSettings: (guildId, body) => request('PATCH', `/users/@me/guilds/${guildId ?? '@me'}/settings`, { body }),

    searchGuild: (guildId, query) => request('GET', `/guilds/${guildId}/messages/search`, { query }),
    searchChannel: (channelId, query) => request('GET', `/channels/${channelId}/messages/search`, { query }),
    pins: (channelId) => request('GET', `/channels/${channelId}/messages/pins`, { query: { limit: 50 } }),
    pin: (channelId, messageId) => request('PUT', `/channels/${channelId}/messages/pins/${messageId}`),
    unpin: (channelId, messageId) => request('DELETE', `/channels/${channelId}/messages/pins/${messageId}`),

    ack: (channelId, messageId) => request('POST', `/channels/${channelId}/messages/${messageId}/ack`, { body: {} }),
  };
  return api;
}

async function readJson(response) {
  const text = await response.text().catch(() => '');
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { message: text.slice(0, 200) };
  }
}

// The Gateway v10 connection: HELLO, heartbeats, IDENTIFY or RESUME,
// dispatches in order, and reconnection with backoff. Frames arrive as
// zlib-stream when the browser can inflate them (DecompressionStream),
// else as plain JSON text.

export const Op = {
  DISPATCH: 0,
  HEARTBEAT: 1,
  IDENTIFY: 2,
  PRESENCE_UPDATE: 3,
  RESUME: 6,
  RECONNECT: 7,
  REQUEST_GUILD_MEMBERS: 8,
  INVALID_SESSION: 9,
  HELLO: 10,
  HEARTBEAT_ACK: 11,
};

export const Intents = {
  GUILDS: 1 << 0,
  GUILD_MEMBERS: 1 << 1,
  GUILD_MODERATION: 1 << 2,
  GUILD_EXPRESSIONS: 1 << 3,
  GUILD_INVITES: 1 << 6,
  GUILD_VOICE_STATES: 1 << 7,
  GUILD_PRESENCES: 1 << 8,
  GUILD_MESSAGES: 1 << 9,
  GUILD_MESSAGE_REACTIONS: 1 << 10,
  GUILD_MESSAGE_TYPING: 1 << 11,
  DIRECT_MESSAGES: 1 << 12,
  DIRECT_MESSAGE_REACTIONS: 1 << 13,
  DIRECT_MESSAGE_TYPING: 1 << 14,
  MESSAGE_CONTENT: 1 << 15,
  GUILD_MESSAGE_POLLS: 1 << 24,
  DIRECT_MESSAGE_POLLS: 1 << 25,
};

/** Everything the client shows. */
export const CLIENT_INTENTS = Object.values(Intents).reduce((a, b) => a | b, 0);

// Closes after which reconnecting cannot help.
const FATAL_CLOSES = new Set([4004, 4010, 4011, 4012, 4013, 4014]);

/** Whether this browser can inflate zlib-stream frames. */
export function supportsZlibStream() {
  return typeof DecompressionStream === 'function' && typeof TextDecoderStream === 'function';
}

/**
 * Splits a stream of text into complete top-level JSON values. Each
 * gateway frame inflates to exactly one payload, but inflated chunks need
 * not line up with frames, so values are cut by bracket depth.
 */
export class JsonSplitter {
  constructor(onValue) {
    this.onValue = onValue;
    this.buffer = '';
    this.scan = 0;
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
  }

  push(text) {
    this.buffer += text;
    const b = this.buffer;
    let start = 0;
    for (let i = this.scan; i < b.length; i++) {
      const c = b[i];
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === '\\') this.escaped = true;
        else if (c === '"') this.inString = false;
      } else if (c === '"') {
        this.inString = true;
      } else if (c === '{' || c === '[') {
        this.depth++;
      } else if (c === '}' || c === ']') {
        this.depth--;
        if (this.depth === 0) {
          const chunk = b.slice(start, i + 1).trim();
          start = i + 1;
          if (chunk) this.onValue(JSON.parse(chunk));
        }
      }
    }
    this.buffer = b.slice(start);
    this.scan = this.buffer.length;
  }
}

// One inflater per connection: the server's zlib stream spans all frames.
export class ZlibInflater {
  constructor(onPayload, onError) {
    const stream = new DecompressionStream('deflate');
    this.writer = stream.writable.getWriter();
    this.reader = stream.readable.pipeThrough(new TextDecoderStream()).getReader();
    this.splitter = new JsonSplitter(onPayload);
    this.onError = onError;
    this.closed = false;
    this.pump();
  }

  write(bytes) {
    this.writer.write(new Uint8Array(bytes)).catch((e) => this.fail(e));
  }

  async pump() {
    try {
      for (;;) {
        const { value, done } = await this.reader.read();
        if (done || this.closed) return;
        this.splitter.push(value);
      }
    } catch (e) {
      this.fail(e);
    }
  }

  fail(e) {
    if (!this.closed) this.onError(e);
  }

  close() {
    this.closed = true;
    this.writer.abort().catch(() => {});
    this.reader.cancel().catch(() => {});
  }
}

/**
 * Whether `url` is on the host the page talks to. The page may only
 * connect to its own origin (its CSP says so), and behind a proxy the
 * server's idea of its address may be an internal one.
 */
function sameHost(url, base) {
  try {
    return new URL(url).host === new URL(base).host;
  } catch {
    return false;
  }
}

/**
 * A gateway session that outlives sockets. States: 'idle', 'connecting'
 * (first connection), 'ready', 'reconnecting', 'closed' (stopped or fatal).
 */
export class Gateway {
  constructor({ token, url, compress = supportsZlibStream(), presence, onDispatch, onState, onFatal, WebSocketImpl }) {
    this.token = token;
    this.baseUrl = url;
    this.compress = compress;
    this.presence = presence ?? { status: 'online', since: 0, activities: [], afk: false };
    this.onDispatch = onDispatch ?? (() => {});
    this.onState = onState ?? (() => {});
    this.onFatal = onFatal ?? (() => {});
    this.WebSocketImpl = WebSocketImpl ?? globalThis.WebSocket;
    this.state = 'idle';
    this.sessionId = null;
    this.seq = null;
    this.resumeUrl = null;
    this.ws = null;
    this.attempts = 0;
    this.heartbeatTimer = null;
    this.reconnectTimer = null;
    this.acked = true;
    this.everReady = false;
    this.onOnline = () => {
      if (this.state === 'reconnecting') this.reconnectNow();
    };
  }

  start() {
    if (this.state !== 'idle' && this.state !== 'closed') return;
    globalThis.addEventListener?.('online', this.onOnline);
    this.setState('connecting');
    this.connect();
  }

  /** Ends the session (close 1000: the server forgets it). */
  stop() {
    globalThis.removeEventListener?.('online', this.onOnline);
    clearTimeout(this.reconnectTimer);
    this.teardown(1000);
    this.sessionId = null;
    this.setState('closed');
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.onState(state);
  }

  connect() {
    clearTimeout(this.reconnectTimer);
    const resuming = Boolean(this.sessionId && this.resumeUrl);
    // Resume where READY said; after a failed attempt there, the first URL.
    const base = resuming && this.attempts < 2 ? this.resumeUrl : this.baseUrl;
    const url = `${base.replace(/\/+$/, '')}/?v=10&encoding=json${this.compress ? '&compress=zlib-stream' : ''}`;
    let ws;
    try {
      ws = new this.WebSocketImpl(url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    const inflater = this.compress
      ? new ZlibInflater(
          (payload) => this.handle(ws, payload),
          () => {
            // Frames that cannot be inflated: resume without compression.
            this.compress = false;
            this.dropSocket(ws, 4000);
          },
        )
      : null;
    ws.inflater = inflater;
    ws.onmessage = (event) => {
      if (this.ws !== ws) return;
      if (typeof event.data === 'string') {
        this.handle(ws, JSON.parse(event.data));
      } else if (inflater) {
        inflater.write(event.data);
      }
    };
    ws.onclose = (event) => this.closed(ws, event.code);
    ws.onerror = () => {};
  }

  /** Closes the current socket and forgets it (its close event is ignored). */
  teardown(code) {
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.heartbeatTimer);
    const ws = this.ws;
    this.ws = null;
    if (!ws) return;
    ws.inflater?.close();
    ws.onmessage = null;
    ws.onclose = null;
    try {
      ws.close(code);
    } catch {
      // Already closing.
    }
  }

  dropSocket(ws, code) {
    if (this.ws !== ws) return;
    this.teardown(code);
    this.setState('reconnecting');
    this.scheduleReconnect();
  }

  closed(ws, code) {
    if (this.ws !== ws) return;
    this.teardown(1000);
    if (FATAL_CLOSES.has(code)) {
      this.sessionId = null;
      this.setState('closed');
      this.onFatal(code);
      return;
    }
    if (code === 4007 || code === 4003) this.sessionId = null;
    this.setState(this.everReady ? 'reconnecting' : 'connecting');
    this.scheduleReconnect();
  }

  scheduleReconnect() {
    clearTimeout(this.reconnectTimer);
    // 0.5 s, 1 s, 2 s, then every 3-4 s: a restarted server is found quickly.
    const base = Math.min(500 * 2 ** this.attempts, 3000);
    const delay = base + Math.random() * 500;
    this.attempts++;
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  reconnectNow() {
    clearTimeout(this.reconnectTimer);
    this.teardown(4000);
    this.connect();
  }

  send(op, d) {
    const ws = this.ws;
    if (!ws || ws.readyState !== 1) return false;
    ws.send(JSON.stringify({ op, d }));
    return true;
  }

  handle(ws, payload) {
    if (this.ws !== ws) return;
    const { op, d, s, t } = payload;
    switch (op) {
      case Op.HELLO:
        this.startHeartbeat(d.heartbeat_interval);
        if (this.sessionId) this.sendResume();
        else this.sendIdentify();
        break;
      case Op.HEARTBEAT_ACK:
        this.acked = true;
        break;
      case Op.HEARTBEAT:
        this.beat();
        break;
      case Op.RECONNECT:
        // The server is going away: resume elsewhere (or here, later).
        this.dropSocket(ws, 4000);
        break;
      case Op.INVALID_SESSION:
        if (d === true) {
          this.dropSocket(ws, 4000);
        } else {
          this.sessionId = null;
          this.seq = null;
          setTimeout(() => this.ws === ws && this.sendIdentify(), 300 + Math.random() * 700);
        }
        break;
      case Op.DISPATCH:
        if (typeof s === 'number') this.seq = s;
        if (t === 'READY') {
          this.sessionId = d.session_id;
          this.resumeUrl = sameHost(d.resume_gateway_url, this.baseUrl) ? d.resume_gateway_url : this.baseUrl;
          this.ready();
        } else if (t === 'RESUMED') {
          this.ready();
        }
        this.onDispatch(t, d);
        break;
      default:
        break;
    }
  }

  ready() {
    this.attempts = 0;
    this.everReady = true;
    this.setState('ready');
  }

  startHeartbeat(interval) {
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.heartbeatTimer);
    this.acked = true;
    // The first beat is jittered so reconnecting clients do not beat in step.
    this.heartbeatTimer = setTimeout(() => {
      this.beat();
      this.heartbeatTimer = setInterval(() => {
        if (!this.acked) {
          // No ACK since the last beat: the connection is a zombie.
          this.dropSocket(this.ws, 4000);
          return;
        }
        this.beat();
      }, interval);
    }, interval * Math.random());
  }

  beat() {
    this.acked = false;
    this.send(Op.HEARTBEAT, this.seq);
  }

  sendIdentify() {
    this.send(Op.IDENTIFY, {
      token: this.token,
      intents: CLIENT_INTENTS,
      properties: { os: 'web', browser: 'Concord Web', device: 'Concord Web' },
      compress: false,
      large_threshold: 250,
      presence: this.presence,
    });
  }

  sendResume() {
    this.send(Op.RESUME, { token: this.token, session_id: this.sessionId, seq: this.seq });
  }

  /** Sets the user's status: online, idle, dnd or invisible. */
  setStatus(status) {
    this.presence = { status, since: status === 'idle' ? Date.now() : 0, activities: [], afk: false };
    this.send(Op.PRESENCE_UPDATE, this.presence);
  }

  /** Asks for members (and their presences) by user id, or everyone. */
  requestMembers(guildId, userIds) {
    const d = userIds
      ? { guild_id: guildId, user_ids: userIds.slice(0, 100), limit: 0, presences: true }
      : { guild_id: guildId, query: '', limit: 0, presences: true };
    this.send(Op.REQUEST_GUILD_MEMBERS, d);
  }
}

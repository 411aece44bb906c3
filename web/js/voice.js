// Voice channels: who is in which (the main gateway's voice states) and this
// person's own voice connection. Joining asks the main gateway (op 4), which
// answers with our voice state and the voice server to use; the voice
// server's WebSocket (Discord's voice protocol, version 8) then carries the
// WebRTC offer and answer, and the media goes over WebRTC. The server
// forwards the few loudest speakers, each on one of the receiving tracks
// offered here, so no renegotiation is needed when speakers change. Camera
// and screen work the same way: their sending tracks are offered up front
// (empty until turned on), as are tracks to see others on; the server says
// which of those shows whose camera or screen (op 12).
//
// Changes are announced on the store as 'voice' (with the guild id).

const VoiceOp = {
  IDENTIFY: 0,
  SELECT_PROTOCOL: 1,
  READY: 2,
  HEARTBEAT: 3,
  SESSION_DESCRIPTION: 4,
  SPEAKING: 5,
  HEARTBEAT_ACK: 6,
  RESUME: 7,
  HELLO: 8,
  RESUMED: 9,
  VIDEO: 12,
  CLIENT_DISCONNECT: 13,
};

/** Close codes after which the voice session cannot be resumed. */
const FINAL_CLOSES = new Set([1000, 4001, 4002, 4003, 4004, 4005, 4006, 4011, 4012, 4014, 4016]);
/** Resumes tried in a row before the call is given up. */
const MAX_RESUMES = 3;

/** Receiving tracks offered: as many as the server forwards speakers. */
const RECEIVING_TRACKS = 3;
/** Cameras and screens shown at once. */
const VIDEO_TRACKS = 4;
/** The own input level (0..1) above which we show ourselves speaking. */
const SPEAKING_LEVEL = 0.02;
/** Main gateway op 4, Update Voice State. */
const UPDATE_VOICE_STATE = 4;

export function createVoice({ store, getGateway }) {
  // guild id -> user id -> voice state
  const states = new Map();
  // Who speaks, by user id (from op 5 and our own microphone's level).
  const speaking = new Set();
  // The connection, while in a channel.
  let call = null;

  const emit = (guildId) => store.emit('voice', guildId);

  function putState(guildId, s) {
    if (!states.has(guildId)) states.set(guildId, new Map());
    const guild = states.get(guildId);
    if (s.channel_id) guild.set(s.user_id, { ...s, guild_id: guildId });
    else guild.delete(s.user_id);
  }

  /** Follows the main gateway's dispatches. */
  function onDispatch(type, d) {
    if (type === 'GUILD_CREATE' && Array.isArray(d.voice_states)) {
      states.set(d.id, new Map());
      for (const s of d.voice_states) putState(d.id, s);
      emit(d.id);
    } else if (type === 'VOICE_STATE_UPDATE' && d.guild_id) {
      putState(d.guild_id, d);
      if (d.user_id === store.state.me?.id && call && call.guildId === d.guild_id) {
        if (!d.channel_id || (call.sessionId && d.session_id !== call.sessionId)) end();
        else {
          call.channelId = d.channel_id;
          call.sessionId = d.session_id;
          call.maybeConnect();
        }
      }
      emit(d.guild_id);
    } else if (type === 'VOICE_SERVER_UPDATE' && call && call.guildId === d.guild_id) {
      call.server = { token: d.token, endpoint: d.endpoint };
      call.maybeConnect();
    } else if (type === 'READY') {
      states.clear();
    }
  }

  /** Joins a voice channel (leaving any other first). */
  async function join(channel) {
    if (call?.channelId === channel.id) return;
    end();
    let mic;
    try {
      mic = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true } });
    } catch (e) {
      throw new Error(`No microphone: ${e.message}`);
    }
    call = new Call({
      store,
      guildId: channel.guild_id,
      channelId: channel.id,
      mic,
      speaking,
      emit,
      onFailed: () => end(true),
      onShareEnded: (kind) => share(kind, false),
    });
    sendState();
    emit(channel.guild_id);
  }

  function sendState(leave = false) {
    if (!call) return;
    getGateway()?.send(UPDATE_VOICE_STATE, {
      guild_id: call.guildId,
      channel_id: leave ? null : call.channelId,
      self_mute: call.muted,
      self_deaf: call.deafened,
      self_video: !leave && Boolean(call.camera),
      self_stream: !leave && Boolean(call.screen),
    });
  }

  /** Turns the camera or the screen share (`kind` 'video' or 'screen') on or off. */
  async function share(kind, on) {
    if (!call) return;
    try {
      await call.share(kind, on);
    } finally {
      // Also when the person stopped sharing from the browser's own bar.
      if (call) {
        sendState();
        emit(call.guildId);
      }
    }
  }

  /** What the call shows: our own camera and screen, and the others' that the server sends us. */
  function videos() {
    if (!call) return [];
    const me = call.me;
    const own = [
      call.camera && { userId: me, type: 'video', stream: call.camera, own: true },
      call.screen && { userId: me, type: 'screen', stream: call.screen, own: true },
    ].filter(Boolean);
    const guild = states.get(call.guildId);
    const others = [...call.shown.entries()]
      .filter(([mid, v]) => {
        // Hidden at once when its owner turns it off; the server frees the track later.
        const state = guild?.get(v.userId);
        const on = v.type === 'screen' ? state?.self_stream : state?.self_video;
        return on && call.videoStreams.has(mid);
      })
      .map(([mid, v]) => ({ ...v, mid, stream: call.videoStreams.get(mid) }));
    return [...own, ...others];
  }

  /** Leaves the channel: the main gateway is told, the connection closed. */
  function end(tell = true) {
    if (!call) return;
    if (tell) sendState(true);
    const guildId = call.guildId;
    call.close();
    call = null;
    emit(guildId);
  }

  return {
    onDispatch,
    join,
    leave: () => end(true),
    /** The voice states of a channel. */
    membersOf(guildId, channelId) {
      return [...(states.get(guildId)?.values() ?? [])].filter((s) => s.channel_id === channelId);
    },
    isSpeaking: (userId) => speaking.has(userId),
    /** The current connection's public face, or null. */
    current() {
      if (!call) return null;
      return {
        guildId: call.guildId,
        channelId: call.channelId,
        status: call.status,
        muted: call.muted,
        deafened: call.deafened,
        camera: Boolean(call.camera),
        screen: Boolean(call.screen),
      };
    },
    setCamera: (on) => share('video', on),
    setScreen: (on) => share('screen', on),
    videos,
    setMuted(muted) {
      if (!call) return;
      call.setMuted(muted || call.deafened);
      sendState();
      emit(call.guildId);
    },
    setDeafened(deafened) {
      if (!call) return;
      call.setDeafened(deafened);
      sendState();
      emit(call.guildId);
    },
    /** The microphone's level now, 0..1. */
    inputLevel: () => call?.level() ?? 0,
    /** The peer connection, for tests and diagnostics. */
    peerConnection: () => call?.pc ?? null,
  };
}

class Call {
  constructor({ store, guildId, channelId, mic, speaking, emit, onFailed, onShareEnded }) {
    Object.assign(this, { store, guildId, channelId, mic, speaking, emit, onFailed, onShareEnded });
    this.sessionId = null;
    this.server = null;
    this.ws = null;
    this.pc = null;
    this.status = 'joining';
    this.muted = false;
    this.deafened = false;
    this.audios = [];
    // Our camera and screen (MediaStreams while on), their sending transceivers,
    // and what the server shows us: mid -> { userId, type }, mid -> MediaStream.
    this.camera = null;
    this.screen = null;
    this.senders = {};
    // The camera or screen change under way, by kind.
    this.sharing = {};
    this.shown = new Map();
    this.videoStreams = new Map();
    this.seq = -1;
    this.heartbeat = null;
    this.closed = false;
    // After a dropped socket, the next one resumes the session (keeping
    // the peer connection and its audio) instead of identifying anew.
    this.resuming = false;
    this.resumes = 0;
    this.meter = meter(mic);
    this.meterTimer = setInterval(() => this.showOwnSpeaking(), 100);
  }

  get me() {
    return this.store.state.me?.id;
  }

  setStatus(status) {
    this.status = status;
    this.emit(this.guildId);
  }

  /** Connects once both the voice state and the voice server are known. */
  maybeConnect() {
    if (this.closed || this.ws || !this.sessionId || !this.server) return;
    const ws = new WebSocket(`wss://${this.server.endpoint}/?v=8`);
    this.ws = ws;
    this.setStatus('connecting');
    ws.onmessage = (e) => this.handle(JSON.parse(e.data));
    ws.onclose = (e) => {
      if (this.ws !== ws || this.closed) return;
      this.ws = null;
      clearInterval(this.heartbeat);
      // A dropped socket: the server keeps the session a while, so resume it.
      if (this.pc && !FINAL_CLOSES.has(e.code) && this.resumes < MAX_RESUMES) {
        this.resumes += 1;
        this.resuming = true;
        this.setStatus('connecting');
        setTimeout(() => this.maybeConnect(), 250 * this.resumes);
        return;
      }
      this.pc?.close();
      this.pc = null;
      // A move closes with 4014 and the next voice server update reconnects.
      if (e.code === 4014) this.setStatus('joining');
      else this.onFailed();
    };
  }

  send(op, d) {
    if (this.ws?.readyState === 1) this.ws.send(JSON.stringify({ op, d }));
  }

  async handle({ op, d, seq }) {
    if (typeof seq === 'number') this.seq = seq;
    switch (op) {
      case VoiceOp.HELLO:
        clearInterval(this.heartbeat);
        this.heartbeat = setInterval(() => this.send(VoiceOp.HEARTBEAT, { t: Date.now(), seq_ack: this.seq }), d.heartbeat_interval);
        if (this.resuming) {
          this.send(VoiceOp.RESUME, {
            server_id: this.guildId,
            session_id: this.sessionId,
            token: this.server.token,
            seq_ack: this.seq,
          });
          break;
        }
        this.send(VoiceOp.IDENTIFY, {
          server_id: this.guildId,
          user_id: this.me,
          session_id: this.sessionId,
          token: this.server.token,
          max_dave_protocol_version: 0,
        });
        break;
      case VoiceOp.READY:
        await this.offer();
        break;
      case VoiceOp.RESUMED:
        this.resuming = false;
        this.resumes = 0;
        this.setStatus('connected');
        break;
      case VoiceOp.SESSION_DESCRIPTION:
        if (d.sdp && this.pc) {
          await this.pc.setRemoteDescription({ type: 'answer', sdp: d.sdp });
          this.setStatus('connected');
        }
        break;
      case VoiceOp.SPEAKING:
        if (d.user_id) {
          if (d.speaking) this.speaking.add(d.user_id);
          else this.speaking.delete(d.user_id);
          this.emit(this.guildId);
        }
        break;
      case VoiceOp.VIDEO:
        for (const stream of d.streams ?? []) {
          if (!stream.mid) continue;
          if (stream.active) this.shown.set(stream.mid, { userId: d.user_id, type: stream.type });
          else if (this.shown.get(stream.mid)?.userId === d.user_id) this.shown.delete(stream.mid);
        }
        this.emit(this.guildId);
        break;
      case VoiceOp.CLIENT_DISCONNECT:
        if (this.speaking.delete(d.user_id)) this.emit(this.guildId);
        break;
      default:
        break;
    }
  }

  /** The WebRTC offer: our microphone, camera and screen, and tracks to receive speakers and video on. */
  async offer() {
    const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
    this.pc = pc;
    const [track] = this.mic.getAudioTracks();
    pc.addTransceiver(track, { direction: 'sendrecv', streams: [this.mic] });
    for (let i = 1; i < RECEIVING_TRACKS; i++) pc.addTransceiver('audio', { direction: 'recvonly' });
    this.senders = {
      video: pc.addTransceiver('video', { direction: 'sendonly' }),
      screen: pc.addTransceiver('video', { direction: 'sendonly' }),
    };
    for (const [kind, stream] of [['video', this.camera], ['screen', this.screen]]) {
      if (stream) await this.senders[kind].sender.replaceTrack(stream.getVideoTracks()[0]);
    }
    for (let i = 0; i < VIDEO_TRACKS; i++) pc.addTransceiver('video', { direction: 'recvonly' });
    // VP8 is what the server forwards: offering only it keeps the offer
    // within the voice socket's message size.
    const vp8 = RTCRtpReceiver.getCapabilities?.('video')?.codecs.filter((c) => c.mimeType === 'video/VP8') ?? [];
    for (const t of pc.getTransceivers()) {
      if (vp8.length && t.receiver.track.kind === 'video') t.setCodecPreferences(vp8);
    }
    pc.ontrack = (e) => {
      if (e.track.kind === 'video') {
        this.videoStreams.set(e.transceiver.mid, new MediaStream([e.track]));
        this.emit(this.guildId);
        return;
      }
      const audio = new Audio();
      audio.autoplay = true;
      audio.muted = this.deafened;
      audio.srcObject = new MediaStream([e.track]);
      audio.play().catch(() => {});
      this.audios.push(audio);
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'failed') this.onFailed();
    };
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    this.send(VoiceOp.SELECT_PROTOCOL, {
      protocol: 'webrtc',
      sdp: offer.sdp,
      codecs: [{ name: 'opus', type: 'audio', priority: 1000, payload_type: 111 }],
      streams: Object.entries(this.senders).map(([type, t]) => ({ type, mid: t.mid })),
    });
  }

  /** Starts or stops our camera ('video') or screen share ('screen'). */
  async share(kind, on) {
    // One change at a time per kind: a second click while the browser
    // still asks for the camera must not open it twice.
    const previous = this.sharing[kind] ?? Promise.resolve();
    const next = previous.catch(() => {}).then(() => this.switchShare(kind, on));
    this.sharing[kind] = next;
    return next;
  }

  async switchShare(kind, on) {
    const key = kind === 'screen' ? 'screen' : 'camera';
    const current = this[key];
    if (Boolean(current) === on || this.closed) return;
    let stream = null;
    if (on) {
      stream = kind === 'screen'
        ? await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false })
        : await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360 } });
      const [track] = stream.getVideoTracks();
      track.addEventListener('ended', () => {
        if (this[key] === stream) this.onShareEnded(kind);
      });
      if (this.closed) {
        track.stop();
        return;
      }
    }
    this[key] = stream;
    await this.senders[kind]?.sender.replaceTrack(stream?.getVideoTracks()[0] ?? null);
    for (const t of current?.getTracks() ?? []) t.stop();
  }

  setMuted(muted) {
    this.muted = muted;
    for (const t of this.mic.getAudioTracks()) t.enabled = !muted;
  }

  setDeafened(deafened) {
    this.deafened = deafened;
    for (const a of this.audios) a.muted = deafened;
    // As Discord does: who cannot hear is not heard either.
    this.setMuted(deafened || this.muted);
  }

  level() {
    return this.muted ? 0 : this.meter.level();
  }

  showOwnSpeaking() {
    const me = this.me;
    const now = this.level() > SPEAKING_LEVEL;
    if (now === this.speaking.has(me)) return;
    if (now) this.speaking.add(me);
    else this.speaking.delete(me);
    this.emit(this.guildId);
  }

  close() {
    this.closed = true;
    clearInterval(this.heartbeat);
    clearInterval(this.meterTimer);
    this.speaking.clear();
    if (this.ws) this.ws.close(1000);
    this.ws = null;
    this.pc?.close();
    for (const a of this.audios) a.srcObject = null;
    for (const stream of [this.mic, this.camera, this.screen]) {
      for (const t of stream?.getTracks() ?? []) t.stop();
    }
    this.meter.close();
  }
}

/** The level (0..1, RMS) of a microphone stream. */
function meter(stream) {
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  analyser.fftSize = 512;
  context.createMediaStreamSource(stream).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  return {
    level() {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const s of samples) sum += s * s;
      return Math.sqrt(sum / samples.length);
    },
    close: () => context.close().catch(() => {}),
  };
}

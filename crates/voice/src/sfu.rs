//! The node's voice connections and what is forwarded between them.
//!
//! Everything here is node-local media state (addresses, keys, counters,
//! sequences) that no other node could use; who is in which channel with
//! which mute and deafen is the main gateway's, asked through [`Admission`]
//! and followed on the bus. One mutex guards it, never held across an
//! await: the UDP task takes it once per packet to decide, then encrypts for
//! the listeners after letting go.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use concord_bus::{Interest, Topic};
use concord_model::Snowflake;
use rand::Rng;
use serde_json::{Value, json};
use str0m::media::Mid;
use tokio::sync::{mpsc, watch};

use crate::crypto::{Cipher, Fresh, Mode, ReplayWindow};
use crate::protocol::{StreamTrack, close, op};
use crate::select::{self, Activity, Candidate};
use crate::webrtc::{Bridge, Feed, Joined};
use crate::{Admission, VoiceAdmission, rtp};

pub(crate) type ConnId = u64;

/// How long a connection whose WebSocket dropped keeps its media state for
/// a RESUME.
pub(crate) const RESUME_GRACE: Duration = Duration::from_secs(30);
/// Numbered messages kept per connection to send again after a RESUME.
const REPLAY: usize = 64;
/// Identified connections on one node; past it, identifies are refused.
pub(crate) const MAX_CONNECTIONS: usize = 10_000;

/// The way to one connection's WebSocket task.
pub(crate) struct Link {
    pub(crate) id: u64,
    pub(crate) outbox: mpsc::Sender<Arc<str>>,
    pub(crate) close: watch::Sender<Option<u16>>,
}

impl Link {
    fn close(&self, code: u16) {
        let _ = self.close.send(Some(code));
    }
}

/// Who identified: the main gateway's names for the connection.
pub(crate) struct Identity {
    pub(crate) guild_id: Snowflake,
    pub(crate) user_id: Snowflake,
    pub(crate) session_id: String,
    pub(crate) token: String,
}

struct Peer {
    identity: Identity,
    state: VoiceAdmission,
    /// Given in Ready; the SSRC its packets carry and listeners are told.
    ssrc: u32,
    /// Whether server messages carry `seq` (version 8).
    numbered: bool,
    cipher: Option<Arc<Cipher>>,
    /// Where its media comes from and goes to, once known.
    addr: Option<SocketAddr>,
    /// The nonce counters it sent: a replayed packet is dropped, and only
    /// the newest may move its media address.
    replay: ReplayWindow,
    /// The nonce counter of the next packet sent to it.
    counter: u32,
    /// Per speaker, the last sequence number this listener got from it.
    sequences: HashMap<ConnId, u16>,
    /// The last speaking flags it sent (op 5).
    speaking: u32,
    activity: Activity,
    /// Whether the channel was told of it (after Select Protocol).
    announced: bool,
    /// Whether its media goes through WebRTC (a browser) rather than
    /// Discord's UDP protocol; its speaking state is then the server's.
    webrtc: bool,
    link: Option<Link>,
    detached_at: Option<Instant>,
    /// The last `seq` given.
    seq: u64,
    /// The last numbered messages, for a RESUME.
    sent: VecDeque<(u64, Arc<str>)>,
}

impl Peer {
    fn channel(&self) -> (Snowflake, Snowflake) {
        (self.identity.guild_id, self.state.channel_id)
    }

    /// Sends a message that a RESUME would send again.
    fn send(&mut self, op: u8, d: Value) {
        let text: Arc<str> = if self.numbered {
            self.seq += 1;
            json!({ "op": op, "d": d, "seq": self.seq })
                .to_string()
                .into()
        } else {
            json!({ "op": op, "d": d }).to_string().into()
        };
        if self.sent.len() == REPLAY {
            self.sent.pop_front();
        }
        self.sent.push_back((self.seq, text.clone()));
        if let Some(link) = &self.link
            && link.outbox.try_send(text).is_err()
        {
            // It cannot keep up (or is gone): its client may resume.
            link.close(close::SESSION_TIMEOUT);
        }
    }
}

/// A packet to send to one listener, sealed outside the lock.
pub(crate) struct Target {
    pub(crate) addr: SocketAddr,
    pub(crate) cipher: Arc<Cipher>,
    pub(crate) counter: u32,
    pub(crate) sequence: u16,
}

/// A speaker's packet, opened, and who gets it.
pub(crate) struct Routed {
    pub(crate) speaker: ConnId,
    pub(crate) marker_type: u8,
    pub(crate) timestamp: u32,
    pub(crate) ssrc: u32,
    pub(crate) payload: Vec<u8>,
    /// Discord-protocol listeners, each sealed for.
    pub(crate) targets: Vec<Target>,
    /// Listeners in a browser, written to through their WebRTC connection.
    pub(crate) browsers: Vec<ConnId>,
}

/// Marker bit clear and payload type 120, as Discord's clients send Opus.
const OPUS_MARKER_TYPE: u8 = 0x78;

/// How long a browser's speaking state (op 5, which the server decides for
/// it) stays on after its last voiced packet: long enough to bridge the
/// pauses between words.
const BROWSER_SPEAKING_HOLD: Duration = Duration::from_millis(800);

#[derive(Default)]
struct State {
    next_id: ConnId,
    next_link: u64,
    peers: HashMap<ConnId, Peer>,
    by_ssrc: HashMap<u32, ConnId>,
    by_addr: HashMap<SocketAddr, ConnId>,
    /// (guild, user): a user holds one voice connection per guild.
    by_member: HashMap<(Snowflake, Snowflake), ConnId>,
    /// (guild, channel): who is in it.
    channels: HashMap<(Snowflake, Snowflake), Vec<ConnId>>,
    /// Connections per guild, for the bus interest.
    guilds: HashMap<Snowflake, usize>,
}

pub(crate) struct Sfu {
    state: Mutex<State>,
    pub(crate) admission: Arc<dyn Admission>,
    interest: Arc<dyn Interest>,
    /// The UDP address Ready names.
    media: SocketAddr,
    /// The browsers' WebRTC side.
    pub(crate) bridge: Bridge,
}

impl Sfu {
    pub(crate) fn new(
        admission: Arc<dyn Admission>,
        interest: Arc<dyn Interest>,
        media: SocketAddr,
        bridge: Bridge,
    ) -> Sfu {
        Sfu {
            state: Mutex::new(State::default()),
            admission,
            interest,
            media,
            bridge,
        }
    }

    /// An id for a new WebSocket, to tell its link from a later one's.
    pub(crate) fn next_link(&self) -> u64 {
        let mut st = self.state();
        st.next_link += 1;
        st.next_link
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A new connection, told its SSRC, address and modes in Ready; a
    /// connection this user held in the guild before is replaced (4006).
    /// `None` when the node holds all it may.
    pub(crate) fn join(
        &self,
        identity: Identity,
        state: VoiceAdmission,
        numbered: bool,
        link: Link,
    ) -> Option<ConnId> {
        let mut st = self.state();
        let member = (identity.guild_id, identity.user_id);
        if let Some(&old) = st.by_member.get(&member) {
            self.remove(&mut st, old, Some(close::SESSION_INVALID));
        }
        if st.peers.len() >= MAX_CONNECTIONS {
            return None;
        }
        let mut rng = rand::rng();
        let ssrc = loop {
            let ssrc: u32 = rng.random();
            if ssrc != 0 && !st.by_ssrc.contains_key(&ssrc) {
                break ssrc;
            }
        };
        st.next_id += 1;
        let id = st.next_id;
        let guild_id = identity.guild_id;
        let mut peer = Peer {
            identity,
            state,
            ssrc,
            numbered,
            cipher: None,
            addr: None,
            replay: ReplayWindow::default(),
            counter: 0,
            sequences: HashMap::new(),
            speaking: 0,
            activity: Activity::default(),
            announced: false,
            webrtc: false,
            link: Some(link),
            detached_at: None,
            seq: 0,
            sent: VecDeque::new(),
        };
        let modes: Vec<&str> = Mode::OFFERED.iter().map(|m| m.name()).collect();
        peer.send(
            op::READY,
            json!({
                "ssrc": ssrc,
                "ip": self.media.ip().to_string(),
                "port": self.media.port(),
                "modes": modes,
                "experiments": [],
                "streams": [],
            }),
        );
        st.by_ssrc.insert(ssrc, id);
        st.by_member.insert(member, id);
        st.channels.entry(peer.channel()).or_default().push(id);
        let count = st.guilds.entry(guild_id).or_default();
        *count += 1;
        if *count == 1 {
            self.interest.add(&[Topic::Guild(guild_id)]);
        }
        st.peers.insert(id, peer);
        Some(id)
    }

    /// Select Protocol: a fresh key in `mode`, told in Session Description;
    /// the first time, the channel and the newcomer are told of each other.
    pub(crate) fn select(&self, id: ConnId, mode: Mode) {
        // A new key restarts the nonces the client seals with.
        let mut key = [0u8; 32];
        rand::rng().fill(&mut key);
        let mut st = self.state();
        let Some(peer) = st.peers.get_mut(&id) else {
            return;
        };
        if peer.webrtc {
            // One way of carrying media per connection.
            return;
        }
        peer.cipher = Some(Arc::new(Cipher::new(mode, &key)));
        peer.replay = ReplayWindow::default();
        peer.send(
            op::SESSION_DESCRIPTION,
            json!({
                "mode": mode.name(),
                "secret_key": key,
                "audio_codec": "opus",
                "media_session_id": media_session_id(),
                "dave_protocol_version": 0,
            }),
        );
        Self::announce(&mut st, id);
    }

    /// Select Protocol `webrtc`: the browser's SDP offer answered (the
    /// answer told in Session Description) and its WebRTC connection handed
    /// to the bridge; the first time, the channel and the newcomer are told
    /// of each other as for a UDP client. `streams` names its camera and
    /// screen tracks. `false` for an offer that cannot be answered, a
    /// stream of an unknown type or named twice, or a connection already
    /// on UDP.
    pub(crate) fn select_webrtc(&self, id: ConnId, offer: &str, streams: &[StreamTrack]) -> bool {
        let Some(feeds) = streams
            .iter()
            .map(|s| Some((s.mid.as_str().into(), Feed::video(&s.kind)?)))
            .collect::<Option<Vec<(Mid, Feed)>>>()
        else {
            return false;
        };
        let kinds: HashSet<Feed> = feeds.iter().map(|(_, feed)| *feed).collect();
        if kinds.len() != feeds.len() {
            return false;
        }
        let Some((rtc, answer)) = self.bridge.answer(offer) else {
            return false;
        };
        let mut st = self.state();
        let Some(peer) = st.peers.get_mut(&id) else {
            return false;
        };
        if peer.cipher.is_some() {
            return false;
        }
        peer.webrtc = true;
        peer.send(
            op::SESSION_DESCRIPTION,
            json!({
                "sdp": answer,
                "audio_codec": "opus",
                "media_session_id": media_session_id(),
                "dave_protocol_version": 0,
            }),
        );
        self.bridge.add(Joined {
            id,
            user_id: peer.identity.user_id,
            rtc,
            feeds,
        });
        Self::announce(&mut st, id);
        true
    }

    /// Who sees the camera or screen of the browser `id`: the other
    /// browsers in its channel, if it may be shown there (STREAM).
    pub(crate) fn viewers(&self, id: ConnId) -> Vec<ConnId> {
        let st = self.state();
        let Some(peer) = st.peers.get(&id).filter(|p| p.webrtc && p.state.shown()) else {
            return Vec::new();
        };
        st.others(id, peer.channel())
            .into_iter()
            .filter(|other| st.peers.get(other).is_some_and(|p| p.webrtc && p.announced))
            .collect()
    }

    /// Op 12 to the browser `to`: its receiving track `mid` shows (or, not
    /// `active`, no longer shows) `user`'s camera or screen.
    pub(crate) fn show_video(
        &self,
        to: ConnId,
        user: Snowflake,
        feed: Feed,
        mid: &str,
        active: bool,
    ) {
        let mut st = self.state();
        if let Some(peer) = st.peers.get_mut(&to) {
            peer.send(
                op::VIDEO,
                json!({
                    "user_id": user,
                    "streams": [{ "type": feed.name(), "mid": mid, "active": active }],
                }),
            );
        }
    }

    /// The first time a connection has its media set up: the channel learns
    /// of it and it of the channel (op 11 and each one's SSRC in op 5).
    fn announce(st: &mut State, id: ConnId) {
        let Some(peer) = st.peers.get_mut(&id) else {
            return;
        };
        if std::mem::replace(&mut peer.announced, true) {
            return;
        }
        let (user_id, ssrc, speaking, channel) = (
            peer.identity.user_id,
            peer.ssrc,
            peer.speaking,
            peer.channel(),
        );
        let others = st.others(id, channel);
        let mut present = Vec::new();
        for other in &others {
            let Some(peer) = st.peers.get_mut(other) else {
                continue;
            };
            peer.send(op::CLIENTS_CONNECT, json!({ "user_ids": [user_id] }));
            peer.send(op::SPEAKING, speaking_payload(user_id, ssrc, speaking));
            if peer.announced {
                present.push((peer.identity.user_id, peer.ssrc, peer.speaking));
            }
        }
        let Some(peer) = st.peers.get_mut(&id) else {
            return;
        };
        if !present.is_empty() {
            let user_ids: Vec<Snowflake> = present.iter().map(|p| p.0).collect();
            peer.send(op::CLIENTS_CONNECT, json!({ "user_ids": user_ids }));
        }
        for (user_id, ssrc, speaking) in present {
            peer.send(op::SPEAKING, speaking_payload(user_id, ssrc, speaking));
        }
    }

    /// Op 5 from a client: kept, and relayed to the channel with its user.
    pub(crate) fn speaking(&self, id: ConnId, speaking: u32) {
        Self::set_speaking(&mut self.state(), id, speaking);
    }

    /// Browsers whose voice stopped a while ago stop speaking (op 5 with 0);
    /// called every so often by the bridge.
    pub(crate) fn quiet_browsers(&self, now: Instant) {
        let mut st = self.state();
        let quiet: Vec<ConnId> = st
            .peers
            .iter()
            .filter(|(_, peer)| {
                peer.webrtc
                    && peer.speaking != 0
                    && !peer.activity.voiced_within(now, BROWSER_SPEAKING_HOLD)
            })
            .map(|(&id, _)| id)
            .collect();
        for id in quiet {
            Self::set_speaking(&mut st, id, 0);
        }
    }

    /// A connection's speaking flags, kept and relayed to its channel.
    fn set_speaking(st: &mut State, id: ConnId, speaking: u32) {
        let Some(peer) = st.peers.get_mut(&id) else {
            return;
        };
        peer.speaking = speaking;
        if !peer.announced {
            return;
        }
        let payload = speaking_payload(peer.identity.user_id, peer.ssrc, speaking);
        let channel = peer.channel();
        for other in st.others(id, channel) {
            if let Some(peer) = st.peers.get_mut(&other) {
                peer.send(op::SPEAKING, payload.clone());
            }
        }
    }

    /// The WebSocket of `link` ended without a goodbye: the connection waits
    /// [`RESUME_GRACE`] for a RESUME.
    pub(crate) fn detach(&self, id: ConnId, link: u64) {
        let mut st = self.state();
        if let Some(peer) = st.peers.get_mut(&id)
            && peer.link.as_ref().is_some_and(|l| l.id == link)
        {
            peer.link = None;
            peer.detached_at = Some(Instant::now());
        }
    }

    /// The connection of `link` is gone for good (its client closed it).
    pub(crate) fn leave(&self, id: ConnId, link: u64) {
        let mut st = self.state();
        if st
            .peers
            .get(&id)
            .is_some_and(|peer| peer.link.as_ref().is_some_and(|l| l.id == link))
        {
            self.remove(&mut st, id, None);
        }
    }

    /// RESUME: the connection named by guild, session and token, still held
    /// and still admitted, gets `link` and what it missed after `seq_ack`.
    pub(crate) async fn resume(
        &self,
        guild_id: Snowflake,
        session_id: &str,
        token: &str,
        seq_ack: Option<i64>,
        link: Link,
    ) -> Option<ConnId> {
        let (id, user_id) = {
            let st = self.state();
            st.peers.iter().find_map(|(&id, peer)| {
                let who = &peer.identity;
                (who.guild_id == guild_id && who.session_id == session_id && who.token == token)
                    .then_some((id, who.user_id))
            })?
        };
        let admitted = self
            .admission
            .admit(guild_id, user_id, session_id, token)
            .await;
        let mut st = self.state();
        let Some(admitted) = admitted else {
            self.remove(&mut st, id, Some(close::DISCONNECTED));
            return None;
        };
        let peer = st.peers.get_mut(&id)?;
        if admitted.channel_id != peer.state.channel_id {
            self.remove(&mut st, id, Some(close::DISCONNECTED));
            return None;
        }
        peer.state = admitted;
        if let Some(old) = peer.link.replace(link) {
            old.close(close::SESSION_INVALID);
        }
        peer.detached_at = None;
        let after = seq_ack.and_then(|s| u64::try_from(s).ok()).unwrap_or(0);
        if let Some(link) = &peer.link {
            for (_, text) in peer.sent.iter().filter(|(seq, _)| *seq > after) {
                if link.outbox.try_send(text.clone()).is_err() {
                    break;
                }
            }
        }
        Some(id)
    }

    /// The main gateway's voice state for a user changed: a move or leave
    /// (or the voice state taken by another session) closes the connection
    /// with 4014; mutes and deafens apply from the next packet on.
    pub(crate) fn voice_state(
        &self,
        guild_id: Snowflake,
        user_id: Snowflake,
        channel_id: Option<Snowflake>,
        session_id: Option<&str>,
        flags: Flags,
    ) {
        let mut st = self.state();
        let Some(&id) = st.by_member.get(&(guild_id, user_id)) else {
            return;
        };
        let Some(peer) = st.peers.get_mut(&id) else {
            return;
        };
        let same_session = session_id.is_none_or(|s| s == peer.identity.session_id);
        if channel_id != Some(peer.state.channel_id) || !same_session {
            self.remove(&mut st, id, Some(close::DISCONNECTED));
            return;
        }
        peer.state.mute = flags.mute;
        peer.state.deaf = flags.deaf;
        peer.state.self_mute = flags.self_mute;
        peer.state.self_deaf = flags.self_deaf;
        peer.state.suppress = flags.suppress;
    }

    /// After the bus lost events: every connection asked about again.
    pub(crate) async fn readmit_all(&self) {
        let held: Vec<(ConnId, Identity)> = self
            .state()
            .peers
            .iter()
            .map(|(&id, peer)| {
                let who = &peer.identity;
                (
                    id,
                    Identity {
                        guild_id: who.guild_id,
                        user_id: who.user_id,
                        session_id: who.session_id.clone(),
                        token: who.token.clone(),
                    },
                )
            })
            .collect();
        for (id, who) in held {
            let admitted = self
                .admission
                .admit(who.guild_id, who.user_id, &who.session_id, &who.token)
                .await;
            let mut st = self.state();
            let Some(peer) = st.peers.get_mut(&id) else {
                continue;
            };
            match admitted {
                Some(state) if state.channel_id == peer.state.channel_id => peer.state = state,
                _ => self.remove(&mut st, id, Some(close::DISCONNECTED)),
            }
        }
    }

    /// IP discovery: the request's SSRC names the connection, whose media
    /// address is now where the request came from, until Select Protocol
    /// (before which only its client knows the SSRC). Afterwards the SSRC is
    /// known to the channel, so only packets sealed with its key move it, and
    /// a discovery is answered from its own address alone. Strangers get no
    /// answer.
    pub(crate) fn discovered(&self, ssrc: u32, from: SocketAddr) -> bool {
        let mut st = self.state();
        let Some(&id) = st.by_ssrc.get(&ssrc) else {
            return false;
        };
        let Some(peer) = st.peers.get(&id) else {
            return false;
        };
        if peer.cipher.is_some() {
            return peer.addr == Some(from);
        }
        st.bind(id, from);
        true
    }

    /// Whether `from` is a connection's media address (keep-alives are
    /// echoed to those alone).
    pub(crate) fn knows(&self, from: SocketAddr) -> bool {
        self.state().by_addr.contains_key(&from)
    }

    /// A speaker's RTP packet: opened with its key (which also proves who
    /// sent it, so a client whose address changed is followed), and if it
    /// may be heard and is among the forwarded speakers, the listeners it
    /// goes to with their counters and sequences.
    pub(crate) fn route(&self, from: SocketAddr, packet: &[u8], now: Instant) -> Option<Routed> {
        let header = rtp::Header::parse(packet)?;
        let mut st = self.state();
        let id = *st.by_ssrc.get(&header.ssrc)?;
        let peer = st.peers.get(&id)?;
        let opened = peer.cipher.as_ref()?.open(packet)?;
        let moved = peer.addr != Some(from);
        let peer = st.peers.get_mut(&id)?;
        let fresh = peer.replay.check(opened.counter)?;
        if moved {
            if fresh != Fresh::Newest {
                return None;
            }
            st.bind(id, from);
        }
        let peer = st.peers.get_mut(&id)?;
        let level = opened
            .header
            .extension
            .and_then(|(profile, _)| rtp::audio_level(profile, &opened.extension));
        peer.activity
            .heard(now, level, rtp::is_silence(&opened.payload));
        let (targets, browsers) = Self::fan_out(&mut st, id, now)?;
        Some(Routed {
            speaker: id,
            marker_type: opened.header.marker_type,
            timestamp: opened.header.timestamp,
            ssrc: header.ssrc,
            payload: opened.payload,
            targets,
            browsers,
        })
    }

    /// A browser's Opus frame from its WebRTC connection, with its RTP
    /// timestamp and audio level (RFC 6464, if it sent one): its speaking
    /// state follows its voice, and it goes to the channel as a UDP client's
    /// packet would, under the SSRC its connection was given in Ready.
    pub(crate) fn route_browser(
        &self,
        id: ConnId,
        payload: &[u8],
        timestamp: u32,
        level: Option<u8>,
        now: Instant,
    ) -> Option<Routed> {
        let mut st = self.state();
        let peer = st.peers.get_mut(&id).filter(|peer| peer.webrtc)?;
        let silent = rtp::is_silence(payload);
        peer.activity.heard(now, level, silent);
        let voiced = peer.activity.is_current(now);
        if voiced && peer.speaking == 0 && peer.state.heard() {
            Self::set_speaking(&mut st, id, 1);
        }
        let ssrc = st.peers.get(&id)?.ssrc;
        let (targets, browsers) = Self::fan_out(&mut st, id, now)?;
        Some(Routed {
            speaker: id,
            marker_type: OPUS_MARKER_TYPE,
            timestamp,
            ssrc,
            payload: payload.to_vec(),
            targets,
            browsers,
        })
    }

    /// Who hears a packet `id` just sent, if it may be heard and is among
    /// the forwarded speakers: the Discord-protocol listeners with their
    /// counters and sequences (each taken here, once), and the browsers.
    fn fan_out(st: &mut State, id: ConnId, now: Instant) -> Option<(Vec<Target>, Vec<ConnId>)> {
        let peer = st.peers.get(&id)?;
        if !peer.state.heard() {
            return None;
        }
        let channel = peer.channel();
        let members = st.channels.get(&channel)?;
        let candidate = |id: &ConnId| {
            st.peers
                .get(id)
                .filter(|peer| peer.state.heard())
                .map(|peer| Candidate {
                    id: *id,
                    priority: peer.state.priority,
                    activity: &peer.activity,
                })
        };
        let speaker = candidate(&id)?;
        if !select::forwarded(speaker, members.iter().filter_map(candidate), now) {
            return None;
        }
        let listeners = st.others(id, channel);
        let mut targets = Vec::with_capacity(listeners.len());
        let mut browsers = Vec::new();
        for listener in listeners {
            let Some(peer) = st.peers.get_mut(&listener) else {
                continue;
            };
            if !peer.state.listens() {
                continue;
            }
            if peer.webrtc {
                browsers.push(listener);
                continue;
            }
            let (Some(cipher), Some(addr)) = (&peer.cipher, peer.addr) else {
                continue;
            };
            // Never a nonce twice under one key: a listener whose counter
            // ran out (after years) gets nothing more until it reconnects.
            if peer.counter == u32::MAX {
                continue;
            }
            let counter = peer.counter;
            peer.counter += 1;
            let sequence = peer
                .sequences
                .entry(id)
                .or_insert_with(|| rand::rng().random());
            *sequence = sequence.wrapping_add(1);
            targets.push(Target {
                addr,
                cipher: cipher.clone(),
                counter,
                sequence: *sequence,
            });
        }
        Some((targets, browsers))
    }

    /// Removes connections whose WebSocket has been gone longer than
    /// [`RESUME_GRACE`].
    pub(crate) fn reap(&self, now: Instant) {
        let mut st = self.state();
        let expired: Vec<ConnId> = st
            .peers
            .iter()
            .filter(|(_, peer)| {
                peer.detached_at
                    .is_some_and(|at| now.saturating_duration_since(at) > RESUME_GRACE)
            })
            .map(|(&id, _)| id)
            .collect();
        for id in expired {
            self.remove(&mut st, id, None);
        }
    }

    /// Closes every connection with `code` (the server stops).
    pub(crate) fn close_all(&self, code: u16) {
        let mut st = self.state();
        let ids: Vec<ConnId> = st.peers.keys().copied().collect();
        for id in ids {
            self.remove(&mut st, id, Some(code));
        }
    }

    /// Takes a connection out, closing its WebSocket with `code` if given,
    /// and tells its channel (op 13).
    fn remove(&self, st: &mut State, id: ConnId, code: Option<u16>) {
        let Some(peer) = st.peers.remove(&id) else {
            return;
        };
        if let (Some(code), Some(link)) = (code, &peer.link) {
            link.close(code);
        }
        if peer.webrtc {
            self.bridge.remove(id);
        }
        st.by_ssrc.remove(&peer.ssrc);
        if let Some(addr) = peer.addr {
            st.by_addr.remove(&addr);
        }
        let who = &peer.identity;
        if st.by_member.get(&(who.guild_id, who.user_id)) == Some(&id) {
            st.by_member.remove(&(who.guild_id, who.user_id));
        }
        let channel = peer.channel();
        if let Some(members) = st.channels.get_mut(&channel) {
            members.retain(|m| *m != id);
            if members.is_empty() {
                st.channels.remove(&channel);
            }
        }
        if let Some(count) = st.guilds.get_mut(&who.guild_id) {
            *count -= 1;
            if *count == 0 {
                st.guilds.remove(&who.guild_id);
                self.interest.remove(&[Topic::Guild(who.guild_id)]);
            }
        }
        if !peer.announced {
            return;
        }
        for other in st.others(id, channel) {
            if let Some(listener) = st.peers.get_mut(&other) {
                listener.sequences.remove(&id);
                listener.send(op::CLIENT_DISCONNECT, json!({ "user_id": who.user_id }));
            }
        }
    }
}

/// The voice state flags an event carries.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Flags {
    pub(crate) mute: bool,
    pub(crate) deaf: bool,
    pub(crate) self_mute: bool,
    pub(crate) self_deaf: bool,
    pub(crate) suppress: bool,
}

impl State {
    /// The others in a channel.
    fn others(&self, id: ConnId, channel: (Snowflake, Snowflake)) -> Vec<ConnId> {
        self.channels
            .get(&channel)
            .map(|members| members.iter().copied().filter(|m| *m != id).collect())
            .unwrap_or_default()
    }

    /// `from` is now `id`'s media address (and no one else's).
    fn bind(&mut self, id: ConnId, from: SocketAddr) {
        if let Some(previous) = self.by_addr.insert(from, id)
            && previous != id
            && let Some(peer) = self.peers.get_mut(&previous)
        {
            peer.addr = None;
        }
        if let Some(peer) = self.peers.get_mut(&id)
            && let Some(old) = peer.addr.replace(from)
            && old != from
        {
            self.by_addr.remove(&old);
        }
    }
}

/// A fresh id for Session Description's `media_session_id`.
fn media_session_id() -> String {
    let mut session = [0u8; 16];
    rand::rng().fill(&mut session);
    session.iter().map(|b| format!("{b:02x}")).collect()
}

fn speaking_payload(user_id: Snowflake, ssrc: u32, speaking: u32) -> Value {
    json!({ "user_id": user_id, "ssrc": ssrc, "speaking": speaking, "delay": 0 })
}

/// Removes expired connections once a second until the server stops.
pub(crate) async fn reap(sfu: Arc<Sfu>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => sfu.reap(Instant::now()),
            _ = stop.changed() => return,
        }
    }
}

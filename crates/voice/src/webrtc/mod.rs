//! People in a browser: their voice connections carry media over WebRTC
//! (str0m, sans-IO) instead of Discord's UDP protocol, and this bridge joins
//! the two.
//!
//! Why it looks the way it does:
//! - **One task owns every browser's `Rtc`.** str0m does no I/O: the task
//!   reads the WebRTC socket (its own port: a Discord client's IP discovery
//!   would look like STUN here), finds the connection a datagram belongs to
//!   with `Rtc::accepts`, and drives each connection's timers, so nothing
//!   blocks the runtime and no lock is held across str0m's work.
//! - **ICE lite.** The server is reachable at one host candidate (the
//!   address VOICE_SERVER_UPDATE names, at this socket's port); the browser
//!   does the checks and the server answers them.
//! - **The SFU decides who hears what.** A browser's Opus goes through
//!   [`Sfu::route_browser`], the same fan-out a UDP client's packet takes, so
//!   Discord-protocol listeners get it sealed with their own keys, counters
//!   and sequences under the browser's own SSRC; what goes to browsers comes
//!   back here as a [`Forward`].
//! - **A fixed set of receiving tracks** ([`tracks`]). The browser offers
//!   its microphone, its camera and screen tracks, and as many receiving
//!   audio and video tracks as it likes (the web client offers
//!   [`crate::MAX_FORWARDED_SPEAKERS`] for audio); each speaker, camera or
//!   screen takes a free track while it sends, so no renegotiation is
//!   needed. A browser is told which video track shows whom (op 12).
//! - **Video goes browser to browser** (VP8), to everyone else in the
//!   channel, from those holding STREAM. A track's new viewer waits for a
//!   keyframe, which the server asks the sender for (as it does when a
//!   viewer asks, or frames were lost on the way in), at most every
//!   [`KEYFRAME_EVERY`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use concord_model::Snowflake;
use str0m::crypto::CryptoProvider;
use str0m::media::{KeyframeRequestKind, MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

use crate::sfu::{ConnId, Routed, Sfu};
use crate::udp;

mod tracks;

use tracks::Tracks;
pub(crate) use tracks::{Feed, Source};

/// Larger than any datagram a browser sends.
const DATAGRAM: usize = 2000;
/// Frames from Discord-protocol speakers queued for the browsers; past it
/// they are dropped, as a congested network would.
const FORWARD_QUEUE: usize = 1024;
/// How often browsers that stopped talking are told to the channel, and
/// video tracks whose sender stopped are given up.
const QUIET_CHECK: Duration = Duration::from_millis(200);
/// The least time between two keyframe requests to one sender's feed: a
/// keyframe is large, and one serves every viewer waiting for it.
const KEYFRAME_EVERY: Duration = Duration::from_millis(500);

/// A frame some browsers are to hear.
pub(crate) struct Forward {
    speaker: ConnId,
    timestamp: u32,
    payload: Arc<[u8]>,
    to: Vec<ConnId>,
}

/// A browser's connection, as the bridge takes it.
pub(crate) struct Joined {
    pub(crate) id: ConnId,
    pub(crate) user_id: Snowflake,
    pub(crate) rtc: Rtc,
    /// Its sending video tracks, by mid, as Select Protocol named them.
    pub(crate) feeds: Vec<(Mid, Feed)>,
}

enum Command {
    Add(Box<Joined>),
    Remove(ConnId),
}

/// The SFU's way to the bridge task.
pub(crate) struct Bridge {
    commands: mpsc::UnboundedSender<Command>,
    frames: mpsc::Sender<Forward>,
    /// The host candidate every answer names.
    candidate: SocketAddr,
    crypto: Arc<CryptoProvider>,
}

/// What the bridge task reads.
pub(crate) struct Inbox {
    commands: mpsc::UnboundedReceiver<Command>,
    frames: mpsc::Receiver<Forward>,
}

impl Bridge {
    pub(crate) fn new(candidate: SocketAddr) -> (Bridge, Inbox) {
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let (frames, frames_rx) = mpsc::channel(FORWARD_QUEUE);
        let bridge = Bridge {
            commands,
            frames,
            candidate,
            crypto: Arc::new(str0m::crypto::from_feature_flags()),
        };
        let inbox = Inbox {
            commands: commands_rx,
            frames: frames_rx,
        };
        (bridge, inbox)
    }

    /// A WebRTC connection for a browser's SDP offer, and the SDP answer;
    /// `None` when the offer cannot be read or answered.
    pub(crate) fn answer(&self, offer: &str) -> Option<(Rtc, String)> {
        let offer = str0m::change::SdpOffer::from_sdp_string(offer).ok()?;
        let mut rtc = Rtc::builder()
            .set_crypto_provider(self.crypto.clone())
            .set_ice_lite(true)
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true)
            .build(Instant::now());
        rtc.add_local_candidate(Candidate::host(self.candidate, "udp").ok()?)?;
        let answer = rtc.sdp_api().accept_offer(offer).ok()?;
        Some((rtc, answer.to_sdp_string()))
    }

    pub(crate) fn add(&self, joined: Joined) {
        let _ = self.commands.send(Command::Add(Box::new(joined)));
    }

    pub(crate) fn remove(&self, id: ConnId) {
        let _ = self.commands.send(Command::Remove(id));
    }

    /// Hands a Discord-protocol speaker's routed frame to the browsers among
    /// its listeners, if any.
    pub(crate) fn forward(&self, routed: Routed) {
        if routed.browsers.is_empty() {
            return;
        }
        let _ = self.frames.try_send(Forward {
            speaker: routed.speaker,
            timestamp: routed.timestamp,
            payload: routed.payload.into(),
            to: routed.browsers,
        });
    }
}

struct Browser {
    user_id: Snowflake,
    rtc: Rtc,
    tracks: Tracks,
    feeds: Vec<(Mid, Feed)>,
    /// When each feed was last asked for a keyframe.
    asked: HashMap<Feed, Instant>,
    /// When str0m next wants to be woken.
    wake: Instant,
}

impl Browser {
    fn new(joined: Joined) -> Browser {
        Browser {
            user_id: joined.user_id,
            rtc: joined.rtc,
            tracks: Tracks::default(),
            feeds: joined.feeds,
            asked: HashMap::new(),
            wake: Instant::now(),
        }
    }

    /// A frame of `source` on the track it holds, or a free one; dropped
    /// when every track of its kind is held by someone still sending.
    /// Returns the track's mid when the source took it with this frame.
    fn write(&mut self, source: Source, frame: &Frame, now: Instant) -> Option<Mid> {
        let placed = self
            .tracks
            .place(source, frame.timestamp, frame.keyframe, now)?;
        self.wake = now;
        let taken = placed.taken.then_some(placed.mid);
        let (Some(time), Some(writer)) = (placed.time, self.rtc.writer(placed.mid)) else {
            return taken;
        };
        let codec = source.feed.codec();
        let Some(pt) = writer
            .payload_params()
            .find(|p| p.spec().codec == codec)
            .map(|p| p.pt())
        else {
            return taken;
        };
        if let Err(error) = writer.write(pt, now, time, frame.payload.clone()) {
            tracing::debug!(%error, "webrtc write");
        }
        taken
    }

    /// Asks this browser for a keyframe of `feed`, unless it was asked
    /// within [`KEYFRAME_EVERY`].
    fn ask_keyframe(&mut self, feed: Feed, now: Instant) {
        let Some(&(mid, _)) = self.feeds.iter().find(|(_, f)| *f == feed) else {
            return;
        };
        if self
            .asked
            .get(&feed)
            .is_some_and(|at| now.saturating_duration_since(*at) < KEYFRAME_EVERY)
        {
            return;
        }
        if let Some(mut writer) = self.rtc.writer(mid)
            && writer
                .request_keyframe(None, KeyframeRequestKind::Pli)
                .is_ok()
        {
            self.asked.insert(feed, now);
            self.wake = now;
        }
    }
}

/// A frame on its way to browsers.
struct Frame {
    timestamp: u32,
    keyframe: bool,
    payload: Arc<[u8]>,
}

/// What a browser's connection had to say, read out of str0m's events.
enum Heard {
    /// An Opus frame, with its audio level (RFC 6464) if it sent one.
    Voice { frame: Frame, level: Option<u8> },
    /// A VP8 frame of its camera or screen.
    Video { feed: Feed, frame: Frame },
    /// It wants a keyframe of what one of its tracks shows.
    Keyframe(Source),
}

/// The bridge task: the WebRTC socket, every browser's `Rtc`, and the
/// frames between them and the SFU.
pub(crate) async fn run(
    socket: Arc<UdpSocket>,
    media: Arc<UdpSocket>,
    sfu: Arc<Sfu>,
    mut inbox: Inbox,
    mut stop: watch::Receiver<bool>,
) {
    let Ok(local) = socket.local_addr() else {
        return;
    };
    let mut browsers: HashMap<ConnId, Browser> = HashMap::new();
    let mut buf = vec![0u8; DATAGRAM];
    let mut quiet = tokio::time::interval(QUIET_CHECK);
    loop {
        let wake = browsers
            .values()
            .map(|b| b.wake)
            .min()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(1));
        let mut touched: Option<ConnId> = None;
        tokio::select! {
            received = socket.recv_from(&mut buf) => {
                let Ok((len, source)) = received else { continue };
                let Ok(contents) = buf[..len].try_into() else { continue };
                let input = Input::Receive(Instant::now(), Receive {
                    proto: Protocol::Udp,
                    source,
                    destination: local,
                    contents,
                });
                if let Some((&id, browser)) =
                    browsers.iter_mut().find(|(_, b)| b.rtc.accepts(&input))
                {
                    if browser.rtc.handle_input(input).is_err() {
                        browser.rtc.disconnect();
                    }
                    touched = Some(id);
                }
            }
            command = inbox.commands.recv() => match command {
                Some(Command::Add(joined)) => {
                    let id = joined.id;
                    browsers.insert(id, Browser::new(*joined));
                    touched = Some(id);
                }
                Some(Command::Remove(id)) => {
                    if let Some(mut browser) = browsers.remove(&id) {
                        browser.rtc.disconnect();
                        hide(&sfu, &mut browsers, id, browser.user_id);
                    }
                }
                None => return,
            },
            Some(forward) = inbox.frames.recv() => {
                let now = Instant::now();
                let source = Source { conn: forward.speaker, feed: Feed::Voice };
                let frame = Frame { timestamp: forward.timestamp, keyframe: false, payload: forward.payload };
                for id in &forward.to {
                    if let Some(browser) = browsers.get_mut(id) {
                        browser.write(source, &frame, now);
                    }
                }
            }
            () = tokio::time::sleep_until(wake.into()) => {
                let now = Instant::now();
                for browser in browsers.values_mut().filter(|b| b.wake <= now) {
                    if browser.rtc.handle_input(Input::Timeout(now)).is_err() {
                        browser.rtc.disconnect();
                    }
                }
            }
            _ = quiet.tick() => {
                let now = Instant::now();
                sfu.quiet_browsers(now);
                let expired: Vec<(ConnId, Mid, Source)> = browsers
                    .iter_mut()
                    .flat_map(|(&id, b)| b.tracks.expire(now).into_iter().map(move |(mid, s)| (id, mid, s)))
                    .collect();
                for (id, mid, source) in expired {
                    if let Some(sender) = browsers.get(&source.conn) {
                        sfu.show_video(id, sender.user_id, source.feed, &mid, false);
                    }
                }
            }
            _ = stop.changed() => return,
        }
        // Output first: what str0m wants sent, and what the browsers said.
        let now = Instant::now();
        let due: Vec<ConnId> = browsers
            .iter()
            .filter(|(id, b)| Some(**id) == touched || b.wake <= now)
            .map(|(&id, _)| id)
            .collect();
        for id in due {
            let Some(browser) = browsers.get_mut(&id) else {
                continue;
            };
            let heard = drive(browser, &socket);
            let user = browser.user_id;
            if !browser.rtc.is_alive() {
                browsers.remove(&id);
                hide(&sfu, &mut browsers, id, user);
                continue;
            }
            for heard in heard {
                match heard {
                    Heard::Voice { frame, level } => {
                        let routed = sfu.route_browser(
                            id,
                            &frame.payload,
                            frame.timestamp,
                            level,
                            Instant::now(),
                        );
                        let Some(routed) = routed else { continue };
                        udp::deliver(&media, &routed).await;
                        let source = Source {
                            conn: id,
                            feed: Feed::Voice,
                        };
                        let now = Instant::now();
                        for to in &routed.browsers {
                            if let Some(other) = browsers.get_mut(to) {
                                other.write(source, &frame, now);
                            }
                        }
                    }
                    Heard::Video { feed, frame } => {
                        let source = Source { conn: id, feed };
                        let now = Instant::now();
                        let mut wanted = false;
                        for to in sfu.viewers(id) {
                            let Some(other) = browsers.get_mut(&to) else {
                                continue;
                            };
                            if let Some(mid) = other.write(source, &frame, now) {
                                sfu.show_video(to, user, feed, &mid, true);
                                wanted = true;
                            }
                        }
                        if wanted && let Some(sender) = browsers.get_mut(&id) {
                            sender.ask_keyframe(feed, now);
                        }
                    }
                    Heard::Keyframe(source) => {
                        if let Some(sender) = browsers.get_mut(&source.conn) {
                            sender.ask_keyframe(source.feed, Instant::now());
                        }
                    }
                }
            }
        }
    }
}

/// A browser left: the tracks that carried it are given up, and the
/// viewers of its camera and screen told (op 12).
fn hide(sfu: &Sfu, browsers: &mut HashMap<ConnId, Browser>, gone: ConnId, user: Snowflake) {
    for (&id, browser) in browsers.iter_mut() {
        for (mid, source) in browser.tracks.forget(gone) {
            if source.feed != Feed::Voice {
                sfu.show_video(id, user, source.feed, &mid, false);
            }
        }
    }
}

/// Polls one connection until it has nothing more to do for now: sends what
/// it transmits, notes its tracks, and returns what its browser sent.
fn drive(browser: &mut Browser, socket: &UdpSocket) -> Vec<Heard> {
    let mut heard = Vec::new();
    loop {
        if !browser.rtc.is_alive() {
            return heard;
        }
        let output = match browser.rtc.poll_output() {
            Ok(output) => output,
            Err(error) => {
                tracing::debug!(%error, "webrtc poll");
                browser.rtc.disconnect();
                return heard;
            }
        };
        match output {
            Output::Timeout(at) => {
                browser.wake = at;
                return heard;
            }
            Output::Transmit(transmit) => {
                // A full send buffer drops the datagram, as the network may.
                let _ = socket.try_send_to(&transmit.contents, transmit.destination);
            }
            Output::Event(Event::MediaAdded(added)) => {
                // What the browser receives on; its sending tracks are the
                // ones Select Protocol named.
                if added.direction.is_sending() {
                    browser.tracks.add(added.mid, added.kind);
                }
            }
            Output::Event(Event::MediaData(data)) => {
                let frame = Frame {
                    timestamp: data.time.numer() as u32,
                    keyframe: data.is_keyframe(),
                    payload: data.data.clone(),
                };
                let codec = data.params.spec().codec;
                if codec == Feed::Voice.codec() {
                    let level = data.ext_vals.audio_level.map(|l| l.unsigned_abs().min(127));
                    heard.push(Heard::Voice { frame, level });
                    continue;
                }
                let feed = browser
                    .feeds
                    .iter()
                    .find(|(mid, _)| *mid == data.mid)
                    .map(|(_, feed)| *feed);
                let Some(feed) = feed.filter(|feed| feed.codec() == codec) else {
                    continue;
                };
                // Frames were lost on the way in: what follows cannot be
                // decoded until the next keyframe.
                if !data.contiguous {
                    browser.ask_keyframe(feed, Instant::now());
                }
                heard.push(Heard::Video { feed, frame });
            }
            Output::Event(Event::KeyframeRequest(request)) => {
                if let Some(source) = browser.tracks.holder(request.mid)
                    && source.feed.kind() == MediaKind::Video
                {
                    heard.push(Heard::Keyframe(source));
                }
            }
            Output::Event(Event::IceConnectionStateChange(IceConnectionState::Disconnected)) => {
                browser.rtc.disconnect();
            }
            Output::Event(_) => {}
        }
    }
}

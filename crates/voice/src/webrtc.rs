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
//! - **A fixed set of receiving tracks.** The browser offers its microphone
//!   and as many receiving audio tracks as it likes (the web client offers
//!   [`crate::MAX_FORWARDED_SPEAKERS`]); each speaker it hears takes a free
//!   track for as long as it talks, so no renegotiation is needed. The RTP
//!   time on a track goes on smoothly when its speaker changes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::crypto::CryptoProvider;
use str0m::format::Codec;
use str0m::media::{Frequency, MediaKind, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

use crate::sfu::{ConnId, Routed, Sfu};
use crate::udp;

/// Larger than any datagram a browser sends for audio.
const DATAGRAM: usize = 2000;
/// Frames from Discord-protocol speakers queued for the browsers; past it
/// they are dropped, as a congested network would.
const FORWARD_QUEUE: usize = 1024;
/// How long a receiving track stays its speaker's after their last frame.
const TRACK_HOLD: Duration = Duration::from_secs(1);
/// How often browsers that stopped talking are told to the channel.
const QUIET_CHECK: Duration = Duration::from_millis(200);
/// Opus's RTP clock.
const OPUS_RATE: u64 = 48_000;
/// One 20 ms Opus frame in RTP time.
const FRAME: u32 = 960;

/// A frame some browsers are to hear.
pub(crate) struct Forward {
    speaker: ConnId,
    timestamp: u32,
    payload: Arc<[u8]>,
    to: Vec<ConnId>,
}

enum Command {
    Add(ConnId, Box<Rtc>),
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
            .build(Instant::now());
        rtc.add_local_candidate(Candidate::host(self.candidate, "udp").ok()?)?;
        let answer = rtc.sdp_api().accept_offer(offer).ok()?;
        Some((rtc, answer.to_sdp_string()))
    }

    pub(crate) fn add(&self, id: ConnId, rtc: Rtc) {
        let _ = self.commands.send(Command::Add(id, Box::new(rtc)));
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

/// One receiving track of a browser: whose voice it carries now.
struct Track {
    mid: Mid,
    pt: Option<Pt>,
    speaker: Option<ConnId>,
    last_write: Option<Instant>,
    /// Added to the speaker's RTP time.
    offset: u32,
    last_time: u32,
}

struct Browser {
    rtc: Rtc,
    tracks: Vec<Track>,
    /// When str0m next wants to be woken.
    wake: Instant,
}

impl Browser {
    /// A frame from `speaker` on the track it holds, or a free one; dropped
    /// when every track is held by someone still talking.
    fn write(&mut self, speaker: ConnId, timestamp: u32, payload: &Arc<[u8]>, now: Instant) {
        let held = |track: &Track| {
            track.speaker.is_some()
                && track
                    .last_write
                    .is_some_and(|at| now.saturating_duration_since(at) < TRACK_HOLD)
        };
        let at = match self.tracks.iter().position(|t| t.speaker == Some(speaker)) {
            Some(at) => at,
            None => {
                let Some(at) = self.tracks.iter().position(|t| !held(t)) else {
                    return;
                };
                let track = &mut self.tracks[at];
                // Continue the track's clock by the time that passed.
                let elapsed = track.last_write.map_or(0, |at| {
                    now.saturating_duration_since(at).as_millis() as u64 * OPUS_RATE / 1000
                });
                let next = track.last_time.wrapping_add((elapsed as u32).max(FRAME));
                track.offset = next.wrapping_sub(timestamp);
                track.speaker = Some(speaker);
                at
            }
        };
        let track = &mut self.tracks[at];
        let Some(writer) = self.rtc.writer(track.mid) else {
            return;
        };
        let pt = match track.pt {
            Some(pt) => pt,
            None => {
                let Some(pt) = writer
                    .payload_params()
                    .find(|p| p.spec().codec == Codec::Opus)
                    .map(|p| p.pt())
                else {
                    return;
                };
                track.pt = Some(pt);
                pt
            }
        };
        let time = timestamp.wrapping_add(track.offset);
        track.last_time = time;
        track.last_write = Some(now);
        let rtp_time = MediaTime::new(u64::from(time), Frequency::FORTY_EIGHT_KHZ);
        if let Err(error) = writer.write(pt, now, rtp_time, payload.clone()) {
            tracing::debug!(%error, "webrtc write");
        }
    }
}

/// A frame a browser sent, read out of str0m's events.
struct Heard {
    timestamp: u32,
    level: Option<u8>,
    payload: Arc<[u8]>,
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
                Some(Command::Add(id, rtc)) => {
                    browsers.insert(id, Browser { rtc: *rtc, tracks: Vec::new(), wake: Instant::now() });
                    touched = Some(id);
                }
                Some(Command::Remove(id)) => {
                    if let Some(mut browser) = browsers.remove(&id) {
                        browser.rtc.disconnect();
                    }
                }
                None => return,
            },
            Some(frame) = inbox.frames.recv() => {
                let now = Instant::now();
                for id in &frame.to {
                    if let Some(browser) = browsers.get_mut(id) {
                        browser.write(frame.speaker, frame.timestamp, &frame.payload, now);
                        browser.wake = now;
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
            _ = quiet.tick() => sfu.quiet_browsers(Instant::now()),
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
            if !browser.rtc.is_alive() {
                browsers.remove(&id);
                continue;
            }
            for frame in heard {
                let routed = sfu.route_browser(
                    id,
                    &frame.payload,
                    frame.timestamp,
                    frame.level,
                    Instant::now(),
                );
                let Some(routed) = routed else { continue };
                udp::deliver(&media, &routed).await;
                let payload: Arc<[u8]> = routed.payload.into();
                let now = Instant::now();
                for to in &routed.browsers {
                    if let Some(other) = browsers.get_mut(to) {
                        other.write(id, routed.timestamp, &payload, now);
                        other.wake = now;
                    }
                }
            }
        }
    }
}

/// Polls one connection until it has nothing more to do for now: sends what
/// it transmits, notes its tracks, and returns the frames its browser sent.
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
                if added.kind == MediaKind::Audio && added.direction.is_sending() {
                    browser.tracks.push(Track {
                        mid: added.mid,
                        pt: None,
                        speaker: None,
                        last_write: None,
                        offset: 0,
                        last_time: 0,
                    });
                }
            }
            Output::Event(Event::MediaData(data)) => {
                if data.params.spec().codec == Codec::Opus {
                    heard.push(Heard {
                        timestamp: data.time.numer() as u32,
                        level: data.ext_vals.audio_level.map(|l| l.unsigned_abs().min(127)),
                        payload: data.data,
                    });
                }
            }
            Output::Event(Event::IceConnectionStateChange(IceConnectionState::Disconnected)) => {
                browser.rtc.disconnect();
            }
            Output::Event(_) => {}
        }
    }
}

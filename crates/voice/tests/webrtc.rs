//! People in a browser: a WebRTC peer (str0m, as a browser would offer)
//! signals over the real voice WebSocket, and its audio and a
//! Discord-protocol client's cross the SFU both ways, byte for byte; a
//! browser's camera reaches the other browsers from a keyframe on.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use concord_model::Snowflake;
use concord_model::voice::VoiceAdmission;
use serde_json::{Value, json};
use str0m::change::SdpAnswer;
use str0m::format::Codec;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use support::*;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

/// Receiving tracks the browser offers besides its microphone's.
const RECEIVING: usize = 2;

/// An Opus-sized frame that says who sent it and which one it is.
fn frame(from: u8, n: u16) -> Vec<u8> {
    let mut frame = vec![from, (n >> 8) as u8, n as u8];
    frame.extend((0..100u8).map(|i| i.wrapping_mul(from).wrapping_add(n as u8)));
    frame
}

/// Which frame `payload` is, if it is exactly one of [`frame`]'s.
fn which(payload: &[u8]) -> Option<(u8, u16)> {
    let (&from, rest) = payload.split_first()?;
    let n = u16::from_be_bytes([*rest.first()?, *rest.get(1)?]);
    (payload == frame(from, n).as_slice()).then_some((from, n))
}

/// A VP8-sized frame: a keyframe or not (the VP8 header's P bit, which is
/// all the SFU reads), who sent it and which one it is.
fn video_frame(from: u8, n: u16, keyframe: bool) -> Vec<u8> {
    let mut frame = vec![u8::from(!keyframe), from, (n >> 8) as u8, n as u8];
    frame.resize(300, from);
    frame
}

/// What a browser offers besides its microphone and receiving audio tracks.
#[derive(Clone, Copy, Default)]
struct Video {
    /// A camera track, sending once connected.
    camera: bool,
    /// Receiving video tracks.
    receiving: usize,
}

/// A browser: its voice WebSocket, and a task driving its WebRTC peer that
/// sends one frame every 20 ms once connected (and its camera's, if it has
/// one) and reports what it hears and sees.
struct Browser {
    ws: VoiceClient,
    ssrc: u32,
    heard: mpsc::UnboundedReceiver<(MediaKind, Vec<u8>)>,
    connected: watch::Receiver<bool>,
    /// How many keyframes its camera was asked for.
    asked: watch::Receiver<u32>,
    /// Its receiving video tracks.
    screens: Vec<Mid>,
}

impl Browser {
    async fn join(h: &Harness, user: u64, tag: u8) -> Browser {
        Browser::join_with(h, user, tag, member(), Video::default()).await
    }

    async fn join_with(
        h: &Harness,
        user: u64,
        tag: u8,
        admission: VoiceAdmission,
        video: Video,
    ) -> Browser {
        let user = Snowflake(user);
        h.admission.allow(user, admission);
        let mut ws = identify(h.open("?v=8").await.unwrap(), user).await;
        let ready = ws.expect(2).await;
        let ssrc = ready["d"]["ssrc"].as_u64().unwrap() as u32;

        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut rtc = Rtc::builder()
            .set_crypto_provider(Arc::new(str0m::crypto::from_feature_flags()))
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true)
            .build(Instant::now());
        let local = udp.local_addr().unwrap();
        rtc.add_local_candidate(Candidate::host(local, "udp").unwrap());
        let mut change = rtc.sdp_api();
        let mic = change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        for _ in 0..RECEIVING {
            change.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
        }
        let camera = video
            .camera
            .then(|| change.add_media(MediaKind::Video, Direction::SendOnly, None, None, None));
        let screens: Vec<Mid> = (0..video.receiving)
            .map(|_| change.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None))
            .collect();
        let (offer, pending) = change.apply().unwrap();
        let offer = offer.to_sdp_string();
        let streams: Vec<Value> = camera
            .iter()
            .map(|mid| json!({"type": "video", "mid": mid.to_string()}))
            .collect();
        // As Discord's web client sends it: the offer twice, and its codecs.
        ws.send(
            json!({"op": 1, "d": {"protocol": "webrtc", "data": offer, "sdp": offer,
            "codecs": [{"name": "opus", "type": "audio", "priority": 1000, "payload_type": 111}],
            "streams": streams}}),
        )
        .await;
        let description = ws.expect(4).await;
        assert_eq!(description["d"]["audio_codec"], "opus");
        assert_eq!(description["d"]["dave_protocol_version"], 0);
        assert!(description["d"]["media_session_id"].is_string());
        let answer = description["d"]["sdp"].as_str().expect("an SDP answer");
        let answer = SdpAnswer::from_sdp_string(answer).expect("a readable answer");
        rtc.sdp_api().accept_answer(pending, answer).unwrap();

        let (heard_tx, heard) = mpsc::unbounded_channel();
        let (connected_tx, connected) = watch::channel(false);
        let (asked_tx, asked) = watch::channel(0);
        let peer = Peer {
            rtc,
            udp,
            mic,
            camera,
            tag,
            heard: heard_tx,
            connected: connected_tx,
            asked: asked_tx,
        };
        tokio::spawn(peer.drive());
        Browser {
            ws,
            ssrc,
            heard,
            connected,
            asked,
            screens,
        }
    }

    async fn connected(&mut self) {
        tokio::time::timeout(PATIENCE, self.connected.wait_for(|c| *c))
            .await
            .expect("ICE and DTLS connect in time")
            .unwrap();
    }

    /// Waits for a frame from `from`, skipping others.
    async fn hears_from(&mut self, from: u8) -> (u8, u16) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let (kind, payload) = tokio::time::timeout_at(deadline, self.heard.recv())
                .await
                .unwrap_or_else(|_| panic!("no frame from {from} in time"))
                .expect("the peer task runs");
            if kind != MediaKind::Audio {
                continue;
            }
            let frame = which(&payload).expect("every frame arrives intact");
            if frame.0 == from {
                return frame;
            }
        }
    }

    /// The next video frame it receives.
    async fn sees(&mut self) -> Vec<u8> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let (kind, payload) = tokio::time::timeout_at(deadline, self.heard.recv())
                .await
                .expect("a video frame in time")
                .expect("the peer task runs");
            if kind == MediaKind::Video {
                return payload;
            }
        }
    }

    /// Whether no video frame comes within `wait`.
    async fn sees_nothing(&mut self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(received) = tokio::time::timeout_at(deadline, self.heard.recv()).await {
            if received.expect("the peer task runs").0 == MediaKind::Video {
                return false;
            }
        }
        true
    }
}

/// A browser's WebRTC peer, driven by a task of its own.
struct Peer {
    rtc: Rtc,
    udp: UdpSocket,
    mic: Mid,
    camera: Option<Mid>,
    tag: u8,
    heard: mpsc::UnboundedSender<(MediaKind, Vec<u8>)>,
    connected: watch::Sender<bool>,
    asked: watch::Sender<u32>,
}

impl Peer {
    /// Writes one frame on `mid` of the codec `codec`.
    fn write(&mut self, mid: Mid, codec: Codec, time: MediaTime, frame: Vec<u8>) {
        let writer = self.rtc.writer(mid).unwrap();
        let pt = writer
            .payload_params()
            .find(|p| p.spec().codec == codec)
            .map(|p| p.pt())
            .unwrap();
        writer.write(pt, Instant::now(), time, frame).unwrap();
    }

    /// The event loop. The camera sends delta frames only, except for a
    /// keyframe each time it is asked for one.
    async fn drive(mut self) {
        let local: SocketAddr = self.udp.local_addr().unwrap();
        let mut buf = vec![0u8; 2000];
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        let mut sent: u16 = 0;
        let mut keyframe_wanted = false;
        loop {
            let wake = loop {
                match self.rtc.poll_output().unwrap() {
                    Output::Timeout(at) => break at,
                    Output::Transmit(t) => {
                        let _ = self.udp.send_to(&t.contents, t.destination).await;
                    }
                    Output::Event(Event::Connected) => {
                        let _ = self.connected.send(true);
                    }
                    Output::Event(Event::MediaData(data)) => {
                        let kind = if data.params.spec().codec == Codec::Vp8 {
                            MediaKind::Video
                        } else {
                            MediaKind::Audio
                        };
                        if self.heard.send((kind, data.data.to_vec())).is_err() {
                            return;
                        }
                    }
                    Output::Event(Event::KeyframeRequest(request)) => {
                        assert_eq!(Some(request.mid), self.camera);
                        keyframe_wanted = true;
                        self.asked.send_modify(|n| *n += 1);
                    }
                    Output::Event(_) => {}
                }
            };
            tokio::select! {
                received = self.udp.recv_from(&mut buf) => {
                    let (len, source) = received.unwrap();
                    if let Ok(contents) = buf[..len].try_into() {
                        let input = Input::Receive(Instant::now(), Receive {
                            proto: Protocol::Udp, source, destination: local, contents,
                        });
                        self.rtc.handle_input(input).unwrap();
                    }
                }
                () = tokio::time::sleep_until(wake.into()) => {
                    self.rtc.handle_input(Input::Timeout(Instant::now())).unwrap();
                }
                _ = tick.tick() => {
                    if *self.connected.borrow() {
                        let time = MediaTime::new(u64::from(sent) * 960, Frequency::FORTY_EIGHT_KHZ);
                        self.write(self.mic, Codec::Opus, time, frame(self.tag, sent));
                        if let Some(camera) = self.camera {
                            let time = MediaTime::new(u64::from(sent) * 1800, Frequency::NINETY_KHZ);
                            let key = std::mem::take(&mut keyframe_wanted);
                            self.write(camera, Codec::Vp8, time, video_frame(self.tag, sent, key));
                        }
                        sent = sent.wrapping_add(1);
                    }
                    self.rtc.handle_input(Input::Timeout(Instant::now())).unwrap();
                }
                () = self.heard.closed() => return,
            }
        }
    }
}

/// The first op 5 naming `ssrc`.
async fn speaking_of(client: &mut VoiceClient, ssrc: u32) -> Value {
    loop {
        let speaking = client.expect(5).await;
        if speaking["d"]["ssrc"] == ssrc {
            return speaking;
        }
    }
}

#[tokio::test]
async fn browsers_and_discord_clients_hear_each_other() {
    let h = Harness::start().await;
    let mut discord = h.join(1, member(), AES).await;
    let mut alice = Browser::join(&h, 2, 0xA1).await;

    // The Discord client is told who the browser is and its SSRC.
    let connect = discord.expect(11).await;
    assert_eq!(connect["d"]["user_ids"], json!([Snowflake(2)]));
    speaking_of(&mut discord, alice.ssrc).await;
    // And the browser of the Discord client, on the same WebSocket.
    assert_eq!(
        speaking_of(&mut alice.ws, discord.ssrc).await["d"]["user_id"],
        json!(Snowflake(1))
    );
    alice.connected().await;

    // Browser to Discord client: its frames as sent, under its SSRC, sealed
    // with the listener's key and counter, in a gapless sequence.
    let first = discord.hear().await;
    assert_eq!(first.ssrc, alice.ssrc);
    assert_eq!(which(&first.payload).map(|f| f.0), Some(0xA1));
    let next = discord.hear().await;
    assert_eq!(next.ssrc, alice.ssrc);
    assert_eq!(which(&next.payload).map(|f| f.0), Some(0xA1));
    assert_eq!(next.sequence, first.sequence.wrapping_add(1));
    assert_eq!(next.counter, first.counter + 1);
    // Its voice makes it speak, for everyone in the channel.
    let speaking = speaking_of(&mut discord, alice.ssrc).await;
    assert_eq!(speaking["d"]["speaking"], 1);
    assert_eq!(speaking["d"]["user_id"], json!(Snowflake(2)));

    // A second browser hears the first, and both hear the Discord client.
    let mut bob = Browser::join(&h, 3, 0xB0).await;
    bob.connected().await;
    bob.hears_from(0xA1).await;
    alice.hears_from(0xB0).await;
    let speaker = tokio::spawn(async move {
        for n in 0..u16::MAX {
            discord.speak(&frame(0xD1, n), Some(20)).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    alice.hears_from(0xD1).await;
    bob.hears_from(0xD1).await;
    speaker.abort();

    // Leaving takes the browser out: the others are told (op 13).
    futures_util::SinkExt::close(&mut alice.ws.ws)
        .await
        .unwrap();
    let left = bob.ws.expect(13).await;
    assert_eq!(left["d"]["user_id"], json!(Snowflake(2)));
}

#[tokio::test]
async fn a_camera_is_seen_by_the_other_browsers_from_a_keyframe_on() {
    let h = Harness::start().await;
    let camera = Video {
        camera: true,
        receiving: 1,
    };
    let viewer = Video {
        camera: false,
        receiving: 2,
    };
    let mut alice = Browser::join_with(&h, 2, 0xA1, member(), camera).await;
    let mut bob = Browser::join_with(&h, 3, 0xB0, member(), viewer).await;
    alice.connected().await;
    bob.connected().await;

    // Bob is told which of his tracks shows Alice's camera.
    let shown = bob.ws.expect(12).await;
    assert_eq!(shown["d"]["user_id"], json!(Snowflake(2)));
    let stream = &shown["d"]["streams"][0];
    assert_eq!(stream["type"], "video");
    assert_eq!(stream["active"], true);
    let mid = stream["mid"].as_str().unwrap();
    assert!(
        bob.screens.iter().any(|m| m.to_string() == mid),
        "{mid} is a receiving track"
    );

    // Alice's camera sends a keyframe only when asked, so Bob sees anything
    // only because the server asked for one; it is the first he sees.
    let first = bob.sees().await;
    assert_eq!(&first[..2], &[0, 0xA1], "a keyframe of Alice's camera");
    assert!(*alice.asked.borrow() >= 1);
    let next = bob.sees().await;
    assert_eq!(&next[..2], &[1, 0xA1], "then her delta frames");

    // A camera without STREAM is shown to no one.
    let no_stream = VoiceAdmission {
        may_stream: false,
        ..member()
    };
    let _carol = Browser::join_with(&h, 4, 0xC0, no_stream, camera).await;
    // Alice's one receiving track would take Carol's camera.
    assert!(alice.sees_nothing(Duration::from_secs(2)).await);

    // Alice leaves: Bob is told her camera is gone.
    futures_util::SinkExt::close(&mut alice.ws.ws)
        .await
        .unwrap();
    let hidden = bob.ws.expect(12).await;
    assert_eq!(hidden["d"]["user_id"], json!(Snowflake(2)));
    assert_eq!(hidden["d"]["streams"][0]["active"], false);
    assert_eq!(hidden["d"]["streams"][0]["mid"], mid);
}

#[tokio::test]
async fn a_stream_of_an_unknown_type_or_named_twice_is_refused() {
    let h = Harness::start().await;
    let refused = [
        json!([{"type": "video", "mid": "0"}, {"type": "video", "mid": "1"}]),
        json!([{"type": "hologram", "mid": "0"}]),
    ];
    for (user, streams) in (20..).zip(refused) {
        let user = Snowflake(user);
        h.admission.allow(user, member());
        let mut ws = identify(h.open("?v=8").await.unwrap(), user).await;
        ws.expect(2).await;
        let mut rtc = Rtc::builder()
            .set_crypto_provider(Arc::new(str0m::crypto::from_feature_flags()))
            .enable_vp8(true)
            .build(Instant::now());
        let mut change = rtc.sdp_api();
        for _ in 0..2 {
            change.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
        }
        let (offer, _) = change.apply().unwrap();
        let offer = offer.to_sdp_string();
        ws.send(json!({"op": 1, "d": {"protocol": "webrtc", "sdp": offer, "streams": streams}}))
            .await;
        assert_eq!(ws.ended_within(PATIENCE).await, Some(4002), "{streams}");
    }
}

//! The voice server over real sockets on loopback: a TLS WebSocket and UDP,
//! with clients that seal and open packets with their own keys.

mod support;

use std::time::Duration;

use concord_model::Snowflake;
use concord_voice::{MAX_FORWARDED_SPEAKERS, VoiceAdmission};
use futures_util::SinkExt;
use serde_json::json;
use support::*;
use tokio::net::UdpSocket;

#[tokio::test]
async fn identify_is_checked_and_ready_names_the_media_socket() {
    let h = Harness::start().await;
    // Versions below 4 (and none, which means 1) are refused at the upgrade.
    assert!(h.open("?v=3").await.is_err());
    assert!(h.open("").await.is_err());

    // A user the main gateway did not admit: Hello, then 4004.
    let mut stranger = identify(h.open("?v=8").await.unwrap(), Snowflake(66)).await;
    let hello = stranger.expect(8).await;
    assert!(hello["d"]["heartbeat_interval"].as_u64().unwrap() > 0);
    assert_eq!(stranger.closed().await, 4004);

    let user = Snowflake(7);
    h.admission.allow(user, member());
    let mut client = identify(h.open("?v=8").await.unwrap(), user).await;
    let ready = client.ready().await;
    assert_ne!(client.ssrc, 0);
    assert_eq!(ready["d"]["ip"], "127.0.0.1");
    assert_eq!(ready["d"]["port"], h.server.udp_addr().port());
    assert_eq!(ready["d"]["modes"], json!([AES, XCHACHA]));
    let seq = ready["seq"]
        .as_u64()
        .expect("version 8 numbers server messages");

    // Version 8 heartbeats: {t, seq_ack} acknowledged with {t}.
    client
        .send(json!({"op": 3, "d": {"t": 1501184119561u64, "seq_ack": seq}}))
        .await;
    let ack = client.expect(6).await;
    assert_eq!(ack["d"], json!({"t": 1501184119561u64}));

    client.discover().await;
    let description = client.select(XCHACHA).await;
    assert_eq!(description["d"]["mode"], XCHACHA);
    assert_eq!(description["d"]["dave_protocol_version"], 0);
    assert_eq!(description["d"]["secret_key"].as_array().unwrap().len(), 32);
    assert!(description["seq"].as_u64().unwrap() > seq);

    // A second Identify on the same socket: 4005.
    client
        .send(
            json!({"op": 0, "d": {"server_id": support::GUILD, "user_id": user,
            "session_id": session_of(user), "token": token_of(user)}}),
        )
        .await;
    assert_eq!(client.closed().await, 4005);
}

#[tokio::test]
async fn every_connection_gets_its_own_ssrc_and_key_and_old_modes_are_refused() {
    let h = Harness::start().await;
    let a = h.join(1, member(), XCHACHA).await;
    let b = h.join(2, member(), XCHACHA).await;
    assert_ne!(a.ssrc, b.ssrc);
    assert_ne!(a.key(), b.key());
    assert_ne!(a.key(), [0; 32]);

    let user = Snowflake(3);
    h.admission.allow(user, member());
    let mut old = identify(h.open("?v=8").await.unwrap(), user).await;
    old.ready().await;
    old.send(json!({"op": 1, "d": {"protocol": "udp", "data": {
        "address": "127.0.0.1", "port": 1, "mode": "xsalsa20_poly1305"}}}))
        .await;
    assert_eq!(old.closed().await, 4016);
}

#[tokio::test]
async fn ip_discovery_is_answered_from_the_named_socket_to_known_ssrcs_only() {
    let h = Harness::start().await;
    let user = Snowflake(5);
    h.admission.allow(user, member());
    let mut client = identify(h.open("?v=8").await.unwrap(), user).await;
    client.ready().await;

    // An unconnected socket, to see where answers come from.
    let probe = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // First an SSRC no connection has: no answer; then the client's.
    let unknown = discovery_request(client.ssrc.wrapping_add(1));
    probe.send_to(&unknown, client.media).await.unwrap();
    let known = discovery_request(client.ssrc);
    probe.send_to(&known, client.media).await.unwrap();

    let mut buf = [0u8; 2048];
    let (len, from) = tokio::time::timeout(PATIENCE, probe.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let answer = &buf[..len];
    assert_eq!(from, client.media, "answered from the address Ready named");
    assert_eq!(len, 74);
    assert_eq!(&answer[0..4], &[0, 2, 0, 70]);
    assert_eq!(
        &answer[4..8],
        &client.ssrc.to_be_bytes(),
        "the stranger got no answer"
    );
    assert_eq!(&answer[8..18], b"127.0.0.1\0");
    assert!(answer[18..72].iter().all(|&b| b == 0));
    let port = probe.local_addr().unwrap().port();
    assert_eq!(u16::from_be_bytes([answer[72], answer[73]]), port);

    // Through the client's connected socket, as discord.py does it.
    let (ip, port) = client.discover().await;
    assert_eq!(ip, "127.0.0.1");
    assert_eq!(port, client.udp().local_addr().unwrap().port());
}

#[tokio::test]
async fn a_known_ssrc_cannot_take_a_listener_stream_by_discovery() {
    let h = Harness::start().await;
    let a = h.join(1, member(), XCHACHA).await;
    let mut b = h.join(2, member(), AES).await;
    // B was told A's SSRC; a discovery with it from elsewhere moves nothing.
    let elsewhere = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let request = discovery_request(a.ssrc);
    elsewhere.send_to(&request, a.media).await.unwrap();
    b.speak(b"to a", None).await;
    assert_eq!(a.hear().await.payload, b"to a");
}

#[tokio::test]
async fn packets_are_resealed_for_each_listener_in_both_modes() {
    let h = Harness::start().await;
    let mut a = h.join(1, member(), XCHACHA).await;
    let mut b = h.join(2, member(), AES).await;
    let deaf = VoiceAdmission {
        self_deaf: true,
        ..member()
    };
    let c = h.join(3, deaf, XCHACHA).await;

    for i in 0..50u8 {
        a.speak(&[i, 1, 2, 3], Some(30)).await;
    }
    let mut heard = Vec::new();
    for _ in 0..50 {
        heard.push(b.hear().await);
    }
    for (i, packet) in heard.iter().enumerate() {
        assert_eq!(packet.ssrc, a.ssrc, "under the SSRC B was told for A");
        assert_eq!(
            packet.payload,
            [i as u8, 1, 2, 3],
            "Opus as sent, extension body gone"
        );
        assert_eq!(packet.timestamp, 960 * i as u32);
        assert_eq!(packet.counter, i as u32, "B's own nonce counter");
        assert_eq!(
            packet.sequence,
            heard[0].sequence.wrapping_add(i as u16),
            "a gapless sequence"
        );
    }

    // AES-GCM in, XChaCha out; and the first packet A ever gets is B's, so
    // none of its own came back.
    b.speak(b"from b", None).await;
    let first = a.hear().await;
    assert_eq!(
        (first.ssrc, first.payload.as_slice(), first.counter),
        (b.ssrc, &b"from b"[..], 0)
    );

    // C, deafened, got nothing: once it hears again, its first packet is
    // one sent after.
    h.voice_state(c.user, Some(CHANNEL), json!({})).await;
    let first = until_heard(&mut a, &c, b"after").await;
    assert_eq!(first.payload, b"after");
    assert_eq!(first.counter, 0);
}

#[tokio::test]
async fn muted_and_speechless_speakers_are_dropped() {
    let h = Harness::start().await;
    let muted = VoiceAdmission {
        mute: true,
        ..member()
    };
    let mut a = h.join(1, muted, XCHACHA).await;
    let no_speak = VoiceAdmission {
        may_speak: false,
        ..member()
    };
    let mut d = h.join(4, no_speak, AES).await;
    let b = h.join(2, member(), AES).await;
    let mut e = h.join(5, member(), XCHACHA).await;

    // Packets are handled in the order they arrive: what B hears first
    // after A and D spoke is what E said after them.
    for _ in 0..10 {
        a.speak(b"muted", None).await;
        d.speak(b"no SPEAK", None).await;
    }
    e.speak(b"after", None).await;
    let first = b.hear().await;
    assert_eq!(
        (first.ssrc, first.payload.as_slice()),
        (e.ssrc, &b"after"[..])
    );

    // Unmuted by the main gateway: what A sends now gets through.
    h.voice_state(a.user, Some(CHANNEL), json!({})).await;
    let first = until_heard(&mut a, &b, b"unmuted").await;
    assert_eq!(first.ssrc, a.ssrc);

    // Muted again (self mute), seen once a round brings E's probe alone.
    h.voice_state(a.user, Some(CHANNEL), json!({"self_mute": true}))
        .await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the mute never applied"
        );
        a.speak(b"maybe", None).await;
        e.speak(b"probe", None).await;
        let got = b.hear().await;
        if got.ssrc == e.ssrc {
            break;
        }
        assert_eq!(b.hear().await.ssrc, e.ssrc);
    }
    for _ in 0..10 {
        a.speak(b"muted", None).await;
        d.speak(b"no SPEAK", None).await;
    }
    e.speak(b"last", None).await;
    let next = b.hear().await;
    assert_eq!((next.ssrc, next.payload.as_slice()), (e.ssrc, &b"last"[..]));
}

#[tokio::test]
async fn a_replayed_packet_neither_moves_a_stream_nor_is_heard_twice() {
    let h = Harness::start().await;
    let mut a = h.join(1, member(), XCHACHA).await;
    let mut b = h.join(2, member(), AES).await;
    let captured = a.speak(b"once", None).await;
    assert_eq!(b.hear().await.payload, b"once");

    // Someone elsewhere sends A's packet again, and so does A's address.
    let elsewhere = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    elsewhere.send_to(&captured, a.media).await.unwrap();
    a.udp().send(&captured).await.unwrap();
    a.speak(b"twice", None).await;
    assert_eq!(b.hear().await.payload, b"twice", "the replay was dropped");

    // What B says still goes to A's own socket.
    b.speak(b"to a", None).await;
    assert_eq!(a.hear().await.payload, b"to a");
}

#[tokio::test]
async fn after_lost_events_every_connection_is_asked_about_again() {
    // A bus that keeps one event: the server's subscription, not read while
    // this test publishes (one thread), falls behind and sees a gap.
    let h = Harness::with_bus(concord_bus::LocalBus::new(1)).await;
    let mut a = h.join(1, member(), XCHACHA).await;
    let mut b = h.join(2, member(), AES).await;
    h.admission.revoke(a.user);
    for _ in 0..3 {
        h.voice_state(b.user, Some(CHANNEL), json!({})).await;
    }
    assert_eq!(a.closed().await, 4014);
    // B, still admitted, stays.
    let c = h.join(3, member(), XCHACHA).await;
    b.speak(b"still in", None).await;
    assert_eq!(c.hear().await.payload, b"still in");
}

#[tokio::test]
async fn an_oversized_message_ends_an_anonymous_connection() {
    let h = Harness::start().await;
    let mut client = VoiceClient::wrap(h.open("?v=8").await.unwrap(), Snowflake(1));
    client.expect(8).await;
    // An Identify the main gateway would refuse (4004), were it read.
    let token = "x".repeat(64 * 1024);
    let identify = json!({"op": 0, "d": {"server_id": support::GUILD, "user_id": "1",
        "session_id": "s", "token": token}});
    let _ = client
        .ws
        .send(tokio_tungstenite::tungstenite::Message::text(
            identify.to_string(),
        ))
        .await;
    let end = client.ended_within(PATIENCE).await;
    assert!(
        matches!(end, None | Some(1009)),
        "never read as an Identify: {end:?}"
    );
}

/// A connection that never identifies is closed with 4003 once the
/// identify deadline (10 s) passes, so it holds no place for long.
#[tokio::test]
async fn a_connection_that_never_identifies_is_closed_with_4003() {
    let h = Harness::start().await;
    let mut client = VoiceClient::wrap(h.open("?v=8").await.unwrap(), Snowflake(1));
    client.expect(8).await;
    let end = client.ended_within(3 * PATIENCE).await;
    assert_eq!(end, Some(4003));
}

#[tokio::test]
async fn a_stopping_server_closes_its_connections_with_1001() {
    let h = Harness::start().await;
    let mut a = h.join(1, member(), XCHACHA).await;
    let support::Harness { server, .. } = h;
    let stopping = tokio::spawn(server.shutdown());
    assert_eq!(a.closed().await, 1001);
    stopping.await.unwrap();
}

#[tokio::test]
async fn speaking_is_relayed_and_the_channel_is_told_who_comes_and_goes() {
    let h = Harness::start().await;
    let mut a = h.join(1, member(), XCHACHA).await;
    let mut b = h.join(2, member(), AES).await;

    let connect = a.expect(11).await;
    assert_eq!(connect["d"]["user_ids"], json!([b.user]));
    let speaking = a.expect(5).await;
    assert_eq!(speaking["d"]["user_id"], json!(b.user));
    assert_eq!(speaking["d"]["ssrc"], b.ssrc);

    // The late joiner learns who is there and their SSRCs.
    let connect = b.expect(11).await;
    assert_eq!(connect["d"]["user_ids"], json!([a.user]));
    let speaking = b.expect(5).await;
    assert_eq!(speaking["d"]["user_id"], json!(a.user));
    assert_eq!(speaking["d"]["ssrc"], a.ssrc);

    a.send(json!({"op": 5, "d": {"speaking": 1, "delay": 0, "ssrc": a.ssrc}}))
        .await;
    let relayed = b.expect(5).await;
    assert_eq!(
        relayed["d"],
        json!({"user_id": a.user, "ssrc": a.ssrc, "speaking": 1, "delay": 0})
    );

    b.ws.close(None).await.unwrap();
    let gone = a.expect(13).await;
    assert_eq!(gone["d"]["user_id"], json!(b.user));
}

#[tokio::test]
async fn a_move_or_leave_on_the_main_gateway_closes_with_4014() {
    let h = Harness::start().await;
    let mut a = h.join(1, member(), XCHACHA).await;
    let mut b = h.join(2, member(), XCHACHA).await;
    let mut c = h.join(3, member(), XCHACHA).await;

    h.voice_state(a.user, Some(OTHER_CHANNEL), json!({})).await;
    assert_eq!(a.closed().await, 4014);
    h.voice_state(b.user, None, json!({})).await;
    assert_eq!(b.closed().await, 4014);
    // Another session took the user's voice state.
    h.voice_state(c.user, Some(CHANNEL), json!({"session_id": "elsewhere"}))
        .await;
    assert_eq!(c.closed().await, 4014);
}

#[tokio::test]
async fn a_dropped_socket_resumes_with_its_media_state() {
    let h = Harness::start().await;
    let mut a = h.join(1, member(), XCHACHA).await;
    let mut b = h.join(2, member(), AES).await;
    let seq = a.expect(11).await["seq"].as_u64().unwrap();

    // A's socket breaks (no close frame); it resumes on a new one.
    let socket = h.open("?v=8").await.unwrap();
    let broken = std::mem::replace(&mut a.ws, socket);
    drop(broken);
    a.send(json!({"op": 7, "d": {"server_id": support::GUILD,
        "session_id": session_of(a.user), "token": token_of(a.user), "seq_ack": seq}}))
        .await;
    a.expect(9).await;
    // What it had not acknowledged is sent again.
    let again = a.expect(5).await;
    assert_eq!(again["d"]["ssrc"], b.ssrc);

    // Same key, same SSRC: media goes on.
    b.speak(b"still here", None).await;
    assert_eq!(a.hear().await.payload, b"still here");

    // A resume naming no connection: 4006.
    let mut other = VoiceClient::wrap(h.open("?v=8").await.unwrap(), Snowflake(98));
    other
        .send(
            json!({"op": 7, "d": {"server_id": support::GUILD, "session_id": "none",
            "token": "none", "seq_ack": 0}}),
        )
        .await;
    assert_eq!(other.closed().await, 4006);
}

/// A connection that stops heartbeating is closed with 4009 once two
/// intervals and a grace pass, and its session may resume; one that
/// heartbeats stays.
#[tokio::test]
async fn silence_closes_with_4009_and_the_session_resumes() {
    let h = Harness::with_heartbeat(Duration::from_secs(1)).await;
    let mut quiet = h.join(1, member(), AES).await;
    let hello = quiet.expect(8).await;
    assert_eq!(hello["d"]["heartbeat_interval"], 1000);
    let beating = h.join(2, member(), AES).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let beating = tokio::spawn(beating.keep_alive(stopped));

    // Allowed: 2 s of silence and a grace of 1 s.
    let early = tokio::time::timeout(Duration::from_millis(1500), quiet.ended_within(PATIENCE));
    assert!(early.await.is_err(), "closed before two intervals passed");
    assert_eq!(quiet.ended_within(PATIENCE).await, Some(4009));
    assert!(!beating.is_finished(), "a heartbeating connection stays");

    let socket = h.open("?v=8").await.unwrap();
    quiet.ws = socket;
    quiet
        .send(json!({"op": 7, "d": {"server_id": support::GUILD,
            "session_id": session_of(quiet.user), "token": token_of(quiet.user), "seq_ack": 0}}))
        .await;
    quiet.expect(9).await;
    let _ = stop.send(true);
    beating.await.unwrap();
}

#[tokio::test]
async fn only_the_loudest_speakers_are_forwarded_priority_first() {
    assert_eq!(MAX_FORWARDED_SPEAKERS, 3, "the test speaks with one more");
    let h = Harness::start().await;
    // Levels: 0 is the loudest; the fourth is the quietest.
    let levels = [10u8, 20, 30, 40];
    let mut speakers = Vec::new();
    for (i, _) in levels.iter().enumerate() {
        speakers.push(h.join(10 + i as u64, member(), XCHACHA).await);
    }
    let listener = h.join(1, member(), AES).await;
    assert_eq!(
        heard_in_rounds(&mut speakers, &levels, &listener).await,
        [true, true, true, false]
    );

    // The quietest holds PRIORITY_SPEAKER: it goes first, and the quietest
    // of the others gives way.
    let h = Harness::start().await;
    let mut speakers = Vec::new();
    for (i, _) in levels.iter().enumerate() {
        let admitted = VoiceAdmission {
            priority: i == 3,
            ..member()
        };
        speakers.push(h.join(10 + i as u64, admitted, XCHACHA).await);
    }
    let listener = h.join(1, member(), AES).await;
    assert_eq!(
        heard_in_rounds(&mut speakers, &levels, &listener).await,
        [true, true, false, true]
    );
}

/// Every speaker speaks once a round at its level; which of them the
/// listener heard after the first round, when all are current.
async fn heard_in_rounds(
    speakers: &mut [VoiceClient],
    levels: &[u8],
    listener: &VoiceClient,
) -> Vec<bool> {
    const ROUNDS: u8 = 20;
    for round in 0..ROUNDS {
        for (speaker, &level) in speakers.iter_mut().zip(levels) {
            speaker.speak(&[round], Some(level)).await;
        }
    }
    // The loudest ends it, so the listener knows it has heard everything.
    speakers[0].speak(b"end", Some(0)).await;
    let mut heard = vec![false; speakers.len()];
    loop {
        let packet = listener.hear().await;
        if packet.payload == b"end" {
            return heard;
        }
        let who = speakers.iter().position(|s| s.ssrc == packet.ssrc).unwrap();
        if packet.payload[0] > 0 {
            heard[who] = true;
        }
    }
}

/// Sends `payload` from `speaker` until `listener` hears something; what it
/// heard first.
async fn until_heard(
    speaker: &mut VoiceClient,
    listener: &VoiceClient,
    payload: &[u8],
) -> Received {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        speaker.speak(payload, None).await;
        let mut buf = [0u8; 2048];
        let wait = tokio::time::timeout(Duration::from_millis(100), listener.udp().recv(&mut buf));
        if let Ok(received) = wait.await {
            let len = received.unwrap();
            return listener.open_packet(&buf[..len]);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "nothing heard in time"
        );
    }
}

/// A joiner is told of everyone present at once, an op 5 each: in a large
/// channel that burst must not count as a client that cannot keep up.
#[tokio::test]
async fn a_joiner_hears_of_everyone_in_a_large_channel() {
    const PRESENT: u64 = 300;
    let h = Harness::start().await;
    let mut present = Vec::new();
    for user in 1..=PRESENT {
        present.push(h.join(user, member(), AES).await);
    }
    let mut joiner = h.join(PRESENT + 1, member(), AES).await;
    let mut told = std::collections::HashSet::new();
    while told.len() < PRESENT as usize {
        let speaking = joiner.expect(5).await;
        told.insert(speaking["d"]["user_id"].as_str().unwrap().to_owned());
    }
    assert!(!told.contains(&(PRESENT + 1).to_string()), "not of itself");
}

//! The voice phase: speakers and listeners in one voice channel, each
//! joined as Discord's clients join (gateway op 4, VOICE_SERVER_UPDATE, the
//! voice WebSocket over TLS with Identify and Ready, IP discovery, Select
//! Protocol, Session Description), the speakers sending an Opus-sized frame
//! every 20 ms and everyone opening what arrives with their own key. Then
//! the same sockets, rates and sizes through a plain UDP relay (`relay`).
//!
//! Each frame carries its send time, read from this process's clock when
//! it arrives, so the latency is what the forwarder (and the loopback and
//! this process's scheduling, which the baseline pays as well) adds. The
//! channel grows along a ramp of listener counts until packets are lost.

use std::ops::Range;
use std::process::Command;
use std::time::{Duration, Instant};

use concord_model::Snowflake;
use concord_testkit::voice::{Identity, Rtp, Tls, VoiceClient, rtp_header};
use futures_util::StreamExt;
use memchr::memmem;
use serde_json::{Value, json};
use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::timeout;

use crate::accounts::{Api, Cast, Refusal, identify_token};
use crate::stats::{Latency, Meter, Processes};
use crate::target::Target;
use crate::{Spawned, relay, socket};

/// Opus's usual frame length, at which speakers send.
const FRAME: Duration = Duration::from_millis(20);
/// From the end of sending until receivers stop counting late packets.
const GRACE: Duration = Duration::from_secs(1);
/// How long one step of a join may take.
const PATIENCE: Duration = concord_testkit::voice::PATIENCE;
/// What sealing adds to a packet (the AEAD tag and the nonce counter): the
/// relay's packets carry as many bytes of padding, so that both paths move
/// packets of one size.
const SEALING: usize = 16 + 4;
/// Participants joining at once.
const JOINING_AT_ONCE: usize = 16;
/// Larger than any voice datagram.
const DATAGRAM: usize = 2048;

/// What the phase runs.
#[derive(Clone)]
pub(crate) struct VoicePlan {
    /// At most the server's forwarded speakers (Concord forwards the
    /// [`concord_voice::MAX_FORWARDED_SPEAKERS`] loudest), so that every
    /// packet a listener misses is a lost one.
    pub(crate) speakers: usize,
    /// Listener counts of the ramp, in the order tried.
    pub(crate) listeners: Vec<usize>,
    /// Seconds each step's speakers send for.
    pub(crate) seconds: f64,
    /// Bytes of each frame (an Opus frame at voice bitrates is about 120).
    pub(crate) payload_bytes: usize,
}

impl VoicePlan {
    fn frames(&self) -> u32 {
        (self.seconds / FRAME.as_secs_f64()).round().max(1.0) as u32
    }
}

/// A Discord-compatible server's voice, reached as its clients reach it.
pub(crate) struct DiscordVoice {
    target: Target,
    api: Api,
    guild: String,
    /// The guild's text channel, where invites for more accounts come from.
    text_channel: String,
    /// Members of the guild; the first owns it and makes the voice channels.
    tokens: Vec<String>,
    /// What more accounts are called, when the run registers its own.
    enlist_as: Option<String>,
    /// The AEAD mode asked for in Select Protocol.
    mode: String,
    tls: Tls,
}

impl DiscordVoice {
    /// The guild of `cast`'s channel, whose members its accounts are (the
    /// first may make channels); with `enlist_as`, more accounts of that
    /// role register and join as the ramp needs them. Connections ask for
    /// `mode`.
    pub(crate) async fn new(
        target: Target,
        api: Api,
        cast: Cast,
        enlist_as: Option<String>,
        mode: String,
    ) -> Result<DiscordVoice, Refusal> {
        let Cast {
            tokens,
            channel: text_channel,
            ..
        } = cast;
        let owner = tokens.first().ok_or("no account")?;
        let step = format!("reading channel {text_channel}");
        let path = format!("/channels/{text_channel}");
        let channel = api
            .call(&step, reqwest::Method::GET, &path, Some(owner), None)
            .await?;
        let guild = channel["guild_id"]
            .as_str()
            .ok_or("the text channel has no guild")?
            .to_owned();
        Ok(DiscordVoice {
            target,
            api,
            guild,
            text_channel,
            tokens,
            enlist_as,
            mode,
            tls: concord_testkit::voice::tls_accepting_any(),
        })
    }

    /// At least `count` accounts in the guild.
    async fn accounts(&mut self, count: usize) -> Result<(), Refusal> {
        let have = self.tokens.len();
        if have >= count {
            return Ok(());
        }
        let Some(name) = &self.enlist_as else {
            return Err(format!("{count} accounts needed, {have} given"));
        };
        let range: Range<usize> = have..count;
        let (owner, channel) = (&self.tokens[0], &self.text_channel);
        let (more, _) = self.api.enlist(name, owner, channel, range).await?;
        self.tokens.extend(more);
        Ok(())
    }

    /// A new voice channel in the guild; its id.
    async fn voice_channel(&self, name: &str) -> Result<String, Refusal> {
        let step = format!("making voice channel {name}");
        let path = format!("/guilds/{}/channels", self.guild);
        let body = json!({ "name": name, "type": 2 });
        let channel = self
            .api
            .call(
                &step,
                reqwest::Method::POST,
                &path,
                Some(&self.tokens[0]),
                Some(body),
            )
            .await?;
        Ok(channel["id"]
            .as_str()
            .ok_or("the new voice channel has no id")?
            .to_owned())
    }

    /// Account `index` in `channel`: a gateway session (kept alive until
    /// `stop`) that joins by op 4, then the voice connection its
    /// VOICE_SERVER_UPDATE names (kept alive as well).
    async fn join(
        &self,
        index: usize,
        channel: &str,
        speaker: bool,
        epoch: Instant,
        stop: watch::Receiver<bool>,
    ) -> Result<Joined, Refusal> {
        let node = self.target.node(index);
        let mut gateway = socket::connect(&node.ws_url, "v=10&encoding=json", None, false)
            .await
            .map_err(|e| format!("gateway: {e}"))?;
        let token = identify_token(&self.tokens[index]);
        let (_, ready) = timeout(PATIENCE, gateway.identify_ready(token, socket::INTENTS))
            .await
            .map_err(|_| "no READY in time".to_owned())?
            .map_err(|e| format!("gateway: {e}"))?;
        let ready: Value = serde_json::from_slice(&ready).map_err(|e| format!("READY: {e}"))?;
        let session_id = ready["d"]["session_id"]
            .as_str()
            .ok_or("READY has no session_id")?
            .to_owned();
        let user_id = snowflake(&ready["d"]["user"]["id"]).ok_or("READY has no user id")?;
        let join = json!({ "op": 4, "d": {
            "guild_id": self.guild, "channel_id": channel, "self_mute": false, "self_deaf": false,
        }});
        if !gateway.send(join.to_string()).await {
            return Err("the gateway closed".into());
        }
        let server = timeout(PATIENCE, voice_server(&mut gateway))
            .await
            .ok()
            .flatten()
            .ok_or("no VOICE_SERVER_UPDATE")?;
        let endpoint = server["endpoint"]
            .as_str()
            .ok_or("VOICE_SERVER_UPDATE names no endpoint")?
            .to_owned();
        let identity = Identity {
            server_id: self
                .guild
                .parse()
                .map(Snowflake)
                .map_err(|_| "a guild id")?,
            user_id,
            session_id,
            token: server["token"]
                .as_str()
                .ok_or("VOICE_SERVER_UPDATE has no token")?
                .to_owned(),
        };
        let session = tokio::spawn(gateway.receive(epoch, socket::Lane::default(), stop.clone()));
        let (tls, mode) = (self.tls.clone(), self.mode.clone());
        // The client panics where a test would fail: in a task of its own,
        // a failed handshake is one failed join.
        let handshake = tokio::spawn(async move {
            let mut client = VoiceClient::join(&tls, &endpoint, &identity, &mode).await;
            if speaker {
                let ssrc = client.ssrc;
                client
                    .send(json!({"op": 5, "d": {"speaking": 1, "delay": 0, "ssrc": ssrc}}))
                    .await;
            }
            client
        });
        let mut client = match handshake.await {
            Ok(client) => client,
            Err(_) => {
                session.abort();
                return Err("the voice handshake failed".into());
            }
        };
        let rtp = client.rtp.take().ok_or("no media socket")?;
        let signalling = tokio::spawn(client.keep_alive(stop));
        Ok(Joined {
            member: Member {
                end: End::Voice(rtp),
                speaker,
            },
            keepers: vec![session, signalling],
        })
    }
}

/// A Discord id (a string of digits, or a number).
fn snowflake(id: &Value) -> Option<Snowflake> {
    match id {
        Value::String(s) => s.parse().ok().map(Snowflake),
        other => other.as_u64().map(Snowflake),
    }
}

/// The data of the next VOICE_SERVER_UPDATE; `None` if the socket ends first.
async fn voice_server(gateway: &mut socket::Socket) -> Option<Value> {
    let finder = memmem::Finder::new(b"\"VOICE_SERVER_UPDATE\"");
    loop {
        let frame = gateway.next_frame().await?;
        if finder.find(&frame).is_some() {
            let payload: Value = serde_json::from_slice(&frame).ok()?;
            return Some(payload["d"].clone());
        }
    }
}

/// One participant as the measurement sees it.
struct Member {
    end: End,
    speaker: bool,
}

/// A joined participant and the tasks that keep its signalling alive.
struct Joined {
    member: Member,
    keepers: Vec<JoinHandle<()>>,
}

/// A participant's media socket and how its packets are made and read.
enum End {
    /// Discord's voice protocol: sealed and opened with the connection's key.
    Voice(Rtp),
    /// The relay's: an RTP header and the frame as it is, padded to the
    /// size of a sealed packet.
    Plain {
        udp: UdpSocket,
        ssrc: u32,
        sequence: u16,
    },
}

impl End {
    fn udp(&self) -> &UdpSocket {
        match self {
            End::Voice(rtp) => &rtp.udp,
            End::Plain { udp, .. } => udp,
        }
    }

    /// The next packet carrying `frame`.
    fn packet(&mut self, frame: &[u8]) -> Vec<u8> {
        match self {
            End::Voice(rtp) => rtp.packet(frame, None),
            End::Plain { ssrc, sequence, .. } => {
                let timestamp = u32::from(*sequence).wrapping_mul(960);
                let mut packet = rtp_header(*sequence, timestamp, *ssrc);
                packet.extend_from_slice(frame);
                packet.resize(packet.len() + SEALING, 0);
                *sequence = sequence.wrapping_add(1);
                packet
            }
        }
    }

    /// The frame a received packet carries: opened with this connection's
    /// key, or, from the relay, as it came; `None` for a packet that is
    /// not one.
    fn frame(&self, packet: &[u8]) -> Option<Vec<u8>> {
        match self {
            End::Voice(rtp) => rtp.open(packet).map(|received| received.payload),
            End::Plain { .. } => packet
                .get(12..packet.len().checked_sub(SEALING)?)
                .map(<[u8]>::to_vec),
        }
    }
}

/// Where the phase's packets go.
pub(crate) enum Forwarder<'a> {
    Discord(&'a mut DiscordVoice),
    /// `concord-bench udp-relay`, a process started for each step.
    Relay,
}

/// The plan's steps against `forwarder`, smallest channel first, until
/// one loses packets (or a join fails).
pub(crate) async fn ramp(
    plan: &VoicePlan,
    mut forwarder: Forwarder<'_>,
    name: &str,
    epoch: Instant,
) -> Value {
    let mut steps = Vec::new();
    let mut largest = None;
    for &listeners in &plan.listeners {
        let participants = plan.speakers + listeners;
        let step = match &mut forwarder {
            Forwarder::Discord(voice) => discord_step(voice, plan, listeners, epoch).await,
            Forwarder::Relay => relay_step(plan, listeners, epoch).await,
        };
        println!("voice {name}, {}", describe(&step));
        let lossless = step["lost"] == 0 && step["join_failures"] == 0 && step["error"].is_null();
        steps.push(step);
        if !lossless {
            break;
        }
        largest = Some(participants);
    }
    json!({
        "steps": steps,
        "largest_lossless_participants": largest,
        "every_size_lossless": largest == plan.listeners.last().map(|m| plan.speakers + m),
    })
}

/// One step's line of the run's output.
fn describe(step: &Value) -> String {
    if let Some(error) = step["error"].as_str() {
        return format!("{} participants: {error}", step["participants"]);
    }
    let ms = |key: &str| step["latency"][key].as_u64().unwrap_or(0) as f64 / 1000.0;
    format!(
        "{} speakers + {} listeners: {:.0} packets/s forwarded, p50 {:.2} ms, p99 {:.2} ms, lost {} ({:.2}%), {:.1} µs server CPU per packet",
        step["speakers"],
        step["listeners"],
        step["forwarded_per_second"].as_f64().unwrap_or(0.0),
        ms("p50_us"),
        ms("p99_us"),
        step["lost"],
        step["loss_percent"].as_f64().unwrap_or(0.0),
        step["server_cpu_us_per_packet"].as_f64().unwrap_or(0.0),
    )
}

/// A step's figures when it could not be run.
fn refused(plan: &VoicePlan, listeners: usize, error: &str) -> Value {
    json!({
        "speakers": plan.speakers, "listeners": listeners,
        "participants": plan.speakers + listeners, "error": error,
    })
}

async fn discord_step(
    voice: &mut DiscordVoice,
    plan: &VoicePlan,
    listeners: usize,
    epoch: Instant,
) -> Value {
    let participants = plan.speakers + listeners;
    if let Err(e) = voice.accounts(participants).await {
        return refused(plan, listeners, &e);
    }
    // A channel of its own for each step: nobody from a step before is in it.
    let channel = match voice.voice_channel(&format!("bench {participants}")).await {
        Ok(channel) => channel,
        Err(e) => return refused(plan, listeners, &e),
    };
    let (stop, stopped) = watch::channel(false);
    let voice = &*voice;
    let joins: Vec<Result<Joined, Refusal>> = futures_util::stream::iter(0..participants)
        .map(|i| voice.join(i, &channel, i < plan.speakers, epoch, stopped.clone()))
        .buffered(JOINING_AT_ONCE)
        .collect()
        .await;
    let (mut members, mut keepers, mut failures) = (Vec::new(), Vec::new(), Vec::new());
    for join in joins {
        match join {
            Ok(joined) => {
                members.push(joined.member);
                keepers.extend(joined.keepers);
            }
            Err(e) => failures.push(e),
        }
    }
    let mut step = measure(members, plan, &voice.target.processes, epoch).await;
    let _ = stop.send(true);
    for keeper in keepers {
        let _ = keeper.await;
    }
    planned(&mut step, plan, listeners, &failures);
    step
}

/// Notes the step's planned size and its failed joins (the first one's
/// reason) beside what was measured.
fn planned(step: &mut Value, plan: &VoicePlan, listeners: usize, failures: &[String]) {
    step["speakers"] = json!(plan.speakers);
    step["listeners"] = json!(listeners);
    step["participants"] = json!(plan.speakers + listeners);
    step["join_failures"] = json!(failures.len());
    if let Some(first) = failures.first() {
        step["first_join_failure"] = json!(first);
    }
}

async fn relay_step(plan: &VoicePlan, listeners: usize, epoch: Instant) -> Value {
    let participants = plan.speakers + listeners;
    let mut command = match std::env::current_exe() {
        Ok(exe) => Command::new(exe),
        Err(e) => return refused(plan, listeners, &e.to_string()),
    };
    command.args(["udp-relay", "--listen", "127.0.0.1:0"]);
    let relay = match Spawned::start(command, None) {
        Ok(relay) => relay,
        Err(e) => return refused(plan, listeners, &e),
    };
    let Ok(addr) = relay.addr.parse::<std::net::SocketAddr>() else {
        return refused(plan, listeners, "the relay named no address");
    };
    let joins: Vec<std::io::Result<Member>> = futures_util::stream::iter(0..participants)
        .map(|i| async move {
            let udp = UdpSocket::bind("127.0.0.1:0").await?;
            udp.connect(addr).await?;
            join_relay(&udp).await?;
            Ok(Member {
                end: End::Plain {
                    udp,
                    ssrc: i as u32 + 1,
                    sequence: 0,
                },
                speaker: i < plan.speakers,
            })
        })
        .buffered(JOINING_AT_ONCE)
        .collect()
        .await;
    let (mut members, mut failures) = (Vec::new(), Vec::new());
    for join in joins {
        match join {
            Ok(member) => members.push(member),
            Err(e) => failures.push(e.to_string()),
        }
    }
    let relay_process = Processes {
        pids: vec![relay.child.id()],
        trees: Vec::new(),
    };
    let mut step = measure(members, plan, &relay_process, epoch).await;
    planned(&mut step, plan, listeners, &failures);
    step
}

/// Joins the relay on `udp`, asking again if the echo does not come.
async fn join_relay(udp: &UdpSocket) -> std::io::Result<()> {
    let mut buf = [0u8; 16];
    for _ in 0..10 {
        udp.send(relay::JOIN).await?;
        let echo = timeout(Duration::from_millis(500), udp.recv(&mut buf)).await;
        if matches!(echo, Ok(Ok(len)) if &buf[..len] == relay::JOIN) {
            return Ok(());
        }
    }
    Err(std::io::Error::other("the relay does not answer"))
}

/// What one participant counted.
#[derive(Default)]
struct Tally {
    received: u64,
    /// Packets that did not open with the participant's key.
    unopened: u64,
    latencies_us: Vec<u64>,
}

/// The speakers send for the plan's time while everyone receives; the
/// figures of the step.
async fn measure(
    members: Vec<Member>,
    plan: &VoicePlan,
    processes: &Processes,
    epoch: Instant,
) -> Value {
    let frames = plan.frames();
    let speakers = members.iter().filter(|m| m.speaker).count();
    // Every participant hears every speaker but itself.
    let expected: u64 = members
        .iter()
        .map(|m| u64::from(frames) * (speakers - usize::from(m.speaker)) as u64)
        .sum();
    let joined = members.len();
    let meter = Meter::start(processes);
    let start = tokio::time::Instant::now() + Duration::from_millis(100);
    let tasks: Vec<_> = members
        .into_iter()
        .map(|member| tokio::spawn(take_part(member, frames, plan.payload_bytes, start, epoch)))
        .collect();
    let mut total = Tally::default();
    for task in tasks {
        if let Ok(tally) = task.await {
            total.received += tally.received;
            total.unopened += tally.unopened;
            total.latencies_us.extend(tally.latencies_us);
        }
    }
    let cost = meter.stop();
    let sending = FRAME.as_secs_f64() * f64::from(frames);
    let lost = expected.saturating_sub(total.received);
    let cpu_us_per_packet = cost
        .server_cpu_percent
        .filter(|_| total.received > 0)
        .map(|percent| percent / 100.0 * cost.seconds * 1e6 / total.received as f64);
    json!({
        "joined": joined,
        "frames_per_speaker": frames,
        "payload_bytes": plan.payload_bytes,
        "packet_bytes": 12 + plan.payload_bytes + SEALING,
        "sending_seconds": sending,
        "expected": expected,
        "received": total.received,
        "lost": lost,
        "loss_percent": if expected > 0 { 100.0 * lost as f64 / expected as f64 } else { 0.0 },
        "unopened": total.unopened,
        "forwarded_per_second": total.received as f64 / sending,
        "latency": Latency::of(total.latencies_us),
        "server_cpu_us_per_packet": cpu_us_per_packet,
        "cost": cost,
    })
}

/// One participant: from `start`, a frame every 20 ms if it speaks (its
/// send time in the first 8 bytes), and everything it receives counted,
/// until the grace after the last frame.
async fn take_part(
    mut member: Member,
    frames: u32,
    payload_bytes: usize,
    start: tokio::time::Instant,
    epoch: Instant,
) -> Tally {
    let end = start + FRAME * frames + GRACE;
    let mut frame = vec![0x5A; payload_bytes.max(8)];
    let mut buf = vec![0u8; DATAGRAM];
    let mut tally = Tally::default();
    let mut sent = 0u32;
    loop {
        let sending = member.speaker && sent < frames;
        let mut due = false;
        tokio::select! {
            biased;
            () = tokio::time::sleep_until(start + FRAME * sent), if sending => due = true,
            received = member.end.udp().recv(&mut buf) => {
                let Ok(len) = received else { continue };
                match member.end.frame(&buf[..len]) {
                    Some(heard) if heard.len() >= 8 => {
                        let at = epoch.elapsed().as_nanos() as u64;
                        let sent_at = u64::from_be_bytes(heard[..8].try_into().unwrap_or_default());
                        tally.received += 1;
                        tally.latencies_us.push(at.saturating_sub(sent_at) / 1000);
                    }
                    _ => tally.unopened += 1,
                }
            }
            () = tokio::time::sleep_until(end) => break,
        }
        if due {
            let now = epoch.elapsed().as_nanos() as u64;
            frame[..8].copy_from_slice(&now.to_be_bytes());
            let packet = member.end.packet(&frame);
            let _ = member.end.udp().send(&packet).await;
            sent += 1;
        }
    }
    tally
}

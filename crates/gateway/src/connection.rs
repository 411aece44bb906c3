//! One WebSocket connection: a single task that reads client payloads,
//! writes the session's frames in batches, and watches the heartbeat.

use std::sync::Arc;
use std::time::Duration;

use concord_model::event::EventKind;
use concord_service::Caller;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::time::{Instant, sleep_until};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

use crate::Gateway;
use crate::directory::SyncError;
use crate::protocol::{
    self, GuildSubscription, GuildSubscriptions, GuildSubscriptionsBulk, Identify, Inbound,
    LARGE_THRESHOLD, PresenceSet, RequestGuildMembers, Resume, VoiceStateSet, close, in_shard,
    intents, op,
};
use crate::resume::Refusal;
use crate::session::{Attachment, Session};
use crate::socket::{self, Socket};
use crate::transport::Transport;

/// Largest client payload, in bytes.
const MAX_PAYLOAD: usize = 4096;
/// Largest op 37 payload: Discord's client gathers its guilds'
/// subscriptions into payloads of up to 15 KiB.
const MAX_SUBSCRIPTIONS_PAYLOAD: usize = 15 * 1024 + 512;
/// Client payloads allowed per window.
const PAYLOADS_PER_WINDOW: u32 = 120;
const PAYLOAD_WINDOW: Duration = Duration::from_secs(60);
/// Guilds one shard may hold before sharding is required.
const GUILDS_PER_SHARD: usize = 2500;
/// Members per GUILD_MEMBERS_CHUNK.
const CHUNK_SIZE: usize = 1000;

/// Why the loop ended.
enum End {
    /// The server closes with this code.
    Close(u16),
    /// The client closed with this code (or none).
    ClientClosed(Option<u16>),
    /// The socket broke.
    Dropped,
    /// The server told the client to reconnect (op 7) and closes with
    /// 4000: the session goes on, here or on another node.
    Reconnect,
}

/// What a connection waits for besides its socket and its session.
enum Timer {
    /// The compression state may be given back ([`Transport::park_at`]).
    Park,
    /// No heartbeat came in time.
    Heartbeat,
    /// No IDENTIFY or RESUME came in time.
    Identify,
}

/// What handling one payload asks for.
type Handled = Result<(), u16>;

pub(crate) struct Connection {
    gateway: Arc<Gateway>,
    id: u64,
    sink: SplitSink<Socket, Message>,
    transport: Transport,
    session: Option<Arc<Session>>,
    /// This connection's name in the presence seam: each connection is a
    /// presence session of its own, so a resume racing the close of the
    /// connection it replaces cannot take the user offline.
    presence_key: Arc<str>,
    caller: Option<Caller>,
    wake: Arc<Notify>,
    kick: Arc<Notify>,
    /// When the connection is closed unless a heartbeat comes first. Every
    /// write is bounded by it too: a client that stops reading leaves the
    /// server's writes blocked, and must not hold the socket that way.
    deadline: Instant,
    /// When the connection is closed if it has not identified or resumed.
    identify_by: Instant,
    window: (Instant, u32),
}

/// Serves a socket until it closes.
pub(crate) async fn serve(
    gateway: Arc<Gateway>,
    socket: Socket,
    compress: Option<String>,
    version_ok: bool,
) {
    let (sink, stream) = socket.split();
    let id = gateway.next_connection_id();
    let now = Instant::now();
    let mut connection = Connection {
        deadline: now + gateway.heartbeat_timeout(),
        identify_by: now + gateway.identify_timeout(),
        gateway,
        id,
        sink,
        transport: Transport::from_query(compress.as_deref()),
        session: None,
        presence_key: format!("{:032x}", rand::random::<u128>()).into(),
        caller: None,
        wake: Arc::new(Notify::new()),
        kick: Arc::new(Notify::new()),
        window: (now, 0),
    };
    let end = if version_ok {
        connection.run(stream).await
    } else {
        End::Close(close::INVALID_API_VERSION)
    };
    Box::pin(connection.finish(end)).await;
}

impl Connection {
    async fn run(&mut self, mut stream: SplitStream<Socket>) -> End {
        if Box::pin(self.hello()).await.is_err() {
            return End::Dropped;
        }
        let mut shutdown = self.gateway.shutdown.subscribe();
        loop {
            let wake = Arc::clone(&self.wake);
            let kick = Arc::clone(&self.kick);
            let (timer, at) = self.next_timer();
            tokio::select! {
                _ = shutdown.changed() => {
                    let _ = Box::pin(self.send_control(op::RECONNECT, &Value::Null)).await;
                    return End::Reconnect;
                }
                _ = kick.notified() => {
                    // Its token no longer works: the client is told so, as
                    // Discord does, rather than to resume.
                    if self.session.as_ref().is_some_and(|s| s.is_revoked()) {
                        return End::Close(close::AUTHENTICATION_FAILED);
                    }
                    if self.session.as_ref().is_some_and(|s| s.take_reconnect()) {
                        let _ = Box::pin(self.send_control(op::RECONNECT, &Value::Null)).await;
                        return End::Reconnect;
                    }
                    return End::Close(close::UNKNOWN_ERROR);
                }
                _ = wake.notified(), if self.session.is_some() => {
                    if let Err(end) = Box::pin(self.flush()).await {
                        return end;
                    }
                }
                message = stream.next() => match message {
                    // A frame over the size limit is refused as Discord does, with a reason.
                    Some(Err(e)) if too_large(&e) => return End::Close(close::DECODE_ERROR),
                    None | Some(Err(_)) => return End::Dropped,
                    Some(Ok(Message::Close(frame))) => return End::ClientClosed(frame.map(|f| f.code.into())),
                    Some(Ok(Message::Text(text))) => {
                        if let Err(code) = Box::pin(self.handle(text.as_bytes())).await {
                            return End::Close(code);
                        }
                    }
                    Some(Ok(Message::Binary(bytes))) => {
                        if let Err(code) = Box::pin(self.handle(&bytes)).await {
                            return End::Close(code);
                        }
                    }
                    Some(Ok(_)) => {}
                },
                _ = sleep_until(at) => match timer {
                    Timer::Park => self.transport.park(),
                    Timer::Heartbeat => return End::Close(close::SESSION_TIMED_OUT),
                    // Heartbeats alone do not keep a socket: 4003, as for any
                    // payload before IDENTIFY; clients identify anew.
                    Timer::Identify => return End::Close(close::NOT_AUTHENTICATED),
                },
            }
        }
    }

    /// The timer that runs out first. One sleep for all of them keeps the
    /// connection's future, which every idle socket holds, small.
    fn next_timer(&self) -> (Timer, Instant) {
        let mut next = (Timer::Heartbeat, self.deadline);
        if self.session.is_none() && self.identify_by < next.1 {
            next = (Timer::Identify, self.identify_by);
        }
        if let Some(park_at) = self.transport.park_at()
            && park_at < next.1
        {
            next = (Timer::Park, park_at);
        }
        next
    }

    /// Sends HELLO from a future of its own, boxed while it runs: what it
    /// makes is not kept in the connection's for the socket's life.
    async fn hello(&mut self) -> Result<(), ()> {
        let hello = json!({ "heartbeat_interval": self.gateway.config.heartbeat_interval_ms });
        self.send_control(op::HELLO, &hello).await
    }

    /// Closes as `end` says and keeps or drops the session.
    async fn finish(mut self, end: End) {
        let reconnects = matches!(end, End::Reconnect);
        let keep_session = match end {
            End::Reconnect => self.close(close::UNKNOWN_ERROR).await,
            End::Close(code) => self.close(code).await,
            // A clean close (1000/1001) ends the session; anything else may resume.
            End::ClientClosed(code) => !matches!(code, Some(1000 | 1001)),
            End::Dropped => true,
        };
        if let Some(session) = self.session.take() {
            session.detach(self.id);
            if !keep_session {
                self.gateway.end_session(&session).await;
            }
            // Offline if it was the user's last connection on any node;
            // but a client told to reconnect is coming back (to a node
            // that stays), and ending its presence now would tell others
            // it went offline and then online again, in whatever order
            // the two nodes' events reach the bus. Its entry expires
            // unrenewed if it never comes back, and the sweep says so.
            if !reconnects {
                let service = &self.gateway.hub.service;
                let ended = service.end_presence(session.user_id, &self.presence_key);
                if let Err(e) = ended.await {
                    tracing::warn!(error = %e, "offline presence not announced");
                }
            }
        }
        self.gateway.connection_closed();
    }

    /// Sends the close frame with `code`; returns whether the session may
    /// still be resumed.
    async fn close(&mut self, code: u16) -> bool {
        let frame = CloseFrame {
            code: code.into(),
            reason: close::reason(code).into(),
        };
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            self.sink.send(Message::Close(Some(frame))),
        )
        .await;
        !matches!(
            code,
            close::AUTHENTICATION_FAILED | close::INVALID_SHARD..=close::DISALLOWED_INTENTS
        )
    }

    async fn send_control(&mut self, opcode: u8, d: &Value) -> Result<(), ()> {
        let message = self
            .transport
            .encode(protocol::control(opcode, d))
            .map_err(drop)?;
        let deadline = self.deadline;
        let sent = async {
            self.feed(message).await?;
            self.sink.flush().await
        };
        let sent = tokio::time::timeout_at(deadline, sent).await;
        sent.map_err(drop)?.map_err(drop)
    }

    /// Queues `message` for the next flush, in fragments if it is long
    /// (see [`socket`]).
    async fn feed(
        &mut self,
        message: Message,
    ) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        for frame in socket::frames(message) {
            self.sink.feed(frame).await?;
        }
        Ok(())
    }

    /// Stores the session's new frames in the directory, then writes every
    /// unsent frame and flushes once: several frames, one write. Fails as
    /// the connection ends: frames the directory cannot take now close it
    /// with a resumable code (they stay queued; the RESUME is served once
    /// the directory is back), a broken or lost socket is dropped.
    async fn flush(&mut self) -> Result<(), End> {
        let Some(session) = &self.session else {
            return Ok(());
        };
        match self.gateway.directory.sync(session).await {
            Ok(()) => {}
            Err(SyncError::Lost) => {
                self.gateway.drop_lost(session);
                return Err(End::Dropped);
            }
            Err(SyncError::Unavailable(e)) => {
                tracing::warn!(error = %e, "frames not stored; connection closed to resume later");
                return Err(End::Close(close::UNKNOWN_ERROR));
            }
        }
        let frames = session.take_outbox();
        if frames.is_empty() {
            return Ok(());
        }
        let kick = Arc::clone(&self.kick);
        let deadline = self.deadline;
        let write = async {
            for frame in frames {
                let text = protocol::dispatch(frame.seq, &frame.kind, &frame.data);
                let message = self.transport.encode(text).map_err(drop)?;
                self.feed(message).await.map_err(drop)?;
            }
            self.sink.flush().await.map_err(drop)
        };
        let written = tokio::select! {
            result = write => result,
            // A slow reader: stop waiting on its socket.
            _ = kick.notified() => Err(()),
            // A reader that stopped: the heartbeat deadline passed.
            _ = sleep_until(deadline) => Err(()),
        };
        written.map_err(|()| End::Dropped)
    }

    fn count_payload(&mut self) -> Handled {
        let now = Instant::now();
        if now.duration_since(self.window.0) >= PAYLOAD_WINDOW {
            self.window = (now, 0);
        }
        self.window.1 += 1;
        if self.window.1 > PAYLOADS_PER_WINDOW {
            Err(close::RATE_LIMITED)
        } else {
            Ok(())
        }
    }

    async fn handle(&mut self, raw: &[u8]) -> Handled {
        if raw.len() > MAX_SUBSCRIPTIONS_PAYLOAD {
            return Err(close::DECODE_ERROR);
        }
        self.count_payload()?;
        let payload: Inbound = serde_json::from_slice(raw).map_err(|_| close::DECODE_ERROR)?;
        if raw.len() > MAX_PAYLOAD && payload.op != op::GUILD_SUBSCRIPTIONS_BULK {
            return Err(close::DECODE_ERROR);
        }
        let identified = self.session.is_some();
        match payload.op {
            op::HEARTBEAT => {
                self.deadline = Instant::now() + self.gateway.heartbeat_timeout();
                // Acknowledged first: the client judges the connection by
                // it, and the bookkeeping after it may wait on a backend.
                self.send_control(op::HEARTBEAT_ACK, &Value::Null)
                    .await
                    .map_err(|()| close::UNKNOWN_ERROR)?;
                if let (Some(session), Some(seq)) = (&self.session, payload.d.as_u64()) {
                    let directory = &self.gateway.directory;
                    let confirmed = directory.inner.confirm(&session.id, directory.node, seq);
                    if let Err(e) = confirmed.await {
                        tracing::debug!(error = %e, "confirmed frames not freed");
                    }
                }
                if let Some(session) = &self.session {
                    let service = &self.gateway.hub.service;
                    let renewed = service.renew_presence(
                        session.user_id,
                        &self.presence_key,
                        session_presence(session),
                        self.gateway.heartbeat_timeout(),
                    );
                    if let Err(e) = renewed.await {
                        tracing::warn!(error = %e, "presence not renewed");
                    }
                }
                Ok(())
            }
            op::IDENTIFY if identified => Err(close::ALREADY_AUTHENTICATED),
            op::RESUME if identified => Err(close::ALREADY_AUTHENTICATED),
            // Boxed: rare and deep, they must not size every idle connection's task.
            op::IDENTIFY => Box::pin(self.identify(parse(payload.d)?)).await,
            op::RESUME => Box::pin(self.resume(parse(payload.d)?)).await,
            op::PRESENCE_UPDATE
            | op::VOICE_STATE_UPDATE
            | op::REQUEST_GUILD_MEMBERS
            | op::GUILD_SUBSCRIPTIONS
            | op::GUILD_SUBSCRIPTIONS_BULK
                if !identified =>
            {
                Err(close::NOT_AUTHENTICATED)
            }
            op::GUILD_SUBSCRIPTIONS => {
                let request: GuildSubscriptions = parse(payload.d)?;
                self.subscribe(vec![(request.guild_id, request.subscription)])
                    .await
            }
            op::GUILD_SUBSCRIPTIONS_BULK => {
                let request: GuildSubscriptionsBulk = parse(payload.d)?;
                self.subscribe(request.into_guilds()).await
            }
            op::PRESENCE_UPDATE => Box::pin(self.set_presence(parse(payload.d)?)).await,
            op::VOICE_STATE_UPDATE => Box::pin(self.set_voice_state(parse(payload.d)?)).await,
            op::REQUEST_GUILD_MEMBERS => Box::pin(self.request_members(parse(payload.d)?)).await,
            code if op::IGNORED.contains(&code) => Ok(()),
            _ if !identified => Err(close::NOT_AUTHENTICATED),
            _ => Err(close::UNKNOWN_OPCODE),
        }
    }

    /// Op 14 or op 37: in each guild, the members named replace those
    /// whose presences the session followed there (see `hub::presence`).
    async fn subscribe(
        &mut self,
        subscriptions: Vec<(concord_model::Snowflake, GuildSubscription)>,
    ) -> Handled {
        let Some(session) = &self.session else {
            return Ok(());
        };
        for (guild, subscription) in subscriptions {
            if let Some(members) = subscription.members {
                self.gateway.hub.follow(session, guild, members, true);
            }
        }
        // The session's record gets them now: a RESUME on another node
        // right after must follow the same members.
        self.flush().await.map_err(|_| close::UNKNOWN_ERROR)
    }

    /// Records what the client says of itself (op 3) and tells the
    /// user's guilds if what they see changed.
    async fn set_presence(&mut self, set: PresenceSet) -> Handled {
        let Some(session) = &self.session else {
            return Ok(());
        };
        let presence = set.into_presence();
        session.set_presence(presence.clone());
        let service = &self.gateway.hub.service;
        let ttl = self.gateway.heartbeat_timeout();
        let updated = service.update_presence(session.user_id, &self.presence_key, presence, ttl);
        if let Err(e) = updated.await {
            tracing::warn!(error = %e, "presence not announced");
        }
        // The session's record gets it now, not at the next sync: a RESUME
        // on another node right after must restore it.
        self.flush().await.map_err(|_| close::UNKNOWN_ERROR)
    }

    /// Op 4: joins, moves or leaves a voice channel of one of the session's
    /// guilds. The session keeps the guild among those whose voice states
    /// it renews (and leaves when it ends) until a renewal finds it no
    /// longer owns one there.
    async fn set_voice_state(&mut self, set: VoiceStateSet) -> Handled {
        let (Some(caller), Some(session)) = (self.caller, self.session.clone()) else {
            return Err(close::NOT_AUTHENTICATED);
        };
        if !session.guilds().contains(&set.guild_id) {
            return Ok(());
        }
        let request = set.into_request();
        if request.channel_id.is_some() {
            session.add_voice(request.guild_id);
        }
        let service = &self.gateway.hub.service;
        let updated = service.update_voice_state(caller, &session.id, request);
        if let Err(e) = updated.await {
            tracing::warn!(error = %e, "voice state not updated");
        }
        self.flush().await.map_err(|_| close::UNKNOWN_ERROR)
    }

    /// Connects this connection's presence, the session's (after IDENTIFY
    /// and RESUME).
    async fn connect_presence(&self) {
        let Some(session) = &self.session else {
            return;
        };
        let service = &self.gateway.hub.service;
        let ttl = self.gateway.heartbeat_timeout();
        let connected = service.connect_presence(
            session.user_id,
            &self.presence_key,
            session_presence(session),
            ttl,
        );
        if let Err(e) = connected.await {
            tracing::warn!(error = %e, "presence not announced");
        }
    }

    async fn identify(&mut self, mut identify: Identify) -> Handled {
        let requested_presence = identify.presence.take();
        let service = &self.gateway.hub.service;
        let owner = service
            .authenticate_token(&identify.token)
            .await
            .map_err(|_| close::AUTHENTICATION_FAILED)?;
        let caller = owner.caller;
        let start = service
            .session_start(caller)
            .await
            .map_err(|_| close::UNKNOWN_ERROR)?;
        let requested = match (identify.intents, caller.bot) {
            (Some(bits), _) => bits,
            (None, false) => intents::ALL,
            (None, true) => return Err(close::INVALID_INTENTS),
        };
        if requested & !intents::VALID != 0 {
            return Err(close::INVALID_INTENTS);
        }
        if let Some(app) = &start.application {
            let refused = [
                (intents::GUILD_PRESENCES, app.allow_presences),
                (intents::GUILD_MEMBERS, app.allow_members),
                (intents::MESSAGE_CONTENT, app.allow_message_content),
            ];
            if refused
                .iter()
                .any(|(bit, allowed)| requested & bit != 0 && !allowed)
            {
                return Err(close::DISALLOWED_INTENTS);
            }
        }
        let shard = identify.shard.unwrap_or([0, 1]);
        if shard[1] == 0 || shard[0] >= shard[1] {
            return Err(close::INVALID_SHARD);
        }
        let guilds: Vec<_> = start
            .guild_ids
            .iter()
            .copied()
            .filter(|g| in_shard(*g, shard))
            .collect();
        if guilds.len() > GUILDS_PER_SHARD {
            return Err(close::SHARDING_REQUIRED);
        }
        let large_threshold = identify
            .large_threshold
            .unwrap_or(*LARGE_THRESHOLD.start())
            .clamp(*LARGE_THRESHOLD.start(), *LARGE_THRESHOLD.end());
        let session_id: Arc<str> = format!("{:032x}", rand::random::<u128>()).into();
        let session = Arc::new(Session::new(
            Arc::clone(&session_id),
            owner,
            requested,
            shard,
            large_threshold,
            Arc::clone(&self.gateway.directory.cursor),
        ));
        session.set_guilds(guilds.iter().copied());
        // Registered before the snapshot is read, so no event is missed; the
        // session holds events back until READY and the guilds are queued.
        self.gateway.hub.insert(Arc::clone(&session));
        let directory = &self.gateway.directory;
        let record = session.record(directory.node, directory.cursor.delivered());
        if let Err(e) = directory.inner.create(record, crate::KEEP_ALIVE).await {
            tracing::warn!(error = %e, "session not registered; identify refused");
            self.gateway.hub.remove(&session_id);
            return Err(close::UNKNOWN_ERROR);
        }

        let ready = start.ready(&session_id, &self.gateway.config.url, shard, &guilds);
        let mut opening: Vec<(&'static str, Arc<str>)> = vec![("READY", ready.to_string().into())];
        if session.has_intent(intents::GUILDS) {
            let all_members = session.has_intent(intents::GUILD_PRESENCES);
            for guild in &guilds {
                let payload = service
                    .guild_create(*guild, caller.id, large_threshold, all_members)
                    .await;
                if let Ok(Some(payload)) = payload
                    && let Ok(json) = serde_json::to_string(&payload)
                {
                    session.add_visible(*guild, payload.channels.iter().map(|c| c.id));
                    opening.push((EventKind::GuildCreate.name(), json.into()));
                }
            }
        }
        session.open(opening);
        session.attach(self.attachment());
        if let Some(presence) = requested_presence {
            session.set_presence(presence.into_presence());
        }
        self.session = Some(session);
        self.caller = Some(caller);
        metrics::counter!("concord_gateway_identifies_total").increment(1);
        self.flush().await.map_err(|_| close::UNKNOWN_ERROR)?;
        self.connect_presence().await;
        Ok(())
    }

    async fn resume(&mut self, resume: Resume) -> Handled {
        let service = &self.gateway.hub.service;
        let caller = service
            .authenticate_token(&resume.token)
            .await
            .map_err(|_| close::AUTHENTICATION_FAILED)?
            .caller;
        let seq = resume.seq.unwrap_or(0);
        let resumed = self
            .gateway
            .resume_session(&resume.session_id, caller.id, seq, self.attachment())
            .await;
        let session = match resumed {
            Ok(session) => session,
            // Not resumable: tell the client to identify anew.
            Err(Refusal::Unresumable) => {
                return self
                    .send_control(op::INVALID_SESSION, &Value::Bool(false))
                    .await
                    .map_err(|()| close::UNKNOWN_ERROR);
            }
            // Still resumable, once what it needs is back: the client
            // tries again after a resumable close.
            Err(Refusal::Unavailable) => return Err(close::UNKNOWN_ERROR),
        };
        self.session = Some(session);
        self.caller = Some(caller);
        metrics::counter!("concord_gateway_resumes_total").increment(1);
        self.flush().await.map_err(|_| close::UNKNOWN_ERROR)?;
        self.connect_presence().await;
        Ok(())
    }

    fn attachment(&self) -> Attachment {
        Attachment {
            id: self.id,
            wake: Arc::clone(&self.wake),
            kick: Arc::clone(&self.kick),
        }
    }

    async fn request_members(&mut self, request: RequestGuildMembers) -> Handled {
        let (Some(caller), Some(session)) = (self.caller, self.session.clone()) else {
            return Err(close::NOT_AUTHENTICATED);
        };
        let user_ids = request
            .user_ids
            .map(|ids| ids.into_vec())
            .unwrap_or_default();
        let everyone = user_ids.is_empty() && request.query.as_deref().unwrap_or("").is_empty();
        let found = if everyone && !session.has_intent(intents::GUILD_MEMBERS) {
            Vec::new()
        } else {
            let limit = request.limit.unwrap_or(0);
            let query = request.query.as_deref();
            self.gateway
                .hub
                .service
                .request_members(caller, request.guild_id, query, limit, &user_ids)
                .await
                .unwrap_or_default()
        };
        let not_found: Vec<_> = user_ids
            .iter()
            .filter(|id| {
                !found
                    .iter()
                    .any(|m| m.user.as_ref().is_some_and(|u| u.id == **id))
            })
            .collect();
        let chunks: Vec<_> = if found.is_empty() {
            vec![&[][..]]
        } else {
            found.chunks(CHUNK_SIZE).collect()
        };
        let count = chunks.len();
        let service = &self.gateway.hub.service;
        let with_presences = request.presences && session.has_intent(intents::GUILD_PRESENCES);
        if with_presences {
            // Asked with their presences: the session follows them from now on.
            let ids = found.iter().filter_map(|m| Some(m.user.as_ref()?.id));
            let hub = &self.gateway.hub;
            hub.follow(&session, request.guild_id, ids.collect(), false);
        }
        for (index, members) in chunks.into_iter().enumerate() {
            let mut chunk = json!({
                "guild_id": request.guild_id,
                "members": members,
                "chunk_index": index,
                "chunk_count": count,
            });
            if index == 0 && !not_found.is_empty() {
                chunk["not_found"] = json!(not_found);
            }
            if let Some(nonce) = &request.nonce {
                chunk["nonce"] = json!(nonce);
            }
            if with_presences {
                let ids: Vec<_> = members
                    .iter()
                    .filter_map(|m| m.user.as_ref().map(|u| u.id))
                    .collect();
                chunk["presences"] = json!(service.listed_presences(&ids).await);
            }
            session.push("GUILD_MEMBERS_CHUNK", chunk.to_string().into());
        }
        self.flush().await.map_err(|_| close::UNKNOWN_ERROR)
    }
}

/// What the session says of its user: as last set, else online.
fn session_presence(session: &Session) -> concord_realtime::UserPresence {
    session
        .presence()
        .unwrap_or_else(|| PresenceSet::default().into_presence())
}

fn parse<T: serde::de::DeserializeOwned>(d: Value) -> Result<T, u16> {
    serde_json::from_value(d).map_err(|_| close::DECODE_ERROR)
}

/// Whether a read failed because the frame was over the size limit.
fn too_large(error: &tokio_tungstenite::tungstenite::Error) -> bool {
    matches!(error, tokio_tungstenite::tungstenite::Error::Capacity(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of the future an async fn of four arguments returns.
    fn future_size<A, B, C, D, F: Future>(_: impl Fn(A, B, C, D) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    /// A connection's task lives as long as its socket, so its future is
    /// memory every idle socket holds: what runs only now and then
    /// (handling a payload, a flush, the close) is boxed while it runs
    /// rather than laid out in the task, and one sleep stands for every
    /// timer. Inlined, the close alone made the task 3.8 KB in a release
    /// build; the flush inlined makes it 1.5 KB (one allocation a flush is
    /// small beside what a flush allocates anyway).
    #[test]
    fn an_idle_connection_task_is_small() {
        let size = future_size(serve);
        println!("a connection's future: {size} bytes");
        assert!(size <= 1280, "a connection's future takes {size} bytes");
    }
}

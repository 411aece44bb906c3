//! The Discord Gateway v10 over WebSocket, served by the same process as
//! the HTTP API.
//!
//! A connection ([`connection`]) is one task; what must outlive a dropped
//! socket (sequence numbers, guilds, view) lives in its [`session`], and
//! the frames a RESUME replays in the session directory that every node
//! shares, so a RESUME is served by any node ([`resume`]).
//! The [`hub`] holds the node's sessions and is the gateway's one
//! subscriber to the bus, for the guilds and users its sessions need: it
//! routes each event to the sessions allowed to see it, so the bus is read
//! once per node, never once per socket.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use concord_service::Service;
use hyper::upgrade::OnUpgrade;
use serde::Deserialize;
use tokio::sync::{Notify, watch};

mod connection;
mod directory;
mod guilds;
mod hub;
mod protocol;
mod resume;
mod session;
mod socket;
mod transport;

use directory::Directory;
use hub::Hub;
use session::Session;

/// Sessions without a connection stay resumable this long.
const RESUMABLE_FOR: Duration = Duration::from_secs(180);
/// How often the node stores its sessions' new frames, renews those with a
/// connection and ends those without one for too long.
const SYNC_EVERY: Duration = Duration::from_secs(5);
/// A session with a connection is kept alive this long from each sync: if
/// its node dies, it stays resumable elsewhere about [`RESUMABLE_FOR`].
const KEEP_ALIVE: Duration =
    Duration::from_secs(RESUMABLE_FOR.as_secs() + 2 * SYNC_EVERY.as_secs());
/// The longest a connection may stay unidentified.
const IDENTIFY_WITHIN: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Sent in HELLO; kept under 60 s (discord.py gives up after 60 s of silence).
    pub heartbeat_interval_ms: u64,
    /// `ws://host:port`, no slash, no query: what READY's
    /// `resume_gateway_url` and `GET /gateway` give out.
    pub url: String,
}

pub struct Gateway {
    hub: Arc<Hub>,
    directory: Directory,
    config: GatewayConfig,
    shutdown: watch::Sender<bool>,
    connections: AtomicUsize,
    all_closed: Notify,
    next_id: AtomicU64,
}

#[derive(Debug, Deserialize)]
struct ConnectQuery {
    v: Option<String>,
    encoding: Option<String>,
    compress: Option<String>,
}

impl Gateway {
    /// Subscribes the node's fan-out to the bus (for the guilds and users
    /// of its sessions) and starts it, and the syncing of its sessions with
    /// the session directory.
    pub async fn start(
        service: Arc<Service>,
        config: GatewayConfig,
    ) -> Result<Arc<Gateway>, concord_bus::BusError> {
        let directory = Directory::new(Arc::clone(&service.realtime().sessions), service.node());
        // Where a session identified before the first event stands.
        directory.cursor.start(service.bus().head().await?);
        directory.cursor.finish();
        let events = directory.track(service.bus().subscribe().await?);
        let hub = Arc::new(Hub::new(
            service,
            Arc::clone(events.interest()),
            Arc::clone(&directory.cursor),
        ));
        tokio::spawn(Arc::clone(&hub).fan_out(events));
        let gateway = Arc::new(Gateway {
            hub,
            directory,
            config,
            shutdown: watch::channel(false).0,
            connections: AtomicUsize::new(0),
            all_closed: Notify::new(),
            next_id: AtomicU64::new(1),
        });
        tokio::spawn(reap(Arc::downgrade(&gateway)));
        Ok(gateway)
    }

    /// WebSocket connections open now.
    pub fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn url(&self) -> &str {
        &self.config.url
    }

    /// The WebSocket endpoint, at `/` and `//` (clients add `/?v=10` to a
    /// URL that may already end in a slash).
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/", get(upgrade))
            .route("//", get(upgrade))
            .with_state(Arc::clone(self))
    }

    /// Asks every connection to reconnect elsewhere (op 7) and waits, up to
    /// `grace`, for all of them to close.
    pub async fn shutdown(&self, grace: Duration) {
        let _ = self.shutdown.send(true);
        let _ = tokio::time::timeout(grace, async {
            while self.connections.load(Ordering::Acquire) > 0 {
                let closed = self.all_closed.notified();
                if self.connections.load(Ordering::Acquire) == 0 {
                    break;
                }
                closed.await;
            }
        })
        .await;
    }

    fn heartbeat_timeout(&self) -> Duration {
        let interval = self.config.heartbeat_interval_ms;
        Duration::from_millis(interval + (interval / 4).min(10_000))
    }

    /// How long a connection may go without identifying (or resuming):
    /// two heartbeat intervals, at most a minute. Clients identify right
    /// after HELLO; a socket that only heartbeats holds a descriptor for
    /// nothing.
    fn identify_timeout(&self) -> Duration {
        let interval = Duration::from_millis(self.config.heartbeat_interval_ms);
        (interval * 2).min(IDENTIFY_WITHIN)
    }

    fn next_connection_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Removes `session` from the hub if it is still the one there under
    /// its id (a session lost to another node may have come back as a new
    /// one). Returns whether it was.
    fn forget(&self, session: &Session) -> bool {
        let current = self.hub.get(&session.id);
        let same = current.is_some_and(|s| std::ptr::eq(&*s, session));
        if same {
            self.hub.remove(&session.id);
        }
        same
    }

    /// Ends a session here and in the directory; it leaves its voice
    /// channels.
    async fn end_session(&self, session: &Session) {
        if self.forget(session) {
            let ids = vec![Arc::clone(&session.id)];
            if let Err(e) = self.directory.inner.remove(self.directory.node, ids).await {
                tracing::warn!(error = %e, "ended session left in the directory");
            }
            self.end_voice(session).await;
        }
    }

    /// An ended session leaves the voice channels it is in.
    async fn end_voice(&self, session: &Session) {
        let guilds = session.voice_guilds();
        if !guilds.is_empty() {
            let service = &self.hub.service;
            service
                .end_voice(session.user_id, &session.id, &guilds)
                .await;
        }
    }

    /// Renews the voice states the node's sessions own; a session that no
    /// longer owns one in a guild stops renewing it there.
    async fn renew_voice(&self, sessions: &[Arc<Session>]) {
        let mut held = Vec::new();
        let mut whose = Vec::new();
        for session in sessions {
            for guild_id in session.voice_guilds() {
                held.push(concord_realtime::voice::Held {
                    guild_id,
                    user_id: session.user_id,
                    session_id: session.id.to_string(),
                });
                whose.push(session);
            }
        }
        if held.is_empty() {
            return;
        }
        let kept = self.hub.service.renew_voice(&held).await;
        for ((h, session), kept) in held.iter().zip(whose).zip(kept) {
            if !kept {
                session.drop_voice(h.guild_id);
            }
        }
    }

    /// Another node took the session over: this one lets it go.
    fn drop_lost(&self, session: &Session) {
        tracing::debug!(session = %session.id, "session taken over elsewhere");
        session.lose();
        self.forget(session);
    }

    /// Stores what the node's sessions numbered since the last sync and
    /// renews those with a connection, in one directory call; ends those
    /// without a connection for [`RESUMABLE_FOR`], and lets go of broken
    /// ones once their connection is gone (their records, no longer
    /// renewed, expire unless a RESUME takes them over first). Ended and
    /// revoked sessions leave their voice channels; the others' voice
    /// states are renewed.
    async fn sync_sessions(&self) {
        let mut ended = Vec::new();
        let mut revoked = Vec::new();
        let mut live = Vec::new();
        for session in self.hub.all() {
            let expired = session
                .detached_since()
                .is_some_and(|t| t.elapsed() > RESUMABLE_FOR);
            if expired {
                if self.forget(&session) {
                    ended.push(session);
                }
            } else if session.is_broken() && !session.is_attached() {
                // A revoked session can never resume: it leaves voice now.
                if self.forget(&session) && session.is_revoked() {
                    revoked.push(session);
                }
            } else {
                live.push(session);
            }
        }
        if !ended.is_empty() {
            let ids = ended.iter().map(|s| Arc::clone(&s.id)).collect();
            if let Err(e) = self.directory.inner.remove(self.directory.node, ids).await {
                tracing::warn!(error = %e, "ended sessions left in the directory");
            }
        }
        for session in ended.iter().chain(&revoked) {
            self.end_voice(session).await;
        }
        self.renew_voice(&live).await;
        match self.directory.sync_all(&live, KEEP_ALIVE).await {
            Ok(lost) => lost.iter().for_each(|s| self.drop_lost(s)),
            Err(e) => tracing::warn!(error = %e, "sessions not synced to the directory"),
        }
        metrics::gauge!("concord_gateway_sessions").set(self.hub.count() as f64);
    }

    fn connection_closed(&self) {
        metrics::gauge!("concord_gateway_connections").decrement(1.0);
        if self.connections.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.all_closed.notify_waiters();
        }
    }
}

async fn upgrade(
    State(gateway): State<Arc<Gateway>>,
    Query(query): Query<ConnectQuery>,
    mut request: Request,
) -> Response {
    match query.encoding.as_deref() {
        None | Some("json") => {}
        Some(_) => {
            return (StatusCode::BAD_REQUEST, "only encoding=json is supported").into_response();
        }
    }
    let accept = match socket::accept(request.method(), request.headers()) {
        Ok(accept) => accept,
        Err(refused) => return refused.into_response(),
    };
    let Some(upgrading) = request.extensions_mut().remove::<OnUpgrade>() else {
        return (
            StatusCode::UPGRADE_REQUIRED,
            "this connection cannot be upgraded",
        )
            .into_response();
    };
    let version_ok = matches!(query.v.as_deref(), None | Some("9") | Some("10"));
    gateway.connections.fetch_add(1, Ordering::AcqRel);
    metrics::gauge!("concord_gateway_connections").increment(1.0);
    tokio::spawn(async move {
        match upgrading.await {
            Ok(upgraded) => {
                let socket = socket::open(upgraded).await;
                connection::serve(gateway, socket, query.compress, version_ok).await;
            }
            Err(_) => gateway.connection_closed(),
        }
    });
    socket::switching(accept)
}

/// Syncs the node's sessions with the directory every [`SYNC_EVERY`].
async fn reap(gateway: std::sync::Weak<Gateway>) {
    let mut tick = tokio::time::interval(SYNC_EVERY);
    loop {
        tick.tick().await;
        let Some(gateway) = gateway.upgrade() else {
            return;
        };
        gateway.sync_sessions().await;
    }
}

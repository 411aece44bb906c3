//! The event bus over NATS JetStream, for nodes that serve as one.
//!
//! One stream holds the recent events, each stored once: its sequence is
//! the event's id, so ids increase in publish order across every node and
//! one channel's events keep their order. The stream keeps the last
//! `max_age` of events, at most `max_events` of them, which `replay`
//! reads; older ones are `Gone`. Subscriptions listen on the subjects of
//! the topics they hold, where the stream republishes what it stores
//! (`subjects` says which), so a node hears of a guild only while its
//! sessions see it; see `subscription` for how interest changes,
//! ordering and gaps are kept. `head` asks the stream (a round trip), and
//! `head_from_others` is `head`: correct, though a reader may wait for
//! its own node's events.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::{self, stream};
use async_trait::async_trait;
use concord_bus::{BusError, BusResult, EventBus, Health, Subscription, Topic};
use concord_model::event::Event;
use tokio::sync::watch;

mod chains;
mod history;
mod order;
mod subjects;
mod subscription;

use subjects::Subjects;

/// How to reach NATS and what the stream keeps.
#[derive(Debug, Clone)]
pub struct NatsOptions {
    /// `nats://HOST:PORT` (several, comma-separated, for a NATS cluster).
    pub url: String,
    /// The stream's name, also the prefix of its subjects, so several
    /// instances can share one NATS server.
    pub stream: String,
    /// How long an event stays replayable.
    pub max_age: Duration,
    /// How many events the stream keeps at most.
    pub max_events: u64,
}

impl NatsOptions {
    pub fn new(url: impl Into<String>) -> NatsOptions {
        NatsOptions {
            url: url.into(),
            stream: "concord".to_string(),
            max_age: Duration::from_secs(5 * 60),
            max_events: 1_000_000,
        }
    }
}

/// For tests: options for a stream of their own on the server that
/// `CONCORD_TEST_NATS` names (keeping at most `max_events`), or `None`,
/// having said so, when it is unset. Panics when it is unset and
/// `CONCORD_TEST_SERVICES_REQUIRED` is set.
pub fn test_options(max_events: u64) -> Option<NatsOptions> {
    let Ok(url) = std::env::var("CONCORD_TEST_NATS") else {
        assert!(
            std::env::var_os("CONCORD_TEST_SERVICES_REQUIRED").is_none(),
            "CONCORD_TEST_NATS is not set: run scripts/services/nats and export what it prints"
        );
        eprintln!("skipped: CONCORD_TEST_NATS is not set (scripts/services/nats starts a server)");
        return None;
    };
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut options = NatsOptions::new(url);
    options.stream = format!("test_{}_{stamp}_{n}", std::process::id());
    options.max_events = max_events;
    // Long enough for any test, short enough to clean up after them.
    options.max_age = Duration::from_secs(600);
    Some(options)
}

/// What subscriptions share with the bus.
pub(crate) struct Shared {
    client: async_nats::Client,
    stream: stream::Stream<()>,
    subjects: Subjects,
    /// The highest id this node has seen published (its own publishes and
    /// what its subscriptions heard): where a topic added now starts.
    known_head: AtomicU64,
    /// Counts the connection's losses and dropped messages, after which
    /// subscriptions fill what they may have missed from the stream.
    disruptions: Arc<watch::Sender<u64>>,
}

impl Shared {
    fn saw(&self, id: u64) {
        self.known_head.fetch_max(id, Ordering::Relaxed);
    }
}

pub struct NatsBus {
    shared: Arc<Shared>,
    js: jetstream::Context,
    /// The stream as this node creates it: again, if the server lost it.
    config: stream::Config,
    /// Dropped with the bus, which ends its subscriptions.
    _open: watch::Sender<()>,
    open: watch::Receiver<()>,
}

/// How far past the highest id a node saw a stream created again starts:
/// nodes see the head at slightly different times, never this far apart.
const ID_MARGIN: u64 = 1 << 20;

/// Whether the server answered that the stream does not exist.
/// The largest event a stream made again takes until its numbering has
/// moved past the lost one's: none, as every event is larger; republishing
/// and subjects (which a 2.9 server cannot change later) are as usual.
const SEALED_MESSAGE_SIZE: i32 = 1;

fn is_lost_stream(e: &impl std::fmt::Display) -> bool {
    e.to_string().contains("stream not found")
}

fn unavailable(e: impl std::fmt::Display) -> BusError {
    BusError::Unavailable(e.to_string())
}

impl NatsBus {
    /// Connects and creates the stream, or updates its limits to these.
    pub async fn connect(options: &NatsOptions) -> BusResult<NatsBus> {
        let subjects = Subjects::new(&options.stream).map_err(BusError::Unavailable)?;
        let disruptions = Arc::new(watch::Sender::new(0u64));
        let disrupted = Arc::clone(&disruptions);
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .event_callback(move |event| {
                let disrupted = Arc::clone(&disrupted);
                async move {
                    use async_nats::Event::*;
                    match event {
                        Disconnected | SlowConsumer(_) => {
                            tracing::warn!(%event, "event bus connection disrupted");
                            disrupted.send_modify(|n| *n += 1);
                        }
                        Connected => tracing::info!("event bus connected"),
                        _ => tracing::debug!(%event, "event bus"),
                    }
                }
            })
            .connect(options.url.as_str())
            .await
            .map_err(unavailable)?;
        let js = jetstream::new(client.clone());
        let config = stream::Config {
            name: subjects.stream().to_string(),
            subjects: vec![subjects.stored_all()],
            max_messages: i64::try_from(options.max_events).unwrap_or(i64::MAX),
            max_age: options.max_age,
            discard: stream::DiscardPolicy::Old,
            storage: stream::StorageType::File,
            allow_direct: true,
            republish: Some(stream::Republish {
                source: subjects.stored_all(),
                destination: subjects.live_all(),
                headers_only: false,
            }),
            ..Default::default()
        };
        // Nodes starting together race to create it: the loser updates.
        if js.create_or_update_stream(config.clone()).await.is_err() {
            js.create_or_update_stream(config.clone())
                .await
                .map_err(unavailable)?;
        }
        let stream = js
            .get_stream_no_info(subjects.stream())
            .await
            .map_err(unavailable)?;
        let (open_tx, open) = watch::channel(());
        Ok(NatsBus {
            shared: Arc::new(Shared {
                client,
                stream,
                subjects,
                known_head: AtomicU64::new(0),
                disruptions,
            }),
            js,
            config,
            _open: open_tx,
            open,
        })
    }

    /// Creates the stream again when the server came back without it (its
    /// JetStream data lost): what it held is gone (a RESUME that needs it
    /// gets a gap, as one past the kept history does), but events flow
    /// again. The new stream numbers from well past every id this node
    /// saw, so that no id is given twice, whichever node recreates it
    /// first; the others find it made.
    async fn restore_stream(&self) {
        if let Some(first) = self.seal_lost_stream().await {
            self.open_restored_stream(first).await;
        }
    }

    /// The first half of `restore_stream`: the stream made again on a
    /// subject of its own, which no node publishes to, so that nothing is
    /// stored before its numbering has moved on; where it moves to is
    /// written down for any node that finishes the work. Returns that
    /// place, also when another node made the stream and has not opened it
    /// yet (or stopped half way); `None` when the stream is open.
    #[doc(hidden)]
    pub async fn seal_lost_stream(&self) -> Option<u64> {
        let first = self
            .shared
            .known_head
            .load(Ordering::Relaxed)
            .saturating_add(ID_MARGIN);
        let sealed = stream::Config {
            first_sequence: Some(first),
            max_message_size: SEALED_MESSAGE_SIZE,
            description: Some(first.to_string()),
            ..self.config.clone()
        };
        match self.js.create_stream(sealed).await {
            Ok(_) => Some(first),
            Err(e) => {
                let first = self.sealed_at().await;
                if first.is_none() {
                    tracing::debug!(error = %e, "event stream not created again");
                }
                first
            }
        }
    }

    /// The second half of `restore_stream`: the numbering moved to `first`
    /// and the stream opened to events. Every node finishing it moves to
    /// the same place, so a purge after events came in again drops none.
    #[doc(hidden)]
    pub async fn open_restored_stream(&self, first: u64) {
        // A server before 2.10 ignores `first_sequence`; a purge up to it
        // moves an empty stream's numbering there on every version.
        if let Err(e) = self.shared.stream.purge().sequence(first).await {
            tracing::error!(error = %e, "event stream created again, but its ids not moved past the old ones");
            return;
        }
        match self.js.update_stream(self.config.clone()).await {
            Ok(_) => tracing::warn!(
                stream = self.shared.subjects.stream(),
                first,
                "event stream was lost by the server and is created again"
            ),
            Err(e) => {
                tracing::error!(error = %e, "event stream created again, but not opened to events")
            }
        }
    }

    /// Where a stream made again starts numbering, while it is not yet open
    /// to events (see `restore_stream`).
    async fn sealed_at(&self) -> Option<u64> {
        let info = self.shared.stream.get_info().await.ok()?;
        if info.config.max_message_size != SEALED_MESSAGE_SIZE {
            return None;
        }
        info.config.description?.parse().ok()
    }

    /// Whether NATS answers now (a round trip), for readiness.
    /// The stream is asked, not only the server: a server that came back
    /// without it (its JetStream data lost) can neither take nor replay
    /// events, and the node must not look ready.
    pub async fn answers(&self) -> Result<(), String> {
        self.connected().map_err(|e| e.to_string())?;
        let info = tokio::time::timeout(Duration::from_secs(2), self.shared.stream.get_info());
        match info.await {
            Ok(Ok(info)) if info.config.max_message_size == SEALED_MESSAGE_SIZE => {
                self.restore_stream().await;
                Err(format!(
                    "stream {}: being made again",
                    self.shared.subjects.stream()
                ))
            }
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if is_lost_stream(&e) => {
                self.restore_stream().await;
                Err(format!("stream {}: {e}", self.shared.subjects.stream()))
            }
            Ok(Err(e)) => Err(format!("stream {}: {e}", self.shared.subjects.stream())),
            Err(_) => Err(format!(
                "no answer within 2 s ({})",
                self.shared.client.connection_state()
            )),
        }
    }

    /// Whether the connection is up now (no round trip): while the client
    /// reconnects, a publish would wait for it and then time out.
    fn connected(&self) -> BusResult<()> {
        match self.shared.client.connection_state() {
            async_nats::connection::State::Connected => Ok(()),
            state => Err(BusError::Unavailable(format!("nats connection {state}"))),
        }
    }

    /// Acts as if the connection had lost messages, for tests of how
    /// subscriptions recover.
    #[doc(hidden)]
    pub fn disrupt(&self) {
        self.shared.disruptions.send_modify(|n| *n += 1);
    }
}

#[async_trait]
impl EventBus for NatsBus {
    async fn publish(&self, mut event: Event) -> BusResult<u64> {
        event.id = 0;
        let subject = self.shared.subjects.stored(&event);
        let payload: bytes::Bytes = serde_json::to_vec(&event).map_err(unavailable)?.into();
        let publish = || async {
            self.js
                .publish(subject.clone(), payload.clone())
                .await?
                .await
        };
        let ack = match publish().await {
            // No stream, or one made again and still sealed (its refusal
            // says only "publish failed").
            Err(e)
                if matches!(
                    e.kind(),
                    PublishErrorKind::StreamNotFound | PublishErrorKind::Other
                ) =>
            {
                self.restore_stream().await;
                publish().await
            }
            acked => acked,
        }
        .map_err(unavailable)?;
        tracing::trace!(id = ack.sequence, kind = event.kind.name(), "publish");
        self.shared.saw(ack.sequence);
        Ok(ack.sequence)
    }

    async fn subscribe(&self) -> BusResult<Subscription> {
        let head = self.head().await?;
        Ok(subscription::start(
            Arc::clone(&self.shared),
            head,
            self.open.clone(),
        ))
    }

    async fn replay(&self, after: u64, topics: &[Topic]) -> BusResult<Vec<Arc<Event>>> {
        // Without a connection, at once rather than after the request's timeout.
        self.connected()?;
        history::replay(&self.shared, after, topics).await
    }

    fn available(&self) -> BusResult<()> {
        self.connected()
    }

    async fn health(&self) -> Option<Health> {
        Some(Health {
            backend: "nats",
            answers: self.answers().await,
        })
    }

    async fn head(&self) -> BusResult<u64> {
        self.connected()?;
        let info = self.shared.stream.get_info().await.map_err(unavailable)?;
        let head = info.state.last_sequence;
        self.shared.saw(head);
        Ok(head)
    }
}

//! The event seam. The service publishes one [`Event`] per write; each
//! node subscribes once per consumer (its gateway hub, its search feed, its
//! cache invalidation) and fans events out itself, so an event crosses the
//! bus once per node, never once per socket.
//!
//! The rules every backend keeps:
//! - **Ids.** `publish` gives each event an id, increasing in publish order
//!   across the whole bus; a subscription yields events in id order.
//! - **Topics.** An event is published on its audience's topics
//!   ([`Event::topics`]); a subscription yields only events on the topics
//!   it is interested in (or all, with [`Topic::All`]). Interest changes
//!   apply to the events the subscription comes to after them.
//! - **Gaps.** A subscription never skips an event silently: if events it
//!   would have yielded are lost (it fell behind the kept history, its
//!   connection dropped) and it cannot fill the hole from the history
//!   itself, it yields [`Delivery::Gap`] before the next event, naming the
//!   last id it got past.
//! - **History.** The bus keeps recent events; `replay` returns those after
//!   an id on some topics, or [`BusError::Gone`] when the kept history no
//!   longer reaches back that far, never a partial answer.
//!
//! [`LocalBus`] is the in-process default. Every backend runs the same
//! [`conformance`] suite.

use std::sync::Arc;

use async_trait::async_trait;
pub use concord_model::event::Topic;
use concord_model::event::{Event, NodeId};

pub mod conformance;
mod local;

pub use local::LocalBus;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusError {
    /// The kept history starts after the requested point: events were
    /// dropped, and whoever needs them must start afresh.
    #[error("events after {after} are no longer kept")]
    Gone { after: u64 },
    /// The backend cannot be reached or refused the operation.
    #[error("event bus unavailable: {0}")]
    Unavailable(String),
}

pub type BusResult<T> = Result<T, BusError>;

#[async_trait]
pub trait EventBus: Send + Sync {
    /// Publishes `event` (its `id` is ignored) and returns the id it got.
    async fn publish(&self, event: Event) -> BusResult<u64>;

    /// A new subscription, interested in nothing until told
    /// ([`Subscription::interest`]). It starts after the last event
    /// published before the call.
    async fn subscribe(&self) -> BusResult<Subscription>;

    /// The kept events after `after` on any of `topics`, in id order; `Gone`
    /// if some of them are no longer kept.
    async fn replay(&self, after: u64, topics: &[Topic]) -> BusResult<Vec<Arc<Event>>>;

    /// The id of the last event published (0 before any), so a reader can
    /// wait until its subscription has caught up with a write it knows of.
    async fn head(&self) -> BusResult<u64>;

    /// The id of the last event published by a node other than `node` (0
    /// before any): what `node` must have applied before it trusts caches
    /// that its own writes keep current, so a single node never waits for
    /// its own events. The overall [`EventBus::head`] is always a correct
    /// answer, only one that makes readers wait longer.
    async fn head_from_others(&self, node: NodeId) -> BusResult<u64> {
        let _ = node;
        self.head().await
    }

    /// Whether a publish can be expected to succeed now, from what the
    /// backend knows of its connection without a round trip. Writes ask
    /// first, so that while the bus is down they fail before they are
    /// committed rather than commit what no session would hear of. An
    /// in-process bus always can.
    fn available(&self) -> BusResult<()> {
        Ok(())
    }

    /// For readiness: a networked backend's name and whether it answers
    /// now. An in-process bus has nothing to check (`None`).
    async fn health(&self) -> Option<Health> {
        None
    }
}

/// What a networked bus says of itself.
#[derive(Debug, Clone)]
pub struct Health {
    /// The backend, as `/readyz` names it (`nats`).
    pub backend: &'static str,
    /// `Err` says why it does not answer.
    pub answers: Result<(), String>,
}

/// What a subscription yields.
#[derive(Debug, Clone)]
pub enum Delivery {
    Event(Arc<Event>),
    /// Events after `after` were lost to this subscription; the next event
    /// follows the gap. The subscriber may [`EventBus::replay`] them, and
    /// must treat what it derived from them as unknown if that fails.
    Gap {
        after: u64,
    },
}

/// A backend's stream of deliveries for one subscription.
#[async_trait]
pub trait EventStream: Send {
    /// The next delivery, waiting for one; `None` once the bus is closed.
    async fn next(&mut self) -> Option<Delivery>;
}

/// Which topics a subscription is interested in. Changes never block (a
/// networked backend forwards them to its subscriber connection in order)
/// and apply to every event the subscription comes to afterwards. Adding a
/// topic held already, or removing one not held, changes nothing.
pub trait Interest: Send + Sync {
    fn add(&self, topics: &[Topic]);
    fn remove(&self, topics: &[Topic]);
    /// The topics held now.
    fn topics(&self) -> Vec<Topic>;
}

/// One consumer's subscription: the stream it reads and a handle on its
/// interest, which others may hold (the hub adds a guild when a session
/// joins it, while its dispatcher reads the stream).
pub struct Subscription {
    stream: Box<dyn EventStream>,
    interest: Arc<dyn Interest>,
}

impl Subscription {
    pub fn new(stream: Box<dyn EventStream>, interest: Arc<dyn Interest>) -> Subscription {
        Subscription { stream, interest }
    }

    /// The next event or gap; `None` once the bus is closed.
    pub async fn next(&mut self) -> Option<Delivery> {
        self.stream.next().await
    }

    /// A delivery that is ready now, without waiting for one.
    pub fn try_next(&mut self) -> Option<Delivery> {
        use futures_util::FutureExt;
        self.stream.next().now_or_never().flatten()
    }

    pub fn interest(&self) -> &Arc<dyn Interest> {
        &self.interest
    }
}

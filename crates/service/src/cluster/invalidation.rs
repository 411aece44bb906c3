//! Keeps this node's caches true to writes made through other nodes. Every
//! node follows the whole bus; an event another node published drops what
//! it may have made stale here: the channel's recent messages after a
//! message event, a user's token state after their tokens were revoked. A
//! gap (events lost) drops everything.
//!
//! A read that may be served from those caches first waits until this
//! node has applied every event other nodes published so far
//! ([`Service::caught_up`]): a write acknowledged by another node published
//! its event before the acknowledgement, so a read that follows it sees its
//! effect.

use std::sync::{Arc, Weak};
use std::time::Duration;

use concord_bus::{Delivery, EventBus, Subscription, Topic};
use concord_model::event::{Audience, Event, EventKind, NodeId};
use tokio::sync::watch;

use crate::access::auth::TokenSigner;
use crate::messages::cache::RecentMessages;
use crate::{Service, ServiceError, ServiceResult};

/// How long a read waits for this node to catch up with the bus before it
/// goes ahead with what it has.
const CATCH_UP_WAIT: Duration = Duration::from_secs(2);

/// The id of the last event this node applied.
pub(crate) struct Applied(watch::Receiver<u64>);

/// Subscribes to every event and applies other nodes' ones to `cache` and
/// `tokens` until the bus closes or the service is gone.
pub(crate) async fn start(
    node: NodeId,
    bus: &dyn EventBus,
    cache: Arc<RecentMessages>,
    tokens: Arc<TokenSigner>,
) -> ServiceResult<Applied> {
    let unavailable = |e: concord_bus::BusError| ServiceError::Internal(e.to_string());
    let events = bus.subscribe().await.map_err(unavailable)?;
    events.interest().add(&[Topic::All]);
    // The caches are empty: nothing published so far can be stale in them.
    let head = bus.head().await.map_err(unavailable)?;
    let (applied, reader) = watch::channel(head);
    let follower = Follower {
        node,
        cache: Arc::downgrade(&cache),
        tokens: Arc::downgrade(&tokens),
        applied,
    };
    tokio::spawn(follower.run(events));
    Ok(Applied(reader))
}

struct Follower {
    node: NodeId,
    cache: Weak<RecentMessages>,
    tokens: Weak<TokenSigner>,
    applied: watch::Sender<u64>,
}

impl Follower {
    async fn run(self, mut events: Subscription) {
        while let Some(delivery) = events.next().await {
            let (Some(cache), Some(tokens)) = (self.cache.upgrade(), self.tokens.upgrade()) else {
                return;
            };
            match delivery {
                Delivery::Event(event) => {
                    if event.origin != self.node {
                        apply(&event, &cache, &tokens);
                    }
                    self.applied.send_replace(event.id);
                }
                Delivery::Gap { after } => {
                    tracing::warn!(
                        after,
                        "cache invalidation fell behind the bus; caches dropped"
                    );
                    metrics::counter!("concord_cache_invalidation_gaps_total").increment(1);
                    cache.forget_all();
                    tokens.forget_all();
                }
            }
        }
    }
}

/// Drops what another node's event may have made stale.
fn apply(event: &Event, cache: &RecentMessages, tokens: &TokenSigner) {
    use EventKind::*;
    match event.kind {
        MessageCreate
        | MessageUpdate
        | MessageDelete
        | MessageDeleteBulk
        | MessageReactionAdd
        | MessageReactionRemove
        | MessageReactionRemoveAll
        | MessageReactionRemoveEmoji
        | ChannelDelete
        | ThreadDelete => {
            if let Some(channel) = event.route.channel_id {
                cache.forget(channel);
            }
        }
        SessionsRevoked => {
            if let Audience::Users(users) = &event.audience {
                tokens.forget(users);
            }
        }
        _ => {}
    }
}

impl Service {
    /// Waits (within a bound) until this node has applied every event
    /// other nodes published before the call, so its caches hold no write
    /// another node has acknowledged. Its own events change nothing here
    /// (its writes keep its caches current), so a lone node never waits.
    pub(crate) async fn caught_up(&self) {
        let head = match self.bus.head_from_others(self.node).await {
            Ok(head) => head,
            Err(e) => {
                tracing::warn!(error = %e, "bus head unknown; reading caches as they are");
                return;
            }
        };
        let mut applied = self.applied.0.clone();
        if *applied.borrow() >= head {
            return;
        }
        let waited = tokio::time::timeout(CATCH_UP_WAIT, applied.wait_for(|id| *id >= head));
        if waited.await.is_err() {
            tracing::warn!(head, "cache invalidation is behind the bus");
            metrics::counter!("concord_cache_invalidation_late_total").increment(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use concord_bus::{BusError, BusResult, EventBus, LocalBus, Subscription, Topic};
    use concord_model::Snowflake;
    use concord_model::event::{Event, NodeId};

    use crate::Service;
    use crate::access::TokenKind;
    use crate::cluster::two_nodes::{
        GUILD, OWNER, OWNER_CALLER as CALLER, TEXT, config, seeded_store,
    };
    use crate::messages::CreateMessage;

    /// Two nodes over one store and one bus, as a cluster has them.
    async fn two_nodes(bus_capacity: usize) -> (Service, Service) {
        let bus = Arc::new(LocalBus::new(bus_capacity));
        nodes(bus.clone(), bus).await
    }

    /// Two nodes over one store, each publishing on the bus it is given.
    async fn nodes(a: Arc<dyn EventBus>, b: Arc<dyn EventBus>) -> (Service, Service) {
        let store = seeded_store().await;
        let a = Service::open(store.clone(), a, config(1)).await.unwrap();
        let b = Service::open(store, b, config(2)).await.unwrap();
        (a, b)
    }

    /// A bus that is down for publishing.
    struct Down(LocalBus);

    #[async_trait::async_trait]
    impl EventBus for Down {
        async fn publish(&self, _: Event) -> BusResult<u64> {
            Err(BusError::Unavailable("down".into()))
        }
        async fn subscribe(&self) -> BusResult<Subscription> {
            self.0.subscribe().await
        }
        async fn replay(&self, after: u64, topics: &[Topic]) -> BusResult<Vec<Arc<Event>>> {
            self.0.replay(after, topics).await
        }
        async fn head(&self) -> BusResult<u64> {
            self.0.head().await
        }
    }

    /// The write is committed when its publish fails: the caller is told it
    /// succeeded, and every node reads it.
    #[tokio::test]
    async fn a_failed_publish_keeps_the_committed_write() {
        let (a, b) = nodes(Arc::new(Down(LocalBus::new(8))), Arc::new(LocalBus::new(8))).await;
        say(&a, "kept").await;
        assert_eq!(history(&a).await, ["kept"]);
        assert_eq!(history(&b).await, ["kept"]);
    }

    /// A bus whose subscriptions hear nothing (they are on a second bus no
    /// one publishes on): a follower that never catches up.
    struct Deaf(LocalBus, LocalBus);

    #[async_trait::async_trait]
    impl EventBus for Deaf {
        async fn publish(&self, event: Event) -> BusResult<u64> {
            self.0.publish(event).await
        }
        async fn subscribe(&self) -> BusResult<Subscription> {
            self.1.subscribe().await
        }
        async fn replay(&self, after: u64, topics: &[Topic]) -> BusResult<Vec<Arc<Event>>> {
            self.0.replay(after, topics).await
        }
        async fn head(&self) -> BusResult<u64> {
            self.0.head().await
        }
        async fn head_from_others(&self, node: NodeId) -> BusResult<u64> {
            self.0.head_from_others(node).await
        }
    }

    /// A node's own events leave its caches current: reads never wait for
    /// its follower to pass them (the clock is paused: a wait would move it).
    #[tokio::test(start_paused = true)]
    async fn a_lone_node_never_waits_for_its_own_events() {
        let store = seeded_store().await;
        let bus = Arc::new(Deaf(LocalBus::new(8), LocalBus::new(1)));
        let node = Service::open(store, bus, config(1)).await.unwrap();
        say(&node, "one").await;
        let before = tokio::time::Instant::now();
        assert_eq!(history(&node).await, ["one"]);
        assert_eq!(before.elapsed(), std::time::Duration::ZERO);
    }

    async fn say(node: &Service, content: &str) {
        let input = CreateMessage {
            content: Some(content.into()),
            ..CreateMessage::default()
        };
        node.create_message(CALLER, TEXT, input).await.unwrap();
    }

    /// The channel's newest messages as `node` serves them (from its cache).
    async fn history(node: &Service) -> Vec<String> {
        let latest = node.latest_messages(TEXT, 10).await.unwrap();
        latest.into_iter().map(|m| m.content).collect()
    }

    #[tokio::test]
    async fn history_on_one_node_includes_a_write_through_another() {
        let (a, b) = two_nodes(64).await;
        say(&a, "one").await;
        assert_eq!(history(&b).await, ["one"], "loaded into B's cache");
        say(&a, "two").await;
        assert_eq!(history(&b).await, ["two", "one"]);
        say(&b, "three").await;
        assert_eq!(history(&a).await, ["three", "two", "one"]);
        assert_eq!(history(&b).await, ["three", "two", "one"]);
    }

    #[tokio::test]
    async fn a_token_revoked_on_one_node_is_refused_on_another() {
        let (a, b) = two_nodes(64).await;
        let user = a.store.user(OWNER).await.unwrap().unwrap();
        let token = a.issue_token(&user);
        assert_eq!(
            b.authenticate(TokenKind::User, &token).await.unwrap(),
            CALLER
        );
        a.save_revoking(&mut user.clone()).await.unwrap();
        assert!(a.authenticate(TokenKind::User, &token).await.is_err());
        assert!(
            b.authenticate(TokenKind::User, &token).await.is_err(),
            "B remembered the old generation"
        );
        let fresh = a.issue_token(&a.store.user(OWNER).await.unwrap().unwrap());
        assert_eq!(
            b.authenticate(TokenKind::User, &fresh).await.unwrap(),
            CALLER
        );
    }

    /// A node that lost events (here: it fell behind a bus that keeps
    /// two) cannot know what they changed, so it drops its caches.
    #[tokio::test(flavor = "current_thread")]
    async fn a_gap_drops_the_caches() {
        let (a, b) = two_nodes(2).await;
        say(&a, "one").await;
        assert_eq!(history(&b).await, ["one"]);
        let user = a.store.user(OWNER).await.unwrap().unwrap();
        let token = a.issue_token(&user);
        b.authenticate(TokenKind::User, &token).await.unwrap();
        // B's follower does not run until this task waits (never, here):
        // it will find the message and the revocation gone from the bus,
        // and only two events about nothing it holds.
        tokio::task::unconstrained(async {
            say(&a, "two").await;
            a.save_revoking(&mut user.clone()).await.unwrap();
            let unrelated = Snowflake(99);
            for _ in 0..2 {
                a.publish(
                    concord_model::event::EventKind::TypingStart,
                    crate::to_channel(GUILD, unrelated),
                    serde_json::json!({ "channel_id": unrelated }),
                )
                .await;
            }
        })
        .await;
        assert_eq!(history(&b).await, ["two", "one"]);
        assert!(b.authenticate(TokenKind::User, &token).await.is_err());
    }
}

//! The event seam. The service publishes one [`Event`] per write; each node
//! holds one subscription and fans events out to its own sessions, so an
//! event crosses the bus once per node, never once per socket.
//!
//! [`LocalBus`] is the in-process default: a broadcast channel that keeps
//! publish order, which is what gives per-channel ordering.

use std::sync::Arc;

use concord_model::event::Event;
use tokio::sync::broadcast;

/// A node's stream of every event, in publish order.
pub type Subscription = broadcast::Receiver<Arc<Event>>;

pub trait EventBus: Send + Sync {
    fn publish(&self, event: Event);
    fn subscribe(&self) -> Subscription;
}

/// In-process bus. A subscriber that falls more than `capacity` events
/// behind loses the oldest ones and is told so (`RecvError::Lagged`).
pub struct LocalBus {
    sender: broadcast::Sender<Arc<Event>>,
}

impl LocalBus {
    pub fn new(capacity: usize) -> Self {
        LocalBus {
            sender: broadcast::channel(capacity.max(1)).0,
        }
    }
}

impl EventBus for LocalBus {
    fn publish(&self, event: Event) {
        tracing::trace!(kind = event.kind.name(), "publish");
        // No subscriber (no gateway running) is not an error.
        let _ = self.sender.send(Arc::new(event));
    }

    fn subscribe(&self) -> Subscription {
        self.sender.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_model::Snowflake;
    use concord_model::event::{Audience, EventKind};

    fn event(n: u64) -> Event {
        Event {
            kind: EventKind::MessageCreate,
            audience: Audience::Users(vec![Snowflake(n)]),
            data: n.to_string(),
        }
    }

    #[tokio::test]
    async fn every_subscriber_gets_every_event_in_order() {
        let bus = LocalBus::new(16);
        let mut a = bus.subscribe();
        let mut b = bus.subscribe();
        for n in 0..5 {
            bus.publish(event(n));
        }
        for sub in [&mut a, &mut b] {
            for n in 0..5 {
                assert_eq!(sub.recv().await.unwrap().data, n.to_string());
            }
        }
    }

    #[tokio::test]
    async fn publishing_without_subscribers_is_fine_and_lag_is_reported() {
        let bus = LocalBus::new(2);
        bus.publish(event(0));
        let mut sub = bus.subscribe();
        for n in 1..=4 {
            bus.publish(event(n));
        }
        assert!(matches!(
            sub.recv().await,
            Err(broadcast::error::RecvError::Lagged(2))
        ));
        assert_eq!(sub.recv().await.unwrap().data, "3");
    }
}

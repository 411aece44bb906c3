//! The in-process bus: one ring of the last `capacity` events, which is at
//! once the history `replay` reads and the buffer every subscription reads
//! at its own pace. A subscription that falls more than `capacity` events
//! behind finds its next event gone from the ring: a gap, and replaying it
//! answers `Gone` too, since nothing older is kept anywhere.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use async_trait::async_trait;
use concord_model::event::{Event, NodeId, Topic};
use tokio::sync::watch;

use crate::{BusError, BusResult, Delivery, EventBus, EventStream, Interest, Subscription};

struct Ring {
    /// Oldest first; the last has id `head`.
    events: VecDeque<Arc<Event>>,
    head: u64,
    capacity: usize,
    /// Per publishing node, the id of its last event.
    last_by_origin: HashMap<NodeId, u64>,
}

impl Ring {
    /// The id of the oldest event kept (`head + 1` when none is).
    fn oldest(&self) -> u64 {
        self.head + 1 - self.events.len() as u64
    }

    fn get(&self, id: u64) -> Option<&Arc<Event>> {
        let index = id.checked_sub(self.oldest())?;
        self.events.get(usize::try_from(index).ok()?)
    }
}

pub struct LocalBus {
    ring: Arc<Mutex<Ring>>,
    /// The head after each publish; dropping the bus closes subscriptions.
    published: watch::Sender<u64>,
}

impl LocalBus {
    /// A bus that keeps the last `capacity` events.
    pub fn new(capacity: usize) -> Self {
        LocalBus {
            ring: Arc::new(Mutex::new(Ring {
                events: VecDeque::new(),
                head: 0,
                capacity: capacity.max(1),
                last_by_origin: HashMap::new(),
            })),
            published: watch::channel(0).0,
        }
    }

    fn ring(&self) -> MutexGuard<'_, Ring> {
        lock(&self.ring)
    }
}

fn lock(ring: &Mutex<Ring>) -> MutexGuard<'_, Ring> {
    ring.lock().unwrap_or_else(|e| e.into_inner())
}

#[async_trait]
impl EventBus for LocalBus {
    async fn publish(&self, mut event: Event) -> BusResult<u64> {
        let id = {
            let mut ring = self.ring();
            ring.head += 1;
            event.id = ring.head;
            let head = ring.head;
            ring.last_by_origin.insert(event.origin, head);
            tracing::trace!(id = event.id, kind = event.kind.name(), "publish");
            ring.events.push_back(Arc::new(event));
            if ring.events.len() > ring.capacity {
                ring.events.pop_front();
            }
            ring.head
        };
        // Concurrent publishers may get here out of order: the head only grows.
        self.published.send_if_modified(|head| {
            let grows = id > *head;
            *head = (*head).max(id);
            grows
        });
        Ok(id)
    }

    async fn subscribe(&self) -> BusResult<Subscription> {
        let interest = Arc::new(LocalInterest::default());
        let stream = LocalStream {
            ring: Arc::clone(&self.ring),
            next: self.ring().head + 1,
            published: self.published.subscribe(),
            interest: Arc::clone(&interest),
        };
        Ok(Subscription::new(Box::new(stream), interest))
    }

    async fn replay(&self, after: u64, topics: &[Topic]) -> BusResult<Vec<Arc<Event>>> {
        let ring = self.ring();
        if after + 1 < ring.oldest() {
            return Err(BusError::Gone { after });
        }
        let wanted = |t: Topic| topics.contains(&t);
        Ok(ring
            .events
            .iter()
            .filter(|e| e.id > after && e.is_on(wanted))
            .cloned()
            .collect())
    }

    async fn head(&self) -> BusResult<u64> {
        // Read on every cached read: the watch, not the ring's lock.
        Ok(*self.published.borrow())
    }

    async fn head_from_others(&self, node: NodeId) -> BusResult<u64> {
        let ring = self.ring();
        let others = ring
            .last_by_origin
            .iter()
            .filter(|(origin, _)| **origin != node);
        Ok(others.map(|(_, id)| *id).max().unwrap_or(0))
    }
}

#[derive(Default)]
struct LocalInterest {
    topics: RwLock<HashSet<Topic>>,
}

impl LocalInterest {
    fn wants(&self, event: &Event) -> bool {
        let topics = self.topics.read().unwrap_or_else(|e| e.into_inner());
        !topics.is_empty() && event.is_on(|t| topics.contains(&t))
    }
}

impl Interest for LocalInterest {
    fn add(&self, topics: &[Topic]) {
        let mut held = self.topics.write().unwrap_or_else(|e| e.into_inner());
        held.extend(topics.iter().copied());
    }

    fn remove(&self, topics: &[Topic]) {
        let mut held = self.topics.write().unwrap_or_else(|e| e.into_inner());
        for topic in topics {
            held.remove(topic);
        }
    }

    fn topics(&self) -> Vec<Topic> {
        let held = self.topics.read().unwrap_or_else(|e| e.into_inner());
        held.iter().copied().collect()
    }
}

struct LocalStream {
    ring: Arc<Mutex<Ring>>,
    /// The id of the next event to look at.
    next: u64,
    published: watch::Receiver<u64>,
    interest: Arc<LocalInterest>,
}

impl LocalStream {
    /// The next delivery among what is published already.
    fn ready(&mut self) -> Option<Delivery> {
        let ring = lock(&self.ring);
        let oldest = ring.oldest();
        if self.next < oldest {
            let after = self.next - 1;
            self.next = oldest;
            return Some(Delivery::Gap { after });
        }
        while let Some(event) = ring.get(self.next) {
            self.next += 1;
            if self.interest.wants(event) {
                return Some(Delivery::Event(Arc::clone(event)));
            }
        }
        None
    }
}

#[async_trait]
impl EventStream for LocalStream {
    async fn next(&mut self) -> Option<Delivery> {
        loop {
            // Marked seen before looking, so a publish after the look wakes us.
            self.published.borrow_and_update();
            if let Some(delivery) = self.ready() {
                return Some(delivery);
            }
            // An error: the bus is gone and everything it published was read.
            self.published.changed().await.ok()?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use concord_model::Snowflake;
    use concord_model::event::{Audience, EventKind, NodeId};

    async fn open(capacity: usize) -> Option<(Arc<dyn EventBus>, ())> {
        Some((Arc::new(LocalBus::new(capacity)), ()))
    }

    crate::bus_conformance!(open);

    fn event(guild: u64, n: u64) -> Event {
        let audience = Audience::Guild {
            guild_id: Snowflake(guild),
            channel_id: None,
            required: concord_model::Permissions::NONE,
        };
        Event::new(
            EventKind::MessageCreate,
            audience,
            NodeId(1),
            &serde_json::json!({ "n": n }),
        )
    }

    fn n(delivery: Option<Delivery>) -> (u64, String) {
        match delivery {
            Some(Delivery::Event(e)) => (e.id, e.data.clone()),
            other => panic!("expected an event, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_waiting_subscriber_wakes_and_ends_with_the_bus() {
        let bus = Arc::new(LocalBus::new(4));
        let mut sub = bus.subscribe().await.unwrap();
        sub.interest().add(&[Topic::All]);
        let waiting = tokio::spawn(async move {
            let first = n(sub.next().await);
            (first, sub.next().await.is_none())
        });
        tokio::task::yield_now().await;
        bus.publish(event(1, 7)).await.unwrap();
        drop(bus);
        let (first, closed) = waiting.await.unwrap();
        assert_eq!(first.0, 1);
        assert!(closed);
    }

    #[tokio::test]
    async fn falling_behind_the_ring_is_a_gap() {
        let bus = LocalBus::new(3);
        let mut sub = bus.subscribe().await.unwrap();
        sub.interest().add(&[Topic::Guild(Snowflake(1))]);
        bus.publish(event(1, 0)).await.unwrap();
        assert_eq!(n(sub.next().await).0, 1);
        for i in 1..=5 {
            bus.publish(event(1, i)).await.unwrap();
        }
        // Ids 2 and 3 fell out of the ring (it keeps 4, 5, 6).
        assert!(matches!(sub.next().await, Some(Delivery::Gap { after: 1 })));
        assert_eq!(n(sub.next().await).0, 4);
    }

    #[tokio::test]
    async fn a_node_hears_only_of_other_nodes_heads() {
        let bus = LocalBus::new(4);
        let from = |node: u64, n: u64| Event {
            origin: NodeId(node),
            ..event(1, n)
        };
        assert_eq!(bus.head_from_others(NodeId(1)).await.unwrap(), 0);
        bus.publish(from(1, 1)).await.unwrap();
        bus.publish(from(2, 2)).await.unwrap();
        bus.publish(from(1, 3)).await.unwrap();
        assert_eq!(bus.head_from_others(NodeId(1)).await.unwrap(), 2);
        assert_eq!(bus.head_from_others(NodeId(2)).await.unwrap(), 3);
        assert_eq!(bus.head_from_others(NodeId(3)).await.unwrap(), 3);
    }
}

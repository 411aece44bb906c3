//! Per-channel order of new messages' events. A message's id is minted
//! before its store write and its event published after it, so two sends
//! into one channel could be announced out of id order (the later id's
//! write finishing first). A [`Turn`] is taken when the id is minted, in id
//! order; when its write is done the request hands its event over
//! ([`Turn::publish`]) and the channel's events go out in id order.
//!
//! Whoever finds the first turn's event handed over publishes it and every
//! handed-over event queued behind it, in one pass: a burst of sends into
//! one channel is announced by one request rather than each waiting to be
//! woken by the one before. The store writes themselves still run side by
//! side (and share their syncs). An event handed over is published even if
//! the request that handed it over goes away, so a stored message is
//! always announced.
//!
//! This orders what one node publishes. Messages sent into one channel
//! through two nodes at once are announced in bus order, which follows
//! their writes' completion rather than their ids.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use concord_bus::EventBus;
use concord_model::Snowflake;
use concord_model::event::Event;
use tokio::sync::Notify;

use crate::events::announce;

pub(crate) struct Sequencer {
    shared: Arc<Shared>,
}

struct Shared {
    bus: Arc<dyn EventBus>,
    channels: Mutex<HashMap<Snowflake, Queue>>,
}

/// One channel's turns, in id order.
#[derive(Default)]
struct Queue {
    turns: VecDeque<Slot>,
    /// Someone is publishing this channel's events now.
    draining: bool,
}

/// A turn in its queue.
struct Slot {
    id: Snowflake,
    /// Handed over, waiting for the turns before it.
    event: Option<Event>,
    done: Arc<Done>,
}

/// Tells a request that its event went out, or that it should publish.
#[derive(Default)]
struct Done {
    published: AtomicBool,
    rung: Notify,
}

/// A message's place in its channel's order, given up when dropped
/// without [`publish`](Turn::publish).
pub(crate) struct Turn<'a> {
    sequencer: &'a Sequencer,
    channel: Snowflake,
    pub(crate) id: Snowflake,
    done: Arc<Done>,
    handed_over: bool,
}

impl Sequencer {
    pub(crate) fn new(bus: Arc<dyn EventBus>) -> Sequencer {
        Sequencer {
            shared: Arc::new(Shared {
                bus,
                channels: Mutex::default(),
            }),
        }
    }

    /// A turn in `channel` for the id `mint` gives, minted under the lock
    /// so that turns are taken in id order.
    pub(crate) fn enter(&self, channel: Snowflake, mint: impl FnOnce() -> Snowflake) -> Turn<'_> {
        let mut channels = self.shared.lock();
        let id = mint();
        let queue = channels.entry(channel).or_default();
        // A given id (a forum post's, minted with its thread) may be older.
        let at = queue.turns.partition_point(|slot| slot.id < id);
        let done = Arc::new(Done::default());
        queue.turns.insert(
            at,
            Slot {
                id,
                event: None,
                done: Arc::clone(&done),
            },
        );
        Turn {
            sequencer: self,
            channel,
            id,
            done,
            handed_over: false,
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, HashMap<Snowflake, Queue>> {
        self.channels.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the channel's publishing on if nobody has it and its first
    /// turn's event is handed over: the events to publish first.
    fn claim(&self, channel: Snowflake) -> Option<Batch> {
        let mut channels = self.lock();
        let queue = channels.get_mut(&channel)?;
        if queue.draining {
            return None;
        }
        let batch = Batch::take(queue);
        queue.draining = !batch.is_empty();
        (!batch.is_empty()).then_some(batch)
    }

    /// The next events to publish once `finished` are out, or `None` (and
    /// the publishing given up) when the first turn is still writing.
    fn next(&self, channel: Snowflake) -> Option<Batch> {
        let mut channels = self.lock();
        let queue = channels.get_mut(&channel)?;
        let batch = Batch::take(queue);
        if batch.is_empty() {
            queue.draining = false;
            if queue.turns.is_empty() {
                channels.remove(&channel);
            }
            return None;
        }
        Some(batch)
    }
}

/// Handed-over events from the front of a queue, in id order.
#[derive(Default)]
struct Batch(VecDeque<(Event, Arc<Done>)>);

impl Batch {
    fn take(queue: &mut Queue) -> Batch {
        let mut batch = Batch::default();
        while queue.turns.front().is_some_and(|slot| slot.event.is_some()) {
            let Some(Slot {
                event: Some(event),
                done,
                ..
            }) = queue.turns.pop_front()
            else {
                unreachable!("the front slot was just seen handed over");
            };
            batch.0.push_back((event, done));
        }
        batch
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Publishes a channel's handed-over events until its first turn is still
/// writing. Dropped half way (its request went away), it hands what is
/// left to a task of its own.
struct Drain {
    shared: Arc<Shared>,
    channel: Snowflake,
    batch: Option<Batch>,
}

impl Drain {
    async fn run(mut self) {
        while let Some(batch) = self.batch.as_mut() {
            while let Some((event, done)) = batch.0.pop_front() {
                announce(&*self.shared.bus, event).await;
                done.published.store(true, Ordering::Release);
                done.rung.notify_one();
            }
            self.batch = self.shared.next(self.channel);
        }
    }
}

impl Drop for Drain {
    fn drop(&mut self) {
        let Some(batch) = self.batch.take() else {
            return;
        };
        let rest = Drain {
            shared: Arc::clone(&self.shared),
            channel: self.channel,
            batch: Some(batch),
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(rest.run())),
            // No runtime left: the process is ending, and its events with it.
            Err(_) => std::mem::forget(rest),
        }
    }
}

impl Turn<'_> {
    /// Hands the event over and returns once it is published, after every
    /// earlier turn of the channel.
    pub(crate) async fn publish(mut self, event: Event) {
        self.handed_over = true;
        let shared = &self.sequencer.shared;
        {
            let mut channels = shared.lock();
            let slot = channels
                .get_mut(&self.channel)
                .and_then(|queue| queue.turns.iter_mut().find(|slot| slot.id == self.id));
            match slot {
                Some(slot) => slot.event = Some(event),
                None => unreachable!("a turn stays queued until it is handed over"),
            }
        }
        loop {
            let rung = self.done.rung.notified();
            if self.done.published.load(Ordering::Acquire) {
                return;
            }
            if let Some(batch) = shared.claim(self.channel) {
                Drain {
                    shared: Arc::clone(shared),
                    channel: self.channel,
                    batch: Some(batch),
                }
                .run()
                .await;
                continue;
            }
            rung.await;
        }
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        if self.handed_over {
            return;
        }
        // Given up (a failed write): the turns behind it may be ready.
        let shared = &self.sequencer.shared;
        {
            let mut channels = shared.lock();
            let Some(queue) = channels.get_mut(&self.channel) else {
                return;
            };
            if let Some(at) = queue.turns.iter().position(|slot| slot.id == self.id) {
                queue.turns.remove(at);
            }
            if queue.turns.is_empty() && !queue.draining {
                channels.remove(&self.channel);
                return;
            }
        }
        if let Some(batch) = shared.claim(self.channel) {
            drop(Drain {
                shared: Arc::clone(shared),
                channel: self.channel,
                batch: Some(batch),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_bus::{Delivery, LocalBus};
    use concord_model::event::{Audience, EventKind, NodeId, Topic};
    use std::pin::Pin;
    use std::sync::atomic::AtomicU64;
    use std::task::{Context, Waker};

    fn is_pending(future: Pin<&mut impl Future>) -> bool {
        future
            .poll(&mut Context::from_waker(Waker::noop()))
            .is_pending()
    }

    fn event(id: Snowflake) -> Event {
        let data = serde_json::json!({ "id": id, "channel_id": "9" });
        Event::new(
            EventKind::MessageCreate,
            Audience::Users(vec![Snowflake(1)]),
            NodeId(1),
            &data,
        )
    }

    /// The ids of the events published so far, in bus order.
    async fn published(subscription: &mut concord_bus::Subscription) -> Vec<String> {
        let mut ids = Vec::new();
        while let Ok(Some(Delivery::Event(event))) =
            tokio::time::timeout(std::time::Duration::from_millis(50), subscription.next()).await
        {
            let data: serde_json::Value = serde_json::from_str(&event.data).expect("json");
            ids.push(data["id"].as_str().expect("id").to_owned());
        }
        ids
    }

    #[tokio::test]
    async fn events_go_out_in_id_order_whatever_order_they_are_handed_over_in() {
        let bus: Arc<dyn EventBus> = Arc::new(LocalBus::new(64));
        let mut subscription = bus.subscribe().await.expect("subscribe");
        subscription.interest().add(&[Topic::All]);
        let sequencer = Sequencer::new(Arc::clone(&bus));
        let next = AtomicU64::new(1);
        let mint = || Snowflake(next.fetch_add(1, Ordering::Relaxed));
        let first = sequencer.enter(Snowflake(9), mint);
        let second = sequencer.enter(Snowflake(9), mint);
        let third = sequencer.enter(Snowflake(9), mint);
        let fourth = sequencer.enter(Snowflake(9), mint);
        let elsewhere = sequencer.enter(Snowflake(8), mint);
        elsewhere.publish(event(Snowflake(5))).await;
        {
            let mut waiting = std::pin::pin!(third.publish(event(Snowflake(3))));
            assert!(is_pending(waiting.as_mut()));
            // The second gives up (a failed write): the first still holds the third back.
            drop(second);
            assert!(is_pending(waiting.as_mut()));
            // The fourth's request goes away after handing over: its event still goes out.
            let mut gone = Box::pin(fourth.publish(event(Snowflake(4))));
            assert!(is_pending(gone.as_mut()));
            drop(gone);
            // The first publishes its own event and those queued behind it.
            first.publish(event(Snowflake(1))).await;
            waiting.await;
        }
        assert_eq!(published(&mut subscription).await, ["5", "1", "3", "4"]);
        assert!(sequencer.shared.lock().is_empty());

        // An older id given later takes its place in the order.
        let late = sequencer.enter(Snowflake(9), || Snowflake(100));
        let early = sequencer.enter(Snowflake(9), || Snowflake(50));
        let mut late = std::pin::pin!(late.publish(event(Snowflake(100))));
        assert!(is_pending(late.as_mut()));
        early.publish(event(Snowflake(50))).await;
        late.await;
        assert_eq!(published(&mut subscription).await, ["50", "100"]);
    }

    #[tokio::test]
    async fn a_failed_write_at_the_front_lets_those_behind_it_out() {
        let bus: Arc<dyn EventBus> = Arc::new(LocalBus::new(64));
        let mut subscription = bus.subscribe().await.expect("subscribe");
        subscription.interest().add(&[Topic::All]);
        let sequencer = Sequencer::new(Arc::clone(&bus));
        let first = sequencer.enter(Snowflake(9), || Snowflake(1));
        let second = sequencer.enter(Snowflake(9), || Snowflake(2));
        let mut waiting = Box::pin(second.publish(event(Snowflake(2))));
        assert!(is_pending(waiting.as_mut()));
        // The request behind goes away too: nobody is left waiting.
        drop(waiting);
        drop(first);
        assert_eq!(published(&mut subscription).await, ["2"]);
        assert!(sequencer.shared.lock().is_empty());
    }
}

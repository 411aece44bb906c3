//! Per-channel order of new messages' events. A message's id is minted
//! before its store write and its event published after it, so two sends
//! into one channel could be announced out of id order (the later id's
//! write finishing first). A [`Turn`] is taken when the id is minted, in id
//! order, and its event waits until every earlier turn of the channel has
//! published or given up; the store writes themselves still run side by
//! side (and share their syncs).
//!
//! This orders what one node publishes. Messages sent into one channel
//! through two nodes at once are announced in bus order, which follows
//! their writes' completion rather than their ids.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use concord_model::Snowflake;
use tokio::sync::Notify;

#[derive(Default)]
pub(crate) struct Sequencer {
    channels: Mutex<HashMap<Snowflake, Queue>>,
}

/// One channel's turns, in id order.
struct Queue {
    ids: VecDeque<Snowflake>,
    /// Rung when the first turn changes.
    moved: Arc<Notify>,
}

/// A message's place in its channel's order, released when dropped.
pub(crate) struct Turn<'a> {
    sequencer: &'a Sequencer,
    channel: Snowflake,
    pub(crate) id: Snowflake,
}

impl Sequencer {
    fn lock(&self) -> MutexGuard<'_, HashMap<Snowflake, Queue>> {
        self.channels.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A turn in `channel` for the id `mint` gives, minted under the lock
    /// so that turns are taken in id order.
    pub(crate) fn enter(&self, channel: Snowflake, mint: impl FnOnce() -> Snowflake) -> Turn<'_> {
        let mut channels = self.lock();
        let id = mint();
        let queue = channels.entry(channel).or_insert_with(|| Queue {
            ids: VecDeque::new(),
            moved: Arc::new(Notify::new()),
        });
        // A given id (a forum post's, minted with its thread) may be older.
        let at = queue.ids.partition_point(|other| *other < id);
        queue.ids.insert(at, id);
        Turn {
            sequencer: self,
            channel,
            id,
        }
    }
}

impl Turn<'_> {
    /// Waits until every earlier turn of the channel is over.
    pub(crate) async fn ready(&self) {
        while let Some(moved) = self.waiting_on() {
            let notified = moved.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            // Looked at again now that no change can be missed.
            if self.waiting_on().is_none() {
                return;
            }
            notified.await;
        }
    }

    /// What rings when the first turn changes, unless this one is first.
    fn waiting_on(&self) -> Option<Arc<Notify>> {
        let channels = self.sequencer.lock();
        let queue = channels.get(&self.channel)?;
        match queue.ids.front() {
            Some(first) if *first != self.id => Some(Arc::clone(&queue.moved)),
            _ => None,
        }
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut channels = self.sequencer.lock();
        let Some(queue) = channels.get_mut(&self.channel) else {
            return;
        };
        if let Some(at) = queue.ids.iter().position(|id| *id == self.id) {
            queue.ids.remove(at);
        }
        queue.moved.notify_waiters();
        if queue.ids.is_empty() {
            channels.remove(&self.channel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::task::{Context, Waker};

    fn is_pending(future: Pin<&mut impl Future>) -> bool {
        future
            .poll(&mut Context::from_waker(Waker::noop()))
            .is_pending()
    }

    #[tokio::test]
    async fn later_turns_wait_for_earlier_ones_to_end() {
        let sequencer = Sequencer::default();
        let next = AtomicU64::new(1);
        let mint = || Snowflake(next.fetch_add(1, Ordering::Relaxed));
        let first = sequencer.enter(Snowflake(9), mint);
        let second = sequencer.enter(Snowflake(9), mint);
        let third = sequencer.enter(Snowflake(9), mint);
        let elsewhere = sequencer.enter(Snowflake(8), mint);
        assert!(!is_pending(std::pin::pin!(elsewhere.ready())));
        assert!(!is_pending(std::pin::pin!(first.ready())));
        {
            let mut waiting = std::pin::pin!(third.ready());
            assert!(is_pending(waiting.as_mut()));
            // The second gives up (a failed write): the first still holds the third back.
            drop(second);
            assert!(is_pending(waiting.as_mut()));
            drop(first);
            waiting.await;
        }
        assert_eq!(sequencer.lock().len(), 2);
        drop(third);
        drop(elsewhere);
        assert!(sequencer.lock().is_empty());
        // An older id given later takes its place in the order.
        let late = sequencer.enter(Snowflake(9), || Snowflake(100));
        let early = sequencer.enter(Snowflake(9), || Snowflake(50));
        assert!(is_pending(std::pin::pin!(late.ready())));
        assert!(!is_pending(std::pin::pin!(early.ready())));
    }
}

//! A subscription: a task of its own reads the live subjects of the topics
//! its interest holds, all on the bus's one connection, and hands
//! deliveries to the subscriber in id order.
//!
//! - **Order.** The server writes to a connection in order, but the
//!   client gives each NATS subscription a queue of its own. Messages
//!   reach those queues in arrival order, so once one has come, every
//!   earlier one is queued: the task drains every queue and hands out in
//!   the order `order` keeps (the stream's within a subject; an event of
//!   another subject republished late is handed out late), each id once.
//!   Draining ends only when a pass over every queue finds nothing, with
//!   tokio's cooperative budget lifted: a queue that merely looked empty
//!   (the task out of budget, or a message arriving during the pass)
//!   would let a later id be handed out before an earlier one still
//!   queued.
//! - **Interest.** A change is recorded at once (what the task hands out
//!   is filtered by it) and forwarded to the task, which subscribes and
//!   unsubscribes. An event published after a topic was added may reach
//!   the stream before the server knows of the new NATS subscription, so
//!   once the server has it (a round trip), the task fills from the stream
//!   the topic's events after the highest id this node knew of when the
//!   topic was added.
//! - **Gaps.** When the connection drops or the client drops messages, the
//!   task fills from the stream what came after the last event it handed
//!   out; only if the stream no longer keeps it does the subscriber get a
//!   [`Delivery::Gap`]. The client tells of a lost connection through its
//!   event callback, which runs apart from the message queues: the report
//!   comes before the reconnection (a new TCP connection and handshake),
//!   but nothing orders it before the first message heard after it.

use std::collections::{HashMap, HashSet};
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use concord_bus::{BusError, Delivery, EventStream, Interest, Subscription, Topic};
use concord_model::event::Event;
use futures_util::Stream;
use tokio::sync::{mpsc, watch};

use crate::order::Order;
use crate::{Shared, history};

/// Deliveries a subscription holds for its reader.
const BUFFER: usize = 1024;

/// How long a fill that failed waits before it is tried again.
const RETRY: Duration = Duration::from_millis(250);

/// How long a message waits for its subject's predecessor before the
/// stream is read for it (the republished order was seen off by a few
/// milliseconds).
const PREDECESSOR_WAIT: Duration = Duration::from_millis(100);

pub(crate) fn start(shared: Arc<Shared>, head: u64, open: watch::Receiver<()>) -> Subscription {
    let (changes, changed) = mpsc::unbounded_channel();
    let interest = Arc::new(NatsInterest {
        held: RwLock::new(HashSet::new()),
        changes,
        shared: Arc::clone(&shared),
    });
    let (out, deliveries) = mpsc::channel(BUFFER);
    let follower = Follower {
        disruptions: shared.disruptions.subscribe(),
        shared,
        interest: Arc::clone(&interest),
        changed,
        out,
        live: HashMap::new(),
        order: Order::new(head),
        hole: None,
        open,
    };
    tokio::spawn(follower.run());
    Subscription::new(Box::new(NatsStream { deliveries }), interest)
}

struct NatsStream {
    deliveries: mpsc::Receiver<Delivery>,
}

#[async_trait]
impl EventStream for NatsStream {
    async fn next(&mut self) -> Option<Delivery> {
        self.deliveries.recv().await
    }
}

/// Topics added, with the highest id known when they were.
struct Added {
    topics: Vec<Topic>,
    from: u64,
}

struct NatsInterest {
    held: RwLock<HashSet<Topic>>,
    /// `None` when topics were only removed.
    changes: mpsc::UnboundedSender<Option<Added>>,
    shared: Arc<Shared>,
}

impl NatsInterest {
    fn wants(&self, event: &Event) -> bool {
        let held = self.held.read().unwrap_or_else(|e| e.into_inner());
        !held.is_empty() && event.is_on(|t| held.contains(&t))
    }

    fn held(&self) -> Vec<Topic> {
        let held = self.held.read().unwrap_or_else(|e| e.into_inner());
        held.iter().copied().collect()
    }
}

impl Interest for NatsInterest {
    fn add(&self, topics: &[Topic]) {
        let mut held = self.held.write().unwrap_or_else(|e| e.into_inner());
        let added: Vec<Topic> = topics.iter().copied().filter(|t| held.insert(*t)).collect();
        if !added.is_empty() {
            let from = self.shared.known_head.load(Ordering::Relaxed);
            // Under the lock, so the task gets changes in their order. A
            // closed channel: the subscription has ended.
            let _ = self.changes.send(Some(Added {
                topics: added,
                from,
            }));
        }
    }

    fn remove(&self, topics: &[Topic]) {
        let mut held = self.held.write().unwrap_or_else(|e| e.into_inner());
        let removed = topics.iter().filter(|t| held.remove(t)).count();
        if removed > 0 {
            let _ = self.changes.send(None);
        }
    }

    fn topics(&self) -> Vec<Topic> {
        self.held()
    }
}

/// What the stream must fill: events after `after` on `topics`.
struct Hole {
    after: u64,
    topics: Vec<Topic>,
}

struct Follower {
    shared: Arc<Shared>,
    interest: Arc<NatsInterest>,
    changed: mpsc::UnboundedReceiver<Option<Added>>,
    out: mpsc::Sender<Delivery>,
    /// Every live subject listened on (dropping one unsubscribes).
    live: HashMap<String, async_nats::Subscriber>,
    /// What was heard, in the order it is handed out.
    order: Order<Arc<Event>>,
    hole: Option<Hole>,
    disruptions: watch::Receiver<u64>,
    /// Closed when the bus is dropped.
    open: watch::Receiver<()>,
}

/// The subscriber or the bus went away.
struct Ended;

impl Follower {
    async fn run(mut self) {
        let _ = self.follow().await;
    }

    async fn follow(&mut self) -> Result<(), Ended> {
        loop {
            let retry = self.hole.is_some();
            // A fill already owed releases what waits when it is done.
            let waited = self.order.waiting_since().filter(|_| !retry);
            let read_stream_at = waited.map(|since| since + PREDECESSOR_WAIT);
            tokio::select! {
                biased;
                _ = self.out.closed() => return Err(Ended),
                _ = self.open.changed() => return Err(Ended),
                change = self.changed.recv() => {
                    let change = change.ok_or(Ended)?;
                    self.apply(change).await;
                }
                Ok(()) = self.disruptions.changed() => {
                    let held = self.interest.held();
                    if held.is_empty() {
                        // Nothing it would have heard can be missing.
                        let known = self.shared.known_head.load(Ordering::Relaxed);
                        self.order.pass(known);
                    } else {
                        self.widen_hole(self.order.last(), held);
                    }
                }
                heard = poll_fn(|cx| some_queued(&mut self.live, cx)), if !self.live.is_empty() => {
                    for message in heard {
                        self.hear(message);
                    }
                    self.drain().await;
                }
                () = tokio::time::sleep(RETRY), if retry => {}
                () = sleep_until_std(read_stream_at), if read_stream_at.is_some() => {
                    // A predecessor did not come: the stream has it.
                    let held = self.interest.held();
                    self.widen_hole(self.order.last(), held);
                }
            }
            if self.hole.is_some() {
                self.fill().await?;
            }
            // Events the hole may hold come before those pending.
            if self.hole.is_none() {
                self.deliver().await?;
            }
        }
    }

    /// Takes every message queued on any live subject, pass after pass
    /// until one finds none: whatever was queued before the last message
    /// taken has then been taken too.
    async fn drain(&mut self) {
        loop {
            let taken = poll_fn(|cx| Poll::Ready(take_queued(&mut self.live, cx)));
            let heard = tokio::task::unconstrained(taken).await;
            if heard.is_empty() {
                return;
            }
            for message in heard {
                self.hear(message);
            }
        }
    }

    fn hear(&mut self, message: async_nats::Message) {
        let header = |name| {
            let value = message.headers.as_ref()?.get(name)?;
            value.as_str().parse::<u64>().ok()
        };
        let Some(seq) = header(async_nats::header::NATS_SEQUENCE) else {
            tracing::warn!(subject = %message.subject, "event bus message without a sequence; skipped");
            return;
        };
        let previous = header(async_nats::header::NATS_LAST_SEQUENCE);
        self.shared.saw(seq);
        let decode = || history::decode(&message.payload, seq).map(Arc::new);
        self.order.hear(&message.subject, seq, previous, decode);
    }

    /// Hands out what may go, as far as the reader takes.
    async fn deliver(&mut self) -> Result<(), Ended> {
        while let Some(event) = self.order.next() {
            if self.interest.wants(&event) {
                self.out
                    .send(Delivery::Event(event))
                    .await
                    .map_err(|_| Ended)?;
            }
        }
        Ok(())
    }

    /// Listens on the subjects the held topics need (and no others), and
    /// marks the added topics' recent events for filling.
    async fn apply(&mut self, first: Option<Added>) {
        let mut changes = vec![first];
        while let Ok(change) = self.changed.try_recv() {
            changes.push(change);
        }
        let wanted: HashSet<String> = self
            .interest
            .held()
            .into_iter()
            .flat_map(|t| self.shared.subjects.live(t))
            .collect();
        let order = &mut self.order;
        self.live.retain(|subject, _| {
            let keep = wanted.contains(subject);
            if !keep {
                order.forget(subject);
            }
            keep
        });
        for subject in wanted {
            if self.live.contains_key(&subject) {
                continue;
            }
            match self.shared.client.subscribe(subject.clone()).await {
                Ok(subscriber) => {
                    self.live.insert(subject, subscriber);
                }
                // The client is closed: nothing will be heard again.
                Err(e) => tracing::error!(error = %e, "event bus subscription failed"),
            }
        }
        for Added { topics, from } in changes.into_iter().flatten() {
            self.widen_hole(from, topics);
        }
    }

    fn widen_hole(&mut self, after: u64, topics: Vec<Topic>) {
        let hole = self.hole.get_or_insert(Hole {
            after,
            topics: Vec::new(),
        });
        hole.after = hole.after.min(after);
        hole.topics.extend(topics);
    }

    /// Fills the hole from the stream, once the server has every NATS
    /// subscription made so far (so what the fill does not reach is heard
    /// live); a gap if the stream no longer reaches back.
    async fn fill(&mut self) -> Result<(), Ended> {
        let Some(hole) = self.hole.as_ref() else {
            return Ok(());
        };
        if let Err(e) = self.shared.client.flush().await {
            tracing::debug!(error = %e, "event bus unreachable; will fill later");
            return Ok(());
        }
        let after = hole.after.max(self.order.last());
        let r = history::replay(&self.shared, after, &hole.topics).await;
        match r {
            Ok(events) => {
                for event in events {
                    self.order.insert(event.id, event);
                }
            }
            Err(BusError::Gone { .. }) => {
                tracing::warn!(after, "events lost to a subscription");
                self.out
                    .send(Delivery::Gap {
                        after: self.order.last(),
                    })
                    .await
                    .map_err(|_| Ended)?;
                // Whatever the stream dropped is passed over.
                let first_kept = self.shared.stream.get_info().await;
                if let Ok(info) = first_kept {
                    self.order.pass(info.state.first_sequence.saturating_sub(1));
                }
            }
            Err(BusError::Unavailable(e)) => {
                tracing::debug!(error = %e, "event bus unreachable; will fill later");
                return Ok(());
            }
        }
        // What waited for a predecessor: the stream had it, if it was ours.
        self.order.release();
        self.hole = None;
        // Live messages that arrived meanwhile, some older than the fill.
        self.drain().await;
        Ok(())
    }
}

/// What is queued on the live subjects, once something is.
fn some_queued(
    live: &mut HashMap<String, async_nats::Subscriber>,
    cx: &mut Context<'_>,
) -> Poll<Vec<async_nats::Message>> {
    let taken = take_queued(live, cx);
    if taken.is_empty() {
        Poll::Pending
    } else {
        Poll::Ready(taken)
    }
}

/// Everything queued on the live subjects now, in one pass over them. A
/// subscriber the client closed is dropped: nothing will be heard on it
/// again.
fn take_queued(
    live: &mut HashMap<String, async_nats::Subscriber>,
    cx: &mut Context<'_>,
) -> Vec<async_nats::Message> {
    let mut taken = Vec::new();
    live.retain(|_, subscriber| {
        loop {
            match Pin::new(&mut *subscriber).poll_next(cx) {
                Poll::Ready(Some(message)) => taken.push(message),
                Poll::Ready(None) => return false,
                Poll::Pending => return true,
            }
        }
    });
    taken
}

/// Sleeps until `deadline` (a standard instant); forever without one.
async fn sleep_until_std(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}

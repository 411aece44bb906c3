//! The behavioural suite every bus backend must pass, written once against
//! the traits: the rules in the crate's doc. A backend runs it with
//! [`bus_conformance!`], naming an async `open(capacity) -> Option<(Arc<dyn
//! EventBus>, guard)>` function: a bus keeping (at least, for a
//! backend that keeps by age too) the last `capacity` events, or `None`
//! when the backend's server is not configured (the test then passes,
//! having said so); the guard keeps whatever backs the bus alive for the
//! test.
//!
//! A networked subscription hears of events some time after they are
//! published, so the cases never conclude from a delivery not being ready
//! yet: to show that a subscription skips an event, they publish a marker
//! it must hear after it and check that the marker comes next.

use std::sync::Arc;

use concord_model::event::{Audience, Event, EventKind, NodeId, Topic};
use concord_model::{Permissions, Snowflake};

use crate::{BusError, Delivery, EventBus, Subscription};

/// Expands to one `#[tokio::test]` per conformance case.
#[macro_export]
macro_rules! bus_conformance {
    ($open:path) => {
        $crate::bus_conformance!(@cases $open, $crate::conformance::ROOMY;
            ids_increase_in_publish_order, subscribers_hear_their_topics_in_id_order,
            interest_changes_apply_to_later_events, an_event_on_several_topics_is_heard_once,
            a_waiting_subscriber_wakes, heads_from_others_cover_other_nodes);
        $crate::bus_conformance!(@cases $open, $crate::conformance::CAPACITY;
            replay_answers_from_the_kept_history, a_subscriber_falling_behind_is_told_of_gaps);
    };
    (@cases $open:path, $capacity:expr; $($case:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let Some((bus, _guard)) = $open($capacity).await else {
                    return;
                };
                $crate::conformance::$case(bus).await;
            }
        )*
    };
}

/// The history kept by the buses of the cases that need none to fall out.
pub const ROOMY: usize = 1000;

/// The history kept by the buses of the cases about losing it.
pub const CAPACITY: usize = 3;

const NODE: NodeId = NodeId(1);

fn guild(id: u64) -> Topic {
    Topic::Guild(Snowflake(id))
}

fn user(id: u64) -> Topic {
    Topic::User(Snowflake(id))
}

/// A message in guild `guild` carrying `n`, with every field filled, so a
/// backend that serializes events shows it keeps them whole.
fn in_guild(guild: u64, n: u64) -> Event {
    let audience = Audience::Guild {
        guild_id: Snowflake(guild),
        channel_id: Some(Snowflake(100 + guild)),
        required: Permissions::VIEW_CHANNEL,
    };
    let data = serde_json::json!({
        "id": (1000 + n).to_string(),
        "channel_id": (100 + guild).to_string(),
        "author": { "id": "7" },
        "mentions": [{ "id": "8" }],
        "content": format!("n{n} ✓"),
    });
    let mut event = Event::new(EventKind::MessageCreate, audience, NODE, &data);
    event.hidden = Some(format!("{{\"n\":{n}}}"));
    event
}

fn to_guilds(guilds: &[u64], n: u64) -> Event {
    let audience = Audience::Guilds {
        guild_ids: guilds.iter().map(|g| Snowflake(*g)).collect(),
        about: Snowflake(7),
        member_counts: Vec::new(),
    };
    let data = serde_json::json!({ "user": { "id": "7" }, "n": n });
    Event::new(EventKind::PresenceUpdate, audience, NODE, &data)
}

fn in_dm(recipients: &[u64], n: u64) -> Event {
    let audience = Audience::Private {
        channel_id: Snowflake(99),
        recipients: recipients.iter().map(|u| Snowflake(*u)).collect(),
    };
    let data = serde_json::json!({ "id": (2000 + n).to_string(), "channel_id": "99" });
    Event::new(EventKind::MessageCreate, audience, NODE, &data)
}

/// Publishes `event`, returning it as subscribers must see it.
async fn publish(bus: &dyn EventBus, event: Event) -> Event {
    let id = bus.publish(event.clone()).await.expect("publish");
    Event { id, ..event }
}

async fn subscribe(bus: &dyn EventBus, topics: &[Topic]) -> Subscription {
    let sub = bus.subscribe().await.expect("subscribe");
    sub.interest().add(topics);
    sub
}

/// The next event, which must be `expected` exactly.
async fn hears(sub: &mut Subscription, expected: &Event) {
    match sub.next().await {
        Some(Delivery::Event(event)) => assert_eq!(*event, *expected),
        other => panic!("expected event {}, got {other:?}", expected.id),
    }
}

pub async fn ids_increase_in_publish_order(bus: Arc<dyn EventBus>) {
    let before = bus.head().await.unwrap();
    let mut last = before;
    for n in 0..6 {
        let id = bus.publish(in_guild(n % 2, n)).await.unwrap();
        assert!(id > last, "id {id} after {last}");
        last = id;
    }
    assert_eq!(bus.head().await.unwrap(), last);
}

pub async fn subscribers_hear_their_topics_in_id_order(bus: Arc<dyn EventBus>) {
    let mut all = subscribe(&*bus, &[Topic::All]).await;
    let mut one = subscribe(&*bus, &[guild(1)]).await;
    let mut published = Vec::new();
    for n in 0..6 {
        published.push(publish(&*bus, in_guild(n % 2, n)).await);
    }
    for event in &published {
        hears(&mut all, event).await;
    }
    for event in published
        .iter()
        .filter(|e| e.guild_id() == Some(Snowflake(1)))
    {
        hears(&mut one, event).await;
    }
    let marker = publish(&*bus, in_guild(1, 6)).await;
    hears(&mut one, &marker).await;
    hears(&mut all, &marker).await;
}

pub async fn interest_changes_apply_to_later_events(bus: Arc<dyn EventBus>) {
    let mut sub = subscribe(&*bus, &[]).await;
    sub.interest().add(&[guild(1)]);
    // Adding what is held changes nothing.
    sub.interest().add(&[guild(1)]);
    let first = publish(&*bus, in_guild(1, 0)).await;
    hears(&mut sub, &first).await;

    sub.interest().add(&[guild(2), user(5)]);
    let mut topics = sub.interest().topics();
    topics.sort_by_key(|t| format!("{t:?}"));
    assert_eq!(topics, [guild(1), guild(2), user(5)]);
    let second = publish(&*bus, in_guild(2, 1)).await;
    hears(&mut sub, &second).await;
    let dm = publish(&*bus, in_dm(&[5, 6], 2)).await;
    hears(&mut sub, &dm).await;

    sub.interest().remove(&[guild(1), guild(3)]);
    assert_eq!(sub.interest().topics().len(), 2);
    publish(&*bus, in_guild(1, 3)).await;
    let marker = publish(&*bus, in_guild(2, 4)).await;
    hears(&mut sub, &marker).await;

    // A topic dropped and taken again is heard again.
    sub.interest().add(&[guild(1)]);
    let again = publish(&*bus, in_guild(1, 5)).await;
    hears(&mut sub, &again).await;
}

pub async fn an_event_on_several_topics_is_heard_once(bus: Arc<dyn EventBus>) {
    let mut guilds = subscribe(&*bus, &[guild(1), guild(2)]).await;
    let mut users = subscribe(&*bus, &[user(5), user(6)]).await;
    let mut all = subscribe(&*bus, &[Topic::All, guild(1)]).await;
    let mut other = subscribe(&*bus, &[guild(3), user(9)]).await;
    let presence = publish(&*bus, to_guilds(&[1, 2, 4], 0)).await;
    let dm = publish(&*bus, in_dm(&[5, 6], 1)).await;
    let replayed = bus.replay(presence.id - 1, &[guild(1), guild(2)]).await;
    assert_eq!(replayed.unwrap().as_slice(), [Arc::new(presence.clone())]);
    let replayed = bus.replay(presence.id - 1, &[user(5), user(6)]).await;
    assert_eq!(replayed.unwrap().as_slice(), [Arc::new(dm.clone())]);
    let marker_guild = publish(&*bus, in_guild(1, 2)).await;
    let marker_user = publish(&*bus, in_dm(&[6], 3)).await;
    let marker_other = publish(&*bus, in_guild(3, 4)).await;

    hears(&mut guilds, &presence).await;
    hears(&mut guilds, &marker_guild).await;
    hears(&mut users, &dm).await;
    hears(&mut users, &marker_user).await;
    for event in [&presence, &dm, &marker_guild, &marker_user, &marker_other] {
        hears(&mut all, event).await;
    }
    hears(&mut other, &marker_other).await;
}

pub async fn replay_answers_from_the_kept_history(bus: Arc<dyn EventBus>) {
    let topics = [guild(1)];
    assert!(bus.replay(0, &topics).await.unwrap().is_empty());
    let mut published = Vec::new();
    for n in 0..6 {
        published.push(publish(&*bus, in_guild(1, n)).await);
    }
    let id = |i: usize| published[i].id;
    // Only the last CAPACITY (3) are kept: replaying from before them is
    // never a partial answer.
    assert_eq!(
        bus.replay(id(0), &topics).await.unwrap_err(),
        BusError::Gone { after: id(0) }
    );
    let kept = bus.replay(id(2), &topics).await.unwrap();
    let kept: Vec<Event> = kept.iter().map(|e| (**e).clone()).collect();
    assert_eq!(kept, published[3..]);
    assert!(bus.replay(id(3), &[guild(2)]).await.unwrap().is_empty());
    assert_eq!(bus.replay(id(4), &[Topic::All]).await.unwrap().len(), 1);
    assert!(bus.replay(id(5), &topics).await.unwrap().is_empty());
    assert_eq!(bus.head().await.unwrap(), id(5));
}

/// A subscriber that reads nothing while more events are published than
/// the bus keeps either still gets every one in order, or is told of the
/// gap before the next event it gets; never skips one silently.
pub async fn a_subscriber_falling_behind_is_told_of_gaps(bus: Arc<dyn EventBus>) {
    let mut sub = subscribe(&*bus, &[guild(1)]).await;
    let first = publish(&*bus, in_guild(1, 0)).await;
    hears(&mut sub, &first).await;
    let mut published = Vec::new();
    for n in 1..=2 * CAPACITY as u64 {
        published.push(publish(&*bus, in_guild(1, n)).await);
    }
    let last = published.last().unwrap().id;
    let mut got_past = first.id;
    let mut expected = published.iter();
    while got_past < last {
        match sub.next().await.expect("the bus is open") {
            Delivery::Gap { after } => {
                assert_eq!(after, got_past, "a gap names the last id got past");
                // What the gap covers is skipped.
                let event = match sub.next().await.expect("the bus is open") {
                    Delivery::Event(event) => event,
                    gap => panic!("a gap is followed by an event, got {gap:?}"),
                };
                let skipped = expected.by_ref().find(|e| e.id == event.id);
                assert_eq!(skipped, Some(&*event));
                got_past = event.id;
            }
            Delivery::Event(event) => {
                assert_eq!(
                    Some(&*event),
                    expected.next(),
                    "no event is skipped silently"
                );
                got_past = event.id;
            }
        }
    }
}

pub async fn a_waiting_subscriber_wakes(bus: Arc<dyn EventBus>) {
    let mut sub = subscribe(&*bus, &[Topic::All]).await;
    let waiting = tokio::spawn(async move {
        match sub.next().await {
            Some(Delivery::Event(event)) => event.id,
            other => panic!("expected an event, got {other:?}"),
        }
    });
    tokio::task::yield_now().await;
    let event = publish(&*bus, in_guild(1, 7)).await;
    assert_eq!(waiting.await.unwrap(), event.id);
}

/// `head_from_others` may be exact or answer the overall head; it never
/// misses an event of another node.
pub async fn heads_from_others_cover_other_nodes(bus: Arc<dyn EventBus>) {
    let from = |node: u64, n: u64| Event {
        origin: NodeId(node),
        ..in_guild(1, n)
    };
    let a = bus.publish(from(1, 1)).await.unwrap();
    let b = bus.publish(from(2, 2)).await.unwrap();
    let c = bus.publish(from(1, 3)).await.unwrap();
    let head = bus.head().await.unwrap();
    assert_eq!(head, c);
    let of_one = bus.head_from_others(NodeId(1)).await.unwrap();
    assert!((b..=head).contains(&of_one), "{of_one} not in {b}..={head}");
    let of_two = bus.head_from_others(NodeId(2)).await.unwrap();
    assert!((a.max(c)..=head).contains(&of_two));
    assert_eq!(bus.head_from_others(NodeId(3)).await.unwrap(), head);
}

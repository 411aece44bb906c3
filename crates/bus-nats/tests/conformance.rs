//! The bus conformance suite and the NATS bus's own cases, against the
//! NATS server named by `CONCORD_TEST_NATS` (with JetStream), each test on
//! a stream of its own.

use std::sync::Arc;

use concord_bus::{Delivery, EventBus, Topic};
use concord_bus_nats::{NatsBus, NatsOptions};
use concord_model::Snowflake;
use concord_model::event::{Audience, Event, EventKind, NodeId};

fn options(max_events: usize) -> Option<NatsOptions> {
    concord_bus_nats::test_options(max_events as u64)
}

async fn open(max_events: usize) -> Option<(Arc<dyn EventBus>, ())> {
    let options = options(max_events)?;
    let bus = NatsBus::connect(&options).await.expect("connect");
    Some((Arc::new(bus), ()))
}

concord_bus::bus_conformance!(open);

fn in_guild(guild: u64, n: u64) -> Event {
    let audience = Audience::Guild {
        guild_id: Snowflake(guild),
        channel_id: None,
        required: concord_model::Permissions::NONE,
    };
    let data = serde_json::json!({ "n": n });
    Event::new(EventKind::TypingStart, audience, NodeId(1), &data)
}

async fn next_id(sub: &mut concord_bus::Subscription) -> Delivery {
    sub.next().await.expect("the bus is open")
}

/// After a disruption the subscription fills what it may have missed from
/// the stream: nothing is lost, nothing heard twice, no gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disruption_the_stream_covers_is_filled() {
    let Some(options) = options(100) else { return };
    let bus = NatsBus::connect(&options).await.unwrap();
    let mut sub = bus.subscribe().await.unwrap();
    sub.interest().add(&[Topic::Guild(Snowflake(1))]);
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(bus.publish(in_guild(1, n)).await.unwrap());
    }
    bus.disrupt();
    for n in 3..5 {
        ids.push(bus.publish(in_guild(1, n)).await.unwrap());
    }
    for id in ids {
        match next_id(&mut sub).await {
            Delivery::Event(event) => assert_eq!(event.id, id),
            gap => panic!("expected event {id}, got {gap:?}"),
        }
    }
}

/// A disruption the stream no longer covers is a gap, before the next
/// event: the stream cannot tell what the subscription missed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disruption_past_the_history_is_a_gap() {
    let Some(options) = options(2) else { return };
    let bus = NatsBus::connect(&options).await.unwrap();
    let mut sub = bus.subscribe().await.unwrap();
    sub.interest().add(&[Topic::Guild(Snowflake(1))]);
    let first = bus.publish(in_guild(1, 0)).await.unwrap();
    match next_id(&mut sub).await {
        Delivery::Event(event) => assert_eq!(event.id, first),
        gap => panic!("expected event {first}, got {gap:?}"),
    }
    // The stream keeps the last two, none of them the subscription's.
    for n in 1..=4 {
        bus.publish(in_guild(2, n)).await.unwrap();
    }
    bus.disrupt();
    let last = bus.publish(in_guild(1, 5)).await.unwrap();
    match next_id(&mut sub).await {
        Delivery::Gap { after } => assert_eq!(after, first),
        event => panic!("expected a gap, got {event:?}"),
    }
    match next_id(&mut sub).await {
        Delivery::Event(event) => assert_eq!(event.id, last),
        gap => panic!("expected event {last}, got {gap:?}"),
    }
}

/// Replay and live deliveries are the same event as published, field for
/// field, and nodes on separate connections share one order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_on_separate_connections_share_ids() {
    let Some(options) = options(100) else { return };
    let a = NatsBus::connect(&options).await.unwrap();
    let b = NatsBus::connect(&options).await.unwrap();
    let mut sub = b.subscribe().await.unwrap();
    sub.interest().add(&[Topic::Guild(Snowflake(1))]);
    let x = a.publish(in_guild(1, 0)).await.unwrap();
    let y = b.publish(in_guild(1, 1)).await.unwrap();
    let z = a.publish(in_guild(1, 2)).await.unwrap();
    assert!(x < y && y < z);
    for id in [x, y, z] {
        match next_id(&mut sub).await {
            Delivery::Event(event) => assert_eq!(event.id, id),
            gap => panic!("expected event {id}, got {gap:?}"),
        }
    }
    assert_eq!(a.answers().await, Ok(()));
}

/// A stream the server lost and one node made again, but had not yet
/// opened to events (it stopped half way, or is slow): another node's
/// publish finishes the work and goes through, numbered past every old id,
/// and the first node finishing later drops nothing published meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_made_again_half_way_is_finished_by_any_node_and_loses_nothing() {
    let Some(options) = options(100) else { return };
    let a = NatsBus::connect(&options).await.unwrap();
    let b = NatsBus::connect(&options).await.unwrap();
    let old = a.publish(in_guild(1, 0)).await.unwrap();
    b.publish(in_guild(1, 1)).await.unwrap();
    let client = async_nats::connect(&options.url).await.unwrap();
    async_nats::jetstream::new(client)
        .delete_stream(&options.stream)
        .await
        .unwrap();
    let first = a.seal_lost_stream().await.expect("made again, sealed");
    assert!(first > old, "numbered past the old ids");
    assert!(a.answers().await.is_err(), "not ready while sealed");

    let new = b.publish(in_guild(1, 2)).await.expect("b finished it");
    assert!(new >= first, "id {new} is past the lost ones ({first})");
    a.open_restored_stream(first).await;
    let kept = a.replay(first - 1, &[Topic::Guild(Snowflake(1))]).await;
    let ids: Vec<u64> = kept.unwrap().iter().map(|e| e.id).collect();
    assert_eq!(ids, [new], "what b published survived a's late purge");
    assert_eq!(a.answers().await, Ok(()));
}

/// A burst on two subjects a node listens on (a guild's, and the one that
/// events for several topics share) is handed out whole and in id order,
/// also when the subscriber has fallen behind, so that every queue holds
/// hundreds of events when it reads again. Taking one queue's events
/// before learning what the other holds must not pass over the other's
/// earlier ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_over_several_subjects_is_delivered_whole_and_in_order() {
    let Some(options) = options(100_000) else {
        return;
    };
    let publisher = Arc::new(NatsBus::connect(&options).await.unwrap());
    let node = NatsBus::connect(&options).await.unwrap();
    let mut sub = node.subscribe().await.unwrap();
    let user = Snowflake(7);
    sub.interest()
        .add(&[Topic::Guild(Snowflake(1)), Topic::User(user)]);
    // Published from several tasks at once, so that both subjects' events
    // interleave; nothing is read until all are acknowledged.
    let tasks: Vec<_> = (0..4u64)
        .map(|task| {
            let publisher = Arc::clone(&publisher);
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for n in 0..500 {
                    let event = if n % 2 == 0 {
                        in_guild(1, n)
                    } else {
                        let audience = Audience::Users(vec![user, Snowflake(8 + task)]);
                        let data = serde_json::json!({ "n": n });
                        Event::new(EventKind::PresenceUpdate, audience, NodeId(1), &data)
                    };
                    ids.push(publisher.publish(event).await.unwrap());
                }
                ids
            })
        })
        .collect();
    let mut published = Vec::new();
    for task in tasks {
        published.extend(task.await.unwrap());
    }
    published.sort_unstable();
    let mut heard = Vec::new();
    while heard.len() < published.len() {
        let next = tokio::time::timeout(std::time::Duration::from_secs(10), sub.next()).await;
        match next {
            Ok(Some(Delivery::Event(event))) => heard.push(event.id),
            Ok(other) => panic!("expected an event, got {other:?}"),
            Err(_) => break,
        }
    }
    let missing: Vec<u64> = published
        .iter()
        .copied()
        .filter(|id| !heard.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} events missed: {missing:?}",
        missing.len()
    );
    assert_eq!(heard, published, "in id order, each once");
}

//! The order events reach sessions in.

use crate::{DEFAULT_INTENTS, World, until};

/// Messages sent at once into one channel reach every session in the same
/// order and, from one node, in id order: each message's event waits for
/// those of lower ids, though their writes finish in any order. Across the
/// nodes of a cluster (`CONCORD_TEST_NODES`), each node orders its own and
/// the bus orders the nodes', so sessions on different nodes agree, but ids
/// minted on two nodes at once may arrive either way round.
#[tokio::test]
async fn concurrent_sends_into_one_channel_arrive_in_id_order() {
    const SENDERS: usize = 8;
    const ROUNDS: usize = 30;
    let w = World::new(&[]).await;
    let (mut ws, _) = w.connect_bot(DEFAULT_INTENTS).await;
    // On another node, in a cluster.
    let (mut other, _) = w.connect_bot(DEFAULT_INTENTS).await;
    for round in 0..ROUNDS {
        let texts: Vec<String> = (0..SENDERS).map(|i| format!("{round}.{i}")).collect();
        let sends = texts.iter().map(|text| w.s.say(&w.owner, &w.general, text));
        futures::future::join_all(sends).await;
    }
    let mut seen = Vec::new();
    let mut seen_elsewhere = Vec::new();
    for _ in 0..SENDERS * ROUNDS {
        let (_, created) = until(&mut ws, "MESSAGE_CREATE").await;
        seen.push(created["d"]["id"].as_str().unwrap().parse::<u64>().unwrap());
        let (_, created) = until(&mut other, "MESSAGE_CREATE").await;
        seen_elsewhere.push(created["d"]["id"].as_str().unwrap().parse::<u64>().unwrap());
    }
    assert_eq!(seen, seen_elsewhere, "every session sees one order");
    if w.s.ws_urls().len() > 1 {
        return;
    }
    let mut last = 0u64;
    for (n, id) in seen.into_iter().enumerate() {
        assert!(id > last, "message {n}: id {id} arrived after {last}");
        last = id;
    }
}

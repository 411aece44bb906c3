//! The order events reach sessions in.

use crate::{DEFAULT_INTENTS, World, until};

/// Messages sent at once into one channel reach a watching session in id
/// order: each message's event waits for those of lower ids, though their
/// writes finish in any order.
#[tokio::test]
async fn concurrent_sends_into_one_channel_arrive_in_id_order() {
    const SENDERS: usize = 8;
    const ROUNDS: usize = 30;
    let w = World::new(&[]).await;
    let (mut ws, _) = w.connect_bot(DEFAULT_INTENTS).await;
    for round in 0..ROUNDS {
        let texts: Vec<String> = (0..SENDERS).map(|i| format!("{round}.{i}")).collect();
        let sends = texts.iter().map(|text| w.s.say(&w.owner, &w.general, text));
        futures::future::join_all(sends).await;
    }
    let mut last = 0u64;
    for n in 0..SENDERS * ROUNDS {
        let (_, created) = until(&mut ws, "MESSAGE_CREATE").await;
        let id: u64 = created["d"]["id"].as_str().unwrap().parse().unwrap();
        assert!(id > last, "message {n}: id {id} arrived after {last}");
        last = id;
    }
}

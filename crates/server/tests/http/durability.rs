//! An acknowledged write survives `kill -9`.

use std::sync::Arc;

use concord_testkit::Account;
use serde_json::json;
use tokio::sync::Mutex;

use crate::single_server_with;

#[tokio::test]
async fn every_acknowledged_message_survives_kill_9() {
    let mut s = single_server_with(&["--fsync", "on"]);
    let ada = s.register("ada").await;
    let (_, general) = s.guild(&ada, "Home").await;
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let senders = (0..8).map(|sender| {
        let (s, ada, general, acknowledged) =
            (&s, ada.clone(), general.clone(), Arc::clone(&acknowledged));
        async move {
            for i in 0..63 {
                let n = sender * 63 + i;
                if n >= 500 {
                    break;
                }
                let content = format!("durable message {n}");
                let reply = s
                    .post(
                        &format!("/channels/{general}/messages"),
                        &ada.auth,
                        json!({ "content": content }),
                    )
                    .await;
                assert_eq!(reply.status, 200);
                let id = reply.body["id"].as_str().unwrap().to_owned();
                acknowledged.lock().await.push((id, content));
            }
        }
    });
    futures::future::join_all(senders).await;
    s.kill9();
    s.restart();

    let acknowledged = acknowledged.lock().await.clone();
    assert_eq!(acknowledged.len(), 500);
    let mut stored = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let query = before.as_ref().map_or("?limit=100".to_owned(), |b| {
            format!("?limit=100&before={b}")
        });
        let page = s
            .get(&format!("/channels/{general}/messages{query}"), &ada.auth)
            .await;
        let Some(items) = page.body.as_array().filter(|a| !a.is_empty()) else {
            break;
        };
        before = items
            .last()
            .and_then(|m| m["id"].as_str())
            .map(str::to_owned);
        stored.extend(items.iter().map(|m| {
            (
                m["id"].as_str().unwrap().to_owned(),
                m["content"].as_str().unwrap().to_owned(),
            )
        }));
    }
    for (id, content) in &acknowledged {
        assert!(
            stored.contains(&(id.clone(), content.clone())),
            "lost {id} {content}"
        );
    }
    let _: &Account = &ada;
}

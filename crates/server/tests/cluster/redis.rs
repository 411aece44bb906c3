//! The cluster over the Redis realtime backend (`CONCORD_TEST_REDIS`, which
//! `scripts/services/redis` starts): each node with its own connection,
//! every test under a key prefix of its own. Presence, rate limits and the
//! session directory must hold across nodes as they do in one process.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use concord_config::Settings;
use concord_testkit::cluster::Cluster;
use concord_testkit::processes::test_redis;
use serde_json::{Value, json};

use crate::{GUILD_PRESENCES, GUILDS};
use crate::{connect, guild_with, quiet_dispatches};

/// `count` nodes sharing Redis under a fresh prefix, `adjust`ed.
async fn cluster(count: usize, adjust: impl FnOnce(&mut Settings)) -> Option<Cluster> {
    let url = test_redis()?;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let prefix = format!("cluster-test:{}:{nanos}:", std::process::id());
    Some(
        Cluster::start_with(count, |s| {
            s.realtime = Some(url);
            s.realtime_prefix = Some(prefix);
            adjust(s);
        })
        .await,
    )
}

#[tokio::test]
async fn readiness_names_redis() {
    let Some(cluster) = cluster(1, |_| {}).await else {
        return;
    };
    let ready: Value = reqwest::get(cluster.node(0).url("/readyz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let checks = ready["checks"].as_array().unwrap();
    let redis = checks.iter().find(|c| c["name"] == "redis");
    let redis = redis.unwrap_or_else(|| panic!("no redis check: {ready}"));
    assert_eq!(
        (&redis["ok"], &redis["required"]),
        (&json!(true), &json!(true))
    );
    assert_eq!(ready["ready"], true);
}

#[tokio::test]
async fn presence_and_rate_limits_are_shared_over_redis() {
    let Some(cluster) = cluster(2, |s| {
        s.rate_limits = Some(concord_config::Switch::On);
        s.message_rate_limit = Some(3);
        s.message_rate_window_ms = Some(60_000);
    })
    .await
    else {
        return;
    };
    let (a, b) = (cluster.node(0), cluster.node(1));
    let (owner, general, people) = guild_with(&cluster, &["watcher", "ada"]).await;
    let (watcher, ada) = (&people[0], &people[1]);
    let (mut watching, _) = connect(a, &watcher.auth, GUILDS | GUILD_PRESENCES).await;
    let (mut on_a, _) = connect(a, &ada.auth, GUILDS).await;
    let (mut on_b, _) = connect(b, &ada.auth, GUILDS).await;
    let quiet = Duration::from_millis(500);
    let of_ada = |seen: &[Value], status: &str| {
        seen.iter()
            .any(|p| p["user"]["id"] == ada.id.as_str() && p["status"] == status)
    };
    let seen = quiet_dispatches(&mut watching, "PRESENCE_UPDATE", quiet).await;
    assert!(of_ada(&seen, "online"), "ada came online: {seen:?}");
    on_a.close(1000).await;
    let seen = quiet_dispatches(&mut watching, "PRESENCE_UPDATE", quiet).await;
    assert!(!of_ada(&seen, "offline"), "ada is still on B: {seen:?}");
    on_b.close(1000).await;
    let seen = quiet_dispatches(&mut watching, "PRESENCE_UPDATE", quiet).await;
    assert!(
        of_ada(&seen, "offline"),
        "ada's last socket closed: {seen:?}"
    );

    let path = format!("/channels/{general}/messages");
    let mut sent = 0;
    for i in 0..8 {
        let reply = cluster
            .node(i % 2)
            .post(&path, &owner.auth, json!({ "content": format!("m{i}") }))
            .await;
        match reply.status {
            200 => sent += 1,
            429 => {}
            other => panic!("unexpected {other}: {:?}", reply.body),
        }
    }
    assert_eq!(sent, 3, "one limit for the user, whichever node counts");
}

#[tokio::test]
async fn a_session_of_a_stopped_node_resumes_on_another_over_redis() {
    let Some(cluster) = cluster(2, |_| {}).await else {
        return;
    };
    super::resumed_elsewhere_replays_what_it_missed(cluster).await;
}

//! The audit log: moderation actions recorded with who, whom and why, read
//! back with filters by those allowed to.

use concord_testkit::{Reply, TestServer};
use serde_json::{Value, json};

use crate::server;

const VIEW_AUDIT_LOG: u64 = 1 << 7;

fn actions(reply: &Reply) -> Vec<u64> {
    reply.body["audit_log_entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action_type"].as_u64().unwrap())
        .collect()
}

async fn with_reason(
    s: &TestServer,
    method: &str,
    path: &str,
    auth: &str,
    body: Option<Value>,
    reason: &str,
) -> Reply {
    let headers = [("x-audit-log-reason", reason)];
    s.request_with(method, path, Some(auth), body, &headers)
        .await
}

#[tokio::test]
async fn moderation_is_recorded_with_its_reason() {
    let s = server();
    let (ada, bob, cat, dan, eve) = (
        s.register("ada").await,
        s.register("bob").await,
        s.register("cat").await,
        s.register("dan").await,
        s.register("eve").await,
    );
    let (guild, general) = s.guild(&ada, "Home").await;
    for who in [&bob, &cat, &dan] {
        s.join(&ada, &general, who).await;
    }
    let log = format!("/guilds/{guild}/audit-logs");
    assert_eq!(
        s.get(&log, &ada.auth).await.body["audit_log_entries"],
        json!([])
    );

    let kicked = with_reason(
        &s,
        "DELETE",
        &format!("/guilds/{guild}/members/{}", cat.id),
        &ada.auth,
        None,
        "posting%20spam%20%E2%9C%8B",
    )
    .await;
    assert_eq!(kicked.status, 204);
    let banned = with_reason(
        &s,
        "PUT",
        &format!("/guilds/{guild}/bans/{}", dan.id),
        &ada.auth,
        Some(json!({})),
        "raids",
    )
    .await;
    assert_eq!(banned.status, 204);
    let ban = s
        .get(&format!("/guilds/{guild}/bans/{}", dan.id), &ada.auth)
        .await;
    assert_eq!(ban.body["reason"], "raids", "the ban keeps its reason");
    let role = s
        .post(
            &format!("/guilds/{guild}/roles"),
            &ada.auth,
            json!({ "name": "auditors" }),
        )
        .await;
    let role = role.body["id"].as_str().unwrap().to_owned();
    s.patch(
        &format!("/guilds/{guild}/members/{}", bob.id),
        &ada.auth,
        json!({ "nick": "bobby" }),
    )
    .await;
    let own = s.say(&bob, &general, "mine").await;
    s.delete(&format!("/channels/{general}/messages/{own}"), &bob.auth)
        .await;
    let theirs = s.say(&bob, &general, "removed by a moderator").await;
    s.delete(&format!("/channels/{general}/messages/{theirs}"), &ada.auth)
        .await;

    let all = s.get(&log, &ada.auth).await;
    assert_eq!(all.status, 200, "{:?}", all.body);
    assert_eq!(
        actions(&all),
        [72, 24, 30, 22, 20],
        "newest first; own deletions are not moderation"
    );
    let entries = all.body["audit_log_entries"].as_array().unwrap();
    assert!(
        entries.iter().all(|e| e.get("target_id").is_some()),
        "target_id is always there, null or not: {entries:?}"
    );
    let kick = &entries[4];
    assert_eq!(kick["user_id"], ada.id.as_str());
    assert_eq!(kick["target_id"], cat.id.as_str());
    assert_eq!(kick["reason"], "posting spam ✋");
    assert!(entries[3]["reason"] == "raids");
    assert_eq!(entries[2]["target_id"], role.as_str());
    assert_eq!(
        entries[2]["changes"][0],
        json!({ "key": "name", "old_value": null, "new_value": "auditors" })
    );
    assert_eq!(entries[1]["changes"][0]["new_value"], "bobby");
    assert_eq!(entries[0]["target_id"], bob.id.as_str());
    assert_eq!(entries[0]["options"]["channel_id"], general.as_str());
    let users: Vec<&str> = all.body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    for who in [&ada, &bob, &cat, &dan] {
        assert!(users.contains(&who.id.as_str()), "{users:?}");
    }

    // Filters and paging.
    assert_eq!(
        actions(&s.get(&format!("{log}?action_type=20"), &ada.auth).await),
        [20]
    );
    assert_eq!(
        actions(&s.get(&format!("{log}?user_id={}", bob.id), &ada.auth).await),
        Vec::<u64>::new()
    );
    let newest = s.get(&format!("{log}?limit=2"), &ada.auth).await;
    assert_eq!(actions(&newest), [72, 24]);
    let older_than = newest.body["audit_log_entries"][1]["id"].as_str().unwrap();
    assert_eq!(
        actions(
            &s.get(&format!("{log}?before={older_than}&limit=2"), &ada.auth)
                .await
        ),
        [30, 22]
    );

    // Who may read it.
    let denied = s.get(&log, &bob.auth).await;
    assert_eq!(
        (denied.status, denied.body["code"].clone()),
        (403, json!(50013))
    );
    s.patch(
        &format!("/guilds/{guild}/roles/{role}"),
        &ada.auth,
        json!({ "permissions": VIEW_AUDIT_LOG.to_string() }),
    )
    .await;
    s.put(
        &format!("/guilds/{guild}/members/{}/roles/{role}", bob.id),
        &ada.auth,
        json!({}),
    )
    .await;
    let allowed = s.get(&format!("{log}?limit=2"), &bob.auth).await;
    assert_eq!(actions(&allowed), [25, 31], "role grants are recorded too");
    let outsider = s.get(&log, &eve.auth).await;
    assert_eq!(
        (outsider.status, outsider.body["code"].clone()),
        (403, json!(50001))
    );
    let bad = s.get(&format!("{log}?action_type=zero"), &ada.auth).await;
    assert_eq!(bad.status, 400);
}

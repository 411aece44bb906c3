//! Thread events over a real socket: to those who see the thread, members'
//! changes, archive and delete, list syncs, and threads in GUILD_CREATE.

use concord_testkit::gateway::GatewayClient;
use serde_json::json;

use crate::{GUILDS, World, until, until_message};

#[tokio::test]
async fn thread_events_reach_those_who_see_the_thread() {
    let w = World::new(&[]).await;
    let s = &w.s;
    let bob = s.register("bob").await;
    s.join(&w.owner, &w.general, &bob).await;
    let (mut ws, _) = w.connect(&bob.auth, GUILDS | 1 << 9).await;

    let reply = s
        .post(
            &format!("/channels/{}/threads", w.general),
            &w.owner.auth,
            json!({ "name": "public", "type": 11 }),
        )
        .await;
    let id = reply.body["id"].as_str().unwrap().to_owned();
    let created = ws.dispatch("THREAD_CREATE").await["d"].clone();
    assert_eq!(created["id"], id.as_str());
    assert_eq!(created["newly_created"], true);
    assert_eq!(created["guild_id"], w.guild.as_str());
    assert_eq!(created["parent_id"], w.general.as_str());
    assert_eq!(created["owner_id"], w.owner.id.as_str());
    assert_eq!(created["thread_metadata"]["archived"], false);
    let members = ws.dispatch("THREAD_MEMBERS_UPDATE").await["d"].clone();
    assert_eq!(members["added_members"][0]["user_id"], w.owner.id.as_str());
    assert_eq!(members["member_count"], 1);

    s.put(
        &format!("/channels/{id}/thread-members/@me"),
        &bob.auth,
        json!({}),
    )
    .await;
    let own = ws.dispatch("THREAD_MEMBER_UPDATE").await["d"].clone();
    assert_eq!(
        (own["id"].as_str(), own["user_id"].as_str()),
        (Some(id.as_str()), Some(bob.id.as_str()))
    );
    assert_eq!(own["guild_id"], w.guild.as_str());
    let members = ws.dispatch("THREAD_MEMBERS_UPDATE").await["d"].clone();
    assert_eq!(members["added_members"][0]["user_id"], bob.id.as_str());
    assert_eq!(
        members["added_members"][0]["member"]["user"]["id"],
        bob.id.as_str()
    );
    assert_eq!(members["member_count"], 2);

    s.say(&w.owner, &id, "in thread").await;
    let message = ws.dispatch("MESSAGE_CREATE").await["d"].clone();
    assert_eq!(message["channel_id"], id.as_str());
    assert_eq!(message["guild_id"], w.guild.as_str());

    // A private thread is news only to those added to it.
    let private = s
        .post(
            &format!("/channels/{}/threads", w.general),
            &w.owner.auth,
            json!({ "name": "private" }),
        )
        .await;
    let private = private.body["id"].as_str().unwrap().to_owned();
    s.say(&w.owner, &private, "secret words").await;
    w.say("after the private thread").await;
    let (seen, _) = until_message(&mut ws, "after the private thread").await;
    assert!(
        !seen
            .iter()
            .any(|t| t.starts_with("THREAD_") || t == "MESSAGE_CREATE"),
        "bob saw {seen:?}"
    );
    s.put(
        &format!("/channels/{private}/thread-members/{}", bob.id),
        &w.owner.auth,
        json!({}),
    )
    .await;
    let (_, shown) = until(&mut ws, "THREAD_CREATE").await;
    let shown = &shown["d"];
    assert_eq!(shown["id"], private.as_str());
    assert!(shown.get("newly_created").is_none(), "joined, not new");
    assert!(shown["member"]["join_timestamp"].is_string());
    assert_eq!(shown["member"]["id"], private.as_str());
    assert_eq!(shown["member"]["user_id"], bob.id.as_str());
    // And its messages reach bob from then on.
    s.say(&w.owner, &private, "now bob hears").await;
    let (_, heard) = until_message(&mut ws, "now bob hears").await;
    assert_eq!(heard["d"]["channel_id"], private.as_str());

    // Archiving, a list sync after an overwrite change, and deleting.
    s.patch(
        &format!("/channels/{private}"),
        &w.owner.auth,
        json!({ "archived": true }),
    )
    .await;
    let updated = ws.dispatch("THREAD_UPDATE").await["d"].clone();
    assert_eq!(updated["id"], private.as_str());
    assert_eq!(updated["thread_metadata"]["archived"], true);
    let hidden = s
        .post(
            &format!("/channels/{}/threads", w.general),
            &w.owner.auth,
            json!({ "name": "still private" }),
        )
        .await;
    assert_eq!(hidden.status, 201);
    s.put(
        &format!("/channels/{}/permissions/{}", w.general, bob.id),
        &w.owner.auth,
        json!({ "type": 1, "allow": "0", "deny": "0" }),
    )
    .await;
    let sync = ws.dispatch("THREAD_LIST_SYNC").await["d"].clone();
    assert_eq!(sync["guild_id"], w.guild.as_str());
    assert_eq!(sync["channel_ids"], json!([w.general]));
    let listed: Vec<&str> = sync["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [id.as_str()], "active public threads only");
    s.delete(&format!("/channels/{id}"), &w.owner.auth).await;
    let deleted = ws.dispatch("THREAD_DELETE").await["d"].clone();
    assert_eq!(
        deleted,
        json!({ "id": id, "guild_id": w.guild, "parent_id": w.general, "type": 11 })
    );
}

#[tokio::test]
async fn guild_create_lists_active_threads_with_the_users_membership() {
    let w = World::new(&[]).await;
    let s = &w.s;
    let root = w.say("start here").await;
    let thread = s
        .post(
            &format!("/channels/{}/messages/{root}/threads", w.general),
            &w.owner.auth,
            json!({ "name": "from a message" }),
        )
        .await;
    assert_eq!(thread.status, 201, "{:?}", thread.body);
    let archived = s
        .post(
            &format!("/channels/{}/threads", w.general),
            &w.owner.auth,
            json!({ "name": "done", "type": 11 }),
        )
        .await;
    let archived = archived.body["id"].as_str().unwrap().to_owned();
    s.patch(
        &format!("/channels/{archived}"),
        &w.owner.auth,
        json!({ "archived": true }),
    )
    .await;

    let mut ws = GatewayClient::connect(&s.ws_url(), "v=10&encoding=json").await;
    ws.receive().await;
    ws.identify(&w.owner.auth, GUILDS).await;
    let guild = ws.dispatch("GUILD_CREATE").await["d"].clone();
    let threads = guild["threads"].as_array().unwrap();
    assert_eq!(threads.len(), 1, "archived threads are not listed");
    assert_eq!(threads[0]["id"], root.as_str());
    assert!(threads[0]["member"]["join_timestamp"].is_string());
    // GUILD_CREATE is the one place a thread member goes without its ids.
    assert!(threads[0]["member"].get("id").is_none());
    assert!(threads[0]["member"].get("user_id").is_none());
    assert!(
        guild["channels"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["id"] != root.as_str()),
        "threads are not channels"
    );
}

#[tokio::test]
async fn a_new_role_syncs_the_threads_it_opens() {
    let w = World::new(&[]).await;
    let s = &w.s;
    let bob = s.register("bob").await;
    s.join(&w.owner, &w.general, &bob).await;
    let role = s
        .post(
            &format!("/guilds/{}/roles", w.guild),
            &w.owner.auth,
            json!({ "name": "insiders" }),
        )
        .await;
    let role = role.body["id"].as_str().unwrap().to_owned();
    let overwrites = json!([
        { "id": w.guild, "type": 0, "allow": "0", "deny": (1u64 << 10).to_string() },
        { "id": role, "type": 0, "allow": (1u64 << 10).to_string(), "deny": "0" },
    ]);
    let secret = s
        .post(
            &format!("/guilds/{}/channels", w.guild),
            &w.owner.auth,
            json!({ "name": "secret", "permission_overwrites": overwrites }),
        )
        .await;
    let secret = secret.body["id"].as_str().unwrap().to_owned();
    let thread = s
        .post(
            &format!("/channels/{secret}/threads"),
            &w.owner.auth,
            json!({ "name": "plans", "type": 11 }),
        )
        .await;
    let thread = thread.body["id"].as_str().unwrap().to_owned();
    // Neither of these opens to the role: a private thread bob is not in,
    // and a thread in a channel hidden from everyone.
    let private = s
        .post(
            &format!("/channels/{secret}/threads"),
            &w.owner.auth,
            json!({ "name": "owners only", "type": 12 }),
        )
        .await;
    assert_eq!(private.status, 201);
    let vault = s
        .post(
            &format!("/guilds/{}/channels", w.guild),
            &w.owner.auth,
            json!({ "name": "vault", "permission_overwrites": [
                { "id": w.guild, "type": 0, "allow": "0", "deny": (1u64 << 10).to_string() },
            ] }),
        )
        .await;
    let vault = vault.body["id"].as_str().unwrap().to_owned();
    let locked_away = s
        .post(
            &format!("/channels/{vault}/threads"),
            &w.owner.auth,
            json!({ "name": "locked away", "type": 11 }),
        )
        .await;
    assert_eq!(locked_away.status, 201);

    let (mut ws, _) = w.connect(&bob.auth, GUILDS).await;
    s.put(
        &format!("/guilds/{}/members/{}/roles/{role}", w.guild, bob.id),
        &w.owner.auth,
        json!({}),
    )
    .await;
    let (_, sync) = until(&mut ws, "THREAD_LIST_SYNC").await;
    let sync = &sync["d"];
    assert_eq!(sync["guild_id"], w.guild.as_str());
    assert!(sync.get("channel_ids").is_none(), "the whole guild");
    let ids: Vec<&str> = sync["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [thread.as_str()]);
    assert_eq!(sync["members"], json!([]), "bob follows none of them");
}

/// Threads made before a session connected are not in what the node read
/// of the guild at IDENTIFY: each is read when its first event comes, and
/// that event waits for it (with the guild's others), then goes to those
/// who see the thread.
#[tokio::test]
async fn threads_older_than_the_session_are_read_when_first_needed() {
    let w = World::new(&[]).await;
    let s = &w.s;
    let bob = s.register("bob").await;
    s.join(&w.owner, &w.general, &bob).await;
    let thread = |name: &'static str, kind: u8| {
        let (path, owner) = (format!("/channels/{}/threads", w.general), &w.owner);
        async move {
            let made = s
                .post(&path, &owner.auth, json!({ "name": name, "type": kind }))
                .await;
            assert_eq!(made.status, 201, "{:?}", made.body);
            made.body["id"].as_str().unwrap().to_owned()
        }
    };
    let public = thread("public", 11).await;
    let followed = thread("followed", 12).await;
    let unknown = thread("unknown", 12).await;
    let added = s
        .put(
            &format!("/channels/{followed}/thread-members/{}", bob.id),
            &w.owner.auth,
            json!({}),
        )
        .await;
    assert_eq!(added.status, 204);

    let (mut ws, _) = w.connect(&bob.auth, GUILDS | 1 << 9).await;
    s.say(&w.owner, &public, "in public").await;
    let (_, got) = until_message(&mut ws, "in public").await;
    assert_eq!(got["d"]["channel_id"], public.as_str());
    s.say(&w.owner, &unknown, "not for bob").await;
    s.say(&w.owner, &followed, "for bob").await;
    let (seen, got) = until_message(&mut ws, "for bob").await;
    assert_eq!(got["d"]["channel_id"], followed.as_str());
    assert!(!seen.iter().any(|t| t == "MESSAGE_CREATE"), "{seen:?}");
}

//! Threads and forum posts: starting them, following them, archiving,
//! listing, and who may do each.

use concord_testkit::{Account, Reply, TestServer};
use serde_json::{Value, json};

use crate::server;

const SEND_MESSAGES_IN_THREADS: u64 = 1 << 38;
const CREATE_PUBLIC_THREADS: u64 = 1 << 35;

fn code(reply: &Reply) -> (u16, Value) {
    (reply.status, reply.body["code"].clone())
}

/// Starts a thread in `channel`, expecting success.
async fn start(s: &TestServer, who: &Account, channel: &str, body: Value) -> Value {
    let reply = s
        .post(&format!("/channels/{channel}/threads"), &who.auth, body)
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    reply.body
}

/// Denies `bits` to @everyone in `channel`.
async fn deny_everyone(s: &TestServer, owner: &Account, guild: &str, channel: &str, bits: u64) {
    let reply = s
        .put(
            &format!("/channels/{channel}/permissions/{guild}"),
            &owner.auth,
            json!({ "type": 0, "allow": "0", "deny": bits.to_string() }),
        )
        .await;
    assert_eq!(reply.status, 204, "{:?}", reply.body);
}

#[tokio::test]
async fn a_thread_from_a_message_carries_its_id_and_counts_its_messages() {
    let s = server();
    let owner = s.register("owner").await;
    let bob = s.register("bob").await;
    let (_, general) = s.guild(&owner, "Home").await;
    s.join(&owner, &general, &bob).await;
    let root = s.say(&owner, &general, "shall we talk about it?").await;

    let path = format!("/channels/{general}/messages/{root}/threads");
    // discord.py sends rate_limit_per_user as an explicit null.
    let body =
        json!({ "name": "Side talk", "auto_archive_duration": 60, "rate_limit_per_user": null });
    let reply = s.post(&path, &owner.auth, body.clone()).await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    let thread = reply.body;
    assert_eq!(thread["id"], root.as_str(), "the message's id");
    assert_eq!(thread["type"], 11);
    assert_eq!(thread["parent_id"], general.as_str());
    assert_eq!(thread["owner_id"], owner.id.as_str());
    assert_eq!(thread["name"], "Side talk");
    assert_eq!(thread["member_count"], 1);
    assert_eq!(thread["message_count"], 0);
    assert_eq!(thread["thread_metadata"]["archived"], false);
    assert_eq!(thread["thread_metadata"]["auto_archive_duration"], 60);
    assert!(thread["thread_metadata"]["archive_timestamp"].is_string());
    assert!(thread["member"]["join_timestamp"].is_string());
    // Over HTTP a thread member names its thread and user (hikari needs both).
    assert_eq!(thread["member"]["id"], root.as_str());
    assert_eq!(thread["member"]["user_id"], owner.id.as_str());
    assert_eq!(
        code(&s.post(&path, &owner.auth, body).await),
        (400, json!(160004))
    );

    let starter = s
        .get(&format!("/channels/{general}/messages/{root}"), &bob.auth)
        .await;
    assert_eq!(starter.body["flags"], 32, "HAS_THREAD");
    assert_eq!(starter.body["thread"]["id"], root.as_str());

    // Bob's message counts and makes him a member.
    let id = &root;
    s.say(&bob, id, "in the thread").await;
    s.say(&owner, id, "indeed").await;
    let seen = s.get(&format!("/channels/{id}"), &bob.auth).await;
    assert_eq!(seen.body["message_count"], 2);
    assert_eq!(seen.body["total_message_sent"], 2);
    assert_eq!(seen.body["member_count"], 2);
    assert_eq!(
        seen.body["member"]["user_id"],
        bob.id.as_str(),
        "his membership"
    );
    assert_eq!(seen.body["member"]["id"], id.as_str());
    let page = s.get(&format!("/channels/{id}/messages"), &bob.auth).await;
    assert_eq!(page.body.as_array().unwrap().len(), 2);
    let last = page.body[0]["id"].as_str().unwrap().to_owned();
    s.delete(&format!("/channels/{id}/messages/{last}"), &owner.auth)
        .await;
    let seen = s.get(&format!("/channels/{id}"), &bob.auth).await;
    assert_eq!(seen.body["message_count"], 1);
    assert_eq!(
        seen.body["total_message_sent"], 2,
        "deletions do not lower it"
    );

    // Threads are not guild channels, but the active list has them.
    let guild = seen.body["guild_id"].as_str().unwrap();
    let channels = s.get(&format!("/guilds/{guild}/channels"), &bob.auth).await;
    assert!(
        channels
            .body
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["id"] != id.as_str())
    );
    let active = s
        .get(&format!("/guilds/{guild}/threads/active"), &bob.auth)
        .await;
    assert_eq!(active.body["threads"][0]["id"], id.as_str());
    assert_eq!(active.body["members"][0]["user_id"], bob.id.as_str());

    let unknown = s
        .post(
            &format!("/channels/{general}/messages/1/threads"),
            &owner.auth,
            json!({ "name": "x" }),
        )
        .await;
    assert_eq!(code(&unknown), (404, json!(10008)));
    let nameless = s
        .post(
            &format!("/channels/{general}/threads"),
            &owner.auth,
            json!({ "type": 11 }),
        )
        .await;
    assert_eq!(nameless.status, 400);
    assert!(nameless.body["errors"]["name"].is_object());
    let bad_duration = s
        .post(
            &format!("/channels/{general}/threads"),
            &owner.auth,
            json!({ "name": "x", "auto_archive_duration": 61 }),
        )
        .await;
    assert!(bad_duration.body["errors"]["auto_archive_duration"].is_object());
}

#[tokio::test]
async fn members_join_leave_and_are_listed() {
    let s = server();
    let owner = s.register("owner").await;
    let (bob, cat) = (s.register("bob").await, s.register("cat").await);
    let (_, general) = s.guild(&owner, "Home").await;
    s.join(&owner, &general, &bob).await;
    s.join(&owner, &general, &cat).await;
    let thread = start(&s, &owner, &general, json!({ "name": "open", "type": 11 })).await;
    let id = thread["id"].as_str().unwrap();
    // A thread of its own leaves a notice in the parent.
    let notice = s
        .get(&format!("/channels/{general}/messages?limit=1"), &bob.auth)
        .await;
    assert_eq!(notice.body[0]["type"], 18);
    assert_eq!(notice.body[0]["content"], "open");

    let me = format!("/channels/{id}/thread-members/@me");
    assert_eq!(s.put(&me, &bob.auth, json!({})).await.status, 204);
    assert_eq!(
        s.put(&me, &bob.auth, json!({})).await.status,
        204,
        "joining twice is fine"
    );
    let added = s
        .put(
            &format!("/channels/{id}/thread-members/{}", cat.id),
            &bob.auth,
            json!({}),
        )
        .await;
    assert_eq!(added.status, 204);
    let list = s
        .get(
            &format!("/channels/{id}/thread-members?with_member=true"),
            &bob.auth,
        )
        .await;
    let users: Vec<&str> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(users.len(), 3);
    assert!(users.contains(&cat.id.as_str()) && users.contains(&owner.id.as_str()));
    assert_eq!(list.body[0]["id"], id);
    assert!(list.body[0]["member"]["user"]["id"].is_string());
    let one = s
        .get(
            &format!("/channels/{id}/thread-members/{}", cat.id),
            &owner.auth,
        )
        .await;
    assert_eq!(one.body["user_id"], cat.id.as_str());
    assert!(one.body.get("member").is_none());

    // Removing others takes MANAGE_THREADS.
    let kick = format!("/channels/{id}/thread-members/{}", cat.id);
    assert_eq!(code(&s.delete(&kick, &bob.auth).await), (403, json!(50013)));
    assert_eq!(s.delete(&kick, &owner.auth).await.status, 204);
    assert_eq!(code(&s.get(&kick, &owner.auth).await), (404, json!(10007)));
    assert_eq!(s.delete(&me, &bob.auth).await.status, 204);
    assert_eq!(code(&s.delete(&me, &bob.auth).await), (404, json!(10007)));
    let seen = s.get(&format!("/channels/{id}"), &owner.auth).await;
    assert_eq!(seen.body["member_count"], 1);
    let stranger = s
        .put(
            &format!(
                "/channels/{id}/thread-members/{}",
                s.register("dan").await.id
            ),
            &owner.auth,
            json!({}),
        )
        .await;
    assert_eq!(code(&stranger), (404, json!(10007)), "not in the guild");
}

#[tokio::test]
async fn private_threads_are_seen_by_their_members_and_moderators_only() {
    let s = server();
    let owner = s.register("owner").await;
    let (bob, cat) = (s.register("bob").await, s.register("cat").await);
    let (guild, general) = s.guild(&owner, "Home").await;
    s.join(&owner, &general, &bob).await;
    s.join(&owner, &general, &cat).await;
    let thread = start(&s, &bob, &general, json!({ "name": "secret" })).await;
    assert_eq!(thread["type"], 12, "private unless asked otherwise");
    assert_eq!(thread["thread_metadata"]["invitable"], true);
    let id = thread["id"].as_str().unwrap();
    s.say(&bob, id, "just us").await;
    let notices = s
        .get(&format!("/channels/{general}/messages"), &cat.auth)
        .await;
    assert!(
        notices
            .body
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["type"] != 18),
        "no notice for a private thread"
    );

    for path in [
        format!("/channels/{id}"),
        format!("/channels/{id}/messages"),
        format!("/channels/{id}/thread-members"),
    ] {
        assert_eq!(
            code(&s.get(&path, &cat.auth).await),
            (403, json!(50001)),
            "{path}"
        );
    }
    assert_eq!(
        code(
            &s.put(
                &format!("/channels/{id}/thread-members/@me"),
                &cat.auth,
                json!({})
            )
            .await
        ),
        (403, json!(50001))
    );
    let active = s
        .get(&format!("/guilds/{guild}/threads/active"), &cat.auth)
        .await;
    assert_eq!(active.body["threads"], json!([]));
    // The owner manages threads (all permissions), so sees it.
    assert_eq!(
        s.get(&format!("/channels/{id}/messages"), &owner.auth)
            .await
            .status,
        200
    );

    // Added by a member, cat sees it; then only moderators add people.
    let add_cat = format!("/channels/{id}/thread-members/{}", cat.id);
    assert_eq!(s.put(&add_cat, &bob.auth, json!({})).await.status, 204);
    assert_eq!(
        s.get(&format!("/channels/{id}/messages"), &cat.auth)
            .await
            .status,
        200
    );
    let locked_in = s
        .patch(
            &format!("/channels/{id}"),
            &bob.auth,
            json!({ "invitable": false }),
        )
        .await;
    assert_eq!(
        code(&locked_in),
        (403, json!(50013)),
        "invitable is for moderators"
    );
    let shut = s
        .patch(
            &format!("/channels/{id}"),
            &owner.auth,
            json!({ "invitable": false }),
        )
        .await;
    assert_eq!(shut.body["thread_metadata"]["invitable"], false);
    let dan = s.register("dan").await;
    s.join(&owner, &general, &dan).await;
    let add_dan = format!("/channels/{id}/thread-members/{}", dan.id);
    assert_eq!(
        code(&s.put(&add_dan, &cat.auth, json!({})).await),
        (403, json!(50013))
    );
    // The private thread's owner removes members.
    assert_eq!(s.delete(&add_cat, &bob.auth).await.status, 204);
    assert_eq!(
        code(&s.get(&format!("/channels/{id}"), &cat.auth).await),
        (403, json!(50001))
    );
}

#[tokio::test]
async fn archiving_locking_and_the_archived_lists() {
    let s = server();
    let owner = s.register("owner").await;
    let bob = s.register("bob").await;
    let (_, general) = s.guild(&owner, "Home").await;
    s.join(&owner, &general, &bob).await;
    let thread = start(
        &s,
        &bob,
        &general,
        json!({ "name": "old news", "type": 11 }),
    )
    .await;
    let id = thread["id"].as_str().unwrap();
    let path = format!("/channels/{id}");
    let first = s.say(&bob, id, "before archiving").await;

    let archived = s.patch(&path, &bob.auth, json!({ "archived": true })).await;
    assert_eq!(archived.status, 200, "{:?}", archived.body);
    assert_eq!(archived.body["thread_metadata"]["archived"], true);
    let join = s
        .put(
            &format!("{path}/thread-members/@me"),
            &owner.auth,
            json!({}),
        )
        .await;
    assert_eq!(code(&join), (400, json!(50083)));
    let react = s
        .put(
            &format!("{path}/messages/{first}/reactions/%F0%9F%91%8D/@me"),
            &bob.auth,
            json!({}),
        )
        .await;
    assert_eq!(
        code(&react),
        (400, json!(50083)),
        "no reactions in an archived thread"
    );
    let edit = s
        .patch(
            &format!("{path}/messages/{first}"),
            &bob.auth,
            json!({ "content": "changed" }),
        )
        .await;
    assert_eq!(code(&edit), (400, json!(50083)), "no edits either");
    let list = s
        .get(
            &format!("/channels/{general}/threads/archived/public"),
            &bob.auth,
        )
        .await;
    assert_eq!(list.body["threads"][0]["id"], id);
    assert_eq!(list.body["has_more"], false);
    assert_eq!(list.body["members"][0]["user_id"], bob.id.as_str());
    let stamp = list.body["threads"][0]["thread_metadata"]["archive_timestamp"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = s
        .get(
            &format!(
                "/channels/{general}/threads/archived/public?before={}",
                stamp.replace('+', "%2B")
            ),
            &bob.auth,
        )
        .await;
    assert_eq!(before.body["threads"], json!([]), "strictly before");
    let private = s
        .get(
            &format!("/channels/{general}/threads/archived/private"),
            &bob.auth,
        )
        .await;
    assert_eq!(
        code(&private),
        (403, json!(50013)),
        "private list needs MANAGE_THREADS"
    );
    let guild = thread["guild_id"].as_str().unwrap();
    let active = s
        .get(&format!("/guilds/{guild}/threads/active"), &bob.auth)
        .await;
    assert_eq!(active.body["threads"], json!([]));

    // A message wakes an archived thread.
    s.say(&owner, id, "still here").await;
    let seen = s.get(&path, &bob.auth).await;
    assert_eq!(seen.body["thread_metadata"]["archived"], false);

    // Locked and archived: only moderators reopen or write.
    let lock = s.patch(&path, &bob.auth, json!({ "locked": true })).await;
    assert_eq!(
        code(&lock),
        (403, json!(50013)),
        "locking is for moderators"
    );
    let locked = s
        .patch(
            &path,
            &owner.auth,
            json!({ "locked": true, "archived": true }),
        )
        .await;
    assert_eq!(locked.body["thread_metadata"]["locked"], true);
    let reopen = s
        .patch(&path, &bob.auth, json!({ "archived": false }))
        .await;
    assert_eq!(code(&reopen), (403, json!(160005)));
    let write = s
        .post(
            &format!("{path}/messages"),
            &bob.auth,
            json!({ "content": "let me in" }),
        )
        .await;
    assert_eq!(code(&write), (400, json!(50083)));
    let rename = s
        .patch(
            &path,
            &s.register("eve").await.auth,
            json!({ "name": "mine" }),
        )
        .await;
    assert_eq!(code(&rename), (403, json!(50001)), "not even in the guild");
    assert_eq!(
        s.patch(&path, &owner.auth, json!({ "archived": false }))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn thread_permissions_come_from_the_parent() {
    let s = server();
    let owner = s.register("owner").await;
    let bob = s.register("bob").await;
    let (guild, general) = s.guild(&owner, "Home").await;
    s.join(&owner, &general, &bob).await;
    let thread = start(&s, &owner, &general, json!({ "name": "rules", "type": 11 })).await;
    let id = thread["id"].as_str().unwrap();

    deny_everyone(
        &s,
        &owner,
        &guild,
        &general,
        SEND_MESSAGES_IN_THREADS | CREATE_PUBLIC_THREADS,
    )
    .await;
    let write = s
        .post(
            &format!("/channels/{id}/messages"),
            &bob.auth,
            json!({ "content": "hi" }),
        )
        .await;
    assert_eq!(
        code(&write),
        (403, json!(50013)),
        "sending in threads is its own permission"
    );
    s.say(&bob, &general, "the parent is fine").await;
    let create = s
        .post(
            &format!("/channels/{general}/threads"),
            &bob.auth,
            json!({ "name": "mine", "type": 11 }),
        )
        .await;
    assert_eq!(code(&create), (403, json!(50013)));
    let rename = s
        .patch(
            &format!("/channels/{id}"),
            &bob.auth,
            json!({ "name": "x" }),
        )
        .await;
    assert_eq!(code(&rename), (403, json!(50013)), "not the owner");
    let delete = s.delete(&format!("/channels/{id}"), &bob.auth).await;
    assert_eq!(code(&delete), (403, json!(50013)));

    // Hiding the parent hides the thread.
    deny_everyone(&s, &owner, &guild, &general, 1 << 10).await;
    assert_eq!(
        code(&s.get(&format!("/channels/{id}"), &bob.auth).await),
        (403, json!(50001))
    );

    // Deleting a thread takes MANAGE_THREADS; deleting the parent takes its threads.
    let second = start(
        &s,
        &owner,
        &general,
        json!({ "name": "second", "type": 11 }),
    )
    .await;
    let second = second["id"].as_str().unwrap();
    assert_eq!(
        s.delete(&format!("/channels/{id}"), &owner.auth)
            .await
            .status,
        200
    );
    assert_eq!(
        code(&s.get(&format!("/channels/{id}"), &owner.auth).await),
        (404, json!(10003))
    );
    assert_eq!(
        s.delete(&format!("/channels/{general}"), &owner.auth)
            .await
            .status,
        200
    );
    assert_eq!(
        code(&s.get(&format!("/channels/{second}"), &owner.auth).await),
        (404, json!(10003))
    );
}

#[tokio::test]
async fn forum_posts_are_threads_with_a_first_message() {
    let s = server();
    let owner = s.register("owner").await;
    let bob = s.register("bob").await;
    let (guild, general) = s.guild(&owner, "Home").await;
    s.join(&owner, &general, &bob).await;
    let forum = s
        .post(
            &format!("/guilds/{guild}/channels"),
            &owner.auth,
            json!({ "name": "ideas", "type": 15, "topic": "pitch it" }),
        )
        .await;
    assert_eq!(forum.status, 201, "{:?}", forum.body);
    assert_eq!(forum.body["available_tags"], json!([]));
    assert_eq!(forum.body["default_forum_layout"], 0);
    let forum = forum.body["id"].as_str().unwrap().to_owned();

    let direct = s
        .post(
            &format!("/channels/{forum}/messages"),
            &bob.auth,
            json!({ "content": "hi" }),
        )
        .await;
    assert_eq!(
        code(&direct),
        (400, json!(50008)),
        "a forum holds posts, not messages"
    );
    let bare = s
        .post(
            &format!("/channels/{forum}/threads"),
            &bob.auth,
            json!({ "name": "no body" }),
        )
        .await;
    assert!(
        bare.body["errors"]["message"].is_object(),
        "{:?}",
        bare.body
    );
    let empty = s
        .post(
            &format!("/channels/{forum}/threads"),
            &bob.auth,
            json!({ "name": "empty", "message": {} }),
        )
        .await;
    assert_eq!(code(&empty), (400, json!(50006)));
    let active = s
        .get(&format!("/guilds/{guild}/threads/active"), &bob.auth)
        .await;
    assert_eq!(
        active.body["threads"],
        json!([]),
        "a refused post leaves nothing behind"
    );

    let post = start(
        &s,
        &bob,
        &forum,
        json!({ "name": "Dark mode", "message": { "content": "please" } }),
    )
    .await;
    let id = post["id"].as_str().unwrap();
    assert_eq!(post["type"], 11);
    assert_eq!(post["parent_id"], forum.as_str());
    assert_eq!(
        post["message"]["id"], id,
        "the first message has the thread's id"
    );
    assert_eq!(post["message"]["channel_id"], id);
    assert_eq!(post["message"]["content"], "please");
    assert_eq!(post["message_count"], 0, "the first message is not counted");
    s.say(&owner, id, "+1").await;
    let page = s.get(&format!("/channels/{id}/messages"), &bob.auth).await;
    assert_eq!(page.body.as_array().unwrap().len(), 2);
    let listed = s
        .get(&format!("/guilds/{guild}/threads/active"), &owner.auth)
        .await;
    assert_eq!(listed.body["threads"][0]["id"], id);
}

#[tokio::test]
async fn threads_keep_to_their_own_rules() {
    let s = server();
    let owner = s.register("owner").await;
    let bob = s.register("bob").await;
    let (guild, general) = s.guild(&owner, "Home").await;
    s.join(&owner, &general, &bob).await;
    let thread = start(&s, &bob, &general, json!({ "name": "mine" })).await;
    let id = thread["id"].as_str().unwrap();
    s.say(&bob, id, "private words").await;

    // A thread has no overwrites or invites of its own.
    let overwrite = s
        .put(
            &format!("/channels/{id}/permissions/{guild}"),
            &owner.auth,
            json!({ "type": 0, "allow": "1024", "deny": "0" }),
        )
        .await;
    assert_eq!(code(&overwrite), (400, json!(50024)));
    let invite = s
        .post(&format!("/channels/{id}/invites"), &owner.auth, json!({}))
        .await;
    assert_eq!(invite.status, 400);

    // Leaving the guild leaves its threads: rejoining does not reopen them.
    assert_eq!(
        s.delete(&format!("/users/@me/guilds/{guild}"), &bob.auth)
            .await
            .status,
        204
    );
    let members = s
        .get(&format!("/channels/{id}/thread-members"), &owner.auth)
        .await;
    assert_eq!(members.body, json!([]));
    assert_eq!(
        s.get(&format!("/channels/{id}"), &owner.auth).await.body["member_count"],
        0
    );
    s.join(&owner, &general, &bob).await;
    assert_eq!(
        code(&s.get(&format!("/channels/{id}"), &bob.auth).await),
        (403, json!(50001))
    );

    // A locked thread takes messages from moderators only.
    let open = start(
        &s,
        &owner,
        &general,
        json!({ "name": "announcements", "type": 11 }),
    )
    .await;
    let open = open["id"].as_str().unwrap();
    s.patch(
        &format!("/channels/{open}"),
        &owner.auth,
        json!({ "locked": true }),
    )
    .await;
    let refused = s
        .post(
            &format!("/channels/{open}/messages"),
            &bob.auth,
            json!({ "content": "hi" }),
        )
        .await;
    assert_eq!(code(&refused), (403, json!(160005)));
    s.say(&owner, open, "moderators may").await;
}

#[tokio::test]
async fn thread_moderation_is_in_the_audit_log() {
    let s = server();
    let owner = s.register("owner").await;
    let (guild, general) = s.guild(&owner, "Home").await;
    let thread = start(&s, &owner, &general, json!({ "name": "first", "type": 11 })).await;
    let id = thread["id"].as_str().unwrap();
    s.patch(
        &format!("/channels/{id}"),
        &owner.auth,
        json!({ "name": "second" }),
    )
    .await;
    s.delete(&format!("/channels/{id}"), &owner.auth).await;
    let log = s
        .get(&format!("/guilds/{guild}/audit-logs"), &owner.auth)
        .await;
    let entries: Vec<(u64, &str)> = log.body["audit_log_entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target_id"] == id)
        .map(|e| {
            (
                e["action_type"].as_u64().unwrap(),
                e["user_id"].as_str().unwrap(),
            )
        })
        .collect();
    let me = owner.id.as_str();
    assert_eq!(entries, [(112, me), (111, me), (110, me)], "newest first");
}

/// A forum offers tags; its posts carry some of them, as Discord's rules
/// say: unique names, known tags alone, moderated ones set by moderators,
/// and none missing where the forum requires one.
#[tokio::test]
async fn forum_tags_are_offered_by_the_forum_and_carried_by_its_posts() {
    let s = server();
    let owner = s.register("owner").await;
    let bob = s.register("bob").await;
    let (guild, general) = s.guild(&owner, "Home").await;
    s.join(&owner, &general, &bob).await;
    let tags = json!([
        { "name": "bug" },
        { "name": "idea", "emoji_name": "💡" },
        { "name": "staff pick", "moderated": true },
    ]);
    let forum = s
        .post(
            &format!("/guilds/{guild}/channels"),
            &owner.auth,
            json!({ "name": "ideas", "type": 15, "available_tags": tags }),
        )
        .await;
    assert_eq!(forum.status, 201, "{:?}", forum.body);
    let offered = forum.body["available_tags"].as_array().unwrap().clone();
    let names: Vec<_> = offered.iter().map(|t| t["name"].clone()).collect();
    assert_eq!(names, [json!("bug"), json!("idea"), json!("staff pick")]);
    assert_eq!(offered[1]["emoji_name"], "💡");
    assert_eq!(offered[2]["moderated"], true);
    let forum = forum.body["id"].as_str().unwrap().to_owned();
    let tag = |i: usize| offered[i]["id"].as_str().unwrap().to_owned();
    let (bug, idea, pick) = (tag(0), tag(1), tag(2));

    // Edits keep the ids of the tags they name; duplicates are refused.
    let same = s
        .patch(
            &format!("/channels/{forum}"),
            &owner.auth,
            json!({ "available_tags": [{ "name": "dup" }, { "name": "dup" }] }),
        )
        .await;
    assert_eq!(code(&same), (400, json!(40061)));
    let many: Vec<_> = (0..21)
        .map(|i| json!({ "name": format!("t{i}") }))
        .collect();
    let many = s
        .patch(
            &format!("/channels/{forum}"),
            &owner.auth,
            json!({ "available_tags": many }),
        )
        .await;
    assert!(
        many.body["errors"]["available_tags"].is_object(),
        "{:?}",
        many.body
    );
    let renamed = s
        .patch(
            &format!("/channels/{forum}"),
            &owner.auth,
            json!({
                "flags": 16,
                "available_tags": [
                    { "id": bug, "name": "bugs" },
                    { "id": idea, "name": "idea" },
                    { "id": pick, "name": "staff pick", "moderated": true },
                ],
            }),
        )
        .await;
    assert_eq!(renamed.status, 200, "{:?}", renamed.body);
    assert_eq!(renamed.body["available_tags"][0]["id"], bug.as_str());
    assert_eq!(renamed.body["available_tags"][0]["name"], "bugs");
    assert_eq!(renamed.body["flags"], 16, "REQUIRE_TAG");

    let post = |body: Value| {
        let (s, auth, forum) = (&s, bob.auth.clone(), forum.clone());
        async move {
            s.post(&format!("/channels/{forum}/threads"), &auth, body)
                .await
        }
    };
    let untagged = post(json!({ "name": "p", "message": { "content": "x" } })).await;
    assert_eq!(code(&untagged), (400, json!(40067)));
    let unknown = post(json!({
        "name": "p", "message": { "content": "x" }, "applied_tags": [general],
    }))
    .await;
    assert!(
        unknown.body["errors"]["applied_tags"].is_object(),
        "{:?}",
        unknown.body
    );
    let moderated = post(json!({
        "name": "p", "message": { "content": "x" }, "applied_tags": [pick],
    }))
    .await;
    assert_eq!(
        code(&moderated),
        (403, json!(50013)),
        "a moderated tag is the moderators'"
    );
    let tagged = post(json!({
        "name": "Dark mode", "message": { "content": "please" }, "applied_tags": [idea, bug, idea],
    }))
    .await;
    assert_eq!(tagged.status, 201, "{:?}", tagged.body);
    assert_eq!(
        tagged.body["applied_tags"],
        json!([idea, bug]),
        "once each, in order"
    );
    let id = tagged.body["id"].as_str().unwrap().to_owned();

    // The post's author retags it; the moderated tag is the owner's to add.
    let retag = |who: &Account, tags: Value| {
        let (s, auth, id) = (&s, who.auth.clone(), id.clone());
        async move {
            s.patch(
                &format!("/channels/{id}"),
                &auth,
                json!({ "applied_tags": tags }),
            )
            .await
        }
    };
    let by_bob = retag(&bob, json!([bug])).await;
    assert_eq!(by_bob.status, 200, "{:?}", by_bob.body);
    assert_eq!(by_bob.body["applied_tags"], json!([bug]));
    assert_eq!(
        code(&retag(&bob, json!([bug, pick])).await),
        (403, json!(50013))
    );
    let by_owner = retag(&owner, json!([bug, pick])).await;
    assert_eq!(by_owner.body["applied_tags"], json!([bug, pick]));
    assert_eq!(
        code(&retag(&bob, json!([bug])).await),
        (403, json!(50013)),
        "nor to take off"
    );
    let read = s.get(&format!("/channels/{id}"), &bob.auth).await;
    assert_eq!(read.body["applied_tags"], json!([bug, pick]));

    // Every tag moderated, a required tag is one bob cannot set.
    let only_staff = s
        .patch(
            &format!("/channels/{forum}"),
            &owner.auth,
            json!({ "available_tags": [{ "id": pick, "name": "staff pick", "moderated": true }] }),
        )
        .await;
    assert_eq!(only_staff.status, 200, "{:?}", only_staff.body);
    let untagged = post(json!({ "name": "p", "message": { "content": "x" } })).await;
    assert_eq!(code(&untagged), (400, json!(40066)));
}

//! The mentions inbox (`GET /users/@me/mentions`): mentions of the reader,
//! of their roles and @everyone, newest first, filtered and paged as
//! Discord's client asks, only from channels they can still read, without
//! deleted or dismissed messages.

use concord_testkit::{Account, TestServer};
use serde_json::{Value, json};

use crate::server;

const VIEW_CHANNEL: u64 = 1 << 10;
const READ_MESSAGE_HISTORY: u64 = 1 << 16;

/// The ids of the reader's inbox for `query`, in the order given.
async fn inbox(s: &TestServer, reader: &Account, query: &str) -> Vec<String> {
    let reply = s
        .get(&format!("/users/@me/mentions{query}"), &reader.auth)
        .await;
    assert_eq!(reply.status, 200, "{query}: {:?}", reply.body);
    let ids = reply.body.as_array().unwrap().iter();
    ids.map(|m| m["id"].as_str().unwrap().to_owned()).collect()
}

async fn role(s: &TestServer, owner: &Account, guild: &str, name: &str) -> String {
    let path = format!("/guilds/{guild}/roles");
    let reply = s.post(&path, &owner.auth, json!({ "name": name })).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body["id"].as_str().unwrap().to_owned()
}

async fn give_role(s: &TestServer, owner: &Account, guild: &str, who: &Account, role: &str) {
    let path = format!("/guilds/{guild}/members/{}/roles/{role}", who.id);
    assert_eq!(s.put(&path, &owner.auth, json!({})).await.status, 204);
}

async fn deny(s: &TestServer, owner: &Account, channel: &str, who: &Account, bits: u64) {
    let path = format!("/channels/{channel}/permissions/{}", who.id);
    let body = json!({ "type": 1, "allow": "0", "deny": bits.to_string() });
    assert_eq!(s.put(&path, &owner.auth, body).await.status, 204);
}

#[tokio::test]
async fn user_role_and_everyone_mentions_newest_first_with_filters_and_paging() {
    let s = server();
    let ada = s.register("ada").await;
    let bob = s.register("bob").await;
    let (guild, general) = s.guild(&ada, "home").await;
    s.join(&ada, &general, &bob).await;
    let team = role(&s, &ada, &guild, "team").await;
    let other = role(&s, &ada, &guild, "other").await;
    give_role(&s, &ada, &guild, &bob, &team).await;

    let by_name = s.say(&ada, &general, &format!("hi <@{}>", bob.id)).await;
    let by_role = s.say(&ada, &general, &format!("<@&{team}> meeting")).await;
    let by_everyone = s.say(&ada, &general, "@everyone lunch").await;
    s.say(&ada, &general, "nobody is mentioned").await;
    s.say(&ada, &general, &format!("<@&{other}> not bob's role"))
        .await;
    // A nickname mention, in a second guild.
    let (elsewhere, lobby) = s.guild(&ada, "elsewhere").await;
    s.join(&ada, &lobby, &bob).await;
    let there = s
        .say(&ada, &lobby, &format!("<@!{}> over here", bob.id))
        .await;

    let all = [&there, &by_everyone, &by_role, &by_name].map(String::clone);
    assert_eq!(inbox(&s, &bob, "").await, all);
    assert_eq!(
        inbox(&s, &bob, "?roles=true&everyone=true&limit=25").await,
        all,
        "what Discord's client asks"
    );
    assert_eq!(
        inbox(&s, &bob, "?roles=false").await,
        [&there, &by_everyone, &by_name].map(String::clone)
    );
    assert_eq!(
        inbox(&s, &bob, "?everyone=false").await,
        [&there, &by_role, &by_name].map(String::clone)
    );
    assert_eq!(
        inbox(&s, &bob, "?roles=false&everyone=false").await,
        [&there, &by_name].map(String::clone)
    );
    assert_eq!(
        inbox(&s, &bob, &format!("?guild_id={guild}")).await,
        [&by_everyone, &by_role, &by_name].map(String::clone)
    );
    assert_eq!(
        inbox(&s, &bob, &format!("?guild_id={elsewhere}")).await,
        [there.as_str()]
    );

    // Paging: `limit`, then `before` the last one seen.
    let first = inbox(&s, &bob, "?limit=2").await;
    assert_eq!(first, all[..2]);
    let next = inbox(&s, &bob, &format!("?limit=2&before={}", first[1])).await;
    assert_eq!(next, all[2..]);
    assert!(
        inbox(&s, &bob, &format!("?before={by_name}"))
            .await
            .is_empty()
    );

    // Bad parameters are Discord's 50035, not a 500.
    for query in ["?limit=0", "?limit=101", "?roles=maybe", "?before=x"] {
        let reply = s
            .get(&format!("/users/@me/mentions{query}"), &bob.auth)
            .await;
        assert_eq!(
            (reply.status, reply.body["code"].clone()),
            (400, json!(50035)),
            "{query}"
        );
    }
}

#[tokio::test]
async fn inbox_shows_only_what_the_reader_can_still_read() {
    let s = server();
    let ada = s.register("ada").await;
    let bob = s.register("bob").await;
    let (guild, general) = s.guild(&ada, "home").await;
    s.join(&ada, &general, &bob).await;
    let mut channels = Vec::new();
    for name in ["hidden", "no-history", "edited", "deleted", "kept"] {
        let body = json!({ "name": name, "type": 0 });
        let made = s
            .post(&format!("/guilds/{guild}/channels"), &ada.auth, body)
            .await;
        assert_eq!(made.status, 201, "{:?}", made.body);
        let id = made.body["id"].as_str().unwrap().to_owned();
        let message = s.say(&ada, &id, &format!("<@{}> look", bob.id)).await;
        channels.push((id, message));
    }
    let [hidden, no_history, edited, deleted, kept] = channels.try_into().unwrap();
    assert_eq!(inbox(&s, &bob, "").await.len(), 5);

    deny(&s, &ada, &hidden.0, &bob, VIEW_CHANNEL).await;
    deny(&s, &ada, &no_history.0, &bob, READ_MESSAGE_HISTORY).await;
    let edit = s
        .patch(
            &format!("/channels/{}/messages/{}", edited.0, edited.1),
            &ada.auth,
            json!({ "content": "never mind" }),
        )
        .await;
    assert_eq!(edit.status, 200, "{:?}", edit.body);
    let path = format!("/channels/{}/messages/{}", deleted.0, deleted.1);
    assert_eq!(s.delete(&path, &ada.auth).await.status, 204);
    assert_eq!(inbox(&s, &bob, "").await, [kept.1.as_str()]);

    // Access given back brings the mention back.
    let path = format!("/channels/{}/permissions/{}", hidden.0, bob.id);
    assert_eq!(s.delete(&path, &ada.auth).await.status, 204);
    assert_eq!(
        inbox(&s, &bob, "").await,
        [kept.1.clone(), hidden.1.clone()]
    );

    // Leaving the guild empties the inbox of it.
    let left = s
        .delete(&format!("/users/@me/guilds/{guild}"), &bob.auth)
        .await;
    assert_eq!(left.status, 204, "{:?}", left.body);
    assert!(inbox(&s, &bob, "").await.is_empty());
}

#[tokio::test]
async fn an_edit_that_adds_a_mention_lists_it() {
    let s = server();
    let ada = s.register("ada").await;
    let bob = s.register("bob").await;
    let (_, general) = s.guild(&ada, "home").await;
    s.join(&ada, &general, &bob).await;
    let id = s.say(&ada, &general, "hello").await;
    assert!(inbox(&s, &bob, "").await.is_empty());
    let edit = s
        .patch(
            &format!("/channels/{general}/messages/{id}"),
            &ada.auth,
            json!({ "content": format!("hello <@{}>", bob.id) }),
        )
        .await;
    assert_eq!(edit.status, 200, "{:?}", edit.body);
    assert_eq!(inbox(&s, &bob, "").await, [id]);
}

#[tokio::test]
async fn a_dismissed_mention_leaves_only_that_readers_inbox() {
    let s = server();
    let ada = s.register("ada").await;
    let bob = s.register("bob").await;
    let cat = s.register("cat").await;
    let (_, general) = s.guild(&ada, "home").await;
    s.join(&ada, &general, &bob).await;
    s.join(&ada, &general, &cat).await;
    let older = s.say(&ada, &general, "@here first").await;
    let newer = s.say(&ada, &general, "@everyone second").await;
    let dismiss = s
        .delete(&format!("/users/@me/mentions/{newer}"), &bob.auth)
        .await;
    assert_eq!(dismiss.status, 204, "{:?}", dismiss.body);
    assert_eq!(inbox(&s, &bob, "?limit=1").await, [older.as_str()]);
    assert_eq!(inbox(&s, &cat, "").await, [newer, older]);
    let bad = s.delete("/users/@me/mentions/nope", &bob.auth).await;
    assert_eq!(bad.status, 400, "{:?}", bad.body);
}

#[tokio::test]
async fn bots_have_no_inbox() {
    let s = server();
    let ada = s.register("ada").await;
    let (guild, _) = s.guild(&ada, "home").await;
    let bot = s.bot(&ada, "helper", &guild, "0").await;
    let reply = s.get("/users/@me/mentions", &bot.auth).await;
    assert_eq!(
        (reply.status, reply.body["code"].clone()),
        (403, Value::from(20001))
    );
}

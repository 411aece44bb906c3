use concord_testkit::{TestServer, ids};
use serde_json::{Value, json};

use crate::{server, server_with};

#[tokio::test]
async fn send_read_edit_delete() {
    let s = server();
    let ada = s.register("ada").await;
    let bob = s.register("bob").await;
    let (_, general) = s.guild(&ada, "Home").await;
    s.join(&ada, &general, &bob).await;
    let path = format!("/channels/{general}/messages");
    let sent = s
        .post(
            &path,
            &ada.auth,
            json!({ "content": format!("hi <@{}>", bob.id), "nonce": "n-1", "tts": false }),
        )
        .await;
    assert_eq!(sent.status, 200);
    let m = &sent.body;
    assert_eq!(m["nonce"], "n-1");
    assert_eq!(m["author"]["id"], ada.id.as_str());
    assert_eq!(m["mentions"][0]["id"], bob.id.as_str());
    assert!(m["timestamp"].as_str().unwrap().ends_with("+00:00"));
    for list in ["attachments", "embeds", "components", "mention_roles"] {
        assert!(m[list].is_array(), "{list}");
    }
    let id = m["id"].as_str().unwrap().to_owned();
    let fetched = s.get(&format!("{path}/{id}"), &bob.auth).await;
    assert_eq!(fetched.body["content"], m["content"]);

    let reply = s
        .post(
            &path,
            &bob.auth,
            json!({ "content": "yes?", "message_reference": { "message_id": id } }),
        )
        .await;
    assert_eq!(reply.body["type"], 19);
    assert_eq!(reply.body["referenced_message"]["id"], id.as_str());
    assert_eq!(
        reply.body["message_reference"]["channel_id"],
        general.as_str()
    );

    let not_author = s
        .patch(
            &format!("{path}/{id}"),
            &bob.auth,
            json!({ "content": "mine now" }),
        )
        .await;
    assert_eq!(
        (not_author.status, not_author.body["code"].clone()),
        (403, json!(50005))
    );
    let edited = s
        .patch(
            &format!("{path}/{id}"),
            &ada.auth,
            json!({ "content": "edited" }),
        )
        .await;
    assert_eq!(edited.body["content"], "edited");
    assert!(edited.body["edited_timestamp"].is_string());
    assert_eq!(
        edited.body["mentions"],
        json!([]),
        "mentions follow the new content"
    );
    assert_eq!(edited.body["nonce"], "n-1", "untouched columns stay");

    let not_allowed = s.delete(&format!("{path}/{id}"), &bob.auth).await;
    assert_eq!(
        (not_allowed.status, not_allowed.body["code"].clone()),
        (403, json!(50013))
    );
    assert_eq!(
        s.delete(&format!("{path}/{id}"), &ada.auth).await.status,
        204
    );
    let gone = s.get(&format!("{path}/{id}"), &ada.auth).await;
    assert_eq!(
        (gone.status, gone.body["code"].clone()),
        (404, json!(10008))
    );
    let reply_now = s
        .get(
            &format!("{path}/{}", reply.body["id"].as_str().unwrap()),
            &ada.auth,
        )
        .await;
    assert_eq!(
        reply_now.body["referenced_message"],
        Value::Null,
        "a deleted reply target reads as null"
    );
    assert_eq!(
        s.delete(&format!("{path}/{id}"), &ada.auth).await.body["code"],
        10008
    );
}

#[tokio::test]
async fn message_validation() {
    let s = server();
    let ada = s.register("ada").await;
    let (_, general) = s.guild(&ada, "Home").await;
    let path = format!("/channels/{general}/messages");
    let long = s
        .post(&path, &ada.auth, json!({ "content": "x".repeat(2001) }))
        .await;
    assert_eq!(long.status, 400);
    assert_eq!(
        long.body["errors"]["content"]["_errors"][0]["code"],
        "BASE_TYPE_MAX_LENGTH"
    );
    assert_eq!(
        s.post(&path, &ada.auth, json!({ "content": "é".repeat(2000) }))
            .await
            .status,
        200,
        "characters, not bytes"
    );
    let empty = s.post(&path, &ada.auth, json!({ "content": "" })).await;
    assert_eq!(
        (empty.status, empty.body["code"].clone()),
        (400, json!(50006))
    );
    assert_eq!(
        s.post(&path, &ada.auth, json!({})).await.body["code"],
        50006
    );
    let nonce = s
        .post(
            &path,
            &ada.auth,
            json!({ "content": "x", "nonce": "n".repeat(26) }),
        )
        .await;
    assert!(nonce.body["errors"]["nonce"].is_object());
    let reply_to_nothing = s
        .post(
            &path,
            &ada.auth,
            json!({ "content": "x", "message_reference": { "message_id": "1" } }),
        )
        .await;
    assert!(reply_to_nothing.body["errors"]["message_reference"].is_object());
    let category = s.get(&format!("/channels/{general}"), &ada.auth).await.body["parent_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let not_text = s
        .post(
            &format!("/channels/{category}/messages"),
            &ada.auth,
            json!({ "content": "x" }),
        )
        .await;
    assert_eq!(
        (not_text.status, not_text.body["code"].clone()),
        (400, json!(50008))
    );
    let embeds = s
        .post(&path, &ada.auth, json!({ "embeds": [{ "title": "t" }] }))
        .await;
    assert_eq!(embeds.status, 200, "an embed alone is a message");
    assert_eq!(embeds.body["embeds"][0]["title"], "t");
}

#[tokio::test]
async fn bulk_delete_rules() {
    let s = server();
    let ada = s.register("ada").await;
    let (_, general) = s.guild(&ada, "Home").await;
    let mut sent = Vec::new();
    for i in 0..5 {
        sent.push(s.say(&ada, &general, &format!("m{i}")).await);
    }
    let path = format!("/channels/{general}/messages/bulk-delete");
    let one = s
        .post(&path, &ada.auth, json!({ "messages": [sent[0]] }))
        .await;
    assert_eq!((one.status, one.body["code"].clone()), (400, json!(50016)));
    let too_many: Vec<String> = (0..101)
        .map(|i| (u64::from(i as u32) + (sent[0].parse::<u64>().unwrap())).to_string())
        .collect();
    assert_eq!(
        s.post(&path, &ada.auth, json!({ "messages": too_many }))
            .await
            .body["code"],
        50016
    );
    let dupes = s
        .post(&path, &ada.auth, json!({ "messages": [sent[0], sent[0]] }))
        .await;
    assert_eq!(dupes.body["code"], 50035);
    // An id made 15 days ago.
    let old_ms = concord_model::snowflake::now_ms() - 15 * 24 * 3600 * 1000;
    let old = concord_model::Snowflake::from_timestamp_ms(old_ms).to_string();
    assert_eq!(
        s.post(&path, &ada.auth, json!({ "messages": [sent[0], old] }))
            .await
            .body["code"],
        50034
    );
    let unknown = (sent[4].parse::<u64>().unwrap() + 1).to_string();
    let ok = s
        .post(
            &path,
            &ada.auth,
            json!({ "messages": [sent[0], sent[1], unknown] }),
        )
        .await;
    assert_eq!(ok.status, 204);
    let left = s
        .get(&format!("/channels/{general}/messages"), &ada.auth)
        .await;
    assert_eq!(
        ids(&left.body),
        [sent[4].clone(), sent[3].clone(), sent[2].clone()]
    );
}

async fn fill(s: &TestServer, auth: &str, channel: &str, n: usize) -> Vec<String> {
    let mut sent = Vec::new();
    for i in 0..n {
        let reply = s
            .post(
                &format!("/channels/{channel}/messages"),
                auth,
                json!({ "content": format!("m{i}") }),
            )
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        sent.push(reply.body["id"].as_str().unwrap().to_owned());
    }
    sent
}

#[tokio::test]
async fn history_paging_edges_across_buckets() {
    // 20 ms buckets: 130 messages span many partitions.
    let s = server_with(&["--message-bucket-ms", "20", "--fsync", "off"]);
    let ada = s.register("ada").await;
    let (_, general) = s.guild(&ada, "Home").await;
    let page = |query: String| {
        let (s, auth, general) = (&s, ada.auth.clone(), general.clone());
        async move {
            let reply = s
                .get(&format!("/channels/{general}/messages{query}"), &auth)
                .await;
            assert_eq!(reply.status, 200, "{query}: {:?}", reply.body);
            ids(&reply.body)
        }
    };
    assert_eq!(
        page(String::new()).await,
        Vec::<String>::new(),
        "empty channel"
    );

    let sent = fill(&s, &ada.auth, &general, 130).await;
    let newest_first: Vec<String> = sent.iter().rev().cloned().collect();
    assert_eq!(
        page(String::new()).await,
        newest_first[..50],
        "default limit 50"
    );
    assert_eq!(
        page("?limit=100".into()).await,
        newest_first[..100],
        "exactly 100"
    );
    assert_eq!(page("?limit=1".into()).await, newest_first[..1]);
    assert_eq!(
        page(format!("?before={}&limit=100", sent[100])).await,
        newest_first[30..].to_vec(),
        "before is exclusive"
    );
    let after: Vec<String> = sent[11..61].iter().rev().cloned().collect();
    assert_eq!(
        page(format!("?after={}", sent[10])).await,
        after,
        "after: the oldest ones above, newest first"
    );
    assert_eq!(
        page("?after=0&limit=2".into()).await,
        [sent[1].clone(), sent[0].clone()]
    );
    assert_eq!(
        page(format!("?around={}&limit=4", sent[0])).await,
        [sent[2].clone(), sent[1].clone(), sent[0].clone()]
    );
    assert_eq!(
        page(format!("?around={}&limit=4", sent[129])).await,
        [sent[129].clone(), sent[128].clone()]
    );
    assert_eq!(
        page(format!("?around={}&limit=5", sent[64])).await,
        [&sent[66], &sent[65], &sent[64], &sent[63], &sent[62]].map(String::clone)
    );
    assert!(page(format!("?before={}", sent[0])).await.is_empty());
    assert!(page(format!("?after={}", sent[129])).await.is_empty());

    // Walk back the whole channel as discord.py does: nothing lost, nothing twice.
    let mut cursor = None::<String>;
    let mut walked = Vec::new();
    loop {
        let query = cursor.as_ref().map_or("?limit=100".to_owned(), |c| {
            format!("?limit=100&before={c}")
        });
        let batch = page(query).await;
        if batch.is_empty() {
            break;
        }
        cursor = batch.last().cloned();
        walked.extend(batch);
    }
    assert_eq!(walked, newest_first);

    for bad in [
        "?limit=0",
        "?limit=101",
        "?limit=x",
        "?before=abc",
        "?before=1&after=2",
    ] {
        let reply = s
            .get(&format!("/channels/{general}/messages{bad}"), &ada.auth)
            .await;
        assert_eq!(
            (reply.status, reply.body["code"].clone()),
            (400, json!(50035)),
            "{bad}"
        );
    }
}

/// Reads the channel's newest page the way every client does.
async fn newest(s: &TestServer, auth: &str, channel: &str) -> Value {
    s.get(&format!("/channels/{channel}/messages?limit=50"), auth)
        .await
        .body
}

/// Cache hits, summed over the nodes whose metrics `metrics` holds.
fn cache_hits(metrics: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("concord_message_cache_total{result=\"hit\"}"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test]
async fn the_recent_message_cache_never_serves_a_stale_read() {
    let s = server();
    let ada = s.register("ada").await;
    let (_, general) = s.guild(&ada, "Home").await;
    let path = format!("/channels/{general}/messages");
    let mut sent = fill(&s, &ada.auth, &general, 55).await;
    newest(&s, &ada.auth, &general).await;
    let hits_before = cache_hits(&s.metrics().await);

    // create
    sent.push(s.say(&ada, &general, "fresh").await);
    let page = newest(&s, &ada.auth, &general).await;
    assert_eq!(page[0]["content"], "fresh");
    assert_eq!(
        ids(&page),
        sent.iter().rev().take(50).cloned().collect::<Vec<_>>()
    );
    // edit
    let target = sent[50].clone();
    s.patch(
        &format!("{path}/{target}"),
        &ada.auth,
        json!({ "content": "changed" }),
    )
    .await;
    let page = newest(&s, &ada.auth, &general).await;
    let edited = page
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == target.as_str())
        .unwrap();
    assert_eq!(edited["content"], "changed");
    assert!(edited["edited_timestamp"].is_string());
    // delete: the page must still be 50 long, reaching past what was cached
    s.delete(&format!("{path}/{}", sent[55]), &ada.auth).await;
    sent.remove(55);
    let page = newest(&s, &ada.auth, &general).await;
    assert_eq!(
        ids(&page),
        sent.iter().rev().take(50).cloned().collect::<Vec<_>>()
    );
    // bulk delete
    let doomed = vec![sent[54].clone(), sent[53].clone()];
    s.post(
        &format!("{path}/bulk-delete"),
        &ada.auth,
        json!({ "messages": doomed }),
    )
    .await;
    sent.truncate(53);
    let page = newest(&s, &ada.auth, &general).await;
    assert_eq!(
        ids(&page),
        sent.iter().rev().take(50).cloned().collect::<Vec<_>>()
    );

    // In a cluster every write drops the channel's entry on the other
    // nodes, and reads go round them: hits are one process's matter.
    if s.ws_urls().len() == 1 {
        assert!(
            cache_hits(&s.metrics().await) > hits_before,
            "reads were served by the cache"
        );
    }
}

/// The newest page is put together from JSON kept per message: what it
/// keeps must follow the author's profile and each reader's reactions.
#[tokio::test]
async fn the_newest_page_follows_profiles_and_each_readers_reactions() {
    let s = server();
    let ada = s.register("ada").await;
    let bob = s.register("bob").await;
    let (_, general) = s.guild(&ada, "Home").await;
    s.join(&ada, &general, &bob).await;
    let path = format!("/channels/{general}/messages");
    let sent = fill(&s, &ada.auth, &general, 5).await;
    let mention = s
        .post(
            &path,
            &bob.auth,
            json!({ "content": format!("<@{}>", ada.id) }),
        )
        .await;
    let mention = mention.body["id"].as_str().unwrap().to_owned();
    let reacted = &sent[2];
    let emoji = "%F0%9F%91%8D";
    let put = s
        .put(
            &format!("{path}/{reacted}/reactions/{emoji}/@me"),
            &bob.auth,
            json!(null),
        )
        .await;
    assert_eq!(put.status, 204);

    let expected: Vec<String> = std::iter::once(mention.clone())
        .chain(sent.iter().rev().cloned())
        .collect();
    for _ in 0..2 {
        for (reader, mine) in [(&ada, false), (&bob, true)] {
            let page = newest(&s, &reader.auth, &general).await;
            // (The join notice of bob comes after these.)
            assert_eq!(
                ids(&page)[..6],
                expected,
                "in order, whatever kept or rendered"
            );
            let r = page
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["id"] == reacted.as_str());
            assert_eq!(r.unwrap()["reactions"][0]["me"], mine, "each reader's own");
            assert_eq!(page[0]["mentions"][0]["id"], ada.id.as_str());
        }
    }

    // A profile change shows on messages read before it.
    for name in ["Ada Lovelace", "Countess"] {
        let renamed = s
            .patch("/users/@me", &ada.auth, json!({ "global_name": name }))
            .await;
        assert_eq!(renamed.status, 200, "{:?}", renamed.body);
        let page = newest(&s, &bob.auth, &general).await;
        assert!(
            page.as_array().unwrap()[1..6]
                .iter()
                .all(|m| m["author"]["global_name"] == name),
            "{page}"
        );
        assert_eq!(page[0]["mentions"][0]["global_name"], name, "mentions too");
    }
}

#[tokio::test]
async fn concurrent_writers_and_readers_agree_with_the_store() {
    let s = server();
    let ada = s.register("ada").await;
    let (_, general) = s.guild(&ada, "Home").await;
    let writers = (0..4).map(|w| {
        let (s, auth, general) = (&s, ada.auth.clone(), general.clone());
        async move {
            for i in 0..15 {
                let id = s
                    .say(
                        &concord_testkit::Account {
                            id: String::new(),
                            auth: auth.clone(),
                        },
                        &general,
                        &format!("w{w}-{i}"),
                    )
                    .await;
                // Read-your-write: the acknowledged message is on the newest page.
                let page = newest(s, &auth, &general).await;
                assert!(ids(&page).contains(&id), "stale read after create");
            }
        }
    });
    futures::future::join_all(writers).await;
    let cached = newest(&s, &ada.auth, &general).await;
    let uncached = s
        .get(
            &format!("/channels/{general}/messages?limit=100"),
            &ada.auth,
        )
        .await
        .body;
    assert_eq!(
        ids(&cached),
        ids(&uncached)[..50].to_vec(),
        "cache equals the store"
    );
    let mut sorted = ids(&cached);
    sorted.sort_by_key(|id| std::cmp::Reverse(id.parse::<u64>().unwrap()));
    assert_eq!(sorted, ids(&cached), "newest first");
}

#[tokio::test]
async fn bots_without_message_content_read_empty_messages() {
    let s = server();
    let ada = s.register("ada").await;
    let (guild, general) = s.guild(&ada, "Home").await;
    let bot = s.bot(&ada, "reader", &guild, "0").await;
    let other = s.say(&ada, &general, "private words").await;
    let mention = s.say(&ada, &general, &format!("<@{}> hello", bot.id)).await;
    let own = s
        .post(
            &format!("/channels/{general}/messages"),
            &bot.auth,
            json!({ "content": "mine" }),
        )
        .await;
    let own = own.body["id"].as_str().unwrap().to_owned();
    let allowed = s
        .get(&format!("/channels/{general}/messages/{other}"), &bot.auth)
        .await;
    assert_eq!(
        allowed.body["content"], "private words",
        "allowed by default"
    );

    s.patch(
        &format!("/applications/{}", bot.id),
        &ada.auth,
        json!({ "flags": 0 }),
    )
    .await;
    let page = s
        .get(&format!("/channels/{general}/messages"), &bot.auth)
        .await;
    let content = |id: &str| {
        page.body
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id)
            .unwrap()["content"]
            .clone()
    };
    assert_eq!(content(&other), "");
    assert_eq!(content(&mention), format!("<@{}> hello", bot.id));
    assert_eq!(content(&own), "mine");
    let single = s
        .get(&format!("/channels/{general}/messages/{other}"), &bot.auth)
        .await;
    assert_eq!(single.body["content"], "");
    let people = s
        .get(&format!("/channels/{general}/messages/{other}"), &ada.auth)
        .await;
    assert_eq!(
        people.body["content"], "private words",
        "users are never affected"
    );
}

#[tokio::test]
async fn pins_current_and_deprecated_routes() {
    let s = server();
    let (ada, bob) = (s.register("ada").await, s.register("bob").await);
    let (_, general) = s.guild(&ada, "Home").await;
    s.join(&ada, &general, &bob).await;
    let first = s.say(&ada, &general, "first").await;
    let second = s.say(&ada, &general, "second").await;
    let pins = format!("/channels/{general}/messages/pins");
    let denied = s
        .put(&format!("{pins}/{first}"), &bob.auth, json!({}))
        .await;
    assert_eq!(
        (denied.status, denied.body["code"].clone()),
        (403, json!(50013))
    );
    assert_eq!(
        s.put(&format!("{pins}/{first}"), &ada.auth, json!({}))
            .await
            .status,
        204
    );
    assert_eq!(
        s.put(
            &format!("/channels/{general}/pins/{second}"),
            &ada.auth,
            json!({})
        )
        .await
        .status,
        204,
        "the old route"
    );
    assert_eq!(
        s.put(&format!("{pins}/{second}"), &ada.auth, json!({}))
            .await
            .status,
        204,
        "pinning twice is fine"
    );

    let page = s.get(&pins, &bob.auth).await;
    assert_eq!(page.body["has_more"], false);
    let items = page.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(
        items[0]["message"]["id"],
        second.as_str(),
        "newest pin first"
    );
    assert_eq!(items[0]["message"]["pinned"], true);
    assert!(items[0]["pinned_at"].as_str().unwrap().ends_with("+00:00"));
    let before = items[0]["pinned_at"].as_str().unwrap().to_owned();
    let older = s
        .get(
            &format!("{pins}?limit=1&before={}", before.replace('+', "%2B")),
            &bob.auth,
        )
        .await;
    assert_eq!(older.body["items"][0]["message"]["id"], first.as_str());
    let one = s.get(&format!("{pins}?limit=1"), &bob.auth).await;
    assert_eq!(one.body["has_more"], true);
    let old_shape = s.get(&format!("/channels/{general}/pins"), &bob.auth).await;
    assert_eq!(ids(&old_shape.body), [second.clone(), first.clone()]);

    let notices = s
        .get(&format!("/channels/{general}/messages?limit=2"), &ada.auth)
        .await;
    assert_eq!(notices.body[0]["type"], 6, "a pin notice follows each pin");
    assert_eq!(
        notices.body[0]["message_reference"]["message_id"],
        second.as_str()
    );

    assert_eq!(
        s.delete(&format!("{pins}/{second}"), &ada.auth)
            .await
            .status,
        204
    );
    assert_eq!(
        s.delete(&format!("{pins}/{second}"), &ada.auth).await.body["code"],
        10008
    );
    assert_eq!(
        s.get(&format!("/channels/{general}/messages/{second}"), &ada.auth)
            .await
            .body["pinned"],
        false
    );
    s.delete(&format!("/channels/{general}/messages/{first}"), &ada.auth)
        .await;
    assert_eq!(
        s.get(&pins, &ada.auth).await.body["items"],
        json!([]),
        "a deleted message leaves the pins"
    );
    assert_eq!(
        s.get(&format!("{pins}?before=yesterday"), &ada.auth)
            .await
            .body["code"],
        50035
    );
}

#[tokio::test]
async fn reactions_counted_listed_and_removed() {
    let s = server();
    let (ada, bob, cat) = (
        s.register("ada").await,
        s.register("bob").await,
        s.register("cat").await,
    );
    let (guild, general) = s.guild(&ada, "Home").await;
    s.join(&ada, &general, &bob).await;
    s.join(&ada, &general, &cat).await;
    let id = s.say(&ada, &general, "react").await;
    let base = format!("/channels/{general}/messages/{id}/reactions");
    let thumbs = "%F0%9F%91%8D";
    for who in [&bob, &cat, &bob] {
        assert_eq!(
            s.put(&format!("{base}/{thumbs}/@me"), &who.auth, json!({}))
                .await
                .status,
            204
        );
    }
    let seen_by_bob = s
        .get(&format!("/channels/{general}/messages/{id}"), &bob.auth)
        .await;
    let reaction = &seen_by_bob.body["reactions"][0];
    assert_eq!(
        (
            reaction["count"].clone(),
            reaction["me"].clone(),
            reaction["emoji"]["name"].clone()
        ),
        (json!(2), json!(true), json!("👍"))
    );
    assert_eq!(reaction["count_details"]["normal"], 2);
    let seen_by_ada = s
        .get(&format!("/channels/{general}/messages?limit=1"), &ada.auth)
        .await;
    assert_eq!(
        seen_by_ada.body[0]["reactions"][0]["me"], false,
        "me is per reader"
    );
    assert!(
        s.get(&format!("/channels/{general}/messages?limit=1"), &ada.auth)
            .await
            .body[0]
            .get("reactions")
            .is_some()
    );

    let users = s.get(&format!("{base}/{thumbs}"), &ada.auth).await;
    let mut expected = vec![bob.id.clone(), cat.id.clone()];
    expected.sort_by_key(|id| id.parse::<u64>().unwrap());
    let ids: Vec<_> = users
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, expected);

    for bad in ["abc", "name:123", "%F0%9F%91%8Dx"] {
        let reply = s
            .put(&format!("{base}/{bad}/@me"), &bob.auth, json!({}))
            .await;
        assert_eq!(
            (reply.status, reply.body["code"].clone()),
            (404, json!(10014)),
            "{bad}"
        );
    }
    // No ADD_REACTIONS: existing emoji only.
    let no_add = json!({ "type": 1, "deny": (1u64 << 6).to_string() });
    s.put(
        &format!("/channels/{general}/permissions/{}", cat.id),
        &ada.auth,
        no_add,
    )
    .await;
    assert_eq!(
        s.put(&format!("{base}/%E2%9D%A4/@me"), &cat.auth, json!({}))
            .await
            .status,
        403
    );
    assert_eq!(
        s.delete(&format!("{base}/{thumbs}/@me"), &cat.auth)
            .await
            .status,
        204
    );
    assert_eq!(
        s.put(&format!("{base}/{thumbs}/@me"), &cat.auth, json!({}))
            .await
            .status,
        204,
        "joining an existing reaction"
    );

    assert_eq!(
        s.delete(&format!("{base}/{thumbs}/{}", bob.id), &cat.auth)
            .await
            .status,
        403,
        "others' need MANAGE_MESSAGES"
    );
    assert_eq!(
        s.delete(&format!("{base}/{thumbs}/{}", bob.id), &ada.auth)
            .await
            .status,
        204
    );
    assert_eq!(
        s.get(&format!("/channels/{general}/messages/{id}"), &ada.auth)
            .await
            .body["reactions"][0]["count"],
        1
    );
    assert_eq!(s.delete(&base, &bob.auth).await.status, 403);
    assert_eq!(s.delete(&base, &ada.auth).await.status, 204);
    assert!(
        s.get(&format!("/channels/{general}/messages/{id}"), &ada.auth)
            .await
            .body
            .get("reactions")
            .is_none()
    );
    let _ = guild;
}

//! Message search over real HTTP: every parameter, the permission matrix,
//! edits and deletes, catch-up after `kill -9`, and `concord reindex`.

use concord_testkit::{Account, Reply, TestServer};
use serde_json::{Value, json};

use crate::{server, single_server, single_server_with};

const VIEW_CHANNEL: u64 = 1 << 10;
const READ_MESSAGE_HISTORY: u64 = 1 << 16;

/// The ids of the hits, in order.
fn hits(reply: &Reply) -> Vec<String> {
    reply.body["messages"]
        .as_array()
        .map(|groups| {
            groups
                .iter()
                .filter_map(|g| g[0]["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Searches until the index shows exactly `expected` (in order).
async fn expect_hits(s: &TestServer, who: &Account, path: &str, expected: &[&String]) -> Reply {
    let expected: Vec<String> = expected.iter().map(|s| (*s).clone()).collect();
    s.get_until(path, &who.auth, |r| r.status == 200 && hits(r) == expected)
        .await
}

fn guild_search(guild: &str, query: &str) -> String {
    format!("/guilds/{guild}/messages/search?{query}")
}

async fn send(s: &TestServer, who: &Account, channel: &str, body: Value) -> String {
    let reply = s
        .post(&format!("/channels/{channel}/messages"), &who.auth, body)
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body["id"].as_str().unwrap().to_owned()
}

async fn text_channel(s: &TestServer, owner: &Account, guild: &str, name: &str) -> String {
    let reply = s
        .post(
            &format!("/guilds/{guild}/channels"),
            &owner.auth,
            json!({ "name": name }),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    reply.body["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn every_parameter_narrows_the_results() {
    let s = server();
    let (ada, bob) = (s.register("ada").await, s.register("bob").await);
    let (guild, general) = s.guild(&ada, "Home").await;
    s.join(&ada, &general, &bob).await;
    let random = text_channel(&s, &ada, &guild, "random").await;

    let friday = s.say(&ada, &general, "Deploy on Friday").await;
    let failed = s
        .say(&bob, &general, &format!("deployment failed, <@{}>", ada.id))
        .await;
    let link = s
        .say(&ada, &general, "notes at https://example.org/notes")
        .await;
    let chart = send(
        &s,
        &ada,
        &general,
        json!({ "content": "weekly chart", "embeds": [{ "title": "Chart", "image": { "url": "https://example.org/c.png" } }] }),
    )
    .await;
    let tokyo = s.say(&bob, &random, "明日は東京都に行きます").await;
    let pin = s
        .put(
            &format!("/channels/{general}/messages/pins/{link}"),
            &ada.auth,
            json!({}),
        )
        .await;
    assert_eq!(pin.status, 204);

    // Everything, newest first; the pin notice is not searchable.
    let all = expect_hits(
        &s,
        &ada,
        &guild_search(&guild, ""),
        &[&tokyo, &chart, &link, &failed, &friday],
    )
    .await;
    assert_eq!(all.body["total_results"], 5);
    assert_eq!(all.body["doing_deep_historical_index"], false);
    let first = &all.body["messages"][0][0];
    assert_eq!(first["hit"], true);
    assert_eq!(first["content"], "明日は東京都に行きます");
    assert_eq!(first["author"]["id"], bob.id.as_str());
    assert!(first.get("reactions").is_none());

    for (query, expected) in [
        ("content=deploy", vec![&failed, &friday]),
        ("content=deploy%20FRI", vec![&friday]),
        ("content=%E4%BA%AC%E9%83%BD", vec![&tokyo]),
        ("content=example.org", vec![&link]),
        (&format!("author_id={}", bob.id), vec![&tokyo, &failed]),
        (
            &format!("author_id={}&author_id={}", bob.id, ada.id),
            vec![&tokyo, &chart, &link, &failed, &friday],
        ),
        (&format!("mentions={}", ada.id), vec![&failed]),
        ("has=link", vec![&link]),
        ("has=embed", vec![&chart]),
        ("has=image", vec![&chart]),
        ("has=-link", vec![&tokyo, &chart, &failed, &friday]),
        ("has=embed&has=-link", vec![&chart]),
        ("has=embed&has=link", vec![]),
        (&format!("channel_id={random}"), vec![&tokyo]),
        (
            &format!("channel_id={random}&channel_id={general}&content=deploy"),
            vec![&failed, &friday],
        ),
        (&format!("min_id={failed}"), vec![&tokyo, &chart, &link]),
        (&format!("max_id={link}"), vec![&failed, &friday]),
        (&format!("min_id={friday}&max_id={link}"), vec![&failed]),
        ("pinned=true", vec![&link]),
        ("pinned=false&content=deploy", vec![&failed, &friday]),
        (
            "sort_order=asc",
            vec![&friday, &failed, &link, &chart, &tokyo],
        ),
        ("limit=2&offset=1", vec![&chart, &link]),
    ] {
        let reply = s.get(&guild_search(&guild, query), &ada.auth).await;
        assert_eq!(reply.status, 200, "{query}: {:?}", reply.body);
        let expected: Vec<String> = expected.into_iter().cloned().collect();
        assert_eq!(hits(&reply), expected, "{query}");
    }
    let paged = s.get(&guild_search(&guild, "limit=2"), &ada.auth).await;
    assert_eq!(paged.body["total_results"], 5, "the total ignores paging");
    let relevant = s
        .get(
            &guild_search(&guild, "content=deploy%20friday&sort_by=relevance"),
            &ada.auth,
        )
        .await;
    assert_eq!(hits(&relevant), [friday.as_str()]);

    // The channel route searches one channel.
    let here = s
        .get(
            &format!("/channels/{random}/messages/search?content=%E6%9D%B1%E4%BA%AC"),
            &bob.auth,
        )
        .await;
    assert_eq!(hits(&here), [tokyo.as_str()]);

    // Bad parameters: Discord's form errors, naming the field.
    for (query, field) in [
        ("limit=26", "limit"),
        ("limit=0", "limit"),
        ("offset=9976", "offset"),
        ("has=gif", "has"),
        ("sort_by=date", "sort_by"),
        ("sort_order=up", "sort_order"),
        ("pinned=maybe", "pinned"),
        ("author_id=ada", "author_id"),
        ("min_id=-1", "min_id"),
    ] {
        let reply = s.get(&guild_search(&guild, query), &ada.auth).await;
        assert_eq!(reply.status, 400, "{query}");
        assert_eq!(reply.body["code"], 50035, "{query}");
        assert!(
            reply.body["errors"][field].is_object(),
            "{query}: {:?}",
            reply.body
        );
    }
    let long = "x".repeat(1025);
    let too_long = s
        .get(&guild_search(&guild, &format!("content={long}")), &ada.auth)
        .await;
    assert_eq!(too_long.status, 400);
}

#[tokio::test]
async fn results_respect_each_searchers_permissions() {
    let s = server();
    let ada = s.register("ada").await;
    let (bob, cat, eve) = (
        s.register("bob").await,
        s.register("cat").await,
        s.register("eve").await,
    );
    let (guild, general) = s.guild(&ada, "Home").await;
    for who in [&bob, &cat] {
        s.join(&ada, &general, who).await;
    }
    let staff = s
        .post(
            &format!("/guilds/{guild}/roles"),
            &ada.auth,
            json!({ "name": "staff" }),
        )
        .await;
    let staff = staff.body["id"].as_str().unwrap().to_owned();
    let added = s
        .put(
            &format!("/guilds/{guild}/members/{}/roles/{staff}", cat.id),
            &ada.auth,
            json!({}),
        )
        .await;
    assert_eq!(added.status, 204);
    // #secret: hidden from @everyone, visible to staff.
    let secret = text_channel(&s, &ada, &guild, "secret").await;
    for (target, kind, allow, deny) in [(&guild, 0, 0, VIEW_CHANNEL), (&staff, 0, VIEW_CHANNEL, 0)]
    {
        let body = json!({ "type": kind, "allow": allow.to_string(), "deny": deny.to_string() });
        let reply = s
            .put(
                &format!("/channels/{secret}/permissions/{target}"),
                &ada.auth,
                body,
            )
            .await;
        assert_eq!(reply.status, 204);
    }
    // #news: visible to everyone, but its history only to the owner.
    let news = text_channel(&s, &ada, &guild, "news").await;
    let body = json!({ "type": 0, "allow": "0", "deny": READ_MESSAGE_HISTORY.to_string() });
    let reply = s
        .put(
            &format!("/channels/{news}/permissions/{guild}"),
            &ada.auth,
            body,
        )
        .await;
    assert_eq!(reply.status, 204);

    let in_general = s.say(&ada, &general, "needle in general").await;
    let in_secret = s.say(&ada, &secret, "needle in secret").await;
    let in_news = s.say(&ada, &news, "needle in news").await;

    let path = guild_search(&guild, "content=needle");
    expect_hits(&s, &ada, &path, &[&in_news, &in_secret, &in_general]).await;
    for (who, expected) in [
        (&bob, vec![&in_general]),
        (&cat, vec![&in_secret, &in_general]),
    ] {
        let reply = s.get(&path, &who.auth).await;
        let expected: Vec<String> = expected.into_iter().cloned().collect();
        assert_eq!(hits(&reply), expected);
        assert_eq!(reply.body["total_results"], expected.len());
    }
    // Asking for a channel one cannot read does not widen the search.
    let sneaky = s
        .get(
            &guild_search(&guild, &format!("content=needle&channel_id={secret}")),
            &bob.auth,
        )
        .await;
    assert_eq!(
        (sneaky.status, sneaky.body["total_results"].clone()),
        (200, json!(0))
    );

    // The channel route refuses what the channel routes refuse.
    let channel_search =
        |channel: &str| format!("/channels/{channel}/messages/search?content=needle");
    let hidden = s.get(&channel_search(&secret), &bob.auth).await;
    assert_eq!(
        (hidden.status, hidden.body["code"].clone()),
        (403, json!(50001))
    );
    let no_history = s.get(&channel_search(&news), &bob.auth).await;
    assert_eq!(
        (no_history.status, no_history.body["code"].clone()),
        (403, json!(50013))
    );
    let staff_reads = s.get(&channel_search(&secret), &cat.auth).await;
    assert_eq!(hits(&staff_reads), [in_secret.as_str()]);

    // Outsiders, unknown guilds and bad tokens.
    let outsider = s.get(&path, &eve.auth).await;
    assert_eq!(
        (outsider.status, outsider.body["code"].clone()),
        (403, json!(50001))
    );
    let unknown = s.get(&guild_search("1", "content=needle"), &ada.auth).await;
    assert_eq!(
        (unknown.status, unknown.body["code"].clone()),
        (404, json!(10004))
    );
    let anonymous = s.get(&path, "not-a-token").await;
    assert_eq!(anonymous.status, 401);

    // A bot without the message content intent may not search content.
    let bot = s.bot(&ada, "helper", &guild, "0").await;
    assert_eq!(hits(&s.get(&path, &bot.auth).await), [in_general.as_str()]);
    let flags = s
        .patch(
            &format!("/applications/{}", bot.id),
            &ada.auth,
            json!({ "flags": 0 }),
        )
        .await;
    assert_eq!(flags.status, 200);
    let refused = s.get(&path, &bot.auth).await;
    assert_eq!(
        (refused.status, refused.body["code"].clone()),
        (403, json!(50001))
    );
}

#[tokio::test]
async fn edits_and_deletes_change_what_is_found() {
    let s = server();
    let ada = s.register("ada").await;
    let (guild, general) = s.guild(&ada, "Home").await;
    let other = text_channel(&s, &ada, &guild, "other").await;
    let edited = s.say(&ada, &general, "original wording").await;
    let deleted = s.say(&ada, &general, "soon gone").await;
    let mut bulk = Vec::new();
    for i in 0..3 {
        bulk.push(s.say(&ada, &general, &format!("bulk item {i}")).await);
    }
    let elsewhere = s.say(&ada, &other, "bulk item elsewhere").await;
    expect_hits(
        &s,
        &ada,
        &guild_search(&guild, "content=original"),
        &[&edited],
    )
    .await;

    let edit = s
        .patch(
            &format!("/channels/{general}/messages/{edited}"),
            &ada.auth,
            json!({ "content": "revised phrasing" }),
        )
        .await;
    assert_eq!(edit.status, 200);
    expect_hits(
        &s,
        &ada,
        &guild_search(&guild, "content=revised"),
        &[&edited],
    )
    .await;
    expect_hits(&s, &ada, &guild_search(&guild, "content=original"), &[]).await;

    assert_eq!(
        s.delete(
            &format!("/channels/{general}/messages/{deleted}"),
            &ada.auth
        )
        .await
        .status,
        204
    );
    expect_hits(&s, &ada, &guild_search(&guild, "content=gone"), &[]).await;

    let bulk_delete = s
        .post(
            &format!("/channels/{general}/messages/bulk-delete"),
            &ada.auth,
            json!({ "messages": [bulk[0], bulk[1]] }),
        )
        .await;
    assert_eq!(bulk_delete.status, 204);
    let remaining = [&elsewhere, &bulk[2]];
    expect_hits(&s, &ada, &guild_search(&guild, "content=bulk"), &remaining).await;

    assert_eq!(
        s.delete(&format!("/channels/{other}"), &ada.auth)
            .await
            .status,
        200
    );
    expect_hits(&s, &ada, &guild_search(&guild, "content=bulk"), &[&bulk[2]]).await;
}

/// Every acknowledged message, however close to the crash, is found after
/// `kill -9` and a restart: the index catches up from the store.
#[tokio::test]
async fn the_index_catches_up_after_an_unclean_stop() {
    let mut s = single_server_with(&["--fsync", "on"]);
    let ada = s.register("ada").await;
    let (guild, general) = s.guild(&ada, "Home").await;
    let sent: Vec<String> = futures::future::join_all((0..40).map(|i| {
        let (s, ada, general) = (&s, &ada, &general);
        async move { s.say(ada, general, &format!("crash test {i}")).await }
    }))
    .await;
    // No wait: the last writes are still in the feed's batch.
    s.restart();
    let reply = s
        .get_until(
            &guild_search(&guild, "content=crash&limit=25"),
            &ada.auth,
            |r| r.status == 200 && r.body["total_results"] == 40,
        )
        .await;
    assert_eq!(hits(&reply).len(), 25);
    let newest = sent
        .iter()
        .max_by_key(|id| id.parse::<u64>().unwrap())
        .unwrap();
    assert_eq!(&hits(&reply)[0], newest);
}

/// `concord reindex` rebuilds from the store and finds what live indexing
/// found; a missing index is rebuilt on start, answering 202 meanwhile.
#[tokio::test]
async fn a_rebuilt_index_answers_like_the_live_one() {
    let mut s = single_server();
    let (ada, bob) = (s.register("ada").await, s.register("bob").await);
    let (guild, general) = s.guild(&ada, "Home").await;
    // Without a system channel, joining posts no notice: 30 messages exactly.
    let quiet = s
        .patch(
            &format!("/guilds/{guild}"),
            &ada.auth,
            json!({ "system_channel_id": null }),
        )
        .await;
    assert_eq!(quiet.status, 200, "{:?}", quiet.body);
    s.join(&ada, &general, &bob).await;
    for i in 0..30 {
        let who = if i % 3 == 0 { &bob } else { &ada };
        s.say(who, &general, &format!("message {i} about topic{}", i % 4))
            .await;
    }
    let queries = [
        "content=topic1".to_owned(),
        "content=message&sort_order=asc&limit=10".to_owned(),
        format!("author_id={}", bob.id),
        "content=topic&offset=5&limit=5".to_owned(),
    ];
    // Wait for the whole history to be indexed, then record.
    s.get_until(&guild_search(&guild, ""), &ada.auth, |r| {
        r.body["total_results"] == 30
    })
    .await;
    let mut live = Vec::new();
    for q in &queries {
        live.push(s.get(&guild_search(&guild, q), &ada.auth).await.body);
    }

    s.kill9();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_concord"))
        .arg("reindex")
        .arg("--data-dir")
        .arg(s.data_dir())
        .output()
        .expect("run concord reindex");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("reindexed 30 messages"), "{said}");
    s.restart();
    for (q, before) in queries.iter().zip(&live) {
        let after = s
            .get_until(&guild_search(&guild, q), &ada.auth, |r| r.status == 200)
            .await;
        assert_eq!(&after.body, before, "{q}");
    }

    // Without an index, the server rebuilds one; until then, Discord's 202.
    s.kill9();
    std::fs::remove_dir_all(s.data_dir().join("search")).unwrap();
    s.restart();
    let first = s
        .get(&guild_search(&guild, "content=topic1"), &ada.auth)
        .await;
    if first.status == 202 {
        assert_eq!(first.body["code"], 110000);
        assert!(first.body["retry_after"].is_number());
        assert!(first.body["documents_indexed"].is_number());
    } else {
        assert_eq!(first.status, 200, "{:?}", first.body);
    }
    let rebuilt = s
        .get_until(&guild_search(&guild, "content=topic1"), &ada.auth, |r| {
            r.status == 200
        })
        .await;
    assert_eq!(rebuilt.body, live[0]);
}

#[tokio::test]
async fn threads_are_searched_as_their_members_see_them() {
    let s = server();
    let (ada, bob) = (s.register("ada").await, s.register("bob").await);
    let (guild, general) = s.guild(&ada, "Home").await;
    s.join(&ada, &general, &bob).await;
    let start = |name: &str, kind: u8| {
        let body = json!({ "name": name, "type": kind });
        let s = &s;
        let ada = &ada;
        let general = &general;
        async move {
            let reply = s
                .post(&format!("/channels/{general}/threads"), &ada.auth, body)
                .await;
            reply.body["id"].as_str().unwrap().to_owned()
        }
    };
    let public = start("open", 11).await;
    let private = start("closed", 12).await;
    let open_word = send(
        &s,
        &ada,
        &public,
        json!({ "content": "walrus in the open" }),
    )
    .await;
    let closed_word = send(
        &s,
        &ada,
        &private,
        json!({ "content": "walrus behind doors" }),
    )
    .await;

    let query = guild_search(&guild, "content=walrus");
    expect_hits(&s, &ada, &query, &[&closed_word, &open_word]).await;
    expect_hits(&s, &bob, &query, &[&open_word]).await;
}

//! Polls: sent with a message (JSON, multipart, a webhook's execution),
//! checked field by field, voted on through the route Discord's client
//! uses, their voters listed, ended early by their author with their
//! result posted.

use concord_model::timestamp::parse_iso8601;
use concord_testkit::{Account, Reply, TestServer};
use serde_json::{Value, json};

use crate::server;

fn code(reply: &Reply) -> (u16, Value) {
    (reply.status, reply.body["code"].clone())
}

/// A poll request with these answers.
fn poll(answers: &[&str], multiselect: bool) -> Value {
    let answers: Vec<Value> = answers
        .iter()
        .map(|a| json!({ "poll_media": { "text": a } }))
        .collect();
    json!({
        "question": { "text": "Lunch?" },
        "answers": answers,
        "duration": 2,
        "allow_multiselect": multiselect,
        "layout_type": 1,
    })
}

/// Sends a poll to `channel`; the message.
async fn send_poll(s: &TestServer, who: &Account, channel: &str, multiselect: bool) -> Value {
    let body = json!({ "poll": poll(&["pizza", "soup", "salad"], multiselect) });
    let sent = s
        .post(&format!("/channels/{channel}/messages"), &who.auth, body)
        .await;
    assert_eq!(sent.status, 200, "{:?}", sent.body);
    sent.body
}

async fn vote(s: &TestServer, who: &Account, channel: &str, message: &str, ids: Value) -> Reply {
    let path = format!("/channels/{channel}/polls/{message}/answers/@me");
    s.put(&path, &who.auth, json!({ "answer_ids": ids })).await
}

/// The poll's `answer_counts` as `who` reads the message: (id, count, me_voted).
async fn counts(
    s: &TestServer,
    who: &Account,
    channel: &str,
    message: &str,
) -> Vec<(u64, u64, bool)> {
    let read = s
        .get(
            &format!("/channels/{channel}/messages/{message}"),
            &who.auth,
        )
        .await;
    assert_eq!(read.status, 200, "{:?}", read.body);
    let counts = read.body["poll"]["results"]["answer_counts"]
        .as_array()
        .unwrap()
        .clone();
    counts
        .iter()
        .map(|c| {
            (
                c["id"].as_u64().unwrap(),
                c["count"].as_u64().unwrap(),
                c["me_voted"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_poll_is_sent_and_read_as_discord_shows_it() {
    let s = server();
    let ada = s.register("ada").await;
    let (_, general) = s.guild(&ada, "Home").await;
    let sent = send_poll(&s, &ada, &general, false).await;
    let p = &sent["poll"];
    assert_eq!(sent["content"], "", "a poll needs no content");
    assert_eq!(p["question"], json!({ "text": "Lunch?" }));
    assert_eq!(
        p["answers"][1],
        json!({ "answer_id": 2, "poll_media": { "text": "soup" } })
    );
    assert_eq!(
        (p["allow_multiselect"].clone(), p["layout_type"].clone()),
        (json!(false), json!(1))
    );
    assert_eq!(
        p["results"],
        json!({ "is_finalized": false, "answer_counts": [] })
    );
    let at = |field: &Value| parse_iso8601(field.as_str().unwrap()).unwrap();
    let (sent_at, expiry) = (at(&sent["timestamp"]), at(&p["expiry"]));
    // Two hours after it was sent (its id is minted a moment after the expiry is set).
    let two_hours = 2 * 3_600_000;
    assert!(
        expiry <= sent_at + two_hours && expiry + 60_000 > sent_at + two_hours,
        "{sent_at} + 2h ~ {expiry}"
    );

    // A custom emoji of the guild, and a unicode one, on answers.
    let body = json!({ "poll": {
        "question": { "text": "Fruit?" },
        "answers": [
            { "poll_media": { "text": "apple", "emoji": { "name": "🍎" } } },
            { "poll_media": { "text": "pear", "emoji": { "id": "123" } } },
        ],
    }});
    let path = format!("/channels/{general}/messages");
    let unknown_emoji = s.post(&path, &ada.auth, body).await;
    assert_eq!(
        code(&unknown_emoji),
        (400, json!(520004)),
        "not this guild's emoji"
    );

    // The history shows it as well.
    let page = s.get(&format!("{path}?limit=1"), &ada.auth).await;
    assert_eq!(page.body[0]["poll"]["question"]["text"], "Lunch?");
}

#[tokio::test]
async fn each_wrong_field_of_a_poll_is_named() {
    let s = server();
    let ada = s.register("ada").await;
    let (_, general) = s.guild(&ada, "Home").await;
    let path = format!("/channels/{general}/messages");
    let with = |change: &dyn Fn(&mut Value)| {
        let mut p = poll(&["a", "b"], false);
        change(&mut p);
        json!({ "poll": p })
    };
    let long = |n: usize| "x".repeat(n);
    let cases: Vec<(Value, &str)> = vec![
        (
            with(&|p| p["question"]["text"] = json!(long(301))),
            "question.text",
        ),
        (with(&|p| p["question"] = json!({})), "question.text"),
        (with(&|p| p["answers"] = json!([])), "answers"),
        (
            with(&|p| p["answers"] = json!(vec![json!({ "poll_media": { "text": "a" } }); 11])),
            "answers",
        ),
        (
            with(&|p| p["answers"][1]["poll_media"]["text"] = json!(long(56))),
            "answers.1.poll_media.text",
        ),
        (
            with(&|p| p["answers"][0] = json!({})),
            "answers.0.poll_media",
        ),
        (with(&|p| p["duration"] = json!(0)), "duration"),
        (with(&|p| p["duration"] = json!(769)), "duration"),
        (with(&|p| p["layout_type"] = json!(2)), "layout_type"),
    ];
    for (body, field) in cases {
        let refused = s.post(&path, &ada.auth, body).await;
        assert_eq!(code(&refused), (400, json!(50035)), "{field}");
        let mut node = &refused.body["errors"]["poll"];
        for part in field.split('.') {
            node = &node[part];
        }
        assert!(node["_errors"].is_array(), "{field}: {}", refused.body);
    }
    // At the limits, it is sent; nothing was sent before.
    let page = s.get(&format!("{path}?limit=5"), &ada.auth).await;
    assert_eq!(page.body.as_array().unwrap().len(), 0);
    let fits = with(&|p| {
        p["question"]["text"] = json!(long(300));
        p["answers"] = json!(vec![json!({ "poll_media": { "text": long(55) } }); 10]);
        p["duration"] = json!(768);
    });
    assert_eq!(s.post(&path, &ada.auth, fits).await.status, 200);
}

#[tokio::test]
async fn a_poll_goes_by_multipart_and_through_a_webhook_and_is_never_edited() {
    let s = server();
    let ada = s.register("ada").await;
    let (_, general) = s.guild(&ada, "Home").await;
    let payload = json!({ "content": "vote!", "poll": poll(&["yes", "no"], false) });
    let form = reqwest::multipart::Form::new().text("payload_json", payload.to_string());
    let sent = reqwest::Client::new()
        .post(s.url(&format!("/api/v10/channels/{general}/messages")))
        .header("authorization", &ada.auth)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status().as_u16(), 200);
    let sent: Value = sent.json().await.unwrap();
    assert_eq!(sent["poll"]["answers"][0]["poll_media"]["text"], "yes");

    let edit = s
        .patch(
            &format!(
                "/channels/{general}/messages/{}",
                sent["id"].as_str().unwrap()
            ),
            &ada.auth,
            json!({ "content": "changed" }),
        )
        .await;
    assert_eq!(code(&edit), (400, json!(520003)));

    let hook = s
        .post(
            &format!("/channels/{general}/webhooks"),
            &ada.auth,
            json!({ "name": "ci" }),
        )
        .await;
    let (id, token) = (
        hook.body["id"].as_str().unwrap(),
        hook.body["token"].as_str().unwrap(),
    );
    let executed = s
        .request(
            "POST",
            &format!("/webhooks/{id}/{token}?wait=true"),
            None,
            Some(json!({ "poll": poll(&["green", "red"], true) })),
        )
        .await;
    assert_eq!(executed.status, 200, "{:?}", executed.body);
    assert_eq!(executed.body["webhook_id"], id);
    assert_eq!(executed.body["poll"]["allow_multiselect"], true);
}

#[tokio::test]
async fn votes_count_per_answer_and_each_reader_sees_their_own() {
    let s = server();
    let ada = s.register("ada").await;
    let bob = s.register("bob").await;
    let cat = s.register("cat").await;
    let (_, general) = s.guild(&ada, "Home").await;
    s.join(&ada, &general, &bob).await;
    s.join(&ada, &general, &cat).await;
    let single = send_poll(&s, &ada, &general, false).await;
    let single = single["id"].as_str().unwrap();

    assert_eq!(
        vote(&s, &bob, &general, single, json!(["1"])).await.status,
        204
    );
    assert_eq!(
        vote(&s, &cat, &general, single, json!([1])).await.status,
        204
    );
    assert_eq!(counts(&s, &bob, &general, single).await, [(1, 2, true)]);
    assert_eq!(counts(&s, &ada, &general, single).await, [(1, 2, false)]);
    // Changing a single choice moves it.
    assert_eq!(
        vote(&s, &bob, &general, single, json!(["3"])).await.status,
        204
    );
    assert_eq!(
        counts(&s, &bob, &general, single).await,
        [(1, 1, false), (3, 1, true)]
    );
    assert_eq!(
        counts(&s, &cat, &general, single).await,
        [(1, 1, true), (3, 1, false)]
    );
    // Two choices where one is allowed, or an answer it has not.
    let two = vote(&s, &bob, &general, single, json!(["1", "2"])).await;
    assert_eq!(code(&two), (400, json!(50035)));
    let unknown = vote(&s, &bob, &general, single, json!(["4"])).await;
    assert_eq!(code(&unknown), (400, json!(50035)));
    // An empty vote removes it.
    assert_eq!(
        vote(&s, &bob, &general, single, json!([])).await.status,
        204
    );
    assert_eq!(counts(&s, &bob, &general, single).await, [(1, 1, false)]);

    let multi = send_poll(&s, &ada, &general, true).await;
    let multi = multi["id"].as_str().unwrap();
    assert_eq!(
        vote(&s, &bob, &general, multi, json!(["1", "3"]))
            .await
            .status,
        204
    );
    assert_eq!(
        vote(&s, &cat, &general, multi, json!(["3"])).await.status,
        204
    );
    assert_eq!(
        counts(&s, &bob, &general, multi).await,
        [(1, 1, true), (3, 2, true)]
    );
    let history = s
        .get(&format!("/channels/{general}/messages?limit=2"), &cat.auth)
        .await;
    assert_eq!(
        history.body[0]["poll"]["results"]["answer_counts"],
        json!([
            { "id": 1, "count": 1, "me_voted": false },
            { "id": 3, "count": 2, "me_voted": true },
        ]),
        "history shows the reader's own votes too"
    );

    // Not a poll, or no message at all.
    let plain = s.say(&ada, &general, "no poll").await;
    let not_poll = vote(&s, &bob, &general, &plain, json!(["1"])).await;
    assert_eq!(code(&not_poll), (404, json!(10008)));
}

#[tokio::test]
async fn voters_are_listed_by_answer_and_paged() {
    let s = server();
    let ada = s.register("ada").await;
    let (_, general) = s.guild(&ada, "Home").await;
    let sent = send_poll(&s, &ada, &general, true).await;
    let id = sent["id"].as_str().unwrap();
    let mut voters = Vec::new();
    for name in ["bob", "cat", "dan", "eve"] {
        let who = s.register(name).await;
        s.join(&ada, &general, &who).await;
        assert_eq!(vote(&s, &who, &general, id, json!(["2"])).await.status, 204);
        voters.push(who.id.clone());
    }
    voters.sort_by_key(|v| v.parse::<u64>().unwrap());
    let path = format!("/channels/{general}/polls/{id}/answers/2");
    let ids = |reply: &Reply| -> Vec<String> {
        reply.body["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = s.get(&path, &ada.auth).await;
    assert_eq!(all.status, 200, "{:?}", all.body);
    assert_eq!(ids(&all), voters);
    assert!(all.body["users"][0]["username"].is_string());
    let first = s.get(&format!("{path}?limit=2"), &ada.auth).await;
    assert_eq!(ids(&first), voters[..2]);
    let rest = s
        .get(&format!("{path}?limit=2&after={}", voters[1]), &ada.auth)
        .await;
    assert_eq!(ids(&rest), voters[2..]);
    let none = s
        .get(
            &format!("/channels/{general}/polls/{id}/answers/1"),
            &ada.auth,
        )
        .await;
    assert_eq!(none.body, json!({ "users": [] }));
    for bad in ["limit=0", "limit=101"] {
        let refused = s.get(&format!("{path}?{bad}"), &ada.auth).await;
        assert_eq!(code(&refused), (400, json!(50035)), "{bad}");
    }
}

#[tokio::test]
async fn only_the_author_ends_a_poll_early_and_its_result_is_posted() {
    let s = server();
    let ada = s.register("ada").await;
    let bob = s.register("bob").await;
    let (_, general) = s.guild(&ada, "Home").await;
    s.join(&ada, &general, &bob).await;
    let sent = send_poll(&s, &ada, &general, false).await;
    let id = sent["id"].as_str().unwrap();
    assert_eq!(vote(&s, &bob, &general, id, json!(["2"])).await.status, 204);
    let expire = format!("/channels/{general}/polls/{id}/expire");

    let not_author = s.post(&expire, &bob.auth, json!({})).await;
    assert_eq!(code(&not_author), (403, json!(50005)));
    let ended = s.post(&expire, &ada.auth, json!({})).await;
    assert_eq!(ended.status, 200, "{:?}", ended.body);
    assert_eq!(ended.body["id"], id);
    assert_eq!(
        ended.body["poll"]["results"],
        json!({ "is_finalized": true, "answer_counts": [{ "id": 2, "count": 1, "me_voted": false }] })
    );
    assert!(
        ended.body["poll"]["expiry"].as_str().unwrap() < sent["poll"]["expiry"].as_str().unwrap(),
        "it ended now, not at its expiry"
    );
    let again = s.post(&expire, &ada.auth, json!({})).await;
    assert_eq!(code(&again), (400, json!(520001)));
    let late = vote(&s, &bob, &general, id, json!(["1"])).await;
    assert_eq!(code(&late), (400, json!(520001)), "no votes once it ended");
    assert_eq!(counts(&s, &bob, &general, id).await, [(2, 1, true)]);

    let page = s
        .get(&format!("/channels/{general}/messages?limit=1"), &bob.auth)
        .await;
    let result = &page.body[0];
    assert_eq!(result["type"], 46);
    assert_eq!(result["author"]["id"], ada.id.as_str());
    assert_eq!(result["message_reference"]["message_id"], id);
    let embed = &result["embeds"][0];
    assert_eq!(embed["type"], "poll_result");
    let field = |name: &str| {
        embed["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .map(|f| f["value"].clone())
    };
    assert_eq!(field("poll_question_text"), Some(json!("Lunch?")));
    assert_eq!(field("victor_answer_votes"), Some(json!("1")));
    assert_eq!(field("total_votes"), Some(json!("1")));
    assert_eq!(field("victor_answer_id"), Some(json!("2")));
    assert_eq!(field("victor_answer_text"), Some(json!("soup")));

    let plain = s.say(&ada, &general, "no poll").await;
    let not_poll = s
        .post(
            &format!("/channels/{general}/polls/{plain}/expire"),
            &ada.auth,
            json!({}),
        )
        .await;
    assert_eq!(code(&not_poll), (400, json!(520006)));
}

#[tokio::test]
async fn voting_needs_the_history_and_a_person() {
    let s = server();
    let ada = s.register("ada").await;
    let bob = s.register("bob").await;
    let stranger = s.register("stranger").await;
    let (guild, general) = s.guild(&ada, "Home").await;
    s.join(&ada, &general, &bob).await;
    let bot = s.bot(&ada, "pollster", &guild, "8").await;
    let sent = send_poll(&s, &ada, &general, false).await;
    let id = sent["id"].as_str().unwrap();

    let by_bot = vote(&s, &bot, &general, id, json!(["1"])).await;
    assert_eq!(code(&by_bot), (403, json!(20001)), "apps do not vote");
    let outsider = vote(&s, &stranger, &general, id, json!(["1"])).await;
    assert_eq!(outsider.status, 403);
    let listed = s
        .get(
            &format!("/channels/{general}/polls/{id}/answers/1"),
            &stranger.auth,
        )
        .await;
    assert_eq!(listed.status, 403);

    // Without READ_MESSAGE_HISTORY in the channel, no vote and no voters.
    let deny = json!({ "type": 1, "deny": (1u64 << 16).to_string() });
    let denied = s
        .put(
            &format!("/channels/{general}/permissions/{}", bob.id),
            &ada.auth,
            deny,
        )
        .await;
    assert_eq!(denied.status, 204, "{:?}", denied.body);
    let no_history = vote(&s, &bob, &general, id, json!(["1"])).await;
    assert_eq!(code(&no_history), (403, json!(50013)));
    let voters = s
        .get(
            &format!("/channels/{general}/polls/{id}/answers/1"),
            &bob.auth,
        )
        .await;
    assert_eq!(code(&voters), (403, json!(50013)));
    // Without SEND_POLLS, no poll is sent.
    let no_polls = json!({ "type": 1, "deny": (1u64 << 49).to_string() });
    s.put(
        &format!("/channels/{general}/permissions/{}", bob.id),
        &ada.auth,
        no_polls,
    )
    .await;
    let refused = s
        .post(
            &format!("/channels/{general}/messages"),
            &bob.auth,
            json!({ "poll": poll(&["a", "b"], false) }),
        )
        .await;
    assert_eq!(code(&refused), (403, json!(50013)));
    // A bot sends polls, and ends its own.
    let from_bot = send_poll(&s, &bot, &general, false).await;
    let ended = s
        .post(
            &format!(
                "/channels/{general}/polls/{}/expire",
                from_bot["id"].as_str().unwrap()
            ),
            &bot.auth,
            json!({}),
        )
        .await;
    assert_eq!(ended.status, 200, "{:?}", ended.body);
}

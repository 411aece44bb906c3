//! Poll events: MESSAGE_POLL_VOTE_ADD and _REMOVE behind the poll intents,
//! a poll without MESSAGE_CONTENT, and a poll's end (MESSAGE_UPDATE, then
//! its result message).

use serde_json::{Value, json};

use concord_testkit::gateway::GatewayClient;

use crate::{
    DEFAULT_INTENTS, GUILD_MESSAGES, GUILDS, MESSAGE_CONTENT, World, until, until_message,
};

const GUILD_MESSAGE_POLLS: u64 = 1 << 24;
const DIRECT_MESSAGE_POLLS: u64 = 1 << 25;
const DIRECT_MESSAGES: u64 = 1 << 12;

fn poll(multiselect: bool) -> Value {
    json!({
        "question": { "text": "Lunch?" },
        "answers": [
            { "poll_media": { "text": "pizza" } },
            { "poll_media": { "text": "soup" } },
        ],
        "duration": 1,
        "allow_multiselect": multiselect,
    })
}

/// Sends a poll in `channel` as the owner; its id.
async fn send_poll(w: &World, channel: &str) -> String {
    let sent =
        w.s.post(
            &format!("/channels/{channel}/messages"),
            &w.owner.auth,
            json!({ "poll": poll(true) }),
        )
        .await;
    assert_eq!(sent.status, 200, "{:?}", sent.body);
    sent.body["id"].as_str().unwrap().to_owned()
}

async fn vote(w: &World, auth: &str, channel: &str, message: &str, ids: Value) {
    let path = format!("/channels/{channel}/polls/{message}/answers/@me");
    let voted = w.s.put(&path, auth, json!({ "answer_ids": ids })).await;
    assert_eq!(voted.status, 204, "{:?}", voted.body);
}

/// The next vote event: its type and data.
async fn next_vote(ws: &mut GatewayClient) -> (String, Value) {
    loop {
        let p = ws.receive().await;
        let t = p["t"].as_str().unwrap_or_default();
        if p["op"] == 0 && t.starts_with("MESSAGE_POLL_VOTE") {
            return (t.to_owned(), p["d"].clone());
        }
    }
}

#[tokio::test]
async fn votes_reach_sessions_with_the_poll_intent() {
    let w = World::new(&[]).await;
    let (mut polls, _) = w
        .connect_bot(GUILDS | GUILD_MESSAGES | GUILD_MESSAGE_POLLS)
        .await;
    let (mut no_polls, _) = w
        .connect_bot((DEFAULT_INTENTS | MESSAGE_CONTENT) & !GUILD_MESSAGE_POLLS)
        .await;
    let id = send_poll(&w, &w.general).await;
    vote(&w, &w.owner.auth, &w.general, &id, json!(["1", "2"])).await;
    vote(&w, &w.owner.auth, &w.general, &id, json!(["2"])).await;

    let event = |t: &str, answer: u64| {
        (
            t.to_owned(),
            json!({
                "user_id": w.owner.id,
                "channel_id": w.general,
                "message_id": id,
                "guild_id": w.guild,
                "answer_id": answer,
            }),
        )
    };
    assert_eq!(
        next_vote(&mut polls).await,
        event("MESSAGE_POLL_VOTE_ADD", 1)
    );
    assert_eq!(
        next_vote(&mut polls).await,
        event("MESSAGE_POLL_VOTE_ADD", 2)
    );
    assert_eq!(
        next_vote(&mut polls).await,
        event("MESSAGE_POLL_VOTE_REMOVE", 1)
    );

    w.say("marker").await;
    let (seen, _) = until_message(&mut no_polls, "marker").await;
    assert!(seen.iter().any(|t| t == "MESSAGE_CREATE"), "{seen:?}");
    assert!(
        !seen.iter().any(|t| t.starts_with("MESSAGE_POLL_VOTE")),
        "no poll intent, no votes: {seen:?}"
    );
}

#[tokio::test]
async fn a_poll_is_content_and_its_end_is_announced() {
    let w = World::new(&[]).await;
    let (mut without, _) = w.connect_bot(DEFAULT_INTENTS).await;
    let (mut with, _) = w.connect_bot(DEFAULT_INTENTS | MESSAGE_CONTENT).await;
    let id = send_poll(&w, &w.general).await;
    let hidden = without.dispatch("MESSAGE_CREATE").await;
    assert!(hidden["d"].get("poll").is_none(), "{hidden}");
    let shown = with.dispatch("MESSAGE_CREATE").await;
    assert_eq!(shown["d"]["poll"]["question"]["text"], "Lunch?");
    assert_eq!(shown["d"]["poll"]["results"]["is_finalized"], false);

    vote(&w, &w.owner.auth, &w.general, &id, json!(["2"])).await;
    let expire = format!("/channels/{}/polls/{id}/expire", w.general);
    assert_eq!(
        w.s.post(&expire, &w.owner.auth, json!({})).await.status,
        200
    );
    let (_, updated) = until(&mut with, "MESSAGE_UPDATE").await;
    assert_eq!(updated["d"]["id"], id.as_str());
    assert_eq!(
        updated["d"]["poll"]["results"],
        json!({ "is_finalized": true, "answer_counts": [{ "id": 2, "count": 1, "me_voted": false }] })
    );
    let (_, result) = until(&mut with, "MESSAGE_CREATE").await;
    assert_eq!(result["d"]["type"], 46);
    assert_eq!(result["d"]["message_reference"]["message_id"], id.as_str());
    assert_eq!(result["d"]["embeds"][0]["type"], "poll_result");
}

#[tokio::test]
async fn votes_in_a_dm_need_the_direct_message_poll_intent() {
    let w = World::new(&[]).await;
    let dm =
        w.s.post(
            "/users/@me/channels",
            &w.bot.auth,
            json!({ "recipient_id": w.owner.id }),
        )
        .await;
    assert_eq!(dm.status, 200, "{:?}", dm.body);
    let dm = dm.body["id"].as_str().unwrap().to_owned();
    let (mut polls, _) = w.connect_bot(DIRECT_MESSAGES | DIRECT_MESSAGE_POLLS).await;
    let (mut no_polls, _) = w.connect_bot(DIRECT_MESSAGES).await;
    let id = send_poll(&w, &dm).await;
    vote(&w, &w.owner.auth, &dm, &id, json!(["1"])).await;
    let (t, d) = next_vote(&mut polls).await;
    assert_eq!(t, "MESSAGE_POLL_VOTE_ADD");
    assert_eq!(d["channel_id"], dm.as_str());
    assert!(
        d.get("guild_id").is_none(),
        "DM events carry no guild_id: {d}"
    );

    w.s.say(&w.owner, &dm, "marker").await;
    let (seen, _) = until_message(&mut no_polls, "marker").await;
    assert!(
        !seen.iter().any(|t| t.starts_with("MESSAGE_POLL_VOTE")),
        "{seen:?}"
    );
}

//! Who hears of an interaction over the gateway: the application's bot
//! gets the whole of it (with its token), the invoker `{id, nonce}`, and
//! nobody else anything: not another bot in the guild, not another
//! member.

use serde_json::json;

use crate::{DEFAULT_INTENTS, MESSAGE_CONTENT, World, until, until_message};

#[tokio::test]
async fn an_interaction_goes_to_its_bot_and_its_invoker_only() {
    let w = World::new(&[]).await;
    let member = w.s.register("member").await;
    w.s.join(&w.owner, &w.general, &member).await;
    let other = w.s.bot(&w.owner, "other", &w.guild, "0").await;
    let intents = DEFAULT_INTENTS | MESSAGE_CONTENT;
    let (mut bot_ws, _) = w.connect_bot(intents).await;
    let (mut other_ws, _) = w.connect(&other.auth, intents).await;
    let (mut owner_ws, _) = w.connect(&w.owner.auth, intents).await;
    let (mut member_ws, _) = w.connect(&member.auth, intents).await;

    let path = format!("/applications/{}/guilds/{}/commands", w.bot.id, w.guild);
    let body = json!({ "name": "ping", "description": "d" });
    let command = w.s.post(&path, &w.bot.auth, body).await;
    assert_eq!(command.status, 201, "{:?}", command.body);
    let invocation = json!({
        "type": 2, "application_id": w.bot.id, "guild_id": w.guild, "channel_id": w.general,
        "session_id": "s", "nonce": "8",
        "data": { "id": command.body["id"], "name": "ping", "type": 1 },
    });
    let reply = w.s.post("/interactions", &w.owner.auth, invocation).await;
    assert_eq!(reply.status, 204, "{:?}", reply.body);
    w.say("marker").await;

    let (_, whole) = until(&mut bot_ws, "INTERACTION_CREATE").await;
    assert!(whole["d"]["token"].is_string());
    let id = whole["d"]["id"].clone();
    let (_, accepted) = until(&mut owner_ws, "INTERACTION_CREATE").await;
    assert_eq!(accepted["d"], json!({ "id": id, "nonce": "8" }));
    for ws in [&mut other_ws, &mut member_ws] {
        let (seen, _) = until_message(ws, "marker").await;
        assert!(
            !seen.iter().any(|t| t.starts_with("INTERACTION")),
            "{seen:?}"
        );
    }
}

//! Interactions over HTTP and the gateway: a person invokes a command as
//! Discord's client does (`POST /interactions`), the application's bot
//! gets INTERACTION_CREATE and answers through the callback (every type),
//! follows up through `/webhooks/{application_id}/{token}`; the invoker's
//! sessions follow it (success, failure at the deadline, modals), and
//! ephemeral answers reach the invoker alone.

use concord_testkit::gateway::GatewayClient;
use concord_testkit::{Account, Reply, TestServer};
use serde_json::{Value, json};

use crate::server;

/// An owner, their guild, its #general, a member, and a bot with a guild
/// command `ping` (and whatever else a test registers), both connected.
struct World {
    s: TestServer,
    owner: Account,
    member: Account,
    guild: String,
    channel: String,
    bot: Account,
    bot_ws: GatewayClient,
    owner_ws: GatewayClient,
}

impl World {
    async fn new() -> World {
        let s = server();
        let owner = s.register("owner").await;
        let member = s.register("member").await;
        let (guild, channel) = s.guild(&owner, "Home").await;
        s.join(&owner, &channel, &member).await;
        let bot = s.bot(&owner, "helper", &guild, "0").await;
        let bot_ws = connect(&s, bot.auth.trim_start_matches("Bot ")).await;
        let owner_ws = connect(&s, &owner.auth).await;
        World {
            s,
            owner,
            member,
            guild,
            channel,
            bot,
            bot_ws,
            owner_ws,
        }
    }

    /// Registers a guild command; its id.
    async fn command(&self, body: Value) -> String {
        let path = format!(
            "/applications/{}/guilds/{}/commands",
            self.bot.id, self.guild
        );
        let reply = self.s.post(&path, &self.bot.auth, body).await;
        assert!(matches!(reply.status, 200 | 201), "{:?}", reply.body);
        reply.body["id"].as_str().unwrap().to_owned()
    }

    /// `who` invokes the chat-input command `id` named `name` in #general.
    async fn invoke(&self, who: &Account, id: &str, name: &str) -> Reply {
        let body = json!({
            "type": 2,
            "application_id": self.bot.id,
            "guild_id": self.guild,
            "channel_id": self.channel,
            "session_id": "a-session",
            "nonce": "1234",
            "data": { "version": "1", "id": id, "name": name, "type": 1, "options": [] },
        });
        self.s.post("/interactions", &who.auth, body).await
    }

    /// The interaction the bot receives next: (id, token, whole payload).
    async fn received(&mut self) -> (String, String, Value) {
        let d = self.bot_ws.dispatch("INTERACTION_CREATE").await["d"].clone();
        let id = d["id"].as_str().unwrap().to_owned();
        let token = d["token"].as_str().unwrap().to_owned();
        (id, token, d)
    }

    async fn callback(&self, id: &str, token: &str, body: Value) -> Reply {
        let path = format!("/interactions/{id}/{token}/callback?with_response=true");
        self.s.request("POST", &path, None, Some(body)).await
    }

    /// The id of `who`'s DM with the bot.
    async fn dm_with_bot(&self, who: &Account) -> String {
        let body = json!({ "recipient_id": self.bot.id });
        let dm = self.s.post("/users/@me/channels", &who.auth, body).await;
        assert_eq!(dm.status, 200, "{:?}", dm.body);
        dm.body["id"].as_str().unwrap().to_owned()
    }

    fn webhook(&self, token: &str, rest: &str) -> String {
        format!("/webhooks/{}/{token}{rest}", self.bot.id)
    }
}

pub(crate) async fn connect(s: &TestServer, token: &str) -> GatewayClient {
    let mut ws = GatewayClient::connect(&s.ws_url(), "v=10").await;
    ws.receive().await;
    ws.identify(token, 1 | 512 | 4096 | 32768).await;
    ws.dispatch("READY").await;
    ws
}

fn ping() -> Value {
    json!({ "name": "ping", "type": 1, "description": "Answers pong" })
}

fn code(reply: &Reply) -> (u16, Value) {
    (reply.status, reply.body["code"].clone())
}

#[tokio::test]
async fn a_command_reaches_its_bot_and_the_answer_its_channel() {
    let mut w = World::new().await;
    let command = w.command(ping()).await;
    let reply = w.invoke(&w.owner, &command, "ping").await;
    assert_eq!(reply.status, 204, "{:?}", reply.body);

    let (id, token, d) = w.received().await;
    assert_eq!(d["type"], 2);
    assert_eq!(d["application_id"], json!(w.bot.id));
    assert_eq!(d["guild_id"], json!(w.guild));
    assert_eq!(d["channel_id"], json!(w.channel));
    assert_eq!(d["channel"]["id"], json!(w.channel));
    assert_eq!(d["data"]["id"], json!(command));
    assert_eq!(d["data"]["name"], "ping");
    assert_eq!(d["member"]["user"]["id"], json!(w.owner.id));
    assert!(d["member"]["permissions"].is_string());
    assert!(d["app_permissions"].is_string());
    assert_eq!(d["version"], 1);
    assert_eq!(d["context"], 0);
    assert_eq!(d["authorizing_integration_owners"]["0"], json!(w.guild));
    assert_eq!(d["entitlements"], json!([]));

    // The invoker's own sessions hear it was accepted.
    let accepted = w.owner_ws.dispatch("INTERACTION_CREATE").await;
    assert_eq!(accepted["d"], json!({ "id": id, "nonce": "1234" }));

    // The token is the only credential; the answer is the bot's message.
    let answer = json!({ "type": 4, "data": { "content": "pong" } });
    let reply = w.callback(&id, &token, answer.clone()).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["interaction"]["id"], json!(id));
    assert_eq!(reply.body["interaction"]["response_message_loading"], false);
    assert_eq!(
        reply.body["interaction"]["response_message_ephemeral"],
        false
    );
    let message = &reply.body["resource"]["message"];
    assert_eq!(reply.body["resource"]["type"], 4);
    assert_eq!(message["type"], 20);
    assert_eq!(message["content"], "pong");
    assert_eq!(message["author"]["id"], json!(w.bot.id));
    assert_eq!(message["webhook_id"], json!(w.bot.id));
    assert_eq!(message["application_id"], json!(w.bot.id));
    assert_eq!(message["interaction_metadata"]["id"], json!(id));
    assert_eq!(message["interaction_metadata"]["type"], 2);
    assert_eq!(message["interaction_metadata"]["name"], "ping");
    assert_eq!(
        message["interaction_metadata"]["user"]["id"],
        json!(w.owner.id)
    );
    let original = message["id"].as_str().unwrap().to_owned();

    // The message, then the success that ends "thinking".
    let created = w.owner_ws.dispatch("MESSAGE_CREATE").await;
    assert_eq!(created["d"]["id"], json!(original));
    let success = w.owner_ws.dispatch("INTERACTION_SUCCESS").await;
    assert_eq!(success["d"], json!({ "id": id, "nonce": "1234" }));

    // Answered once only.
    let again = w.callback(&id, &token, answer).await;
    assert_eq!(code(&again), (400, json!(40060)), "{:?}", again.body);

    // Follow-ups and the original through the webhook routes.
    let follow =
        w.s.request(
            "POST",
            &w.webhook(&token, ""),
            None,
            Some(json!({ "content": "more" })),
        )
        .await;
    assert_eq!(follow.status, 200, "{:?}", follow.body);
    assert_eq!(follow.body["type"], 20);
    assert_eq!(
        follow.body["interaction_metadata"]["original_response_message_id"],
        json!(original)
    );
    let follow_id = follow.body["id"].as_str().unwrap().to_owned();
    let got =
        w.s.request("GET", &w.webhook(&token, "/messages/@original"), None, None)
            .await;
    assert_eq!((got.status, got.body["id"].clone()), (200, json!(original)));
    let edited =
        w.s.request(
            "PATCH",
            &w.webhook(&token, "/messages/@original"),
            None,
            Some(json!({ "content": "pong!" })),
        )
        .await;
    assert_eq!(
        (edited.status, edited.body["content"].clone()),
        (200, json!("pong!"))
    );
    let deleted =
        w.s.request(
            "DELETE",
            &w.webhook(&token, &format!("/messages/{follow_id}")),
            None,
            None,
        )
        .await;
    assert_eq!(deleted.status, 204, "{:?}", deleted.body);

    let history =
        w.s.get(&format!("/channels/{}/messages", w.channel), &w.member.auth)
            .await;
    let ids: Vec<&Value> = history
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["id"])
        .collect();
    assert!(ids.contains(&&json!(original)));
    assert!(!ids.contains(&&json!(follow_id)));

    // Another token, or a webhook's shape, opens nothing.
    let wrong = w
        .callback(
            &id,
            "aW50ZXJhY3Rpb246MTo",
            json!({ "type": 4, "data": { "content": "x" } }),
        )
        .await;
    assert_eq!(code(&wrong), (404, json!(10062)));
}

#[tokio::test]
async fn a_deferred_answer_thinks_until_it_is_edited() {
    let mut w = World::new().await;
    let command = w.command(ping()).await;
    assert_eq!(w.invoke(&w.owner, &command, "ping").await.status, 204);
    let (id, token, _) = w.received().await;
    let reply = w.callback(&id, &token, json!({ "type": 5 })).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["interaction"]["response_message_loading"], true);
    let thinking = w.owner_ws.dispatch("MESSAGE_CREATE").await;
    assert_eq!(thinking["d"]["flags"], 128);
    assert_eq!(thinking["d"]["content"], "");

    // The first follow-up replaces the "thinking" message.
    let follow =
        w.s.request(
            "POST",
            &w.webhook(&token, ""),
            None,
            Some(json!({ "content": "done" })),
        )
        .await;
    assert_eq!(follow.status, 200, "{:?}", follow.body);
    assert_eq!(follow.body["id"], thinking["d"]["id"]);
    assert_eq!(follow.body["flags"], 0);
    assert_eq!(follow.body["edited_timestamp"], Value::Null);
    let updated = w.owner_ws.dispatch("MESSAGE_UPDATE").await;
    assert_eq!(updated["d"]["content"], "done");
}

#[tokio::test]
async fn an_ephemeral_answer_reaches_the_invoker_alone() {
    let mut w = World::new().await;
    let mut member_ws = connect(&w.s, &w.member.auth).await;
    let command = w.command(ping()).await;
    assert_eq!(w.invoke(&w.member, &command, "ping").await.status, 204);
    let (id, token, d) = w.received().await;
    assert_eq!(d["member"]["user"]["id"], json!(w.member.id));
    let answer = json!({ "type": 4, "data": { "content": "secret", "flags": 64 } });
    let reply = w.callback(&id, &token, answer).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(
        reply.body["interaction"]["response_message_ephemeral"],
        true
    );
    let secret = reply.body["resource"]["message"]["id"].clone();

    let seen = member_ws.dispatch("MESSAGE_CREATE").await;
    assert_eq!(
        (seen["d"]["id"].clone(), seen["d"]["flags"].clone()),
        (secret.clone(), json!(64))
    );

    // Nobody else hears of it: the next message the owner's session gets
    // is one sent after it.
    let later = w.s.say(&w.owner, &w.channel, "after").await;
    let next = w.owner_ws.dispatch("MESSAGE_CREATE").await;
    assert_eq!(next["d"]["id"], json!(later));
    // Nor reads it, anywhere.
    for who in [&w.owner, &w.member] {
        let history =
            w.s.get(&format!("/channels/{}/messages", w.channel), &who.auth)
                .await;
        assert!(
            history
                .body
                .as_array()
                .unwrap()
                .iter()
                .all(|m| m["id"] != secret)
        );
        let one =
            w.s.get(
                &format!(
                    "/channels/{}/messages/{}",
                    w.channel,
                    secret.as_str().unwrap()
                ),
                &who.auth,
            )
            .await;
        assert_eq!(code(&one), (404, json!(10008)));
    }
    // The token reads, edits and deletes it, telling the invoker only.
    let got =
        w.s.request("GET", &w.webhook(&token, "/messages/@original"), None, None)
            .await;
    assert_eq!(
        (got.status, got.body["content"].clone()),
        (200, json!("secret"))
    );
    let edited =
        w.s.request(
            "PATCH",
            &w.webhook(&token, "/messages/@original"),
            None,
            Some(json!({ "content": "hidden" })),
        )
        .await;
    assert_eq!(edited.status, 200, "{:?}", edited.body);
    assert_eq!(
        member_ws.dispatch("MESSAGE_UPDATE").await["d"]["content"],
        "hidden"
    );
    let deleted =
        w.s.request(
            "DELETE",
            &w.webhook(&token, "/messages/@original"),
            None,
            None,
        )
        .await;
    assert_eq!(deleted.status, 204);
    assert_eq!(
        member_ws.dispatch("MESSAGE_DELETE").await["d"]["id"],
        secret
    );
}

#[tokio::test]
async fn an_unanswered_interaction_fails_at_its_deadline() {
    let mut w = World::new().await;
    let command = w.command(ping()).await;
    assert_eq!(w.invoke(&w.owner, &command, "ping").await.status, 204);
    let (id, token, _) = w.received().await;
    let failed = w.owner_ws.dispatch("INTERACTION_FAILURE").await;
    assert_eq!(failed["d"]["id"], json!(id));
    assert_eq!(failed["d"]["nonce"], "1234");
    assert!(failed["d"]["reason"].is_string());
    let late = w
        .callback(
            &id,
            &token,
            json!({ "type": 4, "data": { "content": "late" } }),
        )
        .await;
    assert_eq!(code(&late), (404, json!(10062)), "{:?}", late.body);
    let follow =
        w.s.request(
            "POST",
            &w.webhook(&token, ""),
            None,
            Some(json!({ "content": "x" })),
        )
        .await;
    assert_eq!(code(&follow), (404, json!(10015)));
}

#[tokio::test]
async fn who_may_invoke_what_where() {
    let w = World::new().await;
    let admins = w
        .command(json!({ "name": "admins", "description": "d", "default_member_permissions": "0" }))
        .await;
    let managers = w
        .command(
            json!({ "name": "managers", "description": "d", "default_member_permissions": "32" }),
        )
        .await;
    let ping = w.command(ping()).await;
    // "0": administrators only (the owner is one).
    assert_eq!(
        code(&w.invoke(&w.member, &admins, "admins").await),
        (403, json!(50013))
    );
    assert_eq!(
        code(&w.invoke(&w.member, &managers, "managers").await),
        (403, json!(50013))
    );
    assert_eq!(w.invoke(&w.owner, &admins, "admins").await.status, 204);
    // A guild manager's command permissions open it to one member.
    let path = format!(
        "/applications/{}/guilds/{}/commands/{managers}/permissions",
        w.bot.id, w.guild
    );
    let allow = json!({ "permissions": [{ "id": w.member.id, "type": 2, "permission": true }] });
    let put = w.s.put(&path, &w.owner.auth, allow).await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    assert_eq!(w.invoke(&w.member, &managers, "managers").await.status, 204);
    // As the channel's denial closes one to everyone but administrators.
    let deny = json!({ "permissions": [{ "id": w.channel, "type": 3, "permission": false }] });
    let put =
        w.s.put(&path.replace(&managers, &ping), &w.owner.auth, deny)
            .await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    assert_eq!(
        code(&w.invoke(&w.member, &ping, "ping").await),
        (403, json!(50013))
    );

    // Discord's client sends multipart bodies with `payload_json`.
    let payload = json!({
        "type": 2, "application_id": w.bot.id, "guild_id": w.guild, "channel_id": w.channel,
        "session_id": "s", "nonce": "42", "data": { "id": admins, "name": "admins", "type": 1 },
    });
    let form = reqwest::multipart::Form::new().text("payload_json", payload.to_string());
    let reply = reqwest::Client::new()
        .post(w.s.url("/api/v10/interactions"))
        .header("authorization", &w.owner.auth)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 204);
    // A command of another guild, an unknown one, a bad body, a bot.
    assert_eq!(
        code(&w.invoke(&w.member, "1", "nothing").await),
        (404, json!(10063))
    );
    let bad =
        w.s.post(
            "/interactions",
            &w.member.auth,
            json!({ "type": 9, "application_id": w.bot.id, "channel_id": w.channel, "data": {} }),
        )
        .await;
    assert_eq!(code(&bad), (400, json!(50035)), "{:?}", bad.body);
    assert_eq!(
        code(&w.invoke(&w.bot, &ping, "ping").await),
        (403, json!(20001))
    );

    // A global command for the bot's DMs only, used in a guild; and one
    // used in a guild the bot is not in.
    let global = format!("/applications/{}/commands", w.bot.id);
    let dm_only =
        w.s.post(
            &global,
            &w.bot.auth,
            json!({ "name": "dm", "description": "d", "contexts": [1] }),
        )
        .await;
    let dm_only = dm_only.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        code(&w.invoke(&w.member, &dm_only, "dm").await),
        (403, json!(50001))
    );
    let anywhere =
        w.s.post(
            &global,
            &w.bot.auth,
            json!({ "name": "anywhere", "description": "d" }),
        )
        .await;
    let anywhere = anywhere.body["id"].as_str().unwrap().to_owned();
    let (other_guild, other_channel) = w.s.guild(&w.member, "Elsewhere").await;
    let elsewhere = json!({
        "type": 2, "application_id": w.bot.id, "guild_id": other_guild, "channel_id": other_channel,
        "data": { "id": anywhere, "name": "anywhere", "type": 1 },
    });
    let reply = w.s.post("/interactions", &w.member.auth, elsewhere).await;
    assert_eq!(code(&reply), (403, json!(50001)), "{:?}", reply.body);
    // A guild-only command in the person's DM with the bot.
    let dm = w.dm_with_bot(&w.member).await;
    let in_dm = json!({
        "type": 2, "application_id": w.bot.id, "channel_id": dm,
        "data": { "id": ping, "name": "ping", "type": 1 },
    });
    let reply = w.s.post("/interactions", &w.member.auth, in_dm).await;
    assert_eq!(code(&reply), (404, json!(10063)), "{:?}", reply.body);
    let guild_only =
        w.s.post(
            &global,
            &w.bot.auth,
            json!({ "name": "guildonly", "description": "d", "contexts": [0] }),
        )
        .await;
    let in_dm = json!({
        "type": 2, "application_id": w.bot.id, "channel_id": dm,
        "data": { "id": guild_only.body["id"], "name": "guildonly", "type": 1 },
    });
    let reply = w.s.post("/interactions", &w.member.auth, in_dm).await;
    assert_eq!(code(&reply), (403, json!(50001)), "{:?}", reply.body);
}

#[tokio::test]
async fn buttons_update_their_message_and_open_modals() {
    let mut w = World::new().await;
    let row = json!([{ "type": 1, "components": [
        { "type": 2, "style": 1, "label": "Click", "custom_id": "click" },
        { "type": 2, "style": 2, "label": "Ask", "custom_id": "ask" },
        { "type": 2, "style": 5, "label": "Docs", "url": "https://example.org" },
        { "type": 2, "style": 4, "label": "Off", "custom_id": "off", "disabled": true }
    ]}, { "type": 1, "components": [
        { "type": 3, "custom_id": "pick", "min_values": 1, "max_values": 2, "options": [
            { "label": "A", "value": "a" }, { "label": "B", "value": "b" }, { "label": "C", "value": "c" }
        ]}
    ]}]);
    let sent =
        w.s.post(
            &format!("/channels/{}/messages", w.channel),
            &w.bot.auth,
            json!({ "content": "choose", "components": row }),
        )
        .await;
    assert_eq!(sent.status, 200, "{:?}", sent.body);
    assert_eq!(sent.body["components"], row);
    // Components are checked as Discord checks them.
    let twice = json!([{ "type": 1, "components": [
        { "type": 2, "style": 1, "label": "A", "custom_id": "same" },
        { "type": 2, "style": 1, "label": "B", "custom_id": "same" }
    ]}]);
    let refused =
        w.s.post(
            &format!("/channels/{}/messages", w.channel),
            &w.bot.auth,
            json!({ "content": "x", "components": twice }),
        )
        .await;
    assert_eq!(code(&refused), (400, json!(50035)));
    assert_eq!(
        refused.body["errors"]["components"]["0"]["components"]["1"]["custom_id"]["_errors"][0]["code"],
        "COMPONENT_CUSTOM_ID_DUPLICATED"
    );
    let message = sent.body["id"].as_str().unwrap().to_owned();
    let (app, guild, channel) = (w.bot.id.clone(), w.guild.clone(), w.channel.clone());
    let click = |custom_id: &str, kind: u8| {
        json!({
            "type": 3, "application_id": app, "guild_id": guild, "channel_id": channel,
            "message_id": message, "nonce": "77", "session_id": "s",
            "data": { "component_type": kind, "custom_id": custom_id },
        })
    };
    let unknown =
        w.s.post("/interactions", &w.member.auth, click("nope", 2))
            .await;
    assert_eq!(code(&unknown), (400, json!(50035)));

    // UPDATE_MESSAGE edits the message in place.
    let reply =
        w.s.post("/interactions", &w.member.auth, click("click", 2))
            .await;
    assert_eq!(reply.status, 204, "{:?}", reply.body);
    let (id, token, d) = w.received().await;
    assert_eq!(d["type"], 3);
    assert_eq!(d["data"]["custom_id"], "click");
    assert_eq!(d["message"]["id"], json!(message));
    let reply = w
        .callback(
            &id,
            &token,
            json!({ "type": 7, "data": { "content": "clicked", "components": [] } }),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let updated = w.owner_ws.dispatch("MESSAGE_UPDATE").await;
    assert_eq!(updated["d"]["id"], json!(message));
    assert_eq!(updated["d"]["content"], "clicked");
    assert_eq!(updated["d"]["components"], json!([]));
    // Its components are gone: clicking again is refused.
    let gone =
        w.s.post("/interactions", &w.member.auth, click("ask", 2))
            .await;
    assert_eq!(code(&gone), (400, json!(50035)));
}

#[tokio::test]
async fn a_modal_is_shown_to_the_invoker_and_submitted_once() {
    let mut w = World::new().await;
    let command = w.command(ping()).await;
    assert_eq!(w.invoke(&w.owner, &command, "ping").await.status, 204);
    let (id, token, _) = w.received().await;
    let modal = json!({ "type": 9, "data": {
        "custom_id": "form", "title": "Tell me",
        "components": [{ "type": 1, "components": [
            { "type": 4, "custom_id": "name", "label": "Name", "style": 1 }
        ]}]
    }});
    let reply = w.callback(&id, &token, modal).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let shown = w.owner_ws.dispatch("INTERACTION_MODAL_CREATE").await;
    assert_eq!(shown["d"]["custom_id"], "form");
    assert_eq!(shown["d"]["title"], "Tell me");
    assert_eq!(shown["d"]["nonce"], "1234");

    let submit = json!({
        "type": 5, "application_id": w.bot.id, "guild_id": w.guild, "channel_id": w.channel,
        "nonce": "99", "session_id": "s",
        "data": { "custom_id": "form", "components": [{ "type": 1, "components": [
            { "type": 4, "custom_id": "name", "value": "Ada" }
        ]}]},
    });
    let reply =
        w.s.post("/interactions", &w.owner.auth, submit.clone())
            .await;
    assert_eq!(reply.status, 204, "{:?}", reply.body);
    let (id, token, d) = w.received().await;
    assert_eq!(d["type"], 5);
    assert_eq!(d["data"]["components"][0]["components"][0]["value"], "Ada");
    let reply = w
        .callback(
            &id,
            &token,
            json!({ "type": 4, "data": { "content": "thanks" } }),
        )
        .await;
    assert_eq!(reply.body["resource"]["message"]["type"], 0);
    assert_eq!(
        reply.body["resource"]["message"]["interaction_metadata"]["type"],
        5
    );
    let again = w.s.post("/interactions", &w.owner.auth, submit).await;
    assert_eq!(code(&again), (400, json!(50035)));
}

#[tokio::test]
async fn autocomplete_choices_reach_the_invoker() {
    let mut w = World::new().await;
    let command = w
        .command(json!({ "name": "pick", "description": "d", "options": [
            { "name": "what", "description": "d", "type": 3, "autocomplete": true }
        ]}))
        .await;
    let body = json!({
        "type": 4, "application_id": w.bot.id, "guild_id": w.guild, "channel_id": w.channel,
        "nonce": "5", "session_id": "s",
        "data": { "id": command, "name": "pick", "type": 1,
            "options": [{ "name": "what", "type": 3, "value": "ap", "focused": true }] },
    });
    assert_eq!(
        w.s.post("/interactions", &w.owner.auth, body).await.status,
        204
    );
    let (id, token, d) = w.received().await;
    assert_eq!(d["type"], 4);
    assert_eq!(d["data"]["options"][0]["focused"], true);
    let choices = json!([{ "name": "apple", "value": "apple" }]);
    let reply = w
        .callback(
            &id,
            &token,
            json!({ "type": 8, "data": { "choices": choices } }),
        )
        .await;
    assert_eq!(reply.status, 204, "{:?}", reply.body);
    let answer = w
        .owner_ws
        .dispatch("APPLICATION_COMMAND_AUTOCOMPLETE_RESPONSE")
        .await;
    assert_eq!(answer["d"], json!({ "nonce": "5", "choices": choices }));
    // A message answer is refused to an autocomplete, and PONG to all.
    let pong = w.callback(&id, &token, json!({ "type": 1 })).await;
    assert_eq!(code(&pong), (400, json!(50035)));
}

#[tokio::test]
async fn the_bot_gets_what_options_name_resolved() {
    let mut w = World::new().await;
    let command = w
        .command(json!({ "name": "look", "description": "d", "options": [
            { "name": "who", "description": "d", "type": 6 },
            { "name": "role", "description": "d", "type": 8 },
            { "name": "where", "description": "d", "type": 7 }
        ]}))
        .await;
    let options = json!([
        { "name": "who", "type": 6, "value": w.member.id },
        { "name": "role", "type": 8, "value": w.guild },
        { "name": "where", "type": 7, "value": w.channel }
    ]);
    let body = json!({
        "type": 2, "application_id": w.bot.id, "guild_id": w.guild, "channel_id": w.channel,
        "session_id": "s", "nonce": "1",
        "data": { "id": command, "name": "look", "type": 1, "options": options },
    });
    assert_eq!(
        w.s.post("/interactions", &w.owner.auth, body).await.status,
        204
    );
    let (_, _, d) = w.received().await;
    let resolved = &d["data"]["resolved"];
    assert_eq!(d["data"]["options"], options);
    assert_eq!(resolved["users"][&w.member.id]["id"], json!(w.member.id));
    assert!(resolved["members"][&w.member.id]["joined_at"].is_string());
    assert!(resolved["members"][&w.member.id].get("user").is_none());
    assert_eq!(resolved["roles"][&w.guild]["name"], "@everyone");
    assert_eq!(resolved["channels"][&w.channel]["id"], json!(w.channel));

    // A message command's target is resolved to the message, and its
    // answer is of type 23.
    let quote = w.command(json!({ "name": "Quote", "type": 3 })).await;
    let said = w.s.say(&w.member, &w.channel, "quotable").await;
    let body = json!({
        "type": 2, "application_id": w.bot.id, "guild_id": w.guild, "channel_id": w.channel,
        "session_id": "s", "nonce": "2",
        "data": { "id": quote, "name": "Quote", "type": 3, "target_id": said },
    });
    assert_eq!(
        w.s.post("/interactions", &w.owner.auth, body).await.status,
        204
    );
    let (id, token, d) = w.received().await;
    assert_eq!(d["data"]["target_id"], json!(said));
    assert_eq!(
        d["data"]["resolved"]["messages"][&said]["content"],
        "quotable"
    );
    let reply = w
        .callback(
            &id,
            &token,
            json!({ "type": 4, "data": { "content": "quoted" } }),
        )
        .await;
    assert_eq!(reply.body["resource"]["message"]["type"], 23);
    assert_eq!(
        reply.body["resource"]["message"]["interaction_metadata"]["command_type"],
        3
    );
}

#[tokio::test]
async fn a_command_in_the_bots_dm() {
    let mut w = World::new().await;
    let global = format!("/applications/{}/commands", w.bot.id);
    let command = w.s.post(&global, &w.bot.auth, ping()).await;
    assert_eq!(command.status, 201, "{:?}", command.body);
    let dm = w.dm_with_bot(&w.owner).await;
    let body = json!({
        "type": 2, "application_id": w.bot.id, "channel_id": dm, "session_id": "s", "nonce": "3",
        "data": { "id": command.body["id"], "name": "ping", "type": 1 },
    });
    let reply = w.s.post("/interactions", &w.owner.auth, body).await;
    assert_eq!(reply.status, 204, "{:?}", reply.body);
    let (id, token, d) = w.received().await;
    assert_eq!(d["context"], 1);
    assert_eq!(d["user"]["id"], json!(w.owner.id));
    assert!(d.get("member").is_none() && d.get("guild_id").is_none());
    assert_eq!(d["channel"]["id"], dm);
    assert_eq!(d["authorizing_integration_owners"], json!({ "0": "0" }));
    let reply = w
        .callback(
            &id,
            &token,
            json!({ "type": 4, "data": { "content": "pong in private" } }),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let seen = w.owner_ws.dispatch("MESSAGE_CREATE").await;
    assert_eq!(seen["d"]["content"], "pong in private");
    assert_eq!(seen["d"]["channel_id"], dm);
    assert!(seen["d"].get("guild_id").is_none());
}

#[tokio::test]
async fn the_token_is_never_logged() {
    crate::check_replies();
    let mut s = TestServer::start_logging(env!("CARGO_BIN_EXE_concord"), "trace", &[]);
    let owner = s.register("owner").await;
    let (guild, channel) = s.guild(&owner, "Home").await;
    let bot = s.bot(&owner, "helper", &guild, "0").await;
    let mut bot_ws = connect(&s, bot.auth.trim_start_matches("Bot ")).await;
    let path = format!("/applications/{}/guilds/{guild}/commands", bot.id);
    let command = s.post(&path, &bot.auth, ping()).await;
    let body = json!({
        "type": 2, "application_id": bot.id, "guild_id": guild, "channel_id": channel,
        "session_id": "s", "nonce": "1",
        "data": { "id": command.body["id"], "name": "ping", "type": 1 },
    });
    assert_eq!(s.post("/interactions", &owner.auth, body).await.status, 204);
    let d = bot_ws.dispatch("INTERACTION_CREATE").await["d"].clone();
    let (id, token) = (d["id"].as_str().unwrap(), d["token"].as_str().unwrap());
    let callback = format!("/interactions/{id}/{token}/callback");
    let answer = json!({ "type": 4, "data": { "content": "pong" } });
    assert_eq!(
        s.request("POST", &callback, None, Some(answer.clone()))
            .await
            .status,
        204
    );
    assert_eq!(
        s.request("POST", &callback, None, Some(answer))
            .await
            .status,
        400
    );
    let hook = format!("/webhooks/{}/{token}", bot.id);
    let follow = s
        .request("POST", &hook, None, Some(json!({ "content": "more" })))
        .await;
    assert_eq!(follow.status, 200);
    let original = format!("{hook}/messages/@original");
    let edited = s
        .request("PATCH", &original, None, Some(json!({ "content": "x" })))
        .await;
    assert_eq!(edited.status, 200);
    let metrics = s.metrics().await;
    assert!(!metrics.contains(token), "the token is in the metrics");
    let log = s.stop_and_read_log();
    assert!(
        log.lines().count() > 10,
        "the server logged at trace: {log}"
    );
    assert!(!log.contains(token), "the token was logged");
}

/// A multipart body: `payload_json` and one file per `(name, bytes)`.
fn with_files(payload: Value, files: &[(&str, &[u8])]) -> reqwest::multipart::Form {
    let form = reqwest::multipart::Form::new().text("payload_json", payload.to_string());
    files
        .iter()
        .enumerate()
        .fold(form, |form, (n, (name, bytes))| {
            let part = reqwest::multipart::Part::bytes(bytes.to_vec()).file_name(name.to_string());
            form.part(format!("files[{n}]"), part)
        })
}

/// POSTs (or PATCHes) `form` to `path` without a token; status and body.
async fn send_form(
    s: &TestServer,
    method: &str,
    path: &str,
    form: reqwest::multipart::Form,
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let reply = reqwest::Client::new()
        .request(method, s.url(&format!("/api/v10{path}")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap_or_default())
}

/// The bytes an attachment's URL serves.
async fn served(attachment: &Value) -> Vec<u8> {
    let url = attachment["url"].as_str().unwrap();
    reqwest::get(url)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec()
}

#[tokio::test]
async fn callbacks_and_follow_ups_carry_files() {
    let mut w = World::new().await;
    let command = w.command(ping()).await;

    // A callback's message, with two files.
    assert_eq!(w.invoke(&w.owner, &command, "ping").await.status, 204);
    let (id, token, _) = w.received().await;
    let answer = json!({ "type": 4, "data": { "content": "report" } });
    let form = with_files(answer, &[("a.txt", b"alpha"), ("b.log", b"beta!")]);
    let path = format!("/interactions/{id}/{token}/callback?with_response=true");
    let (status, body) = send_form(&w.s, "POST", &path, form).await;
    assert_eq!(status, 200, "{body:?}");
    let message = &body["resource"]["message"];
    assert_eq!(message["content"], "report");
    assert_eq!(message["attachments"][0]["filename"], "a.txt");
    assert_eq!(message["attachments"][1]["filename"], "b.log");
    assert_eq!(served(&message["attachments"][1]).await, b"beta!");
    let created = w.owner_ws.dispatch("MESSAGE_CREATE").await["d"].clone();
    assert_eq!(created["attachments"][0]["size"], 5);

    // A follow-up with a file and a button.
    let button = json!([{ "type": 1, "components": [
        { "type": 2, "style": 1, "label": "Again", "custom_id": "again" } ] }]);
    let payload = json!({ "content": "more", "components": button });
    let form = with_files(payload, &[("c.txt", b"gamma")]);
    let (status, follow) = send_form(&w.s, "POST", &w.webhook(&token, ""), form).await;
    assert_eq!(status, 200, "{follow:?}");
    assert_eq!(follow["attachments"][0]["filename"], "c.txt");
    assert_eq!(served(&follow["attachments"][0]).await, b"gamma");
    assert_eq!(follow["components"], button);

    // An edit of @original adds a file after those it has.
    let form = with_files(
        json!({ "content": "report, amended" }),
        &[("d.txt", b"delta")],
    );
    let original = w.webhook(&token, "/messages/@original");
    let (status, edited) = send_form(&w.s, "PATCH", &original, form).await;
    assert_eq!(status, 200, "{edited:?}");
    let names: Vec<&str> = edited["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["filename"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a.txt", "b.log", "d.txt"]);
    let read =
        w.s.get(
            &format!(
                "/channels/{}/messages/{}",
                w.channel,
                edited["id"].as_str().unwrap()
            ),
            &w.owner.auth,
        )
        .await;
    assert_eq!(read.body["attachments"][2]["filename"], "d.txt");

    // A deferred answer's first follow-up fills it, files included.
    assert_eq!(w.invoke(&w.owner, &command, "ping").await.status, 204);
    let (id, token, _) = w.received().await;
    let reply = w.callback(&id, &token, json!({ "type": 5 })).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let thinking = reply.body["resource"]["message"]["id"].clone();
    let form = with_files(json!({ "content": "done" }), &[("e.txt", b"epsilon")]);
    let (status, filled) = send_form(&w.s, "POST", &w.webhook(&token, ""), form).await;
    assert_eq!(status, 200, "{filled:?}");
    assert_eq!(filled["id"], thinking);
    assert_eq!(filled["flags"], 0);
    assert_eq!(filled["attachments"][0]["filename"], "e.txt");
    assert_eq!(served(&filled["attachments"][0]).await, b"epsilon");
}

/// The names of the commands the index lists for `who` in `channel`.
async fn indexed(s: &TestServer, who: &Account, channel: &str) -> Vec<String> {
    let path = format!("/channels/{channel}/application-command-index");
    let reply = s.get(&path, &who.auth).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let mut names: Vec<String> = reply.body["application_commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn the_command_index_lists_what_each_person_may_use() {
    let w = World::new().await;
    w.command(ping()).await;
    w.command(json!({ "name": "admins", "description": "d", "default_member_permissions": "0" }))
        .await;
    let global = format!("/applications/{}/commands", w.bot.id);
    for body in [
        json!({ "name": "anywhere", "description": "d" }),
        json!({ "name": "dm", "description": "d", "contexts": [1] }),
    ] {
        let made = w.s.post(&global, &w.bot.auth, body).await;
        assert!(matches!(made.status, 200 | 201), "{:?}", made.body);
    }
    // The owner administers the guild; the member does not; DM-only
    // commands stay out of the guild.
    assert_eq!(
        indexed(&w.s, &w.owner, &w.channel).await,
        ["admins", "anywhere", "ping"]
    );
    assert_eq!(
        indexed(&w.s, &w.member, &w.channel).await,
        ["anywhere", "ping"]
    );
    let path = format!("/channels/{}/application-command-index", w.channel);
    let index = w.s.get(&path, &w.member.auth).await.body;
    assert_eq!(index["applications"][0]["id"], json!(w.bot.id));
    // In the DM with the bot: its global commands for that context.
    let dm = w.dm_with_bot(&w.member).await;
    assert_eq!(indexed(&w.s, &w.member, &dm).await, ["anywhere", "dm"]);
    // A channel one cannot see: nothing listed, as for any read of it.
    let (_, other) = w.s.guild(&w.owner, "Private").await;
    let path = format!("/channels/{other}/application-command-index");
    assert_eq!(w.s.get(&path, &w.member.auth).await.status, 403);
}

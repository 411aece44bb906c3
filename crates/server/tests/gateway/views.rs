//! A person's sessions hold only the channels they can view; bots hold them all.

use concord_testkit::gateway::GatewayClient;
use serde_json::{Value, json};

use crate::{DEFAULT_INTENTS, GUILDS, World, until, until_message};

const VIEW_CHANNEL: u64 = 1 << 10;

fn channel_ids(guild_create: &Value) -> Vec<String> {
    guild_create["d"]["channels"]
        .as_array()
        .expect("channels")
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

/// A channel of the world's guild that only the owner (and bots' caches) know of.
async fn hidden_channel(w: &World, name: &str) -> String {
    let hide =
        json!([{ "id": w.guild, "type": 0, "allow": "0", "deny": VIEW_CHANNEL.to_string() }]);
    let made =
        w.s.post(
            &format!("/guilds/{}/channels", w.guild),
            &w.owner.auth,
            json!({ "name": name, "topic": "plans", "permission_overwrites": hide }),
        )
        .await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    made.body["id"].as_str().unwrap().to_owned()
}

/// Identifies and returns READY; GUILD_CREATEs are left to the caller.
async fn identify(w: &World, token: &str, intents: u64) -> GatewayClient {
    let mut ws = GatewayClient::connect(&w.s.ws_url(), "v=10&encoding=json").await;
    assert_eq!(ws.receive().await["op"], 10);
    ws.identify(token.trim_start_matches("Bot "), intents).await;
    ws.dispatch("READY").await;
    ws
}

/// Reads dispatches of type `t` until one about channel `id`.
async fn about(ws: &mut GatewayClient, t: &str, id: &str) {
    while ws.dispatch(t).await["d"]["id"] != id {}
}

#[tokio::test]
async fn guild_create_omits_hidden_channels_for_people() {
    let w = World::new(&[]).await;
    let s = &w.s;
    let hidden = hidden_channel(&w, "secret").await;
    let bob = s.register("bob").await;

    // Joining while connected: the GUILD_CREATE sent on join.
    let mut early = identify(&w, &bob.auth, DEFAULT_INTENTS).await;
    s.join(&w.owner, &w.general, &bob).await;
    let joined = early.dispatch("GUILD_CREATE").await;
    assert!(channel_ids(&joined).contains(&w.general));
    assert!(!channel_ids(&joined).contains(&hidden), "{joined}");

    // Identifying later: READY's guilds.
    let mut later = identify(&w, &bob.auth, DEFAULT_INTENTS).await;
    let ready = later.dispatch("GUILD_CREATE").await;
    assert!(channel_ids(&ready).contains(&w.general));
    assert!(!channel_ids(&ready).contains(&hidden), "{ready}");
    let listed = s
        .get(&format!("/guilds/{}/channels", w.guild), &bob.auth)
        .await;
    assert!(
        listed
            .body
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["id"] != hidden.as_str())
    );

    // A bot's cache holds every channel, as its library expects.
    let mut bot = identify(&w, w.bot_token(), GUILDS).await;
    let theirs = bot.dispatch("GUILD_CREATE").await;
    assert!(channel_ids(&theirs).contains(&hidden));
    let owners = identify(&w, &w.owner.auth, GUILDS)
        .await
        .dispatch("GUILD_CREATE")
        .await;
    assert!(channel_ids(&owners).contains(&hidden));
}

#[tokio::test]
async fn channel_events_follow_the_view() {
    let w = World::new(&[]).await;
    let s = &w.s;
    let bob = s.register("bob").await;
    s.join(&w.owner, &w.general, &bob).await;
    let (mut ws, _) = w.connect(&bob.auth, DEFAULT_INTENTS).await;
    let (mut bot, _) = w.connect_bot(GUILDS).await;
    // Created hidden: the bot hears of it, bob does not.
    let hidden = hidden_channel(&w, "secret").await;
    assert_eq!(
        bot.dispatch("CHANNEL_CREATE").await["d"]["id"],
        hidden.as_str()
    );
    let edit = |topic: &'static str| {
        let (s, path, auth) = (s, format!("/channels/{hidden}"), w.owner.auth.clone());
        async move {
            let r = s.patch(&path, &auth, json!({ "topic": topic })).await;
            assert_eq!(r.status, 200, "{:?}", r.body);
        }
    };
    edit("more plans").await;
    assert_eq!(
        bot.dispatch("CHANNEL_UPDATE").await["d"]["topic"],
        "more plans"
    );
    w.say("one").await;
    let (seen, _) = until_message(&mut ws, "one").await;
    assert!(!seen.iter().any(|t| t.starts_with("CHANNEL_")), "{seen:?}");

    // An overwrite lets bob in: the channel arrives as created, and leaves as deleted.
    let mine = format!("/channels/{hidden}/permissions/{}", bob.id);
    let allow = json!({ "type": 1, "allow": VIEW_CHANNEL.to_string(), "deny": "0" });
    assert_eq!(s.put(&mine, &w.owner.auth, allow).await.status, 204);
    let (seen, created) = until(&mut ws, "CHANNEL_CREATE").await;
    assert_eq!(created["d"]["id"], hidden.as_str());
    assert_eq!(created["d"]["topic"], "more plans");
    assert!(!seen.contains(&"CHANNEL_UPDATE".to_owned()), "{seen:?}");
    edit("visible plans").await;
    let updated = ws.dispatch("CHANNEL_UPDATE").await;
    assert_eq!(updated["d"]["topic"], "visible plans");
    assert_eq!(s.delete(&mine, &w.owner.auth).await.status, 204);
    let (seen, deleted) = until(&mut ws, "CHANNEL_DELETE").await;
    assert_eq!(deleted["d"]["id"], hidden.as_str());
    assert!(!seen.contains(&"CHANNEL_UPDATE".to_owned()), "{seen:?}");

    // Through a role: given, then taken.
    let role = s
        .post(
            &format!("/guilds/{}/roles", w.guild),
            &w.owner.auth,
            json!({ "name": "insiders" }),
        )
        .await;
    let role = role.body["id"].as_str().unwrap().to_owned();
    let allow = json!({ "type": 0, "allow": VIEW_CHANNEL.to_string(), "deny": "0" });
    let put = s
        .put(
            &format!("/channels/{hidden}/permissions/{role}"),
            &w.owner.auth,
            allow,
        )
        .await;
    assert_eq!(put.status, 204);
    w.say("two").await;
    let (seen, _) = until_message(&mut ws, "two").await;
    assert!(!seen.iter().any(|t| t.starts_with("CHANNEL_")), "{seen:?}");
    let membership = format!("/guilds/{}/members/{}/roles/{role}", w.guild, bob.id);
    assert_eq!(
        s.put(&membership, &w.owner.auth, json!({})).await.status,
        204
    );
    assert_eq!(
        ws.dispatch("CHANNEL_CREATE").await["d"]["id"],
        hidden.as_str()
    );
    assert_eq!(s.delete(&membership, &w.owner.auth).await.status, 204);
    assert_eq!(
        ws.dispatch("CHANNEL_DELETE").await["d"]["id"],
        hidden.as_str()
    );

    // Through a role's permissions: @everyone loses VIEW_CHANNEL, then gets it back.
    let everyone = format!("/guilds/{}/roles/{}", w.guild, w.guild);
    let roles = s
        .get(&format!("/guilds/{}/roles", w.guild), &w.owner.auth)
        .await;
    let before: u64 = roles
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == w.guild.as_str())
        .unwrap()["permissions"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let set = |p: u64| {
        let (s, path, auth) = (s, everyone.clone(), w.owner.auth.clone());
        async move {
            let r = s
                .patch(&path, &auth, json!({ "permissions": p.to_string() }))
                .await;
            assert_eq!(r.status, 200, "{:?}", r.body);
        }
    };
    // Every channel goes and comes back, in id order: the category, then #general.
    set(before & !VIEW_CHANNEL).await;
    about(&mut ws, "CHANNEL_DELETE", &w.general).await;
    set(before).await;
    about(&mut ws, "CHANNEL_CREATE", &w.general).await;

    // Deleted while hidden from bob: only those who knew it hear of it.
    let gone = s
        .delete(&format!("/channels/{hidden}"), &w.owner.auth)
        .await;
    assert_eq!(gone.status, 200);
    assert_eq!(
        bot.dispatch("CHANNEL_DELETE").await["d"]["id"],
        hidden.as_str()
    );
    w.say("three").await;
    let (seen, _) = until_message(&mut ws, "three").await;
    assert!(!seen.iter().any(|t| t.starts_with("CHANNEL_")), "{seen:?}");
}

/// Messages reach whoever may view their channel as of the write that
/// changed it: the fan-out applies each change as it passes, then the
/// next message follows the new rule.
#[tokio::test]
async fn messages_follow_each_permission_change_at_once() {
    let w = World::new(&[]).await;
    let s = &w.s;
    let hidden = hidden_channel(&w, "secret").await;
    let bob = s.register("bob").await;
    s.join(&w.owner, &w.general, &bob).await;
    let (mut ws, _) = w.connect(&bob.auth, DEFAULT_INTENTS).await;
    let in_hidden = |text: &'static str| s.say(&w.owner, &hidden, text);

    in_hidden("unseen").await;
    w.say("marker one").await;
    let (_, got) = until_message(&mut ws, "marker one").await;
    assert_eq!(got["d"]["channel_id"], w.general.as_str());

    // An overwrite for bob: the very next message there reaches him.
    let mine = format!("/channels/{hidden}/permissions/{}", bob.id);
    let allow = json!({ "type": 1, "allow": VIEW_CHANNEL.to_string(), "deny": "0" });
    assert_eq!(s.put(&mine, &w.owner.auth, allow).await.status, 204);
    in_hidden("overwritten in").await;
    let (seen, got) = until_message(&mut ws, "overwritten in").await;
    assert_eq!(got["d"]["channel_id"], hidden.as_str());
    assert!(!seen.iter().any(|t| t == "MESSAGE_CREATE"), "{seen:?}");
    assert_eq!(s.delete(&mine, &w.owner.auth).await.status, 204);
    in_hidden("overwritten out").await;
    w.say("marker two").await;
    let (seen, _) = until_message(&mut ws, "marker two").await;
    assert!(!seen.iter().any(|t| t == "MESSAGE_CREATE"), "{seen:?}");

    // A role that lets bob in, given to him, then edited to let no one in.
    let role = s
        .post(
            &format!("/guilds/{}/roles", w.guild),
            &w.owner.auth,
            json!({ "name": "insiders" }),
        )
        .await;
    let role = role.body["id"].as_str().unwrap().to_owned();
    let allow = json!({ "type": 0, "allow": VIEW_CHANNEL.to_string(), "deny": "0" });
    let overwrite = format!("/channels/{hidden}/permissions/{role}");
    assert_eq!(s.put(&overwrite, &w.owner.auth, allow).await.status, 204);
    let membership = format!("/guilds/{}/members/{}/roles/{role}", w.guild, bob.id);
    assert_eq!(
        s.put(&membership, &w.owner.auth, json!({})).await.status,
        204
    );
    in_hidden("by role").await;
    let (_, got) = until_message(&mut ws, "by role").await;
    assert_eq!(got["d"]["channel_id"], hidden.as_str());
    let deny = json!({ "type": 0, "allow": "0", "deny": VIEW_CHANNEL.to_string() });
    assert_eq!(s.put(&overwrite, &w.owner.auth, deny).await.status, 204);
    in_hidden("role denied").await;
    w.say("marker three").await;
    let (seen, _) = until_message(&mut ws, "marker three").await;
    assert!(!seen.iter().any(|t| t == "MESSAGE_CREATE"), "{seen:?}");
    // The role loses the deny and gains Administrator: in again.
    assert_eq!(s.delete(&overwrite, &w.owner.auth).await.status, 204);
    let admin = s
        .patch(
            &format!("/guilds/{}/roles/{role}", w.guild),
            &w.owner.auth,
            json!({ "permissions": (1u64 << 3).to_string() }),
        )
        .await;
    assert_eq!(admin.status, 200, "{:?}", admin.body);
    in_hidden("as admin").await;
    let (_, got) = until_message(&mut ws, "as admin").await;
    assert_eq!(got["d"]["channel_id"], hidden.as_str());
}

/// Someone who joins while connected gets the guild's GUILD_CREATE before
/// any of its events, however soon they follow.
#[tokio::test]
async fn a_joining_user_gets_guild_create_before_the_next_message() {
    let w = World::new(&[]).await;
    let s = &w.s;
    let carol = s.register("carol").await;
    let mut ws = identify(&w, &carol.auth, DEFAULT_INTENTS).await;
    // Carol has no guild yet: the node hears nothing of it for her.
    s.join(&w.owner, &w.general, &carol).await;
    w.say("right after").await;
    let (seen, created) = until(&mut ws, "GUILD_CREATE").await;
    assert!(!seen.iter().any(|t| t.starts_with("MESSAGE_")), "{seen:?}");
    assert_eq!(created["d"]["id"], w.guild.as_str());
    let (_, got) = until_message(&mut ws, "right after").await;
    assert_eq!(got["d"]["channel_id"], w.general.as_str());
}

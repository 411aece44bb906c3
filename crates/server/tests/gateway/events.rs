use concord_testkit::gateway::{GatewayClient, Received};
use serde_json::{Value, json};

use crate::{
    ALL_INTENTS, DEFAULT_INTENTS, GUILD_MESSAGES, GUILDS, MESSAGE_CONTENT, World, until,
    until_message,
};

#[tokio::test]
async fn every_write_reaches_the_gateway() {
    let w = World::new(&[]).await;
    // MANAGE_CHANNELS, to see invite events.
    let manager = w.s.bot(&w.owner, "manager", &w.guild, "16").await;
    let (mut ws, _) = w.connect(&manager.auth, ALL_INTENTS).await;
    let s = &w.s;
    let general = &w.general;

    let id = w.say("hello").await;
    let created = ws.dispatch("MESSAGE_CREATE").await;
    let d = &created["d"];
    assert_eq!(d["id"], id.as_str());
    assert_eq!(d["guild_id"], w.guild.as_str());
    assert_eq!(d["content"], "hello");
    assert_eq!(
        d["member"]["roles"],
        json!([]),
        "the author's partial member"
    );
    assert!(d["member"]["flags"].is_number() && d["member"].get("user").is_none());
    assert_eq!(created["s"].as_u64().unwrap(), 3, "READY 1, GUILD_CREATE 2");
    assert_eq!(created["d"]["channel_id"], general.as_str());

    s.patch(
        &format!("/channels/{general}/messages/{id}"),
        &w.owner.auth,
        json!({ "content": "edited" }),
    )
    .await;
    let updated = ws.dispatch("MESSAGE_UPDATE").await;
    assert_eq!(updated["d"]["content"], "edited");
    assert!(updated["d"]["edited_timestamp"].is_string());
    assert_eq!(
        updated["d"]["author"]["id"],
        w.owner.id.as_str(),
        "a full message, not a partial"
    );

    s.delete(&format!("/channels/{general}/messages/{id}"), &w.owner.auth)
        .await;
    let deleted = ws.dispatch("MESSAGE_DELETE").await;
    assert_eq!(
        deleted["d"],
        json!({ "id": id, "channel_id": general, "guild_id": w.guild })
    );

    let (a, b) = (w.say("a").await, w.say("b").await);
    s.post(
        &format!("/channels/{general}/messages/bulk-delete"),
        &w.owner.auth,
        json!({ "messages": [a, b] }),
    )
    .await;
    let bulk = ws.dispatch("MESSAGE_DELETE_BULK").await;
    assert_eq!(bulk["d"]["ids"].as_array().unwrap().len(), 2);

    let channel = s
        .post(
            &format!("/guilds/{}/channels", w.guild),
            &w.owner.auth,
            json!({ "name": "news" }),
        )
        .await;
    let channel_id = channel.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        ws.dispatch("CHANNEL_CREATE").await["d"]["id"],
        channel_id.as_str()
    );
    s.patch(
        &format!("/channels/{channel_id}"),
        &w.owner.auth,
        json!({ "topic": "t" }),
    )
    .await;
    assert_eq!(ws.dispatch("CHANNEL_UPDATE").await["d"]["topic"], "t");
    s.delete(&format!("/channels/{channel_id}"), &w.owner.auth)
        .await;
    assert_eq!(
        ws.dispatch("CHANNEL_DELETE").await["d"]["id"],
        channel_id.as_str()
    );

    let role = s
        .post(
            &format!("/guilds/{}/roles", w.guild),
            &w.owner.auth,
            json!({ "name": "mods" }),
        )
        .await;
    let role_event = ws.dispatch("GUILD_ROLE_CREATE").await;
    assert_eq!(role_event["d"]["guild_id"], w.guild.as_str());
    assert_eq!(role_event["d"]["role"]["id"], role.body["id"]);

    s.patch(
        &format!("/guilds/{}", w.guild),
        &w.owner.auth,
        json!({ "name": "Renamed" }),
    )
    .await;
    assert_eq!(ws.dispatch("GUILD_UPDATE").await["d"]["name"], "Renamed");

    let invite = s
        .post(
            &format!("/channels/{general}/invites"),
            &w.owner.auth,
            json!({}),
        )
        .await;
    let code = invite.body["code"].as_str().unwrap().to_owned();
    let (_, invite_created) = until(&mut ws, "INVITE_CREATE").await;
    assert_eq!(invite_created["d"]["code"], code.as_str());
    let joiner = s.register("joiner").await;
    s.post(&format!("/invites/{code}"), &joiner.auth, json!({}))
        .await;
    let added = ws.dispatch("GUILD_MEMBER_ADD").await;
    assert_eq!(added["d"]["user"]["id"], joiner.id.as_str());
    assert_eq!(added["d"]["guild_id"], w.guild.as_str());
    s.put(
        &format!(
            "/guilds/{}/members/{}/roles/{}",
            w.guild,
            joiner.id,
            role.body["id"].as_str().unwrap()
        ),
        &w.owner.auth,
        json!({}),
    )
    .await;
    let member_update = ws.dispatch("GUILD_MEMBER_UPDATE").await;
    assert_eq!(member_update["d"]["roles"], json!([role.body["id"]]));
    s.delete(&format!("/users/@me/guilds/{}", w.guild), &joiner.auth)
        .await;
    let removed = ws.dispatch("GUILD_MEMBER_REMOVE").await;
    assert_eq!(removed["d"]["user"]["id"], joiner.id.as_str());
    s.delete(&format!("/invites/{code}"), &w.owner.auth).await;
    assert_eq!(
        ws.dispatch("INVITE_DELETE").await["d"]["code"],
        code.as_str()
    );

    s.delete(&format!("/guilds/{}", w.guild), &w.owner.auth)
        .await;
    assert_eq!(
        ws.dispatch("GUILD_DELETE").await["d"]["id"],
        w.guild.as_str()
    );
}

#[tokio::test]
async fn sessions_follow_the_guilds_their_user_joins_and_leaves() {
    let w = World::new(&[]).await;
    let visitor = w.s.register("visitor").await;
    let mut ws = GatewayClient::connect(&w.s.ws_url(), "v=10").await;
    ws.receive().await;
    ws.send(json!({ "op": 2, "d": { "token": visitor.auth, "properties": {} } }))
        .await;
    let ready = ws.dispatch("READY").await;
    assert_eq!(ready["d"]["guilds"], json!([]));
    w.s.join(&w.owner, &w.general, &visitor).await;
    let created = ws.dispatch("GUILD_CREATE").await;
    assert_eq!(created["d"]["id"], w.guild.as_str());
    w.say("welcome").await;
    until_message(&mut ws, "welcome").await;
    w.s.delete(&format!("/users/@me/guilds/{}", w.guild), &visitor.auth)
        .await;
    assert_eq!(
        ws.dispatch("GUILD_DELETE").await["d"]["id"],
        w.guild.as_str()
    );
    w.say("after leaving").await;
    let user =
        w.s.patch("/users/@me", &visitor.auth, json!({ "global_name": "V" }))
            .await;
    assert_eq!(user.status, 200);
    let (seen, update) = until(&mut ws, "USER_UPDATE").await;
    assert_eq!(update["d"]["global_name"], "V");
    assert!(
        !seen.contains(&"MESSAGE_CREATE".to_owned()),
        "no events from a guild left: {seen:?}"
    );
}

#[tokio::test]
async fn intents_filter_dispatches() {
    let w = World::new(&[]).await;
    let (mut no_messages, _) = w.connect_bot(GUILDS).await;
    w.say("invisible").await;
    w.s.post(
        &format!("/guilds/{}/channels", w.guild),
        &w.owner.auth,
        json!({ "name": "marker" }),
    )
    .await;
    let (seen, _) = until(&mut no_messages, "CHANNEL_CREATE").await;
    assert!(seen.is_empty(), "{seen:?}");

    let (mut messages_only, _) = w.connect_bot(GUILD_MESSAGES).await;
    w.s.post(
        &format!("/guilds/{}/channels", w.guild),
        &w.owner.auth,
        json!({ "name": "unseen" }),
    )
    .await;
    w.say("marker").await;
    let (seen, _) = until(&mut messages_only, "MESSAGE_CREATE").await;
    assert!(seen.is_empty(), "{seen:?}");
}

#[tokio::test]
async fn message_content_is_privileged() {
    let w = World::new(&[]).await;
    let (mut without, _) = w.connect_bot(DEFAULT_INTENTS).await;
    let (mut with, _) = w.connect_bot(DEFAULT_INTENTS | MESSAGE_CONTENT).await;
    w.s.post(
        &format!("/channels/{}/messages", w.general),
        &w.owner.auth,
        json!({ "content": "secret", "embeds": [{ "title": "t" }] }),
    )
    .await;
    let hidden = without.dispatch("MESSAGE_CREATE").await;
    assert_eq!(hidden["d"]["content"], "");
    assert_eq!(hidden["d"]["embeds"], json!([]));
    assert_eq!(hidden["d"]["attachments"], json!([]));
    assert_eq!(hidden["d"]["components"], json!([]));
    let shown = with.dispatch("MESSAGE_CREATE").await;
    assert_eq!(shown["d"]["content"], "secret");

    // A reply carries the message it answers, emptied the same way.
    let original = shown["d"]["id"].as_str().unwrap();
    let reply = json!({ "content": "answer", "message_reference": { "message_id": original } });
    w.s.post(
        &format!("/channels/{}/messages", w.general),
        &w.owner.auth,
        reply,
    )
    .await;
    let hidden = without.dispatch("MESSAGE_CREATE").await;
    let replied = &hidden["d"]["referenced_message"];
    assert_eq!(replied["id"], original);
    assert_eq!(
        (replied["content"].clone(), replied["embeds"].clone()),
        (json!(""), json!([]))
    );
    with.dispatch("MESSAGE_CREATE").await;

    w.say(&format!("<@{}> you may read this", w.bot.id)).await;
    assert!(
        without.dispatch("MESSAGE_CREATE").await["d"]["content"]
            .as_str()
            .unwrap()
            .ends_with("read this")
    );
    w.s.post(
        &format!("/channels/{}/messages", w.general),
        &w.bot.auth,
        json!({ "content": "my own" }),
    )
    .await;
    assert_eq!(
        without.dispatch("MESSAGE_CREATE").await["d"]["content"],
        "my own"
    );
}

#[tokio::test]
async fn fan_out_follows_view_channel_per_recipient() {
    let w = World::new(&[]).await;
    let reader = w.s.register("reader").await;
    w.s.join(&w.owner, &w.general, &reader).await;
    let mut ws = GatewayClient::connect(&w.s.ws_url(), "v=10").await;
    ws.receive().await;
    ws.send(json!({ "op": 2, "d": { "token": reader.auth, "properties": {} } }))
        .await;
    ws.dispatch("GUILD_CREATE").await;
    w.say("visible").await;
    assert_eq!(
        ws.dispatch("MESSAGE_CREATE").await["d"]["content"],
        "visible"
    );

    let hide = json!({ "type": 1, "deny": (1u64 << 10).to_string() });
    w.s.put(
        &format!("/channels/{}/permissions/{}", w.general, reader.id),
        &w.owner.auth,
        hide,
    )
    .await;
    w.say("hidden").await;
    let other =
        w.s.post(
            &format!("/guilds/{}/channels", w.guild),
            &w.owner.auth,
            json!({ "name": "open" }),
        )
        .await;
    let other = other.body["id"].as_str().unwrap().to_owned();
    w.s.say(&w.owner, &other, "elsewhere").await;
    let (seen, next) = until(&mut ws, "MESSAGE_CREATE").await;
    assert_eq!(
        next["d"]["content"], "elsewhere",
        "the hidden message was skipped"
    );
    // Hidden from the reader, the channel leaves their client's state.
    assert!(seen.contains(&"CHANNEL_DELETE".to_owned()), "{seen:?}");
    assert!(!seen.contains(&"CHANNEL_UPDATE".to_owned()), "{seen:?}");

    w.s.delete(
        &format!("/channels/{}/permissions/{}", w.general, reader.id),
        &w.owner.auth,
    )
    .await;
    w.say("visible again").await;
    let (seen, next) = until(&mut ws, "MESSAGE_CREATE").await;
    assert_eq!(next["d"]["content"], "visible again");
    assert!(seen.contains(&"CHANNEL_CREATE".to_owned()), "{seen:?}");
}

#[tokio::test]
async fn shards_receive_only_their_guilds() {
    let w = World::new(&[]).await;
    // Make guilds until both shards of two have one.
    // (guild, its #general) for each shard.
    let mut by_shard: [Option<(String, String)>; 2] = [None, None];
    let first: u64 = w.guild.parse().unwrap();
    by_shard[((first >> 22) % 2) as usize] = Some((w.guild.clone(), w.general.clone()));
    while by_shard.iter().any(Option::is_none) {
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        let (guild, general) = w.s.guild(&w.owner, "Another").await;
        let path = format!("/oauth2/authorize?client_id={}&scope=bot", w.bot.id);
        w.s.post(&path, &w.owner.auth, json!({ "guild_id": guild }))
            .await;
        let id: u64 = guild.parse().unwrap();
        by_shard[((id >> 22) % 2) as usize].get_or_insert((guild, general));
    }
    for shard in 0..2u64 {
        let mut ws = GatewayClient::connect(&w.s.ws_url(), "v=10").await;
        ws.receive().await;
        ws.send(json!({ "op": 2, "d": { "token": w.bot_token(), "intents": DEFAULT_INTENTS, "properties": {}, "shard": [shard, 2] } })).await;
        let ready = ws.dispatch("READY").await;
        assert_eq!(ready["d"]["shard"], json!([shard, 2]));
        let ids: Vec<u64> = ready["d"]["guilds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["id"].as_str().unwrap().parse().unwrap())
            .collect();
        assert!(
            !ids.is_empty() && ids.iter().all(|id| (id >> 22) % 2 == shard),
            "{ids:?}"
        );
        let (mine, my_general) = by_shard[shard as usize].clone().unwrap();
        let (theirs, their_general) = by_shard[1 - shard as usize].clone().unwrap();
        w.s.patch(
            &format!("/guilds/{theirs}"),
            &w.owner.auth,
            json!({ "name": "not yours" }),
        )
        .await;
        w.s.patch(
            &format!("/guilds/{mine}"),
            &w.owner.auth,
            json!({ "name": "yours" }),
        )
        .await;
        loop {
            let update = ws.dispatch("GUILD_UPDATE").await;
            assert_eq!(
                update["d"]["id"],
                mine.as_str(),
                "shard {shard} got another shard's guild"
            );
            if update["d"]["name"] == "yours" {
                break;
            }
        }
        // Events for the bot's user about a guild follow the guild's shard.
        for general in [&their_general, &my_general] {
            let thread =
                w.s.post(
                    &format!("/channels/{general}/threads"),
                    &w.owner.auth,
                    json!({ "name": "followed", "type": 11 }),
                )
                .await;
            let thread = thread.body["id"].as_str().unwrap().to_owned();
            w.s.put(
                &format!("/channels/{thread}/thread-members/{}", w.bot.id),
                &w.owner.auth,
                json!({}),
            )
            .await;
        }
        let joined = ws.dispatch("THREAD_MEMBER_UPDATE").await;
        assert_eq!(
            joined["d"]["guild_id"],
            mine.as_str(),
            "shard {shard} heard of a thread in another shard's guild"
        );
    }
    let _ = Received::Silent;
}

#[tokio::test]
async fn moderation_events() {
    let w = World::new(&[]).await;
    // One bot may ban (BAN_MEMBERS), the other may not; both see the guild.
    let banner =
        w.s.bot(&w.owner, "banner", &w.guild, &(1u64 << 2).to_string())
            .await;
    let moderation = 1 << 2;
    let (mut can_ban, _) = w.connect(&banner.auth, ALL_INTENTS | moderation).await;
    let (mut cannot, _) = w.connect_bot(ALL_INTENTS | moderation).await;
    let victim = w.s.register("victim").await;
    w.s.join(&w.owner, &w.general, &victim).await;
    let mut victim_ws = GatewayClient::connect(&w.s.ws_url(), "v=10").await;
    victim_ws.receive().await;
    victim_ws
        .send(json!({ "op": 2, "d": { "token": victim.auth, "properties": {} } }))
        .await;
    victim_ws.dispatch("GUILD_CREATE").await;

    let role =
        w.s.post(
            &format!("/guilds/{}/roles", w.guild),
            &w.owner.auth,
            json!({ "name": "r" }),
        )
        .await;
    let role = role.body["id"].as_str().unwrap().to_owned();
    w.s.patch(
        &format!("/guilds/{}/roles/{role}", w.guild),
        &w.owner.auth,
        json!({ "name": "renamed" }),
    )
    .await;
    let updated = can_ban.dispatch("GUILD_ROLE_UPDATE").await;
    assert_eq!(updated["d"]["role"]["name"], "renamed");
    w.s.delete(&format!("/guilds/{}/roles/{role}", w.guild), &w.owner.auth)
        .await;
    assert_eq!(
        can_ban.dispatch("GUILD_ROLE_DELETE").await["d"]["role_id"],
        role.as_str()
    );

    w.s.patch(
        &format!("/guilds/{}/members/{}", w.guild, victim.id),
        &w.owner.auth,
        json!({ "nick": "soon gone" }),
    )
    .await;
    assert_eq!(
        can_ban.dispatch("GUILD_MEMBER_UPDATE").await["d"]["nick"],
        "soon gone"
    );

    w.s.put(
        &format!("/guilds/{}/bans/{}", w.guild, victim.id),
        &w.owner.auth,
        json!({}),
    )
    .await;
    let (_, removed) = until(&mut can_ban, "GUILD_MEMBER_REMOVE").await;
    assert_eq!(removed["d"]["user"]["id"], victim.id.as_str());
    let (_, ban) = until(&mut can_ban, "GUILD_BAN_ADD").await;
    assert_eq!(ban["d"]["user"]["id"], victim.id.as_str());
    assert_eq!(
        victim_ws.dispatch("GUILD_DELETE").await["d"]["id"],
        w.guild.as_str(),
        "the banned user loses the guild"
    );

    // The bot without BAN_MEMBERS sees the member leave, but not the ban.
    w.say("marker").await;
    let (seen, _) = until_message(&mut cannot, "marker").await;
    assert!(seen.contains(&"GUILD_MEMBER_REMOVE".to_owned()), "{seen:?}");
    assert!(!seen.contains(&"GUILD_BAN_ADD".to_owned()), "{seen:?}");
}

#[tokio::test]
async fn typing_needs_the_typing_intent() {
    let w = World::new(&[]).await;
    let typing_intent = 1 << 11;
    let (mut with, _) = w.connect_bot(DEFAULT_INTENTS).await;
    let (mut without, _) = w.connect_bot(DEFAULT_INTENTS & !typing_intent).await;
    w.s.post(
        &format!("/channels/{}/typing", w.general),
        &w.owner.auth,
        json!({}),
    )
    .await;
    let typing = with.dispatch("TYPING_START").await;
    assert_eq!(typing["d"]["user_id"], w.owner.id.as_str());
    assert_eq!(typing["d"]["channel_id"], w.general.as_str());
    assert!(
        typing["d"]["timestamp"].as_u64().unwrap() > 1_700_000_000,
        "unix seconds"
    );
    assert_eq!(typing["d"]["member"]["user"]["id"], w.owner.id.as_str());
    w.say("marker").await;
    let (seen, _) = until(&mut without, "MESSAGE_CREATE").await;
    assert!(seen.is_empty(), "{seen:?}");
}

#[tokio::test]
async fn pin_events() {
    let w = World::new(&[]).await;
    let (mut ws, _) = w.connect_bot(DEFAULT_INTENTS | MESSAGE_CONTENT).await;
    let id = w.say("pin me").await;
    ws.dispatch("MESSAGE_CREATE").await;
    w.s.put(
        &format!("/channels/{}/messages/pins/{id}", w.general),
        &w.owner.auth,
        json!({}),
    )
    .await;
    let update = ws.dispatch("MESSAGE_UPDATE").await;
    assert_eq!(
        (update["d"]["id"].clone(), update["d"]["pinned"].clone()),
        (json!(id), json!(true))
    );
    let pins = ws.dispatch("CHANNEL_PINS_UPDATE").await;
    assert_eq!(pins["d"]["channel_id"], w.general.as_str());
    assert!(pins["d"]["last_pin_timestamp"].is_string());
    let notice = ws.dispatch("MESSAGE_CREATE").await;
    assert_eq!(notice["d"]["type"], 6);
    w.s.delete(
        &format!("/channels/{}/messages/pins/{id}", w.general),
        &w.owner.auth,
    )
    .await;
    let (_, unpinned) = until(&mut ws, "CHANNEL_PINS_UPDATE").await;
    assert_eq!(unpinned["d"]["last_pin_timestamp"], Value::Null);
}

#[tokio::test]
async fn reaction_events() {
    let w = World::new(&[]).await;
    let (mut ws, _) = w.connect_bot(DEFAULT_INTENTS).await;
    let id = w.say("react").await;
    let base = format!("/channels/{}/messages/{id}/reactions", w.general);
    w.s.put(
        &format!("{base}/%F0%9F%91%8D/@me"),
        &w.owner.auth,
        json!({}),
    )
    .await;
    let added = ws.dispatch("MESSAGE_REACTION_ADD").await;
    let d = &added["d"];
    assert_eq!(
        (
            d["user_id"].clone(),
            d["message_id"].clone(),
            d["emoji"]["name"].clone()
        ),
        (json!(w.owner.id), json!(id), json!("👍"))
    );
    assert_eq!(
        (d["type"].clone(), d["burst"].clone()),
        (json!(0), json!(false)),
        "serenity and discord.py need these"
    );
    assert_eq!(d["member"]["user"]["id"], w.owner.id.as_str());
    w.s.delete(&format!("{base}/%F0%9F%91%8D/@me"), &w.owner.auth)
        .await;
    assert_eq!(ws.dispatch("MESSAGE_REACTION_REMOVE").await["d"]["type"], 0);
    w.s.put(
        &format!("{base}/%F0%9F%91%8D/@me"),
        &w.owner.auth,
        json!({}),
    )
    .await;
    w.s.delete(&format!("{base}/%F0%9F%91%8D"), &w.owner.auth)
        .await;
    assert_eq!(
        ws.dispatch("MESSAGE_REACTION_REMOVE_EMOJI").await["d"]["emoji"]["name"],
        "👍"
    );
    w.s.put(
        &format!("{base}/%F0%9F%91%8D/@me"),
        &w.owner.auth,
        json!({}),
    )
    .await;
    w.s.delete(&base, &w.owner.auth).await;
    assert_eq!(
        ws.dispatch("MESSAGE_REACTION_REMOVE_ALL").await["d"]["message_id"],
        id.as_str()
    );
}

/// DM events reach the participants, never a third user in the same guild;
/// a bot reads DM content without MESSAGE_CONTENT; READY lists a user's DMs.
#[tokio::test]
async fn dm_events_reach_only_the_participants() {
    let w = World::new(&[]).await;
    let eve = w.s.register("eve").await;
    w.s.join(&w.owner, &w.general, &eve).await;
    let dm =
        w.s.post(
            "/users/@me/channels",
            &w.owner.auth,
            json!({ "recipient_id": w.bot.id }),
        )
        .await;
    let dm = dm.body["id"].as_str().unwrap().to_owned();
    let (mut bot, _) = w.connect_bot(DEFAULT_INTENTS).await;
    let (mut outsider, _) = w.connect(&eve.auth, ALL_INTENTS & !(1 << 1 | 1 << 8)).await;
    let (_, ready) = w.connect(&w.owner.auth, DEFAULT_INTENTS).await;
    let listed = ready["d"]["private_channels"].as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], dm.as_str());
    assert_eq!(listed[0]["recipients"][0]["id"], w.bot.id.as_str());

    let id = w.s.say(&w.owner, &dm, "just between us").await;
    w.s.post(&format!("/channels/{dm}/typing"), &w.owner.auth, json!({}))
        .await;
    let created = bot.dispatch("MESSAGE_CREATE").await;
    assert_eq!(created["d"]["id"], id.as_str());
    assert_eq!(created["d"]["content"], "just between us");
    assert!(created["d"].get("guild_id").is_none());
    assert!(created["d"].get("member").is_none());
    let typing = bot.dispatch("TYPING_START").await;
    assert!(typing["d"].get("guild_id").is_none());
    w.s.delete(&format!("/channels/{dm}/messages/{id}"), &w.owner.auth)
        .await;
    let deleted = bot.dispatch("MESSAGE_DELETE").await;
    assert!(deleted["d"].get("guild_id").is_none());

    // Without DIRECT_MESSAGES the bot hears nothing of the DM.
    let direct_messages = 1 << 12;
    let (mut deaf, _) = w.connect_bot(DEFAULT_INTENTS & !direct_messages).await;
    w.s.say(&w.owner, &dm, "second").await;
    w.say("marker").await;
    let (seen, marker) = until(&mut deaf, "MESSAGE_CREATE").await;
    assert!(seen.is_empty(), "{seen:?}");
    assert_eq!(marker["d"]["channel_id"], w.general.as_str());
    let (seen, marker) = until(&mut outsider, "MESSAGE_CREATE").await;
    assert!(!seen.contains(&"TYPING_START".to_owned()), "{seen:?}");
    assert!(!seen.contains(&"MESSAGE_DELETE".to_owned()), "{seen:?}");
    assert_eq!(
        marker["d"]["channel_id"],
        w.general.as_str(),
        "the DM never arrives"
    );
}

#[tokio::test]
async fn group_dm_creation_reaches_each_participant() {
    let w = World::new(&[]).await;
    let (bob, eve) = (w.s.register("bob").await, w.s.register("eve").await);
    for who in [&bob, &eve] {
        w.s.join(&w.owner, &w.general, who).await;
    }
    let (mut bob_ws, _) = w.connect(&bob.auth, DEFAULT_INTENTS).await;
    let (mut eve_ws, _) = w.connect(&eve.auth, DEFAULT_INTENTS).await;
    let group =
        w.s.post(
            "/users/@me/channels",
            &w.owner.auth,
            json!({ "recipients": [bob.id] }),
        )
        .await;
    let created = bob_ws.dispatch("CHANNEL_CREATE").await;
    assert_eq!(created["d"]["id"], group.body["id"]);
    assert_eq!(created["d"]["type"], 3);
    assert_eq!(created["d"]["recipients"][0]["id"], w.owner.id.as_str());
    assert!(matches!(
        eve_ws
            .receive_within(std::time::Duration::from_millis(300))
            .await,
        Received::Silent | Received::Payload(_)
    ));
    // Eve hears nothing about it: the next thing she gets is her own DM.
    let own =
        w.s.post(
            "/users/@me/channels",
            &eve.auth,
            json!({ "recipients": [bob.id] }),
        )
        .await;
    let (_, mine) = until(&mut eve_ws, "CHANNEL_CREATE").await;
    assert_eq!(mine["d"]["id"], own.body["id"]);

    // Eve is added to the first group: she gets the channel, Bob the news.
    let id = group.body["id"].as_str().unwrap();
    let added =
        w.s.put(
            &format!("/channels/{id}/recipients/{}", eve.id),
            &w.owner.auth,
            json!({}),
        )
        .await;
    assert_eq!(added.status, 204);
    let (_, joined) = until(&mut eve_ws, "CHANNEL_CREATE").await;
    assert_eq!(joined["d"]["id"], id);
    let (_, news) = until(&mut bob_ws, "CHANNEL_RECIPIENT_ADD").await;
    assert_eq!(news["d"]["user"]["id"], eve.id.as_str());
    w.s.delete(&format!("/channels/{id}/recipients/{}", eve.id), &eve.auth)
        .await;
    let (_, gone) = until(&mut eve_ws, "CHANNEL_DELETE").await;
    assert_eq!(gone["d"]["id"], id);
    let (_, news) = until(&mut bob_ws, "CHANNEL_RECIPIENT_REMOVE").await;
    assert_eq!(news["d"]["user"]["id"], eve.id.as_str());
}

/// An ack moves the user's read state, reaches their other sessions, and
/// READY counts the mentions that came after it.
#[tokio::test]
async fn read_states_follow_acks() {
    let w = World::new(&[]).await;
    let (bob, eve) = (w.s.register("bob").await, w.s.register("eve").await);
    w.s.join(&w.owner, &w.general, &bob).await;
    let first = w.say("one").await;
    let (mut other, ready) = w.connect(&w.owner.auth, DEFAULT_INTENTS).await;
    assert_eq!(ready["d"]["read_state"]["entries"], json!([]));
    let ack_path = |m: &str| format!("/channels/{}/messages/{m}/ack", w.general);
    let acked =
        w.s.post(&ack_path(&first), &w.owner.auth, json!({ "token": null }))
            .await;
    assert_eq!(
        (acked.status, acked.body.clone()),
        (200, json!({ "token": null }))
    );
    let event = other.dispatch("MESSAGE_ACK").await;
    assert_eq!(event["d"]["message_id"], first.as_str());
    assert_eq!(event["d"]["channel_id"], w.general.as_str());

    let owner = &w.owner.id;
    w.s.say(&bob, &w.general, &format!("<@{owner}> look")).await;
    w.s.say(&bob, &w.general, "nothing for you").await;
    w.s.say(&bob, &w.general, &format!("again <@{owner}>"))
        .await;
    let (_, ready) = w.connect(&w.owner.auth, DEFAULT_INTENTS).await;
    let entries = ready["d"]["read_state"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["id"], w.general.as_str());
    assert_eq!(entries[0]["last_message_id"], first.as_str());
    assert_eq!(entries[0]["mention_count"], 2);
    let (_, bot_ready) = w.connect_bot(DEFAULT_INTENTS).await;
    assert!(bot_ready["d"].get("read_state").is_none(), "bots have none");

    let by_bot = w.s.post(&ack_path(&first), &w.bot.auth, json!({})).await;
    assert_eq!(
        (by_bot.status, by_bot.body["code"].clone()),
        (403, json!(20001))
    );
    let outsider = w.s.post(&ack_path(&first), &eve.auth, json!({})).await;
    assert_eq!(
        (outsider.status, outsider.body["code"].clone()),
        (403, json!(50001))
    );
    let bad =
        w.s.post(&ack_path("latest"), &w.owner.auth, json!({}))
            .await;
    assert_eq!(bad.status, 400);
}

/// Emoji changes reach sessions with GUILD_EXPRESSIONS as the whole list;
/// GUILD_CREATE carries the list too.
#[tokio::test]
async fn emoji_updates_need_the_expressions_intent() {
    let w = World::new(&[]).await;
    let expressions = 1 << 3;
    let (mut with, _) = w.connect_bot(DEFAULT_INTENTS).await;
    let (mut without, _) = w.connect_bot(DEFAULT_INTENTS & !expressions).await;
    let image = "data:image/png;base64,iVBORw0KGgo=";
    let created =
        w.s.post(
            &format!("/guilds/{}/emojis", w.guild),
            &w.owner.auth,
            json!({ "name": "wave", "image": image }),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let update = with.dispatch("GUILD_EMOJIS_UPDATE").await;
    assert_eq!(update["d"]["guild_id"], w.guild.as_str());
    assert_eq!(update["d"]["emojis"][0]["name"], "wave");
    w.say("marker").await;
    let (seen, _) = until(&mut without, "MESSAGE_CREATE").await;
    assert!(seen.is_empty(), "{seen:?}");

    let mut ws = GatewayClient::connect(&w.s.ws_url(), "v=10&encoding=json").await;
    ws.receive().await;
    ws.identify(w.bot_token(), DEFAULT_INTENTS).await;
    let guild = ws.dispatch("GUILD_CREATE").await;
    assert_eq!(guild["d"]["emojis"][0]["id"], created.body["id"]);
}

/// New audit log entries reach those who may read the log, and no one else.
#[tokio::test]
async fn audit_entries_reach_log_readers() {
    let w = World::new(&[]).await;
    let (bob, cat) = (w.s.register("bob").await, w.s.register("cat").await);
    for who in [&bob, &cat] {
        w.s.join(&w.owner, &w.general, who).await;
    }
    let (mut owner, _) = w.connect(&w.owner.auth, ALL_INTENTS).await;
    let (mut member, _) = w.connect(&bob.auth, ALL_INTENTS).await;
    let kicked =
        w.s.delete(
            &format!("/guilds/{}/members/{}", w.guild, cat.id),
            &w.owner.auth,
        )
        .await;
    assert_eq!(kicked.status, 204);
    let (_, entry) = until(&mut owner, "GUILD_AUDIT_LOG_ENTRY_CREATE").await;
    assert_eq!(entry["d"]["action_type"], 20);
    assert_eq!(entry["d"]["target_id"], cat.id.as_str());
    assert_eq!(entry["d"]["guild_id"], w.guild.as_str());
    w.say("marker").await;
    let (seen, _) = until(&mut member, "MESSAGE_CREATE").await;
    assert!(
        !seen.contains(&"GUILD_AUDIT_LOG_ENTRY_CREATE".to_owned()),
        "{seen:?}"
    );
}

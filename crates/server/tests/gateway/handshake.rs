use concord_testkit::gateway::{GatewayClient, Received};
use serde_json::json;

use crate::{ALL_INTENTS, DEFAULT_INTENTS, World};

#[tokio::test]
async fn gateway_urls_have_no_slash_or_query() {
    let w = World::new(&[]).await;
    let plain = w.s.request("GET", "/gateway", None, None).await;
    assert!(
        w.s.ws_urls()
            .contains(&plain.body["url"].as_str().unwrap().to_owned())
    );
    let bot = w.s.get("/gateway/bot", &w.bot.auth).await;
    assert_eq!(bot.status, 200);
    assert!(
        w.s.ws_urls()
            .contains(&bot.body["url"].as_str().unwrap().to_owned())
    );
    assert_eq!(bot.body["shards"], 1);
    for field in ["total", "remaining", "reset_after", "max_concurrency"] {
        assert!(
            bot.body["session_start_limit"][field].is_number(),
            "{field}"
        );
    }
    assert_eq!(
        w.s.get("/gateway/bot", &w.owner.auth).await.status,
        401,
        "bots only"
    );
}

#[tokio::test]
async fn hello_heartbeat_before_identify_ready_and_guild_create() {
    let w = World::new(&["--gateway-heartbeat-ms", "30000"]).await;
    let mut ws = GatewayClient::connect(&w.s.ws_url(), "v=10&encoding=json").await;
    let hello = ws.receive().await;
    assert_eq!(
        hello,
        json!({ "op": 10, "d": { "heartbeat_interval": 30000 }, "s": null, "t": null })
    );
    // discord.py beats at once, before identifying.
    ws.send(json!({ "op": 1, "d": null })).await;
    assert_eq!(
        ws.receive().await,
        json!({ "op": 11, "d": null, "s": null, "t": null })
    );

    ws.identify(w.bot_token(), DEFAULT_INTENTS).await;
    let ready = ws.receive().await;
    assert_eq!(
        (ready["op"].clone(), ready["t"].clone(), ready["s"].clone()),
        (json!(0), json!("READY"), json!(1))
    );
    let d = &ready["d"];
    assert_eq!(d["v"], 10);
    assert_eq!(d["user"]["id"], w.bot.id.as_str());
    assert_eq!(d["user"]["bot"], true);
    assert_eq!(d["user"]["mfa_enabled"], false);
    assert_eq!(d["user"]["discriminator"], "0");
    assert_eq!(d["guilds"], json!([{ "id": w.guild, "unavailable": true }]));
    assert!(d["session_id"].as_str().is_some_and(|s| s.len() >= 16));
    let resume_url = d["resume_gateway_url"].as_str().unwrap().to_owned();
    assert!(w.s.ws_urls().contains(&resume_url), "{resume_url}");
    assert_eq!(d["shard"], json!([0, 1]));
    assert_eq!(d["application"]["id"], w.bot.id.as_str());
    assert!(d["application"]["flags"].is_number());

    let created = ws.receive().await;
    assert_eq!(
        (created["t"].clone(), created["s"].clone()),
        (json!("GUILD_CREATE"), json!(2))
    );
    let g = &created["d"];
    assert_eq!(g["id"], w.guild.as_str());
    assert_eq!(g["unavailable"], false);
    assert_eq!(g["member_count"], 2);
    assert_eq!(g["large"], false);
    assert_eq!(
        g["roles"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["id"] == w.guild.as_str())
            .count(),
        1
    );
    assert!(
        g["channels"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == w.general.as_str())
    );
    let members = g["members"].as_array().unwrap();
    assert!(
        members.iter().any(|m| m["user"]["id"] == w.bot.id.as_str()),
        "the bot's own member"
    );
    assert_eq!(
        members.len(),
        1,
        "without GUILD_PRESENCES only the bot itself"
    );
    for field in [
        "joined_at",
        "voice_states",
        "threads",
        "presences",
        "stage_instances",
        "guild_scheduled_events",
        "soundboard_sounds",
    ] {
        assert!(g.get(field).is_some(), "{field}");
    }
}

#[tokio::test]
async fn presences_intent_brings_every_member() {
    let w = World::new(&[]).await;
    let mut ws = GatewayClient::connect(&w.s.ws_url(), "v=10").await;
    ws.receive().await;
    ws.identify(w.bot_token(), ALL_INTENTS).await;
    let created = ws.dispatch("GUILD_CREATE").await;
    assert_eq!(created["d"]["members"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn user_accounts_identify_without_intents() {
    let w = World::new(&[]).await;
    let mut ws = GatewayClient::connect(&w.s.ws_url(), "encoding=json").await;
    ws.receive().await;
    ws.send(json!({ "op": 2, "d": { "token": w.owner.auth, "properties": {} } }))
        .await;
    let ready = ws.dispatch("READY").await;
    assert_eq!(ready["d"]["user"]["id"], w.owner.id.as_str());
    assert_eq!(ready["d"]["application"]["flags"], 0);
    ws.dispatch("GUILD_CREATE").await;
}

/// Opens a connection, sends `payloads` after HELLO, and returns the close code.
async fn close_code_after(w: &World, query: &str, payloads: Vec<serde_json::Value>) -> Option<u16> {
    let mut ws = GatewayClient::connect(&w.s.ws_url(), query).await;
    match ws.receive_within(concord_testkit::gateway::PATIENCE).await {
        Received::Payload(hello) => assert_eq!(hello["op"], 10),
        Received::Closed(code) => return code,
        Received::Silent => panic!("no HELLO"),
    }
    for payload in payloads {
        ws.send(payload).await;
    }
    ws.closed().await
}

fn identify(token: &str, intents: u64) -> serde_json::Value {
    json!({ "op": 2, "d": { "token": token, "intents": intents, "properties": {} } })
}

#[tokio::test]
async fn close_codes() {
    let w = World::new(&[]).await;
    let bot = w.bot_token().to_owned();
    let cases: Vec<(u16, &str, Vec<serde_json::Value>)> = vec![
        (
            4001,
            "v=10",
            vec![
                identify(&bot, DEFAULT_INTENTS),
                json!({ "op": 99, "d": null }),
            ],
        ),
        (
            4003,
            "v=10",
            vec![
                json!({ "op": 3, "d": { "status": "online", "since": 0, "activities": [], "afk": false } }),
            ],
        ),
        (
            4003,
            "v=10",
            vec![json!({ "op": 8, "d": { "guild_id": w.guild, "query": "", "limit": 0 } })],
        ),
        (4004, "v=10", vec![identify("not.a.token", DEFAULT_INTENTS)]),
        (
            4005,
            "v=10",
            vec![
                identify(&bot, DEFAULT_INTENTS),
                identify(&bot, DEFAULT_INTENTS),
            ],
        ),
        (
            4010,
            "v=10",
            vec![
                json!({ "op": 2, "d": { "token": bot, "intents": 1, "properties": {}, "shard": [2, 2] } }),
            ],
        ),
        (4012, "v=8", vec![]),
        (4013, "v=10", vec![identify(&bot, 1 << 30)]),
        (4002, "v=10", vec![json!({ "op": "two" })]),
    ];
    for (expected, query, payloads) in cases {
        let code = close_code_after(&w, query, payloads.clone()).await;
        assert_eq!(code, Some(expected), "{payloads:?}");
    }
    // Not JSON at all, and a payload over 4096 bytes.
    let mut ws = GatewayClient::connect(&w.s.ws_url(), "v=10").await;
    ws.receive().await;
    ws.send_raw("{{{".into()).await;
    assert_eq!(ws.closed().await, Some(4002));
    let mut ws = GatewayClient::connect(&w.s.ws_url(), "v=10").await;
    ws.receive().await;
    ws.send(json!({ "op": 1, "d": null, "pad": "x".repeat(5000) }))
        .await;
    assert_eq!(ws.closed().await, Some(4002));
    // "Bot "-prefixed tokens (serenity, twilight) are accepted.
    let mut ws = GatewayClient::connect(&w.s.ws_url(), "v=10").await;
    ws.receive().await;
    ws.identify(&w.bot.auth, DEFAULT_INTENTS).await;
    ws.dispatch("READY").await;
}

#[tokio::test]
async fn disallowed_privileged_intents_close_4014() {
    let w = World::new(&[]).await;
    let patched =
        w.s.patch(
            &format!("/applications/{}", w.bot.id),
            &w.owner.auth,
            json!({ "flags": 1 << 13 }),
        )
        .await;
    assert_eq!(patched.status, 200);
    let bot = w.bot_token().to_owned();
    assert_eq!(
        close_code_after(&w, "v=10", vec![identify(&bot, 1 << 15)]).await,
        Some(4014)
    );
    assert_eq!(
        close_code_after(&w, "v=10", vec![identify(&bot, 1 << 1)]).await,
        Some(4014)
    );
    let mut ws = GatewayClient::connect(&w.s.ws_url(), "v=10").await;
    ws.receive().await;
    ws.identify(&bot, (1 << 8) | 1).await;
    ws.dispatch("READY").await;
}

#[tokio::test]
async fn more_than_120_payloads_a_minute_close_4008() {
    let w = World::new(&[]).await;
    let beats = (0..121).map(|_| json!({ "op": 1, "d": null })).collect();
    assert_eq!(close_code_after(&w, "v=10", beats).await, Some(4008));
}

#[tokio::test]
async fn a_silent_client_times_out_with_4009() {
    let w = World::new(&["--gateway-heartbeat-ms", "1000"]).await;
    let (mut ws, _) = w.connect_bot(DEFAULT_INTENTS).await;
    // No heartbeats: the server gives up after the interval and a grace.
    assert_eq!(ws.closed().await, Some(4009));
}

#[tokio::test]
async fn etf_is_refused_at_the_upgrade() {
    let w = World::new(&[]).await;
    let url = format!("{}/?v=10&encoding=etf", w.s.ws_url());
    assert!(tokio_tungstenite::connect_async(url).await.is_err());
}

/// An upgrade request that is not a valid WebSocket one is refused with
/// why, not answered with a switch.
#[tokio::test]
async fn a_malformed_upgrade_is_refused_with_a_reason() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let w = World::new(&[]).await;
    let cases = [
        (
            "Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            "400",
            "Sec-WebSocket-Version",
        ),
        ("Sec-WebSocket-Version: 13", "400", "Sec-WebSocket-Key"),
        (
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            "101",
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
        ),
    ];
    for (headers, status, says) in cases {
        let mut tcp = tokio::net::TcpStream::connect(w.s.addr).await.unwrap();
        let request = format!(
            "GET /?v=10&encoding=json HTTP/1.1\r\nHost: concord\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n{headers}\r\n\r\n"
        );
        tcp.write_all(request.as_bytes()).await.unwrap();
        let mut answer = vec![0; 1024];
        let n = tcp.read(&mut answer).await.unwrap();
        let answer = String::from_utf8_lossy(&answer[..n]);
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status}")),
            "{answer}"
        );
        let header_or_reason = says.to_ascii_lowercase();
        assert!(
            answer.to_ascii_lowercase().contains(&header_or_reason),
            "{answer}"
        );
    }
}

#[tokio::test]
async fn request_guild_members_answers_in_chunks_with_the_nonce() {
    let w = World::new(&[]).await;
    for name in ["alpha", "alps", "beta"] {
        let user = w.s.register(name).await;
        w.s.join(&w.owner, &w.general, &user).await;
    }
    let (mut ws, _) = w.connect_bot(DEFAULT_INTENTS | (1 << 1)).await;
    ws.send(
        json!({ "op": 8, "d": { "guild_id": w.guild, "query": "", "limit": 0, "nonce": "all" } }),
    )
    .await;
    let chunk = ws.dispatch("GUILD_MEMBERS_CHUNK").await;
    assert_eq!(chunk["d"]["nonce"], "all");
    assert_eq!(
        (
            chunk["d"]["chunk_index"].clone(),
            chunk["d"]["chunk_count"].clone()
        ),
        (json!(0), json!(1))
    );
    assert_eq!(chunk["d"]["members"].as_array().unwrap().len(), 5);
    ws.send(json!({ "op": 8, "d": { "guild_id": w.guild, "query": "alp", "limit": 10, "nonce": "prefix" } })).await;
    let chunk = ws.dispatch("GUILD_MEMBERS_CHUNK").await;
    let mut names: Vec<_> = chunk["d"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user"]["username"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["alpha", "alps"]);
    ws.send(
        json!({ "op": 8, "d": { "guild_id": w.guild, "user_ids": [w.owner.id, "1"], "limit": 0 } }),
    )
    .await;
    let chunk = ws.dispatch("GUILD_MEMBERS_CHUNK").await;
    assert_eq!(chunk["d"]["members"][0]["user"]["id"], w.owner.id.as_str());
    assert_eq!(chunk["d"]["not_found"], json!(["1"]));

    // Everyone needs GUILD_MEMBERS; the answer is still one (empty) chunk.
    let (mut plain, _) = w.connect_bot(DEFAULT_INTENTS).await;
    plain
        .send(
            json!({ "op": 8, "d": { "guild_id": w.guild, "query": "", "limit": 0, "nonce": "n" } }),
        )
        .await;
    let chunk = plain.dispatch("GUILD_MEMBERS_CHUNK").await;
    assert_eq!(chunk["d"]["members"], json!([]));
    assert_eq!(chunk["d"]["chunk_count"], 1);
}

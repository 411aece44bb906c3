//! What an account's credentials guard: revoking them ends live sessions,
//! a banned bot stays out, password hashing and login attempts are
//! bounded, and over-long names never reach the store.

use concord_testkit::gateway::GatewayClient;
use concord_testkit::{Account, TestServer};
use serde_json::json;

use crate::{server, server_with};

/// A gateway session of `token` that has seen READY.
async fn live_session(s: &TestServer, token: &str) -> GatewayClient {
    let mut ws = GatewayClient::connect(&s.ws_url(), "v=10").await;
    ws.identify(token, 0).await;
    ws.dispatch("READY").await;
    ws
}

async fn login(s: &TestServer, login: &str, password: &str) -> concord_testkit::Reply {
    let body = json!({ "login": login, "password": password });
    s.request("POST", "/auth/login", None, Some(body)).await
}

#[tokio::test]
async fn password_change_ends_live_sessions() {
    let s = server();
    let ada = s.register("ada").await;
    let mut ws = live_session(&s, &ada.auth).await;
    let change = json!({ "password": "password-ada", "new_password": "a brand new one" });
    let reply = s.patch("/users/@me", &ada.auth, change).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert!(ws.closed().await.is_some(), "the old session is closed");
    let fresh = reply.body["token"].as_str().unwrap();
    live_session(&s, fresh).await;
}

#[tokio::test]
async fn logging_out_everywhere_ends_every_token_and_session() {
    let s = server();
    let ada = s.register("ada").await;
    let bob = s.register("bob").await;
    let second = login(&s, "ada", "password-ada").await;
    assert_eq!(second.status, 200, "{:?}", second.body);
    let second = second.body["token"].as_str().unwrap().to_owned();
    let mut sessions = vec![
        live_session(&s, &ada.auth).await,
        live_session(&s, &second).await,
    ];
    let mut bobs = live_session(&s, &bob.auth).await;
    let out = s.post("/auth/logout-everywhere", &second, json!({})).await;
    assert_eq!(out.status, 204, "{:?}", out.body);
    for ws in &mut sessions {
        assert_eq!(ws.closed().await, Some(4004), "told its token failed");
    }
    // Asked again (of every node, in a cluster), each old token is refused.
    for _ in 0..3 {
        for token in [&ada.auth, &second] {
            assert_eq!(s.get("/users/@me", token).await.status, 401);
        }
    }
    let mut refused = GatewayClient::connect(&s.ws_url(), "v=10").await;
    refused.identify(&ada.auth, 0).await;
    assert_eq!(refused.closed().await, Some(4004));
    // Someone else is untouched, and logging in again works.
    assert_eq!(s.get("/users/@me", &bob.auth).await.status, 200);
    bobs.send(json!({ "op": 1, "d": null })).await;
    while bobs.receive().await["op"] != 11 {}
    let again = login(&s, "ada", "password-ada").await;
    let fresh = again.body["token"].as_str().unwrap();
    assert_eq!(s.get("/users/@me", fresh).await.status, 200);
    live_session(&s, fresh).await;
}

#[tokio::test]
async fn bot_token_reset_ends_live_sessions() {
    let s = server();
    let owner = s.register("owner").await;
    let (guild, _) = s.guild(&owner, "home").await;
    let bot = s.bot(&owner, "helper", &guild, "0").await;
    let mut ws = live_session(&s, &bot.auth).await;
    let reset = s
        .post(
            &format!("/applications/{}/bot/reset", bot.id),
            &owner.auth,
            json!({}),
        )
        .await;
    assert_eq!(reset.status, 200, "{:?}", reset.body);
    assert!(ws.closed().await.is_some(), "the old session is closed");
}

#[tokio::test]
async fn banned_bot_cannot_be_readded() {
    let s = server();
    let owner = s.register("owner").await;
    let (guild, _) = s.guild(&owner, "home").await;
    let bot = s.bot(&owner, "helper", &guild, "0").await;
    let ban = format!("/guilds/{guild}/bans/{}", bot.id);
    assert_eq!(s.put(&ban, &owner.auth, json!({})).await.status, 204);
    let again = s
        .post(
            &format!("/oauth2/authorize?client_id={}&scope=bot", bot.id),
            &owner.auth,
            json!({ "guild_id": guild }),
        )
        .await;
    assert_eq!(
        (again.status, again.body["code"].clone()),
        (403, json!(40007)),
        "{:?}",
        again.body
    );
    let member = s
        .get(&format!("/guilds/{guild}/members/{}", bot.id), &owner.auth)
        .await;
    assert_eq!(member.status, 404, "the bot stayed out");
}

/// 256 concurrent logins once took the server to 4.8 GB: with one hash at
/// a time, a flood is queued briefly and the rest told to come back.
#[tokio::test]
async fn concurrent_logins_are_bounded() {
    let s = server_with(&["--hash-concurrency", "1"]);
    let ada = s.register("ada").await;
    let logins = (0..200).map(|i| {
        let password = if i % 2 == 0 {
            "password-ada"
        } else {
            "wrong-one"
        };
        login(&s, "ada", password)
    });
    let replies = futures::future::join_all(logins).await;
    let count = |status| replies.iter().filter(|r| r.status == status).count();
    assert_eq!(
        count(200) + count(400) + count(429),
        replies.len(),
        "only successes, wrong passwords and 429s: {:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(count(429) > 0, "some were told to come back");
    assert!(count(200) > 0, "some got through");
    for refused in replies.iter().filter(|r| r.status == 429) {
        assert!(refused.body["retry_after"].as_f64().unwrap() > 0.0);
        assert!(refused.header("retry-after").is_some());
    }
    assert_eq!(s.get("/users/@me", &ada.auth).await.status, 200);
    assert_eq!(login(&s, "ada", "password-ada").await.status, 200);
}

#[tokio::test]
async fn login_backs_off_after_failures() {
    let s = server_with(&["--rate-limits", "on"]);
    let (ada, _bob) = (s.register("ada").await, s.register("bob").await);
    // An account that does not exist is throttled alike: nothing tells
    // the two apart.
    for who in ["nobody", "ada"] {
        for _ in 0..5 {
            assert_eq!(login(&s, who, "wrong-password").await.status, 400);
        }
        let refused = login(&s, who, "wrong-password").await;
        assert_eq!(refused.status, 429, "{who}: {:?}", refused.body);
        assert!(refused.body["retry_after"].as_f64().unwrap() > 0.0);
        assert!(refused.header("retry-after").is_some());
    }
    let right = login(&s, "ada", "password-ada").await;
    assert_eq!(right.status, 429, "even the right password waits");
    assert_eq!(
        login(&s, "bob", "password-bob").await.status,
        200,
        "another account from the same address is not held back"
    );
    assert_eq!(s.get("/users/@me", &ada.auth).await.status, 200);
}

fn field_code(body: &serde_json::Value, field: &str) -> String {
    body["errors"][field]["_errors"][0]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// A 70,000-byte login name, registration token or invite code once made
/// the store panic mid-request.
#[tokio::test]
async fn oversized_keys_get_a_form_error() {
    let s = server();
    let ada: Account = s.register("ada").await;
    let long = "x".repeat(70_000);

    let reply = login(&s, &long, "password-ada").await;
    assert_eq!(
        (reply.status, reply.body["code"].clone()),
        (400, json!(50035))
    );
    assert_eq!(field_code(&reply.body, "login"), "BASE_TYPE_BAD_LENGTH");

    for field in ["registration_token", "invite"] {
        let mut body = json!({ "username": "eve", "password": "password-eve" });
        body[field] = json!(long);
        let reply = s.request("POST", "/auth/register", None, Some(body)).await;
        assert_eq!(reply.status, 400, "{field}: {:?}", reply.body);
        assert_eq!(reply.body["code"], 50035);
        assert_eq!(field_code(&reply.body, field), "BASE_TYPE_MAX_LENGTH");
    }

    let code = "y".repeat(5_000);
    for method in ["GET", "POST", "DELETE"] {
        let reply = s
            .request(method, &format!("/invites/{code}"), Some(&ada.auth), None)
            .await;
        assert_eq!(
            (reply.status, reply.body["code"].clone()),
            (404, json!(10006)),
            "{method}"
        );
    }

    let (_, general) = s.guild(&ada, "home").await;
    let message = s.say(&ada, &general, "react to me").await;
    let emoji = format!("{}:123", "e".repeat(300));
    let reply = s
        .put(
            &format!("/channels/{general}/messages/{message}/reactions/{emoji}/@me"),
            &ada.auth,
            json!({}),
        )
        .await;
    assert_eq!(
        (reply.status, reply.body["code"].clone()),
        (404, json!(10014))
    );
}

use serde_json::json;

use crate::server_with;

#[tokio::test]
async fn message_sends_are_limited_per_user_per_channel() {
    let s = server_with(&[
        "--rate-limits",
        "on",
        "--message-rate-limit",
        "3",
        "--message-rate-window-ms",
        "60000",
    ]);
    let ada = s.register("ada").await;
    let (guild, general) = s.guild(&ada, "Home").await;
    let path = format!("/channels/{general}/messages");
    for remaining in [2, 1, 0] {
        let ok = s.post(&path, &ada.auth, json!({ "content": "x" })).await;
        assert_eq!(ok.status, 200);
        assert_eq!(ok.header("x-ratelimit-limit"), Some("3"));
        assert_eq!(
            ok.header("x-ratelimit-remaining"),
            Some(remaining.to_string().as_str())
        );
        assert_eq!(ok.header("x-ratelimit-scope"), Some("user"));
        assert!(ok.header("x-ratelimit-bucket").is_some());
        let reset_after: f64 = ok
            .header("x-ratelimit-reset-after")
            .unwrap()
            .parse()
            .unwrap();
        assert!(reset_after > 0.0 && reset_after <= 60.0);
        assert!(
            ok.header("x-ratelimit-reset")
                .unwrap()
                .parse::<f64>()
                .is_ok()
        );
    }
    let limited = s.post(&path, &ada.auth, json!({ "content": "x" })).await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("via"), Some("1.1 concord"));
    assert_eq!(limited.header("content-type"), Some("application/json"));
    let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    assert!(limited.body["retry_after"].as_f64().unwrap() > 0.0);
    assert_eq!(limited.body["global"], false);
    assert_eq!(limited.body["message"], "You are being rate limited.");
    assert!(limited.header("x-ratelimit-global").is_none());

    // Another channel is another bucket; another user has their own.
    let other = s
        .post(
            &format!("/guilds/{guild}/channels"),
            &ada.auth,
            json!({ "name": "other" }),
        )
        .await;
    let other = other.body["id"].as_str().unwrap();
    assert_eq!(
        s.post(
            &format!("/channels/{other}/messages"),
            &ada.auth,
            json!({ "content": "x" })
        )
        .await
        .status,
        200
    );
    let bob = s.register("bob").await;
    s.join(&ada, &general, &bob).await;
    assert_eq!(
        s.post(&path, &bob.auth, json!({ "content": "x" }))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn the_global_limit_is_per_token() {
    let s = server_with(&["--rate-limits", "on", "--global-rate-limit", "5"]);
    let (ada, bob) = (s.register("ada").await, s.register("bob").await);
    // A burst of 20: at most 5 per one-second window get through (two windows
    // if the burst straddles a boundary), the rest are refused globally.
    let burst = (0..20).map(|_| s.get("/users/@me", &ada.auth));
    let replies = futures::future::join_all(burst).await;
    let passed = replies.iter().filter(|r| r.status == 200).count();
    assert!((1..=10).contains(&passed), "{passed} passed");
    let refused: Vec<_> = replies.iter().filter(|r| r.status == 429).collect();
    assert_eq!(refused.len(), 20 - passed);
    for reply in refused {
        assert_eq!(reply.header("x-ratelimit-global"), Some("true"));
        assert_eq!(reply.header("x-ratelimit-scope"), Some("global"));
        assert_eq!(reply.body["global"], true);
        assert!(reply.header("via").is_some() && reply.header("retry-after").is_some());
    }
    assert_eq!(
        s.get("/users/@me", &bob.auth).await.status,
        200,
        "another token has its own limit"
    );
}

#[tokio::test]
async fn rate_limits_can_be_switched_off() {
    let s = server_with(&["--rate-limits", "off", "--message-rate-limit", "1"]);
    let ada = s.register("ada").await;
    let (_, general) = s.guild(&ada, "Home").await;
    for _ in 0..5 {
        let reply = s
            .post(
                &format!("/channels/{general}/messages"),
                &ada.auth,
                json!({ "content": "x" }),
            )
            .await;
        assert_eq!(reply.status, 200);
        assert!(reply.header("x-ratelimit-limit").is_none());
    }
}

/// The same content repeated across channels is refused after the limit,
/// with Discord's 429 body; other content still goes through.
#[tokio::test]
async fn duplicate_floods_are_refused() {
    let s = server_with(&[
        "--rate-limits",
        "on",
        "--message-rate-limit",
        "100",
        "--duplicate-message-limit",
        "2",
    ]);
    let ada = s.register("ada").await;
    let (guild, general) = s.guild(&ada, "Home").await;
    let mut channels = vec![general];
    for name in ["two", "three"] {
        let reply = s
            .post(
                &format!("/guilds/{guild}/channels"),
                &ada.auth,
                json!({ "name": name }),
            )
            .await;
        channels.push(reply.body["id"].as_str().unwrap().to_owned());
    }
    let send = |channel: &str, content: &str| {
        let (path, body) = (
            format!("/channels/{channel}/messages"),
            json!({ "content": content }),
        );
        let (s, auth) = (&s, ada.auth.clone());
        async move { s.post(&path, &auth, body).await }
    };
    assert_eq!(send(&channels[0], "buy now!").await.status, 200);
    assert_eq!(send(&channels[1], "  buy now!").await.status, 200);
    let refused = send(&channels[2], "buy now!").await;
    assert_eq!(refused.status, 429, "{:?}", refused.body);
    assert_eq!(refused.body["code"], 20028);
    assert!(refused.body["retry_after"].as_f64().unwrap() > 0.0);
    assert!(refused.header("retry-after").is_some());
    assert_eq!(send(&channels[2], "something else").await.status, 200);
    let page = s
        .get(&format!("/channels/{}/messages", channels[2]), &ada.auth)
        .await;
    assert_eq!(
        page.body.as_array().unwrap().len(),
        1,
        "the refused message was not stored"
    );
}

/// Behind a trusted proxy, anonymous clients are told apart by the address
/// the proxy forwards; otherwise the header is ignored.
#[tokio::test]
async fn forwarded_addresses_count_only_when_trusted() {
    for trusted in ["on", "off"] {
        let s = server_with(&[
            "--rate-limits",
            "on",
            "--global-rate-limit",
            "2",
            "--trust-forwarded-for",
            trusted,
        ]);
        let mut statuses = Vec::new();
        for address in ["10.0.0.1", "10.0.0.1", "192.0.2.7, 10.0.0.1", "10.0.0.2"] {
            let headers = [("x-forwarded-for", address)];
            let reply = s
                .request_with("GET", "/gateway", None, None, &headers)
                .await;
            statuses.push(reply.status);
        }
        // Two per second per client: a burst of four, within one window
        // (or straddling two, which can only let more through).
        if trusted == "on" {
            assert_eq!(statuses[3], 200, "another forwarded address: {statuses:?}");
            assert!(
                statuses[..3].contains(&429),
                "the same forwarded address: {statuses:?}"
            );
        } else {
            let refused = statuses.iter().filter(|s| **s == 429).count();
            assert!(
                refused >= 1,
                "one client however it claims to be: {statuses:?}"
            );
        }
    }
}

/// A token whose user-id part is rewritten (`042` for `42`) still named
/// the same user and got a bucket of its own: every spelling of a user's
/// credentials counts against that user, and only the issued text is a
/// token at all.
#[tokio::test]
async fn rewritten_token_shares_its_users_bucket() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

    let s = server_with(&[
        "--rate-limits",
        "on",
        "--message-rate-limit",
        "2",
        "--message-rate-window-ms",
        "60000",
    ]);
    let owner = s.register("owner").await;
    let (guild, general) = s.guild(&owner, "Home").await;
    let bot = s.bot(&owner, "helper", &guild, "0").await;
    let path = format!("/channels/{general}/messages");
    let send = |auth: String| {
        let (s, path) = (&s, path.clone());
        async move { s.post(&path, &auth, json!({ "content": "x" })).await }
    };
    for _ in 0..2 {
        assert_eq!(send(bot.auth.clone()).await.status, 200);
    }
    let token = bot.auth.trim_start_matches("Bot ");
    let respelled = send(format!("bot  {token}")).await;
    assert_eq!(respelled.status, 429, "the same bot, spelled otherwise");

    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let id = String::from_utf8(B64.decode(&parts[0]).unwrap()).unwrap();
    parts[0] = B64.encode(format!("0{id}"));
    let rewritten = send(format!("Bot {}", parts.join("."))).await;
    assert_eq!(rewritten.status, 401, "only the issued text is a token");
}

/// A made-up `Authorization` header per request once got a fresh bucket
/// each time: requests without a valid token count against the address.
#[tokio::test]
async fn random_authorization_headers_share_the_address_bucket() {
    let s = server_with(&["--rate-limits", "on", "--global-rate-limit", "3"]);
    let ada = s.register("ada").await;
    let mut statuses = Vec::new();
    for i in 0..20 {
        let made_up = format!("made.up.{i}");
        let reply = s
            .request_with("GET", "/gateway", Some(&made_up), None, &[])
            .await;
        statuses.push(reply.status);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| [200, 429].contains(s)),
        "{statuses:?}"
    );
    let mine = s.get("/users/@me", &ada.auth).await;
    assert_eq!(mine.status, 200, "a valid token counts against its user");
}

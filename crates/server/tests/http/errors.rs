use serde_json::json;

use crate::server;

#[tokio::test]
async fn malformed_bodies_get_discord_errors_and_write_nothing() {
    let s = server();
    let ada = s.register("ada").await;
    let (_, general) = s.guild(&ada, "Home").await;
    let path = format!("/channels/{general}/messages");
    let cases: Vec<(&str, Vec<u8>, u16, u64)> = vec![
        ("application/json", b"{\"content\":".to_vec(), 400, 50109),
        ("application/json", b"not json".to_vec(), 400, 50109),
        ("application/json", vec![0xff, 0xfe, 0x00], 400, 50109),
        ("application/json", b"[1,2,3]".to_vec(), 400, 50035),
        ("application/json", b"\"just a string\"".to_vec(), 400, 50035),
        ("application/json", b"{\"content\": 12}".to_vec(), 400, 50035),
        ("application/json", b"{\"content\": \"x\", \"tts\": \"yes\"}".to_vec(), 400, 50035),
        ("application/json", b"{\"content\": \"x\", \"message_reference\": {\"message_id\": \"abc\"}}".to_vec(), 400, 50035),
        ("application/json", b"{\"content\": \"x\", \"message_reference\": {\"message_id\": \"99999999999999999999999\"}}".to_vec(), 400, 50035),
        ("text/plain", b"{\"content\": \"x\"}".to_vec(), 400, 50035),
    ];
    for (content_type, body, status, code) in cases {
        let shown = String::from_utf8_lossy(&body).into_owned();
        let reply = s
            .raw("POST", &path, Some(&ada.auth), content_type, body)
            .await;
        assert_eq!(reply.status, status, "{shown}: {:?}", reply.body);
        assert_eq!(reply.body["code"], code, "{shown}");
        assert_eq!(reply.header("content-type"), Some("application/json"));
    }
    let typed = s
        .raw(
            "POST",
            &path,
            Some(&ada.auth),
            "application/json",
            b"{\"content\": 12}".to_vec(),
        )
        .await;
    assert_eq!(
        typed.body["errors"]["content"]["_errors"][0]["code"],
        "BASE_TYPE_INVALID"
    );

    let huge = vec![b' '; 2 * 1024 * 1024];
    let reply = s
        .raw("POST", &path, Some(&ada.auth), "application/json", huge)
        .await;
    assert_eq!(reply.status, 413);
    assert!(reply.body["code"].is_number());

    assert_eq!(
        s.get(&path, &ada.auth).await.body,
        json!([]),
        "nothing was written"
    );
}

#[tokio::test]
async fn unknown_and_malformed_ids() {
    let s = server();
    let ada = s.register("ada").await;
    let (guild, general) = s.guild(&ada, "Home").await;
    let cases = [
        ("/channels/1", 404, 10003),
        ("/channels/1/messages", 404, 10003),
        ("/guilds/1", 404, 10004),
        ("/users/1", 404, 10013),
        ("/invites/nope", 404, 10006),
        ("/applications/1", 404, 10002),
        ("/channels/abc", 400, 50035),
        ("/channels/-5", 400, 50035),
        ("/channels/18446744073709551616", 400, 50035),
        ("/guilds/1e5", 400, 50035),
    ];
    for (path, status, code) in cases {
        let reply = s.get(path, &ada.auth).await;
        assert_eq!(
            (reply.status, reply.body["code"].clone()),
            (status, json!(code)),
            "{path}"
        );
    }
    let message = s
        .get(&format!("/channels/{general}/messages/1"), &ada.auth)
        .await;
    assert_eq!(
        (message.status, message.body["code"].clone()),
        (404, json!(10008))
    );
    let member = s
        .get(&format!("/guilds/{guild}/members/abc"), &ada.auth)
        .await;
    assert_eq!(
        member.body["errors"]["user_id"]["_errors"][0]["code"],
        "NUMBER_TYPE_COERCE"
    );
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let s = server();
    let ada = s.register("ada").await;
    let nothing = s.get("/nothing/here", &ada.auth).await;
    assert_eq!(
        (nothing.status, nothing.body.clone()),
        (404, json!({ "message": "404: Not Found", "code": 0 }))
    );
    let wrong = s.request("PUT", "/users/@me", Some(&ada.auth), None).await;
    assert_eq!((wrong.status, wrong.body["code"].clone()), (405, json!(0)));
    for version in ["/api/v9/users/@me", "/api/users/@me"] {
        let reply = reqwest::Client::new()
            .get(s.url(version))
            .header("authorization", &ada.auth)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200, "{version}");
    }
}

#[tokio::test]
async fn unicode_survives_the_round_trip() {
    let s = server();
    let ada = s.register("ada").await;
    let (_, general) = s.guild(&ada, "Home").await;
    for content in [
        "👍🏽 family: 👨‍👩‍👧",
        "zero\u{200b}width",
        "rtl \u{202e}txet",
        "nul \u{0} byte",
        "\"quotes\" \\ backslash",
        "日本語のテキスト",
    ] {
        let sent = s
            .post(
                &format!("/channels/{general}/messages"),
                &ada.auth,
                json!({ "content": content }),
            )
            .await;
        assert_eq!(sent.status, 200, "{content:?}");
        let id = sent.body["id"].as_str().unwrap();
        let back = s
            .get(&format!("/channels/{general}/messages/{id}"), &ada.auth)
            .await;
        assert_eq!(back.body["content"], content);
    }
    let name = s
        .post("/guilds", &ada.auth, json!({ "name": "🎉🎉" }))
        .await;
    assert_eq!(name.status, 201, "two emoji are two characters");
    assert!(
        !s.metrics().await.contains("status=\"500\""),
        "no request failed inside"
    );
}

#[tokio::test]
async fn values_outside_discords_ranges_are_refused_not_stored() {
    let s = server();
    let ada = s.register("ada").await;
    let (guild, general) = s.guild(&ada, "Home").await;
    let code = |reply: &concord_testkit::Reply| (reply.status, reply.body["code"].clone());
    let refused = (400, json!(50035));

    let role = s
        .post(
            &format!("/guilds/{guild}/roles"),
            &ada.auth,
            json!({ "name": "loud", "color": 0x100_0000 }),
        )
        .await;
    assert_eq!(code(&role), refused, "{:?}", role.body);
    let role = s
        .post(
            &format!("/guilds/{guild}/roles"),
            &ada.auth,
            json!({ "name": "loud", "color": 0xFF_FFFF }),
        )
        .await;
    assert_eq!(role.status, 200);
    let role = role.body["id"].as_str().unwrap().to_owned();
    let recolor = s
        .patch(
            &format!("/guilds/{guild}/roles/{role}"),
            &ada.auth,
            json!({ "color": 0x100_0000 }),
        )
        .await;
    assert_eq!(code(&recolor), refused);
    let negative = s
        .patch(
            &format!("/guilds/{guild}/roles"),
            &ada.auth,
            json!([{ "id": role, "position": -1 }]),
        )
        .await;
    assert_eq!(code(&negative), refused);
    let negative = s
        .patch(
            &format!("/channels/{general}"),
            &ada.auth,
            json!({ "position": -3 }),
        )
        .await;
    assert_eq!(code(&negative), refused);
    let negative = s
        .patch(
            &format!("/guilds/{guild}/channels"),
            &ada.auth,
            json!([{ "id": general, "position": -3 }]),
        )
        .await;
    assert_eq!(code(&negative), refused);
    let wordy = s
        .patch(
            &format!("/guilds/{guild}"),
            &ada.auth,
            json!({ "description": "x".repeat(301) }),
        )
        .await;
    assert_eq!(code(&wordy), refused);
    for nonce in [json!(1.5), json!("x".repeat(26)), json!([1])] {
        let sent = s
            .post(
                &format!("/channels/{general}/messages"),
                &ada.auth,
                json!({ "content": "hi", "nonce": nonce }),
            )
            .await;
        assert_eq!(code(&sent), refused, "nonce {nonce}");
    }
    for query in [
        format!("/channels/{general}/messages?before=abc"),
        format!("/guilds/{guild}?with_counts=maybe"),
    ] {
        assert_eq!(code(&s.get(&query, &ada.auth).await), refused, "{query}");
    }

    // Nothing refused was stored.
    let roles = s.get(&format!("/guilds/{guild}/roles"), &ada.auth).await;
    let loud = roles
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == role.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        (loud["color"].clone(), loud["position"].clone()),
        (json!(0xFF_FFFF), json!(1))
    );
    let channel = s.get(&format!("/channels/{general}"), &ada.auth).await;
    assert!(channel.body["position"].as_i64().unwrap() >= 0);
    let page = s
        .get(&format!("/channels/{general}/messages"), &ada.auth)
        .await;
    assert_eq!(page.body, json!([]));
    assert_eq!(
        s.get(&format!("/guilds/{guild}?with_counts=true"), &ada.auth)
            .await
            .status,
        200
    );
}

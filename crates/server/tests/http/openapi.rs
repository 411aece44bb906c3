//! The OpenAPI document is made from the route table: every operation it
//! lists is answered by a route (never the router's own 404 or 405), and
//! the routes clients rely on are in it.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::server;

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let s = server();
    let ada = s.register("ada").await;
    let doc = s.get("/openapi.json", "").await;
    assert_eq!(doc.status, 200);
    assert_eq!(doc.body["openapi"], "3.1.0");
    let paths = doc.body["paths"].as_object().expect("paths");

    let mut ids = BTreeSet::new();
    let mut operations = BTreeSet::new();
    for (path, methods) in paths {
        for (method, op) in methods.as_object().unwrap() {
            let id = op["operationId"].as_str().expect("operationId");
            assert!(ids.insert(id.to_owned()), "{id} is unique");
            assert!(op["summary"].as_str().is_some_and(|s| !s.is_empty()));
            let declared: BTreeSet<&str> = (op["parameters"].as_array().unwrap())
                .iter()
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            let in_path: BTreeSet<&str> = path
                .split('/')
                .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            assert_eq!(declared, in_path, "{method} {path}");
            operations.insert((method.to_uppercase(), path.clone()));
        }
    }
    for expected in [
        ("POST", "/channels/{channel_id}/messages"),
        ("GET", "/gateway/bot"),
        (
            "PUT",
            "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me",
        ),
        ("GET", "/guilds/{guild_id}/messages/search"),
        ("POST", "/admin/backup"),
        ("GET", "/openapi.json"),
        ("GET", "/push/vapid-key"),
        ("PUT", "/users/@me/push-subscriptions"),
        ("DELETE", "/users/@me/push-subscriptions"),
        ("PATCH", "/users/@me/guilds/{guild_id}/settings"),
        ("PATCH", "/users/@me/guilds/settings"),
    ] {
        let expected = (expected.0.to_owned(), expected.1.to_owned());
        assert!(operations.contains(&expected), "{expected:?} documented");
    }

    let vapid = &paths["/push/vapid-key"]["get"];
    assert_eq!(
        vapid["security"][0],
        serde_json::json!({}),
        "no token needed"
    );

    for (method, path) in &operations {
        let concrete: String = path
            .split('/')
            .map(|seg| match seg.starts_with('{') {
                true => "1",
                false => seg,
            })
            .collect::<Vec<_>>()
            .join("/");
        let body =
            (method != "GET" && method != "DELETE").then(|| Value::Object(Default::default()));
        let reply = s.request(method, &concrete, Some(&ada.auth), body).await;
        let routers_own = reply.body["code"] == 0 && matches!(reply.status, 404 | 405);
        assert!(
            !routers_own,
            "{method} {path} is documented but not routed: {:?}",
            reply.body
        );
        assert!(
            reply.status < 500,
            "{method} {concrete}: {} {:?}",
            reply.status,
            reply.body
        );
    }

    // And the router's own 404 is what an undocumented path gets.
    let missing = s.get("/no/such/route", &ada.auth).await;
    assert_eq!(
        (missing.status, missing.body["code"].clone()),
        (404, 0.into())
    );
}

/// Every reply of this suite is checked against the document; a reply
/// that strays from it (an id sent as a number, a required field left
/// out or null) is caught.
#[tokio::test]
async fn replies_are_checked_against_the_document() {
    let s = server();
    let ada = s.register("ada").await;
    let (_, channel) = s.guild(&ada, "checked").await;
    let path = format!("/channels/{channel}/messages");
    let sent = s
        .post(&path, &ada.auth, json!({ "content": "hello" }))
        .await;
    assert_eq!(sent.status, 200, "{:?}", sent.body);
    let document = concord_testkit::openapi::loaded().expect("fetched on the first reply");
    document.check("POST", &path, &sent);

    let strays = |change: &dyn Fn(&mut Value)| {
        let mut body = sent.body.clone();
        change(&mut body);
        let reply = concord_testkit::Reply {
            status: sent.status,
            headers: sent.headers.clone(),
            body,
        };
        let check = || document.check("POST", &path, &reply);
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(check)).is_err()
    };
    assert!(
        strays(&|m| m["id"] = json!(12345)),
        "a snowflake is a string"
    );
    assert!(
        strays(&|m| m["author"]["id"] = json!(1)),
        "in nested objects too"
    );
    assert!(
        strays(&|m| m["content"] = Value::Null),
        "content is never null"
    );
    assert!(
        strays(&|m| drop(m.as_object_mut().unwrap().remove("mentions"))),
        "mentions is always sent"
    );
    assert!(
        !strays(&|m| m["edited_timestamp"] = Value::Null),
        "nullable"
    );

    // A 204 carries no body, and an error is Discord's error object.
    let typing = s
        .post(&format!("/channels/{channel}/typing"), &ada.auth, json!({}))
        .await;
    assert_eq!(typing.status, 204);
    let missing = s.get("/channels/1/messages", &ada.auth).await;
    assert!(missing.status >= 400 && missing.body["code"].is_u64());
}

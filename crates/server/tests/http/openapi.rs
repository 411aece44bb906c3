//! The OpenAPI document is made from the route table: every operation it
//! lists is answered by a route (never the router's own 404 or 405), and
//! the routes clients rely on are in it.

use std::collections::BTreeSet;

use serde_json::Value;

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

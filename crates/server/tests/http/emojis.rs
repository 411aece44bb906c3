//! Custom emoji: upload, list, rename, delete, the image URL, reactions
//! with them, and who may do what.

use base64::Engine;
use serde_json::json;

use crate::server;

/// The first bytes of a PNG: enough for a content type to be told.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR";

fn png_uri() -> String {
    let data = base64::engine::general_purpose::STANDARD.encode(PNG);
    format!("data:image/png;base64,{data}")
}

#[tokio::test]
async fn emoji_are_uploaded_served_and_used() {
    let s = server();
    let (ada, bob, eve) = (
        s.register("ada").await,
        s.register("bob").await,
        s.register("eve").await,
    );
    let (guild, general) = s.guild(&ada, "Home").await;
    s.join(&ada, &general, &bob).await;
    let emojis = format!("/guilds/{guild}/emojis");

    let created = s
        .post(
            &emojis,
            &ada.auth,
            json!({ "name": "party_blob", "image": png_uri() }),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(created.body["name"], "party_blob");
    assert_eq!(created.body["user"]["id"], ada.id.as_str());
    assert_eq!(created.body["require_colons"], true);
    assert_eq!(created.body["animated"], false);

    let listed = s.get(&emojis, &bob.auth).await;
    assert_eq!(listed.body[0]["id"], id.as_str());
    assert!(
        listed.body[0].get("user").is_none(),
        "the uploader is for managers"
    );
    let in_guild = s.get(&format!("/guilds/{guild}"), &bob.auth).await;
    assert_eq!(in_guild.body["emojis"][0]["name"], "party_blob");
    let image = reqwest::get(s.url(&format!("/emojis/{id}.png")))
        .await
        .unwrap();
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["content-type"], "image/png");
    assert_eq!(image.bytes().await.unwrap().as_ref(), PNG);

    // Reactions with it; an unknown custom emoji is refused.
    let message = s.say(&bob, &general, "react to me").await;
    let react = |emoji: String| {
        let path = format!("/channels/{general}/messages/{message}/reactions/{emoji}/@me");
        let (s, auth) = (&s, bob.auth.clone());
        async move { s.put(&path, &auth, json!({})).await }
    };
    assert_eq!(react(format!("party_blob:{id}")).await.status, 204);
    let unknown = react("ghost:123".into()).await;
    assert_eq!(
        (unknown.status, unknown.body["code"].clone()),
        (404, json!(10014))
    );
    let fetched = s
        .get(
            &format!("/channels/{general}/messages/{message}"),
            &bob.auth,
        )
        .await;
    assert_eq!(fetched.body["reactions"][0]["emoji"]["id"], id.as_str());

    // Rename; roles must be the guild's.
    let one = format!("{emojis}/{id}");
    let renamed = s.patch(&one, &ada.auth, json!({ "name": "blob" })).await;
    assert_eq!(
        (renamed.status, renamed.body["name"].clone()),
        (200, json!("blob"))
    );
    let bad_roles = s.patch(&one, &ada.auth, json!({ "roles": ["1"] })).await;
    assert_eq!(
        (bad_roles.status, bad_roles.body["code"].clone()),
        (400, json!(50035))
    );
    assert_eq!(s.get(&one, &bob.auth).await.body["name"], "blob");

    // Who may: not a plain member, not an outsider.
    let by_member = s
        .post(
            &emojis,
            &bob.auth,
            json!({ "name": "mine", "image": png_uri() }),
        )
        .await;
    assert_eq!(
        (by_member.status, by_member.body["code"].clone()),
        (403, json!(50013))
    );
    let delete_by_member = s.delete(&one, &bob.auth).await;
    assert_eq!(delete_by_member.status, 403);
    let outsider = s.get(&emojis, &eve.auth).await;
    assert_eq!(
        (outsider.status, outsider.body["code"].clone()),
        (403, json!(50001))
    );

    // Bad input.
    for (body, field) in [
        (json!({ "name": "x", "image": png_uri() }), "name"),
        (json!({ "name": "has space", "image": png_uri() }), "name"),
        (
            json!({ "name": "fine", "image": "data:text/plain;base64,aGk=" }),
            "image",
        ),
        (
            json!({ "name": "fine", "image": "data:image/png;base64,%%%" }),
            "image",
        ),
    ] {
        let reply = s.post(&emojis, &ada.auth, body).await;
        assert_eq!(reply.status, 400, "{field}");
        assert!(reply.body["errors"][field].is_object(), "{:?}", reply.body);
    }
    let big = base64::engine::general_purpose::STANDARD.encode(vec![0u8; 300 * 1024]);
    let too_big = s
        .post(
            &emojis,
            &ada.auth,
            json!({ "name": "big", "image": format!("data:image/png;base64,{big}") }),
        )
        .await;
    assert_eq!(too_big.status, 400);
    assert!(too_big.body["errors"]["image"].is_object());

    assert_eq!(s.delete(&one, &ada.auth).await.status, 204);
    assert_eq!(s.get(&one, &ada.auth).await.status, 404);
    let gone = reqwest::get(s.url(&format!("/emojis/{id}.png")))
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
}

#[tokio::test]
async fn a_guild_holds_fifty_emoji() {
    let s = server();
    let ada = s.register("ada").await;
    let (guild, _) = s.guild(&ada, "Home").await;
    let emojis = format!("/guilds/{guild}/emojis");
    for n in 0..50 {
        let body = json!({ "name": format!("e{n}"), "image": png_uri() });
        assert_eq!(s.post(&emojis, &ada.auth, body).await.status, 201);
    }
    let full = s
        .post(
            &emojis,
            &ada.auth,
            json!({ "name": "one_more", "image": png_uri() }),
        )
        .await;
    assert_eq!(
        (full.status, full.body["code"].clone()),
        (400, json!(30008))
    );
}

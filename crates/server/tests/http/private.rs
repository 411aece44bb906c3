//! DMs and group DMs: opened once per pair, used like any text channel, and
//! invisible to everyone who is not in them.

use concord_testkit::{Account, TestServer};
use serde_json::{Value, json};

use crate::{images, server};

async fn open_dm(s: &TestServer, who: &Account, with: &Account) -> Value {
    let reply = s
        .post(
            "/users/@me/channels",
            &who.auth,
            json!({ "recipient_id": with.id }),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body
}

fn recipient_ids(channel: &Value) -> Vec<&str> {
    channel["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_dm_is_one_channel_per_pair() {
    let s = server();
    let (ada, bob) = (s.register("ada").await, s.register("bob").await);
    let dm = open_dm(&s, &ada, &bob).await;
    let id = dm["id"].as_str().unwrap().to_owned();
    assert_eq!(dm["type"], 1);
    assert!(dm.get("guild_id").is_none());
    assert_eq!(recipient_ids(&dm), [bob.id.as_str()]);
    assert_eq!(open_dm(&s, &ada, &bob).await["id"], id.as_str());
    let from_bob = open_dm(&s, &bob, &ada).await;
    assert_eq!(from_bob["id"], id.as_str());
    assert_eq!(recipient_ids(&from_bob), [ada.id.as_str()]);

    // Used like a text channel by both.
    let hello = s.say(&ada, &id, "hello bob").await;
    let page = s.get(&format!("/channels/{id}/messages"), &bob.auth).await;
    assert_eq!(page.body[0]["id"], hello.as_str());
    assert!(page.body[0].get("guild_id").is_none());
    let reply = s
        .post(
            &format!("/channels/{id}/messages"),
            &bob.auth,
            json!({ "content": "hi", "message_reference": { "message_id": hello } }),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["referenced_message"]["id"], hello.as_str());
    let pin = s
        .put(
            &format!("/channels/{id}/messages/pins/{hello}"),
            &bob.auth,
            json!({}),
        )
        .await;
    assert_eq!(pin.status, 204, "either participant pins");
    let react = s
        .put(
            &format!("/channels/{id}/messages/{hello}/reactions/%F0%9F%91%8D/@me"),
            &bob.auth,
            json!({}),
        )
        .await;
    assert_eq!(react.status, 204);
    assert_eq!(
        s.post(&format!("/channels/{id}/typing"), &bob.auth, json!({}))
            .await
            .status,
        204
    );
    let others = s
        .delete(&format!("/channels/{id}/messages/{hello}"), &bob.auth)
        .await;
    assert_eq!(
        (others.status, others.body["code"].clone()),
        (403, json!(50013))
    );

    // Listed for both; closing returns the channel and keeps the history.
    for (who, other) in [(&ada, &bob), (&bob, &ada)] {
        let list = s.get("/users/@me/channels", &who.auth).await;
        assert_eq!(list.body.as_array().unwrap().len(), 1);
        assert_eq!(recipient_ids(&list.body[0]), [other.id.as_str()]);
    }
    let closed = s.delete(&format!("/channels/{id}"), &ada.auth).await;
    assert_eq!((closed.status, closed.body["id"].clone()), (200, json!(id)));
    let kept = s
        .get(&format!("/channels/{id}/messages/{hello}"), &ada.auth)
        .await;
    assert_eq!(kept.status, 200);

    // What only guild channels have: 50003.
    for reply in [
        s.patch(
            &format!("/channels/{id}"),
            &ada.auth,
            json!({ "name": "x" }),
        )
        .await,
        s.put(
            &format!("/channels/{id}/permissions/{}", bob.id),
            &ada.auth,
            json!({ "type": 1, "allow": "0", "deny": "0" }),
        )
        .await,
        s.delete(&format!("/channels/{id}/permissions/{}", bob.id), &ada.auth)
            .await,
        s.post(&format!("/channels/{id}/invites"), &ada.auth, json!({}))
            .await,
    ] {
        assert_eq!(
            (reply.status, reply.body["code"].clone()),
            (403, json!(50003))
        );
    }

    // Bad requests.
    let to_self = s
        .post(
            "/users/@me/channels",
            &ada.auth,
            json!({ "recipient_id": ada.id }),
        )
        .await;
    assert_eq!(
        (to_self.status, to_self.body["code"].clone()),
        (403, json!(50007))
    );
    let nobody = s
        .post(
            "/users/@me/channels",
            &ada.auth,
            json!({ "recipient_id": "1" }),
        )
        .await;
    assert_eq!(
        (nobody.status, nobody.body["code"].clone()),
        (404, json!(10013))
    );
    let empty = s.post("/users/@me/channels", &ada.auth, json!({})).await;
    assert_eq!(
        (empty.status, empty.body["code"].clone()),
        (400, json!(50035))
    );
    let bad = s
        .post(
            "/users/@me/channels",
            &ada.auth,
            json!({ "recipient_id": "bob" }),
        )
        .await;
    assert_eq!(bad.status, 400);
}

/// Every route a third user could try on a DM answers Missing Access, and
/// nothing of it shows up anywhere they can look.
#[tokio::test]
async fn a_dm_is_invisible_to_a_third_user() {
    let s = server();
    let (ada, bob, eve) = (
        s.register("ada").await,
        s.register("bob").await,
        s.register("eve").await,
    );
    let dm = open_dm(&s, &ada, &bob).await;
    let id = dm["id"].as_str().unwrap().to_owned();
    let secret = s.say(&ada, &id, "the secret plan").await;
    let m = format!("/channels/{id}/messages/{secret}");
    let attempts = [
        s.get(&format!("/channels/{id}"), &eve.auth).await,
        s.patch(
            &format!("/channels/{id}"),
            &eve.auth,
            json!({ "name": "x" }),
        )
        .await,
        s.delete(&format!("/channels/{id}"), &eve.auth).await,
        s.get(&format!("/channels/{id}/messages"), &eve.auth).await,
        s.get(&m, &eve.auth).await,
        s.post(
            &format!("/channels/{id}/messages"),
            &eve.auth,
            json!({ "content": "hi" }),
        )
        .await,
        s.patch(&m, &eve.auth, json!({ "content": "edited" })).await,
        s.delete(&m, &eve.auth).await,
        s.post(
            &format!("/channels/{id}/messages/bulk-delete"),
            &eve.auth,
            json!({ "messages": [secret, secret] }),
        )
        .await,
        s.post(&format!("/channels/{id}/typing"), &eve.auth, json!({}))
            .await,
        s.get(&format!("/channels/{id}/messages/pins"), &eve.auth)
            .await,
        s.get(&format!("/channels/{id}/pins"), &eve.auth).await,
        s.put(
            &format!("/channels/{id}/messages/pins/{secret}"),
            &eve.auth,
            json!({}),
        )
        .await,
        s.put(
            &format!("{m}/reactions/%F0%9F%91%8D/@me"),
            &eve.auth,
            json!({}),
        )
        .await,
        s.get(&format!("{m}/reactions/%F0%9F%91%8D"), &eve.auth)
            .await,
        s.delete(&format!("{m}/reactions"), &eve.auth).await,
        s.get(
            &format!("/channels/{id}/messages/search?content=secret"),
            &eve.auth,
        )
        .await,
        s.post(&format!("/channels/{id}/invites"), &eve.auth, json!({}))
            .await,
        s.put(
            &format!("/channels/{id}/permissions/{}", eve.id),
            &eve.auth,
            json!({ "type": 1 }),
        )
        .await,
    ];
    for (n, reply) in attempts.iter().enumerate() {
        assert_eq!(
            (reply.status, reply.body["code"].clone()),
            (403, json!(50001)),
            "attempt {n}: {:?}",
            reply.body
        );
    }
    let listed = s.get("/users/@me/channels", &eve.auth).await;
    assert_eq!(listed.body, json!([]));
    // Nothing was changed by the attempts.
    let still = s.get(&m, &bob.auth).await;
    assert_eq!(still.body["content"], "the secret plan");
    assert!(still.body.get("reactions").is_none());
    // The participants find it by search; the index never leaks it elsewhere.
    let search = format!("/channels/{id}/messages/search?content=secret");
    s.get_until(&search, &bob.auth, |r| r.body["total_results"] == 1)
        .await;
}

#[tokio::test]
async fn group_dms_have_an_owner_and_a_size_limit() {
    let s = server();
    let ada = s.register("ada").await;
    let mut friends = Vec::new();
    for name in [
        "bob", "cat", "dan", "eli", "fay", "gus", "hal", "ivy", "jay", "kim",
    ] {
        friends.push(s.register(name).await);
    }
    let ids = |n: usize| -> Vec<String> { friends[..n].iter().map(|f| f.id.clone()).collect() };
    let group = s
        .post(
            "/users/@me/channels",
            &ada.auth,
            json!({ "recipients": ids(2) }),
        )
        .await;
    assert_eq!(group.status, 200, "{:?}", group.body);
    assert_eq!(group.body["type"], 3);
    assert_eq!(group.body["owner_id"], ada.id.as_str());
    assert_eq!(recipient_ids(&group.body).len(), 2);
    let id = group.body["id"].as_str().unwrap();
    let said = s.say(&friends[1], id, "hello all").await;
    let read = s
        .get(&format!("/channels/{id}/messages/{said}"), &friends[0].auth)
        .await;
    assert_eq!(read.status, 200);
    let outsider = s.get(&format!("/channels/{id}"), &friends[2].auth).await;
    assert_eq!(outsider.status, 403);

    // Recipients: anyone in it adds; the owner removes; others only leave.
    let recipient = |who: &Account| format!("/channels/{id}/recipients/{}", who.id);
    let (bob, cat, dan) = (&friends[0], &friends[1], &friends[2]);
    assert_eq!(
        s.put(&recipient(dan), &bob.auth, json!({})).await.status,
        204
    );
    assert_eq!(
        s.get(&format!("/channels/{id}"), &dan.auth).await.status,
        200
    );
    let not_owner = s.delete(&recipient(dan), &bob.auth).await;
    assert_eq!(
        (not_owner.status, not_owner.body["code"].clone()),
        (403, json!(50013))
    );
    assert_eq!(
        s.delete(&recipient(bob), &bob.auth).await.status,
        204,
        "bob leaves"
    );
    assert_eq!(
        s.get(&format!("/channels/{id}"), &bob.auth).await.status,
        403
    );
    assert_eq!(
        s.get("/users/@me/channels", &bob.auth).await.body,
        json!([])
    );
    assert_eq!(s.delete(&recipient(dan), &ada.auth).await.status, 204);
    assert_eq!(
        s.get(&format!("/channels/{id}"), &dan.auth).await.status,
        403
    );
    let left = s.get(&format!("/channels/{id}"), &cat.auth).await;
    assert_eq!(recipient_ids(&left.body), [ada.id.as_str()]);
    let stranger = s.put(&recipient(dan), &friends[3].auth, json!({})).await;
    assert_eq!(stranger.status, 403, "outsiders add nobody");
    let dm = open_dm(&s, &ada, bob).await;
    let in_dm = s
        .put(
            &format!(
                "/channels/{}/recipients/{}",
                dm["id"].as_str().unwrap(),
                dan.id
            ),
            &ada.auth,
            json!({}),
        )
        .await;
    assert_eq!(
        (in_dm.status, in_dm.body["code"].clone()),
        (400, json!(50035))
    );

    // A second group with the same people is a new channel.
    let again = s
        .post(
            "/users/@me/channels",
            &ada.auth,
            json!({ "recipients": ids(2) }),
        )
        .await;
    assert_ne!(again.body["id"], group.body["id"]);

    let nine = s
        .post(
            "/users/@me/channels",
            &ada.auth,
            json!({ "recipients": ids(9) }),
        )
        .await;
    assert_eq!(nine.status, 200, "ten with the owner");
    let ten = s
        .post(
            "/users/@me/channels",
            &ada.auth,
            json!({ "recipients": ids(10) }),
        )
        .await;
    assert_eq!((ten.status, ten.body["code"].clone()), (400, json!(50035)));
    assert!(ten.body["errors"]["recipients"].is_object());

    let (guild, _) = s.guild(&ada, "Home").await;
    let bot = s.bot(&ada, "helper", &guild, "0").await;
    let by_bot = s
        .post(
            "/users/@me/channels",
            &bot.auth,
            json!({ "recipients": ids(2) }),
        )
        .await;
    assert_eq!(
        (by_bot.status, by_bot.body["code"].clone()),
        (403, json!(20001))
    );
    let bot_dm = s
        .post(
            "/users/@me/channels",
            &bot.auth,
            json!({ "recipient_id": ada.id }),
        )
        .await;
    assert_eq!(bot_dm.status, 200, "bots open DMs");
}

#[tokio::test]
async fn a_group_dm_is_renamed_and_given_an_icon_by_its_participants() {
    let s = server();
    let (ada, bob, cat) = (
        s.register("ada").await,
        s.register("bob").await,
        s.register("cat").await,
    );
    let group = s
        .post(
            "/users/@me/channels",
            &ada.auth,
            json!({ "recipients": [bob.id, cat.id] }),
        )
        .await;
    let id = group.body["id"].as_str().unwrap().to_owned();
    let icon = images::uri("image/png", images::PNG);
    let renamed = s
        .patch(
            &format!("/channels/{id}"),
            &ada.auth,
            json!({ "name": "weekend plans", "icon": icon }),
        )
        .await;
    assert_eq!(renamed.status, 200, "{:?}", renamed.body);
    assert_eq!(renamed.body["name"], "weekend plans");
    // A hash, as guild icons have, naming the image at Discord's CDN path.
    let hash = renamed.body["icon"].as_str().unwrap().to_owned();
    assert!(
        hash.len() == 32 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
        "{hash}"
    );
    let path = format!("/channel-icons/{id}/{hash}.png");
    let (status, kind, _, served) = images::fetch(&s, &path).await;
    assert_eq!((status, kind.as_str()), (200, "image/png"));
    assert_eq!(served, images::bytes(images::PNG));
    let bad = s
        .patch(
            &format!("/channels/{id}"),
            &ada.auth,
            json!({ "icon": "https://example.com/a.png" }),
        )
        .await;
    assert_eq!(bad.body["code"], 50035, "{:?}", bad.body);
    // Any participant may, as on Discord; others see the change.
    let by_bob = s
        .patch(
            &format!("/channels/{id}"),
            &bob.auth,
            json!({ "icon": null }),
        )
        .await;
    assert_eq!(by_bob.status, 200, "{:?}", by_bob.body);
    let seen = s.get(&format!("/channels/{id}"), &cat.auth).await;
    assert_eq!(seen.body["name"], "weekend plans");
    assert_eq!(seen.body["icon"], json!(null));
    assert_eq!(images::fetch(&s, &path).await.0, 404, "no longer its icon");
    let long = s
        .patch(
            &format!("/channels/{id}"),
            &cat.auth,
            json!({ "name": "x".repeat(101) }),
        )
        .await;
    assert_eq!(long.body["code"], 50035);
    // A one-to-one DM has no name to change.
    let dm = open_dm(&s, &ada, &bob).await;
    let dm = dm["id"].as_str().unwrap();
    let refused = s
        .patch(
            &format!("/channels/{dm}"),
            &ada.auth,
            json!({ "name": "us" }),
        )
        .await;
    assert_eq!(refused.body["code"], 50003);
}

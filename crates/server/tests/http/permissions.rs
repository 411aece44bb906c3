use serde_json::json;

use crate::server;

const VIEW_CHANNEL: u64 = 1 << 10;
const SEND_MESSAGES: u64 = 1 << 11;
const MANAGE_MESSAGES: u64 = 1 << 13;
const READ_MESSAGE_HISTORY: u64 = 1 << 16;
const ADMINISTRATOR: u64 = 1 << 3;
const MANAGE_ROLES: u64 = 1 << 28;

#[tokio::test]
async fn channel_overwrites_in_discords_order() {
    let s = server();
    let (ada, bob) = (s.register("ada").await, s.register("bob").await);
    let (guild, general) = s.guild(&ada, "Home").await;
    s.join(&ada, &general, &bob).await;
    let send = |who: String| {
        let (s, general) = (&s, general.clone());
        async move {
            s.post(
                &format!("/channels/{general}/messages"),
                &who,
                json!({ "content": "hi" }),
            )
            .await
        }
    };
    let overwrite = |target: String, kind: u8, allow: u64, deny: u64| {
        let (s, general, auth) = (&s, general.clone(), ada.auth.clone());
        async move {
            let body =
                json!({ "type": kind, "allow": allow.to_string(), "deny": deny.to_string() });
            let reply = s
                .put(
                    &format!("/channels/{general}/permissions/{target}"),
                    &auth,
                    body,
                )
                .await;
            assert_eq!(reply.status, 204, "{:?}", reply.body);
        }
    };
    assert_eq!(send(bob.auth.clone()).await.status, 200);

    // @everyone may no longer send: 50013, the owner still may.
    overwrite(guild.clone(), 0, 0, SEND_MESSAGES).await;
    let denied = send(bob.auth.clone()).await;
    assert_eq!(
        (denied.status, denied.body["code"].clone()),
        (403, json!(50013))
    );
    assert_eq!(send(ada.auth.clone()).await.status, 200);

    // A role allow beats the @everyone deny.
    let role = s
        .post(
            &format!("/guilds/{guild}/roles"),
            &ada.auth,
            json!({ "name": "talkers" }),
        )
        .await;
    let role = role.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        s.put(
            &format!("/guilds/{guild}/members/{}/roles/{role}", bob.id),
            &ada.auth,
            json!({})
        )
        .await
        .status,
        204
    );
    overwrite(role.clone(), 0, SEND_MESSAGES, 0).await;
    assert_eq!(send(bob.auth.clone()).await.status, 200);

    // The member overwrite has the last word.
    overwrite(bob.id.clone(), 1, 0, SEND_MESSAGES).await;
    assert_eq!(send(bob.auth.clone()).await.status, 403);
    assert_eq!(
        s.delete(
            &format!("/channels/{general}/permissions/{}", bob.id),
            &ada.auth
        )
        .await
        .status,
        204
    );
    assert_eq!(send(bob.auth.clone()).await.status, 200);

    // Hidden channel: 50001 everywhere, and it leaves the channel list.
    overwrite(guild.clone(), 0, 0, VIEW_CHANNEL).await;
    overwrite(role.clone(), 0, 0, 0).await;
    for reply in [
        s.get(&format!("/channels/{general}"), &bob.auth).await,
        s.get(&format!("/channels/{general}/messages"), &bob.auth)
            .await,
        send(bob.auth.clone()).await,
    ] {
        assert_eq!(
            (reply.status, reply.body["code"].clone()),
            (403, json!(50001))
        );
    }
    let listed = s.get(&format!("/guilds/{guild}/channels"), &bob.auth).await;
    assert!(
        listed
            .body
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["id"] != general.as_str())
    );
    let missing = s
        .delete(&format!("/channels/{general}/permissions/999"), &ada.auth)
        .await;
    assert_eq!(missing.body["code"], 10009);
}

#[tokio::test]
async fn history_needs_read_message_history() {
    let s = server();
    let (ada, bob) = (s.register("ada").await, s.register("bob").await);
    let (guild, general) = s.guild(&ada, "Home").await;
    s.join(&ada, &general, &bob).await;
    let id = s.say(&ada, &general, "secret past").await;
    let body = json!({ "type": 0, "deny": READ_MESSAGE_HISTORY.to_string() });
    s.put(
        &format!("/channels/{general}/permissions/{guild}"),
        &ada.auth,
        body,
    )
    .await;
    let page = s
        .get(&format!("/channels/{general}/messages"), &bob.auth)
        .await;
    assert_eq!((page.status, page.body.clone()), (200, json!([])));
    let one = s
        .get(&format!("/channels/{general}/messages/{id}"), &bob.auth)
        .await;
    assert_eq!((one.status, one.body["code"].clone()), (403, json!(50013)));
    let reply = s
        .post(
            &format!("/channels/{general}/messages"),
            &bob.auth,
            json!({ "content": "re", "message_reference": { "message_id": id } }),
        )
        .await;
    assert_eq!(reply.status, 403, "replying needs history too");
}

#[tokio::test]
async fn roles_grant_moderation_and_administrator_ignores_overwrites() {
    let s = server();
    let (ada, bob, cat) = (
        s.register("ada").await,
        s.register("bob").await,
        s.register("cat").await,
    );
    let (guild, general) = s.guild(&ada, "Home").await;
    s.join(&ada, &general, &bob).await;
    s.join(&ada, &general, &cat).await;
    let victim = s.say(&cat, &general, "delete me").await;
    let path = format!("/channels/{general}/messages/{victim}");
    assert_eq!(s.delete(&path, &bob.auth).await.status, 403);
    let mods = s
        .post(
            &format!("/guilds/{guild}/roles"),
            &ada.auth,
            json!({ "name": "mods", "permissions": MANAGE_MESSAGES.to_string() }),
        )
        .await;
    assert_eq!(mods.body["permissions"], MANAGE_MESSAGES.to_string());
    let mods = mods.body["id"].as_str().unwrap();
    s.put(
        &format!("/guilds/{guild}/members/{}/roles/{mods}", bob.id),
        &ada.auth,
        json!({}),
    )
    .await;
    assert_eq!(s.delete(&path, &bob.auth).await.status, 204);

    let admins = s
        .post(
            &format!("/guilds/{guild}/roles"),
            &ada.auth,
            json!({ "name": "admins", "permissions": ADMINISTRATOR.to_string() }),
        )
        .await;
    let admins = admins.body["id"].as_str().unwrap();
    s.put(
        &format!("/guilds/{guild}/members/{}/roles/{admins}", cat.id),
        &ada.auth,
        json!({}),
    )
    .await;
    let hide = json!({ "type": 1, "deny": (VIEW_CHANNEL | SEND_MESSAGES).to_string() });
    s.put(
        &format!("/channels/{general}/permissions/{}", cat.id),
        &ada.auth,
        hide,
    )
    .await;
    assert!(!s.say(&cat, &general, "still here").await.is_empty());
}

#[tokio::test]
async fn roles_cannot_grant_what_the_actor_lacks_or_outrank_it() {
    let s = server();
    let (ada, bob, cat) = (
        s.register("ada").await,
        s.register("bob").await,
        s.register("cat").await,
    );
    let (guild, general) = s.guild(&ada, "Home").await;
    s.join(&ada, &general, &bob).await;
    s.join(&ada, &general, &cat).await;
    let denied = s
        .post(
            &format!("/guilds/{guild}/roles"),
            &bob.auth,
            json!({ "name": "x" }),
        )
        .await;
    assert_eq!(
        (denied.status, denied.body["code"].clone()),
        (403, json!(50013))
    );
    let managers = s
        .post(
            &format!("/guilds/{guild}/roles"),
            &ada.auth,
            json!({ "name": "managers", "permissions": MANAGE_ROLES.to_string() }),
        )
        .await;
    let managers = managers.body["id"].as_str().unwrap().to_owned();
    s.put(
        &format!("/guilds/{guild}/members/{}/roles/{managers}", bob.id),
        &ada.auth,
        json!({}),
    )
    .await;
    let escalate = s
        .post(
            &format!("/guilds/{guild}/roles"),
            &bob.auth,
            json!({ "name": "root", "permissions": ADMINISTRATOR.to_string() }),
        )
        .await;
    assert_eq!(
        escalate.status, 403,
        "cannot grant ADMINISTRATOR without holding it"
    );
    let same_rank = s
        .put(
            &format!("/guilds/{guild}/members/{}/roles/{managers}", cat.id),
            &bob.auth,
            json!({}),
        )
        .await;
    assert_eq!(
        same_rank.status, 403,
        "cannot hand out a role as high as one's own"
    );
    let unknown = s
        .put(
            &format!("/guilds/{guild}/members/{}/roles/12345", cat.id),
            &ada.auth,
            json!({}),
        )
        .await;
    assert_eq!(unknown.body["code"], 10011);
}

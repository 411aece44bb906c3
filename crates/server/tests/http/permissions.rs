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

const MANAGE_CHANNELS: u64 = 1 << 4;
const MENTION_EVERYONE: u64 = 1 << 17;

/// A guild of ada's with bob in it holding a role of `permissions`;
/// returns (guild, #general).
async fn with_manager(
    s: &concord_testkit::TestServer,
    ada: &concord_testkit::Account,
    bob: &concord_testkit::Account,
    permissions: u64,
) -> (String, String) {
    let (guild, general) = s.guild(ada, "Home").await;
    s.join(ada, &general, bob).await;
    let role = s
        .post(
            &format!("/guilds/{guild}/roles"),
            &ada.auth,
            json!({ "name": "managers", "permissions": permissions.to_string() }),
        )
        .await;
    let role = role.body["id"].as_str().unwrap().to_owned();
    let given = s
        .put(
            &format!("/guilds/{guild}/members/{}/roles/{role}", bob.id),
            &ada.auth,
            json!({}),
        )
        .await;
    assert_eq!(given.status, 204, "{:?}", given.body);
    (guild, general)
}

/// Creates a channel as `who` and returns its id.
async fn channel(
    s: &concord_testkit::TestServer,
    who: &concord_testkit::Account,
    guild: &str,
    body: serde_json::Value,
) -> String {
    let made = s
        .post(&format!("/guilds/{guild}/channels"), &who.auth, body)
        .await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    made.body["id"].as_str().unwrap().to_owned()
}

fn hide_from_everyone(guild: &str) -> serde_json::Value {
    json!([{ "id": guild, "type": 0, "allow": "0", "deny": VIEW_CHANNEL.to_string() }])
}

#[tokio::test]
async fn reorder_cannot_move_or_sync_a_hidden_channel() {
    let s = server();
    let (ada, bob) = (s.register("ada").await, s.register("bob").await);
    let (guild, _) = with_manager(&s, &ada, &bob, MANAGE_CHANNELS | MANAGE_ROLES).await;
    let open = channel(&s, &ada, &guild, json!({ "name": "open", "type": 4 })).await;
    let secret = channel(
        &s,
        &ada,
        &guild,
        json!({ "name": "secret", "permission_overwrites": hide_from_everyone(&guild) }),
    )
    .await;
    let reorder = |body: serde_json::Value| {
        let (s, path, auth) = (&s, format!("/guilds/{guild}/channels"), bob.auth.clone());
        async move { s.patch(&path, &auth, body).await }
    };
    // Syncing the hidden channel with an open category would expose it.
    let sync =
        reorder(json!([{ "id": secret, "parent_id": open, "lock_permissions": true }])).await;
    assert_eq!(sync.status, 400, "{:?}", sync.body);
    assert_eq!(
        sync.body["errors"]["0"]["id"]["_errors"][0]["code"],
        "CHANNEL_INVALID"
    );
    let moved = reorder(json!([{ "id": secret, "position": 7 }])).await;
    assert_eq!(
        moved.status, 400,
        "an unseen channel is unknown: {:?}",
        moved.body
    );
    let seen = s.get(&format!("/channels/{secret}"), &ada.auth).await;
    assert_eq!(
        seen.body["permission_overwrites"].as_array().unwrap().len(),
        1
    );
    assert_eq!(seen.body["parent_id"], json!(null));
    let still = s.get(&format!("/channels/{secret}"), &bob.auth).await;
    assert_eq!(
        (still.status, still.body["code"].clone()),
        (403, json!(50001))
    );

    // Nor into a category they cannot see.
    let dark = channel(
        &s,
        &ada,
        &guild,
        json!({ "name": "dark", "type": 4, "permission_overwrites": hide_from_everyone(&guild) }),
    )
    .await;
    let plain = channel(&s, &bob, &guild, json!({ "name": "plain" })).await;
    let into_dark = reorder(json!([{ "id": plain, "parent_id": dark }])).await;
    assert_eq!(into_dark.status, 400, "{:?}", into_dark.body);
    let patched = s
        .patch(
            &format!("/channels/{plain}"),
            &bob.auth,
            json!({ "parent_id": dark }),
        )
        .await;
    assert_eq!(patched.status, 400, "{:?}", patched.body);

    // Syncing a visible channel needs MANAGE_ROLES: a channel manager alone
    // cannot replace its overwrites.
    let carol = s.register("carol").await;
    let (guild, _) = with_manager(&s, &ada, &carol, MANAGE_CHANNELS).await;
    let open = channel(&s, &ada, &guild, json!({ "name": "open", "type": 4 })).await;
    let quiet =
        json!([{ "id": guild, "type": 0, "allow": "0", "deny": SEND_MESSAGES.to_string() }]);
    let quiet = channel(
        &s,
        &ada,
        &guild,
        json!({ "name": "quiet", "permission_overwrites": quiet }),
    )
    .await;
    let sync = s
        .patch(
            &format!("/guilds/{guild}/channels"),
            &carol.auth,
            json!([{ "id": quiet, "parent_id": open, "lock_permissions": true }]),
        )
        .await;
    assert_eq!(
        (sync.status, sync.body["code"].clone()),
        (403, json!(50013))
    );
    let moved = s
        .patch(
            &format!("/guilds/{guild}/channels"),
            &carol.auth,
            json!([{ "id": quiet, "parent_id": open }]),
        )
        .await;
    assert_eq!(
        moved.status, 204,
        "moving without syncing: {:?}",
        moved.body
    );
}

#[tokio::test]
async fn channel_patch_cannot_grant_unheld_bits() {
    let s = server();
    let (ada, bob) = (s.register("ada").await, s.register("bob").await);
    let (guild, general) = with_manager(&s, &ada, &bob, MANAGE_CHANNELS | MANAGE_ROLES).await;
    let me =
        |allow: u64| json!([{ "id": bob.id, "type": 1, "allow": allow.to_string(), "deny": "0" }]);
    for unheld in [
        ADMINISTRATOR,
        MANAGE_MESSAGES,
        MENTION_EVERYONE | MANAGE_MESSAGES,
    ] {
        let patched = s
            .patch(
                &format!("/channels/{general}"),
                &bob.auth,
                json!({ "permission_overwrites": me(unheld) }),
            )
            .await;
        assert_eq!(
            (patched.status, patched.body["code"].clone()),
            (403, json!(50013)),
            "PATCH allowing {unheld}"
        );
        let created = s
            .post(
                &format!("/guilds/{guild}/channels"),
                &bob.auth,
                json!({ "name": "mine", "permission_overwrites": me(unheld) }),
            )
            .await;
        assert_eq!(
            (created.status, created.body["code"].clone()),
            (403, json!(50013)),
            "POST allowing {unheld}"
        );
    }
    let general_now = s.get(&format!("/channels/{general}"), &ada.auth).await;
    assert_eq!(general_now.body["permission_overwrites"], json!([]));
    // What bob holds he may hand on, and overwrites sent back unchanged are no change.
    let held = s
        .patch(
            &format!("/channels/{general}"),
            &bob.auth,
            json!({ "permission_overwrites": me(SEND_MESSAGES | VIEW_CHANNEL) }),
        )
        .await;
    assert_eq!(held.status, 200, "{:?}", held.body);

    // A channel manager without MANAGE_ROLES writes no overwrites at all,
    // but may send the current ones back with other edits.
    let carol = s.register("carol").await;
    let (guild, general) = with_manager(&s, &ada, &carol, MANAGE_CHANNELS).await;
    let mine =
        json!([{ "id": carol.id, "type": 1, "allow": SEND_MESSAGES.to_string(), "deny": "0" }]);
    let patched = s
        .patch(
            &format!("/channels/{general}"),
            &carol.auth,
            json!({ "permission_overwrites": mine }),
        )
        .await;
    assert_eq!(
        (patched.status, patched.body["code"].clone()),
        (403, json!(50013))
    );
    let renamed = s
        .patch(
            &format!("/channels/{general}"),
            &carol.auth,
            json!({ "name": "lobby", "permission_overwrites": [] }),
        )
        .await;
    assert_eq!(renamed.status, 200, "{:?}", renamed.body);
    let _ = guild;
}

#[tokio::test]
async fn overwrite_delete_cannot_lift_an_unheld_denial() {
    let s = server();
    let (ada, bob) = (s.register("ada").await, s.register("bob").await);
    let (_, general) = with_manager(&s, &ada, &bob, MANAGE_ROLES).await;
    let path = format!("/channels/{general}/permissions/{}", bob.id);
    let muted = json!({ "type": 1, "allow": "0", "deny": SEND_MESSAGES.to_string() });
    assert_eq!(s.put(&path, &ada.auth, muted).await.status, 204);
    let lifted = s.delete(&path, &bob.auth).await;
    assert_eq!(
        (lifted.status, lifted.body["code"].clone()),
        (403, json!(50013))
    );
    let cleared = s
        .put(
            &path,
            &bob.auth,
            json!({ "type": 1, "allow": "0", "deny": "0" }),
        )
        .await;
    assert_eq!(cleared.status, 403, "nor by overwriting it");
    let still = s
        .post(
            &format!("/channels/{general}/messages"),
            &bob.auth,
            json!({ "content": "hi" }),
        )
        .await;
    assert_eq!(still.status, 403, "bob is still muted");
}

#[tokio::test]
async fn bot_roles_are_given_to_no_one() {
    let s = server();
    let (ada, bob) = (s.register("ada").await, s.register("bob").await);
    let (guild, _) = with_manager(&s, &ada, &bob, MANAGE_ROLES).await;
    // The bot comes with a role holding ADMINISTRATOR, at the bottom.
    let bot = s
        .bot(&ada, "helper", &guild, &ADMINISTRATOR.to_string())
        .await;
    let roles = s.get(&format!("/guilds/{guild}/roles"), &ada.auth).await;
    let roles = roles.body.as_array().unwrap().clone();
    let role = roles
        .iter()
        .find(|r| r["name"] == "helper")
        .expect("bot role");
    let managed = role["id"].as_str().unwrap().to_owned();
    let managers = roles.iter().find(|r| r["name"] == "managers").unwrap();
    let managers = managers["id"].as_str().unwrap();
    let moved = s
        .patch(
            &format!("/guilds/{guild}/roles"),
            &ada.auth,
            json!([{ "id": managers, "position": 2 }, { "id": managed, "position": 1 }]),
        )
        .await;
    assert_eq!(moved.status, 200, "{:?}", moved.body);

    // bob outranks the bot's role but may not take it, by either route.
    let take = s
        .put(
            &format!("/guilds/{guild}/members/{}/roles/{managed}", bob.id),
            &bob.auth,
            json!({}),
        )
        .await;
    assert_eq!(
        (take.status, take.body["code"].clone()),
        (403, json!(50013))
    );
    let patch = s
        .patch(
            &format!("/guilds/{guild}/members/{}", bob.id),
            &bob.auth,
            json!({ "roles": [managers, managed] }),
        )
        .await;
    assert_eq!(
        (patch.status, patch.body["code"].clone()),
        (403, json!(50013))
    );
    // Nor may the owner give it away, or take it from the bot.
    let give = s
        .put(
            &format!("/guilds/{guild}/members/{}/roles/{managed}", bob.id),
            &ada.auth,
            json!({}),
        )
        .await;
    assert_eq!(give.status, 403);
    let strip = s
        .delete(
            &format!("/guilds/{guild}/members/{}/roles/{managed}", bot.id),
            &ada.auth,
        )
        .await;
    assert_eq!(strip.status, 403);
    let member = s
        .get(&format!("/guilds/{guild}/members/{}", bob.id), &ada.auth)
        .await;
    assert!(
        !member.body["roles"]
            .as_array()
            .unwrap()
            .contains(&json!(managed))
    );
    // Clients see whose it is.
    assert_eq!(role["managed"], true);
    assert_eq!(role["tags"]["bot_id"], bot.id.as_str());
}

#[tokio::test]
async fn at_equal_positions_the_older_role_outranks_the_newer() {
    let s = server();
    let (ada, bob) = (s.register("ada").await, s.register("bob").await);
    let (guild, general) = s.guild(&ada, "Home").await;
    s.join(&ada, &general, &bob).await;
    // The bot's role is made with it, at the bottom (position 1).
    let bot = s
        .bot(&ada, "helper", &guild, &MANAGE_ROLES.to_string())
        .await;
    // A role made afterwards lands at the same position.
    let newer = s
        .post(
            &format!("/guilds/{guild}/roles"),
            &ada.auth,
            json!({ "name": "newer" }),
        )
        .await;
    assert_eq!(newer.status, 200, "{:?}", newer.body);
    let roles = s.get(&format!("/guilds/{guild}/roles"), &ada.auth).await;
    let position = |name: &str| {
        roles
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap()["position"]
            .clone()
    };
    assert_eq!(position("helper"), position("newer"));
    let newer = newer.body["id"].as_str().unwrap().to_owned();

    // The bot stands above it: it may give it, edit it and delete it.
    let give = s
        .put(
            &format!("/guilds/{guild}/members/{}/roles/{newer}", bob.id),
            &bot.auth,
            json!({}),
        )
        .await;
    assert_eq!(give.status, 204, "{:?}", give.body);
    let edit = s
        .patch(
            &format!("/guilds/{guild}/roles/{newer}"),
            &bot.auth,
            json!({ "name": "renamed" }),
        )
        .await;
    assert_eq!(edit.status, 200, "{:?}", edit.body);
    let remove = s
        .delete(&format!("/guilds/{guild}/roles/{newer}"), &bot.auth)
        .await;
    assert_eq!(remove.status, 204, "{:?}", remove.body);

    // A member whose highest role is the newer one does not outrank the bot's.
    let second = s
        .post(
            &format!("/guilds/{guild}/roles"),
            &ada.auth,
            json!({ "name": "second", "permissions": MANAGE_ROLES.to_string() }),
        )
        .await;
    let second = second.body["id"].as_str().unwrap().to_owned();
    let given = s
        .put(
            &format!("/guilds/{guild}/members/{}/roles/{second}", bob.id),
            &ada.auth,
            json!({}),
        )
        .await;
    assert_eq!(given.status, 204);
    let helper = roles
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "helper")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let edit = s
        .patch(
            &format!("/guilds/{guild}/roles/{helper}"),
            &bob.auth,
            json!({ "name": "mine now" }),
        )
        .await;
    assert_eq!(
        (edit.status, edit.body["code"].clone()),
        (403, json!(50013))
    );
}

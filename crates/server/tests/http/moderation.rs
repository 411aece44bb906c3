use serde_json::json;

use crate::server;

const KICK_MEMBERS: u64 = 1 << 1;
const BAN_MEMBERS: u64 = 1 << 2;
const MANAGE_ROLES: u64 = 1 << 28;
const MANAGE_NICKNAMES: u64 = 1 << 27;
const MODERATE_MEMBERS: u64 = 1 << 40;

/// ada owns the guild; bob is a moderator with `permissions`; cat is a member.
async fn setup(
    permissions: u64,
) -> (
    concord_testkit::TestServer,
    [concord_testkit::Account; 3],
    String,
    String,
    String,
) {
    let s = server();
    let (ada, bob, cat) = (
        s.register("ada").await,
        s.register("bob").await,
        s.register("cat").await,
    );
    let (guild, general) = s.guild(&ada, "Home").await;
    s.join(&ada, &general, &bob).await;
    s.join(&ada, &general, &cat).await;
    let role = s
        .post(
            &format!("/guilds/{guild}/roles"),
            &ada.auth,
            json!({ "name": "mods", "permissions": permissions.to_string() }),
        )
        .await;
    let role = role.body["id"].as_str().unwrap().to_owned();
    s.put(
        &format!("/guilds/{guild}/members/{}/roles/{role}", bob.id),
        &ada.auth,
        json!({}),
    )
    .await;
    (s, [ada, bob, cat], guild, general, role)
}

#[tokio::test]
async fn roles_are_edited_and_deleted_within_the_hierarchy() {
    let (s, [ada, bob, cat], guild, _, mods) = setup(MANAGE_ROLES).await;
    let own = s
        .patch(
            &format!("/guilds/{guild}/roles/{mods}"),
            &bob.auth,
            json!({ "name": "renamed" }),
        )
        .await;
    assert_eq!(
        (own.status, own.body["code"].clone()),
        (403, json!(50013)),
        "not at one's own level"
    );
    let lower = s
        .post(
            &format!("/guilds/{guild}/roles"),
            &ada.auth,
            json!({ "name": "lower" }),
        )
        .await;
    let lower = lower.body["id"].as_str().unwrap().to_owned();
    // Both roles sit at position 1, and bob's, the older, stands above.
    assert_eq!(
        s.patch(
            &format!("/guilds/{guild}/roles/{lower}"),
            &bob.auth,
            json!({ "name": "x" })
        )
        .await
        .status,
        200
    );
    let edited = s
        .patch(
            &format!("/guilds/{guild}/roles/{lower}"),
            &ada.auth,
            json!({ "name": "helpers", "color": 255, "hoist": true }),
        )
        .await;
    assert_eq!(
        (
            edited.body["name"].clone(),
            edited.body["color"].clone(),
            edited.body["hoist"].clone()
        ),
        (json!("helpers"), json!(255), json!(true))
    );
    s.put(
        &format!("/guilds/{guild}/members/{}/roles/{lower}", cat.id),
        &ada.auth,
        json!({}),
    )
    .await;
    assert_eq!(
        s.delete(&format!("/guilds/{guild}/roles/{lower}"), &ada.auth)
            .await
            .status,
        204
    );
    let cat_now = s
        .get(&format!("/guilds/{guild}/members/{}", cat.id), &ada.auth)
        .await;
    assert_eq!(
        cat_now.body["roles"],
        json!([]),
        "a deleted role leaves its members"
    );
    let everyone = s
        .delete(&format!("/guilds/{guild}/roles/{guild}"), &ada.auth)
        .await;
    assert_eq!(everyone.status, 400, "@everyone cannot be deleted");
    assert_eq!(
        s.delete(&format!("/guilds/{guild}/roles/123"), &ada.auth)
            .await
            .body["code"],
        10011
    );
}

#[tokio::test]
async fn members_are_edited_with_the_right_permission() {
    let (s, [ada, bob, cat], guild, _, _) = setup(MANAGE_NICKNAMES | MODERATE_MEMBERS).await;
    let path = format!("/guilds/{guild}/members/{}", cat.id);
    let nick = s.patch(&path, &bob.auth, json!({ "nick": "kitty" })).await;
    assert_eq!(
        (nick.status, nick.body["nick"].clone()),
        (200, json!("kitty"))
    );
    let cleared = s.patch(&path, &bob.auth, json!({ "nick": null })).await;
    assert_eq!(cleared.body["nick"], serde_json::Value::Null);
    let by_cat = s
        .patch(
            &format!("/guilds/{guild}/members/{}", bob.id),
            &cat.auth,
            json!({ "nick": "x" }),
        )
        .await;
    assert_eq!(by_cat.status, 403);
    let own = s
        .patch(
            &format!("/guilds/{guild}/members/@me"),
            &cat.auth,
            json!({ "nick": "me myself" }),
        )
        .await;
    assert_eq!(
        own.body["nick"], "me myself",
        "CHANGE_NICKNAME is in @everyone"
    );
    let up_the_chain = s
        .patch(
            &format!("/guilds/{guild}/members/{}", ada.id),
            &bob.auth,
            json!({ "nick": "boss" }),
        )
        .await;
    assert_eq!(up_the_chain.status, 403, "never the owner");

    let until = concord_model::timestamp::iso8601(concord_model::snowflake::now_ms() + 60_000);
    let timed_out = s
        .patch(
            &path,
            &bob.auth,
            json!({ "communication_disabled_until": until }),
        )
        .await;
    assert_eq!(timed_out.status, 200, "{:?}", timed_out.body);
    assert!(timed_out.body["communication_disabled_until"].is_string());
    let (_, general) = (
        0,
        s.get(&format!("/guilds/{guild}/channels"), &cat.auth)
            .await
            .body[1]["id"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    let muted = s
        .post(
            &format!("/channels/{general}/messages"),
            &cat.auth,
            json!({ "content": "hi" }),
        )
        .await;
    assert_eq!(muted.status, 403, "a timed-out member cannot send");
    let too_far =
        concord_model::timestamp::iso8601(concord_model::snowflake::now_ms() + 40 * 86_400_000);
    assert_eq!(
        s.patch(
            &path,
            &bob.auth,
            json!({ "communication_disabled_until": too_far })
        )
        .await
        .status,
        400
    );
    s.patch(
        &path,
        &bob.auth,
        json!({ "communication_disabled_until": null }),
    )
    .await;
    assert_eq!(
        s.post(
            &format!("/channels/{general}/messages"),
            &cat.auth,
            json!({ "content": "hi" })
        )
        .await
        .status,
        200
    );

    let roles = s.patch(&path, &bob.auth, json!({ "roles": [] })).await;
    assert_eq!(roles.status, 403, "roles need MANAGE_ROLES");
}

#[tokio::test]
async fn search_finds_members_by_name_prefix() {
    let (s, [ada, _, _], guild, _, _) = setup(0).await;
    let found = s
        .get(
            &format!("/guilds/{guild}/members/search?query=CA&limit=10"),
            &ada.auth,
        )
        .await;
    let names: Vec<_> = found
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user"]["username"].clone())
        .collect();
    assert_eq!(names, [json!("cat")]);
    let outsider = s.register("dan").await;
    assert_eq!(
        s.get(
            &format!("/guilds/{guild}/members/search?query=c"),
            &outsider.auth
        )
        .await
        .status,
        403
    );
}

#[tokio::test]
async fn kicks_respect_the_hierarchy() {
    let (s, [ada, bob, cat], guild, general, _) = setup(KICK_MEMBERS).await;
    assert_eq!(
        s.delete(&format!("/guilds/{guild}/members/{}", bob.id), &cat.auth)
            .await
            .status,
        403
    );
    assert_eq!(
        s.delete(&format!("/guilds/{guild}/members/{}", ada.id), &bob.auth)
            .await
            .status,
        403
    );
    assert_eq!(
        s.delete(&format!("/guilds/{guild}/members/{}", cat.id), &bob.auth)
            .await
            .status,
        204
    );
    assert_eq!(
        s.get(&format!("/guilds/{guild}"), &cat.auth).await.status,
        403
    );
    let rejoin = s
        .post(
            &format!("/channels/{general}/invites"),
            &ada.auth,
            json!({}),
        )
        .await;
    let code = rejoin.body["code"].as_str().unwrap();
    assert_eq!(
        s.post(&format!("/invites/{code}"), &cat.auth, json!({}))
            .await
            .status,
        200,
        "a kick is not a ban"
    );
}

#[tokio::test]
async fn bans_remove_block_and_clean_up() {
    let (s, [ada, bob, cat], guild, general, _) = setup(BAN_MEMBERS).await;
    let old = s.say(&cat, &general, "spam").await;
    let ban = format!("/guilds/{guild}/bans/{}", cat.id);
    assert_eq!(s.put(&ban, &cat.auth, json!({})).await.status, 403);
    let too_much = s
        .put(
            &ban,
            &bob.auth,
            json!({ "delete_message_seconds": 604_801 }),
        )
        .await;
    assert_eq!(too_much.status, 400);
    assert_eq!(
        s.put(&ban, &bob.auth, json!({ "delete_message_seconds": 3600 }))
            .await
            .status,
        204
    );
    assert_eq!(
        s.get(&format!("/channels/{general}/messages/{old}"), &ada.auth)
            .await
            .status,
        404,
        "their recent messages went too"
    );
    assert_eq!(
        s.get(&format!("/guilds/{guild}"), &cat.auth).await.status,
        403
    );
    let listed = s.get(&format!("/guilds/{guild}/bans"), &bob.auth).await;
    assert_eq!(listed.body[0]["user"]["id"], cat.id.as_str());
    assert_eq!(
        s.get(&ban, &bob.auth).await.body["user"]["id"],
        cat.id.as_str()
    );

    let invite = s
        .post(
            &format!("/channels/{general}/invites"),
            &ada.auth,
            json!({}),
        )
        .await;
    let code = invite.body["code"].as_str().unwrap().to_owned();
    let refused = s
        .post(&format!("/invites/{code}"), &cat.auth, json!({}))
        .await;
    assert_eq!(
        (refused.status, refused.body["code"].clone()),
        (403, json!(40007))
    );

    assert_eq!(s.delete(&ban, &bob.auth).await.status, 204);
    assert_eq!(s.get(&ban, &bob.auth).await.body["code"], 10026);
    assert_eq!(
        s.post(&format!("/invites/{code}"), &cat.auth, json!({}))
            .await
            .status,
        200
    );
    assert_eq!(
        s.put(
            &format!("/guilds/{guild}/bans/{}", ada.id),
            &bob.auth,
            json!({})
        )
        .await
        .status,
        403,
        "never the owner"
    );
    assert_eq!(
        s.put(&format!("/guilds/{guild}/bans/1"), &bob.auth, json!({}))
            .await
            .body["code"],
        10013
    );
}

#[tokio::test]
async fn roles_and_channels_are_reordered() {
    let (s, [ada, bob, _], guild, general, mods) = setup(MANAGE_ROLES | (1 << 4)).await;
    let helpers = s
        .post(
            &format!("/guilds/{guild}/roles"),
            &ada.auth,
            json!({ "name": "helpers" }),
        )
        .await;
    let helpers = helpers.body["id"].as_str().unwrap().to_owned();
    let raised = s
        .patch(
            &format!("/guilds/{guild}/roles"),
            &ada.auth,
            json!([{ "id": mods, "position": 3 }]),
        )
        .await;
    assert_eq!(raised.status, 200);
    assert_eq!(
        raised
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == mods.as_str())
            .unwrap()["position"],
        3
    );
    let moved = s
        .patch(
            &format!("/guilds/{guild}/roles"),
            &bob.auth,
            json!([{ "id": helpers, "position": 2 }]),
        )
        .await;
    assert_eq!(
        moved.status, 200,
        "below the mover's own role: {:?}",
        moved.body
    );
    // At the mover's own position a newer role still stands below it.
    let level = s
        .patch(
            &format!("/guilds/{guild}/roles"),
            &bob.auth,
            json!([{ "id": helpers, "position": 3 }]),
        )
        .await;
    assert_eq!(level.status, 200, "{:?}", level.body);
    let above = s
        .patch(
            &format!("/guilds/{guild}/roles"),
            &bob.auth,
            json!([{ "id": helpers, "position": 4 }]),
        )
        .await;
    assert_eq!(above.status, 403, "not above the mover's own role");
    let unknown = s
        .patch(
            &format!("/guilds/{guild}/roles"),
            &ada.auth,
            json!([{ "id": "1", "position": 2 }]),
        )
        .await;
    assert_eq!(unknown.body["code"], 50035);

    let category = s
        .post(
            &format!("/guilds/{guild}/channels"),
            &ada.auth,
            json!({ "name": "Archive", "type": 4,
        "permission_overwrites": [{ "id": guild, "type": 0, "deny": (1u64 << 11).to_string() }] }),
        )
        .await;
    let category = category.body["id"].as_str().unwrap().to_owned();
    let body =
        json!([{ "id": general, "position": 5, "parent_id": category, "lock_permissions": true }]);
    assert_eq!(
        s.patch(&format!("/guilds/{guild}/channels"), &bob.auth, body)
            .await
            .status,
        204
    );
    let general_now = s.get(&format!("/channels/{general}"), &ada.auth).await;
    assert_eq!(general_now.body["position"], 5);
    assert_eq!(general_now.body["parent_id"], category.as_str());
    assert_eq!(
        general_now.body["permission_overwrites"][0]["deny"],
        (1u64 << 11).to_string(),
        "synced with the category"
    );
    let into_text = json!([{ "id": category, "parent_id": general }]);
    assert_eq!(
        s.patch(&format!("/guilds/{guild}/channels"), &ada.auth, into_text)
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn only_the_owner_hands_the_guild_over() {
    let (s, [ada, bob, cat], guild, _, _) = setup(1 << 5).await;
    let by_bob = s
        .patch(
            &format!("/guilds/{guild}"),
            &bob.auth,
            json!({ "owner_id": bob.id }),
        )
        .await;
    assert_eq!(by_bob.status, 403, "MANAGE_GUILD is not ownership");
    let stranger = s.register("dan").await;
    assert_eq!(
        s.patch(
            &format!("/guilds/{guild}"),
            &ada.auth,
            json!({ "owner_id": stranger.id })
        )
        .await
        .status,
        400
    );
    let handed = s
        .patch(
            &format!("/guilds/{guild}"),
            &ada.auth,
            json!({ "owner_id": cat.id }),
        )
        .await;
    assert_eq!(handed.body["owner_id"], cat.id.as_str());
    assert_eq!(
        s.delete(&format!("/guilds/{guild}"), &ada.auth)
            .await
            .status,
        403,
        "the old owner is a member now"
    );
    assert_eq!(
        s.delete(&format!("/users/@me/guilds/{guild}"), &ada.auth)
            .await
            .status,
        204,
        "and may leave"
    );
}

#[tokio::test]
async fn slowmode_and_typing() {
    let (s, [ada, bob, cat], guild, general, _) = setup(1 << 13).await;
    s.patch(
        &format!("/channels/{general}"),
        &ada.auth,
        json!({ "rate_limit_per_user": 30 }),
    )
    .await;
    let path = format!("/channels/{general}/messages");
    assert_eq!(
        s.post(&path, &cat.auth, json!({ "content": "one" }))
            .await
            .status,
        200
    );
    let second = s.post(&path, &cat.auth, json!({ "content": "two" })).await;
    assert_eq!(
        (second.status, second.body["code"].clone()),
        (429, json!(20016))
    );
    assert!(second.body["retry_after"].as_f64().unwrap() > 0.0);
    assert_eq!(second.header("via"), Some("1.1 concord"));
    assert!(second.header("retry-after").is_some());
    for exempt in [&bob, &ada] {
        for _ in 0..2 {
            assert_eq!(
                s.post(&path, &exempt.auth, json!({ "content": "x" }))
                    .await
                    .status,
                200,
                "MANAGE_MESSAGES and owners skip slowmode"
            );
        }
    }
    assert_eq!(
        s.post(&format!("/channels/{general}/typing"), &cat.auth, json!({}))
            .await
            .status,
        204
    );
    let mute = json!({ "type": 1, "deny": (1u64 << 11).to_string() });
    s.put(
        &format!("/channels/{general}/permissions/{}", cat.id),
        &ada.auth,
        mute,
    )
    .await;
    assert_eq!(
        s.post(&format!("/channels/{general}/typing"), &cat.auth, json!({}))
            .await
            .status,
        403
    );
    let _ = guild;
}

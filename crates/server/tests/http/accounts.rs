use serde_json::json;

use crate::{server, single_server};

#[tokio::test]
async fn register_login_and_the_current_user() {
    let s = server();
    let ada = s.register("ada").await;
    let me = s.get("/users/@me", &ada.auth).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.header("content-type"), Some("application/json"));
    for field in [
        "id",
        "username",
        "discriminator",
        "avatar",
        "public_flags",
        "mfa_enabled",
        "email",
    ] {
        assert!(me.body.get(field).is_some(), "{field} in {:?}", me.body);
    }
    assert_eq!(me.body["discriminator"], "0");
    assert_eq!(me.body["bot"], false);

    for login in ["ada", "ADA@example.org"] {
        let body = json!({ "login": login, "password": "password-ada" });
        let reply = s.request("POST", "/auth/login", None, Some(body)).await;
        assert_eq!(reply.status, 200, "{login}: {:?}", reply.body);
        assert_eq!(reply.body["user_id"], ada.id.as_str());
        let token = reply.body["token"].as_str().unwrap();
        assert_eq!(token.split('.').count(), 3);
        assert_eq!(s.get("/users/@me", token).await.status, 200);
    }
    let wrong = s
        .request(
            "POST",
            "/auth/login",
            None,
            Some(json!({ "login": "ada", "password": "nope-nope" })),
        )
        .await;
    assert_eq!(wrong.status, 400);
    assert_eq!(wrong.body["code"], 50035);
    assert_eq!(
        wrong.body["errors"]["password"]["_errors"][0]["code"],
        "INVALID_LOGIN"
    );

    let other = s
        .get(&format!("/users/{}", ada.id), &s.register("bob").await.auth)
        .await;
    assert_eq!(other.status, 200);
    assert!(
        other.body.get("email").is_none(),
        "private fields stay private"
    );
}

#[tokio::test]
async fn registration_is_validated_and_names_are_unique() {
    let s = server();
    s.register("ada").await;
    let taken = s
        .request(
            "POST",
            "/auth/register",
            None,
            Some(json!({ "username": "Ada", "password": "long enough" })),
        )
        .await;
    assert_eq!(taken.status, 400);
    assert_eq!(
        taken.body["errors"]["username"]["_errors"][0]["code"],
        "USERNAME_ALREADY_TAKEN"
    );
    let short = s
        .request(
            "POST",
            "/auth/register",
            None,
            Some(json!({ "username": "x", "password": "short" })),
        )
        .await;
    assert_eq!(short.status, 400);
    assert!(
        short.body["errors"]["username"].is_object()
            && short.body["errors"]["password"].is_object()
    );
    let missing = s
        .request(
            "POST",
            "/auth/register",
            None,
            Some(json!({ "username": "carol" })),
        )
        .await;
    assert_eq!(
        missing.body["errors"]["password"]["_errors"][0]["code"],
        "BASE_TYPE_REQUIRED"
    );
}

#[tokio::test]
async fn bad_tokens_get_401_code_0() {
    let s = server();
    let ada = s.register("ada").await;
    let mut forged = ada.auth.clone();
    forged.pop();
    forged.push(if ada.auth.ends_with('A') { 'B' } else { 'A' });
    for auth in [
        None,
        Some("garbage"),
        Some("a.b.c"),
        Some(forged.as_str()),
        Some("Bearer x.y.z"),
    ] {
        let reply = s.request("GET", "/users/@me", auth, None).await;
        assert_eq!(reply.status, 401, "{auth:?}");
        assert_eq!(
            reply.body,
            json!({ "message": "401: Unauthorized", "code": 0 })
        );
    }
    let as_bot = format!("Bot {}", ada.auth);
    assert_eq!(
        s.get("/users/@me", &as_bot).await.status,
        401,
        "a user token is not a bot token"
    );
}

#[tokio::test]
async fn password_change_revokes_old_tokens() {
    let s = server();
    let ada = s.register("ada").await;
    let change = json!({ "password": "password-ada", "new_password": "a brand new one" });
    let reply = s.patch("/users/@me", &ada.auth, change).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let fresh = reply.body["token"].as_str().unwrap().to_owned();
    assert_eq!(s.get("/users/@me", &ada.auth).await.status, 401);
    assert_eq!(s.get("/users/@me", &fresh).await.status, 200);
    let wrong = s
        .patch(
            "/users/@me",
            &fresh,
            json!({ "password": "bad", "new_password": "another new one" }),
        )
        .await;
    assert_eq!(wrong.status, 400);
    assert_eq!(
        s.get("/users/@me", &fresh).await.status,
        200,
        "a refused change revokes nothing"
    );
    let renamed = s
        .patch(
            "/users/@me",
            &fresh,
            json!({ "username": "lovelace", "global_name": "Ada L." }),
        )
        .await;
    assert_eq!(renamed.body["username"], "lovelace");
    assert_eq!(renamed.body["global_name"], "Ada L.");
    // A display name is at most 32 characters, as on Discord.
    let long = "n".repeat(33);
    let refused = s
        .patch("/users/@me", &fresh, json!({ "global_name": long }))
        .await;
    assert_eq!(refused.status, 400);
    assert_eq!(
        refused.body["errors"]["global_name"]["_errors"][0]["code"],
        "BASE_TYPE_BAD_LENGTH"
    );
    let registering =
        json!({ "username": "grace", "global_name": long, "password": "correct horse battery" });
    let refused = s
        .request("POST", "/auth/register", None, Some(registering))
        .await;
    assert_eq!(refused.status, 400, "{:?}", refused.body);
    let fits = s
        .patch(
            "/users/@me",
            &fresh,
            json!({ "global_name": "n".repeat(32) }),
        )
        .await;
    assert_eq!(fits.status, 200);
}

#[tokio::test]
async fn tokens_survive_a_restart() {
    let mut s = single_server();
    let ada = s.register("ada").await;
    s.restart();
    assert_eq!(s.get("/users/@me", &ada.auth).await.status, 200);
}

#[tokio::test]
async fn bot_applications_tokens_and_authorization() {
    let s = server();
    let owner = s.register("owner").await;
    let (guild, _) = s.guild(&owner, "home").await;
    let app = s
        .post("/applications", &owner.auth, json!({ "name": "helper" }))
        .await;
    assert_eq!(app.status, 201);
    let app_id = app.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.body["bot"]["id"],
        app_id.as_str(),
        "the bot user shares the application id"
    );
    assert_eq!(app.body["bot"]["bot"], true);

    let first = s
        .post(
            &format!("/applications/{app_id}/bot/reset"),
            &owner.auth,
            json!({}),
        )
        .await;
    let first = format!("Bot {}", first.body["token"].as_str().unwrap());
    let me = s.get("/users/@me", &first).await;
    assert_eq!((me.status, me.body["bot"].clone()), (200, json!(true)));
    let raw = first.trim_start_matches("Bot ");
    assert_eq!(
        s.get("/users/@me", raw).await.status,
        401,
        "bot tokens need the Bot prefix"
    );

    for path in ["/applications/@me", "/oauth2/applications/@me"] {
        let current = s.get(path, &first).await;
        assert_eq!(current.status, 200);
        for field in [
            "id",
            "name",
            "description",
            "icon",
            "bot_public",
            "bot_require_code_grant",
            "owner",
            "verify_key",
            "flags",
        ] {
            assert!(current.body.get(field).is_some(), "{field}");
        }
        assert_eq!(current.body["owner"]["id"], owner.id.as_str());
    }
    // The bot edits its own application; a person has none to edit this way.
    let edited = s
        .patch(
            "/applications/@me",
            &first,
            json!({ "description": "helps" }),
        )
        .await;
    assert_eq!(edited.status, 200, "{:?}", edited.body);
    assert_eq!(
        s.get("/applications/@me", &first).await.body["description"],
        "helps"
    );
    assert_eq!(
        s.patch(
            "/applications/@me",
            &owner.auth,
            json!({ "description": "x" })
        )
        .await
        .status,
        401
    );

    let second = s
        .post(
            &format!("/applications/{app_id}/bot/reset"),
            &owner.auth,
            json!({}),
        )
        .await;
    let second = format!("Bot {}", second.body["token"].as_str().unwrap());
    assert_eq!(
        s.get("/users/@me", &first).await.status,
        401,
        "reset revokes the old token"
    );
    assert_eq!(s.get("/users/@me", &second).await.status, 200);

    let stranger = s.register("stranger").await;
    let theirs = s
        .post(
            &format!("/applications/{app_id}/bot/reset"),
            &stranger.auth,
            json!({}),
        )
        .await;
    assert_eq!(
        (theirs.status, theirs.body["code"].clone()),
        (404, json!(10002))
    );

    let refused = s
        .post(
            &format!("/oauth2/authorize?client_id={app_id}&scope=bot"),
            &stranger.auth,
            json!({ "guild_id": guild }),
        )
        .await;
    assert_eq!(
        refused.status, 403,
        "only members with MANAGE_GUILD add bots"
    );
    let added = s
        .post(
            &format!("/oauth2/authorize?client_id={app_id}&scope=bot&permissions=8192"),
            &owner.auth,
            json!({ "guild_id": guild, "permissions": "8192" }),
        )
        .await;
    assert_eq!(added.status, 200, "{:?}", added.body);
    let member = s
        .get(&format!("/guilds/{guild}/members/{app_id}"), &owner.auth)
        .await;
    assert_eq!(member.status, 200);
    assert_eq!(
        member.body["roles"].as_array().unwrap().len(),
        1,
        "the bot's own role"
    );
    let guilds = s.get("/users/@me/guilds", &second).await;
    assert_eq!(guilds.body[0]["id"], guild.as_str());
    let no_guilds_for_bots = s
        .post("/guilds", &second, json!({ "name": "bots cannot" }))
        .await;
    assert_eq!(no_guilds_for_bots.body["code"], 20001);
}

#[tokio::test]
async fn privileged_intent_switches_are_the_owners() {
    let s = server();
    let owner = s.register("owner").await;
    let app = s
        .post("/applications", &owner.auth, json!({ "name": "helper" }))
        .await;
    let id = app.body["id"].as_str().unwrap();
    let all = (1 << 13) | (1 << 15) | (1 << 19);
    assert_eq!(app.body["flags"], all, "allowed by default");
    let patched = s
        .patch(
            &format!("/applications/{id}"),
            &owner.auth,
            json!({ "flags": 1 << 15 }),
        )
        .await;
    assert_eq!(patched.body["flags"], 1 << 15);
    let fetched = s.get(&format!("/applications/{id}"), &owner.auth).await;
    assert_eq!(fetched.body["flags"], 1 << 15);
}

use serde_json::json;

use crate::server;

#[tokio::test]
async fn a_new_guild_has_everyone_a_category_and_general() {
    let s = server();
    let ada = s.register("ada").await;
    let reply = s
        .post("/guilds", &ada.auth, json!({ "name": "Home" }))
        .await;
    assert_eq!(reply.status, 201);
    let g = &reply.body;
    let id = g["id"].as_str().unwrap();
    assert_eq!(g["owner_id"], ada.id.as_str());
    assert_eq!(g["roles"][0]["id"], id, "@everyone has the guild's id");
    assert_eq!(g["roles"][0]["permissions"], "1799868426735169");
    let channels = g["channels"].as_array().unwrap();
    let category = channels.iter().find(|c| c["type"] == 4).unwrap();
    let general = channels.iter().find(|c| c["type"] == 0).unwrap();
    assert_eq!(general["name"], "general");
    assert_eq!(general["parent_id"], category["id"]);
    assert_eq!(g["system_channel_id"], general["id"]);
    assert_eq!(g["member_count"], 1);
    assert_eq!(g["unavailable"], false);
    assert_eq!(g["members"][0]["user"]["id"], ada.id.as_str());
    for field in [
        "joined_at",
        "large",
        "voice_states",
        "threads",
        "presences",
        "stage_instances",
        "guild_scheduled_events",
        "features",
        "emojis",
        "preferred_locale",
    ] {
        assert!(g.get(field).is_some(), "{field}");
    }

    let fetched = s
        .get(&format!("/guilds/{id}?with_counts=true"), &ada.auth)
        .await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.body["approximate_member_count"], 1);
    let mine = s.get("/users/@me/guilds", &ada.auth).await;
    assert_eq!(mine.body[0]["id"], id);
    assert_eq!(mine.body[0]["owner"], true);
    assert_eq!(mine.body[0]["permissions"], "8866461766385663");

    let bad = s.post("/guilds", &ada.auth, json!({ "name": "x" })).await;
    assert_eq!((bad.status, bad.body["code"].clone()), (400, json!(50035)));
}

#[tokio::test]
async fn guild_edit_and_delete_are_guarded() {
    let s = server();
    let (ada, bob) = (s.register("ada").await, s.register("bob").await);
    let (guild, general) = s.guild(&ada, "Home").await;
    let stranger = s.get(&format!("/guilds/{guild}"), &bob.auth).await;
    assert_eq!(
        (stranger.status, stranger.body["code"].clone()),
        (403, json!(50001))
    );
    s.join(&ada, &general, &bob).await;
    let denied = s
        .patch(
            &format!("/guilds/{guild}"),
            &bob.auth,
            json!({ "name": "Mine" }),
        )
        .await;
    assert_eq!(
        (denied.status, denied.body["code"].clone()),
        (403, json!(50013))
    );
    let renamed = s
        .patch(
            &format!("/guilds/{guild}"),
            &ada.auth,
            json!({ "name": "Renamed", "description": "d" }),
        )
        .await;
    assert_eq!(renamed.body["name"], "Renamed");
    assert_eq!(renamed.body["description"], "d");
    assert_eq!(
        s.delete(&format!("/guilds/{guild}"), &bob.auth)
            .await
            .status,
        403
    );
    assert_eq!(
        s.delete(&format!("/guilds/{guild}"), &ada.auth)
            .await
            .status,
        204
    );
    let gone = s.get(&format!("/guilds/{guild}"), &ada.auth).await;
    assert_eq!(
        (gone.status, gone.body["code"].clone()),
        (404, json!(10004))
    );
    let channel_gone = s.get(&format!("/channels/{general}"), &bob.auth).await;
    assert_eq!(
        (channel_gone.status, channel_gone.body["code"].clone()),
        (404, json!(10003))
    );
    assert_eq!(s.get("/users/@me/guilds", &bob.auth).await.body, json!([]));
}

#[tokio::test]
async fn channels_crud() {
    let s = server();
    let ada = s.register("ada").await;
    let (guild, general) = s.guild(&ada, "Home").await;
    let created = s
        .post(
            &format!("/guilds/{guild}/channels"),
            &ada.auth,
            json!({ "name": "Off Topic", "topic": "anything" }),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["name"], "off-topic");
    assert_eq!(created.body["guild_id"], guild.as_str());
    let id = created.body["id"].as_str().unwrap().to_owned();
    let voice = s
        .post(
            &format!("/guilds/{guild}/channels"),
            &ada.auth,
            json!({ "name": "Voice", "type": 2 }),
        )
        .await;
    assert_eq!(voice.body["bitrate"], 64000);
    assert_eq!(voice.body["user_limit"], 0);
    let bad_type = s
        .post(
            &format!("/guilds/{guild}/channels"),
            &ada.auth,
            json!({ "name": "x", "type": 99 }),
        )
        .await;
    assert_eq!(
        bad_type.body["errors"]["type"]["_errors"][0]["code"],
        "BASE_TYPE_CHOICES"
    );
    let bad_parent = s
        .post(
            &format!("/guilds/{guild}/channels"),
            &ada.auth,
            json!({ "name": "x", "parent_id": general }),
        )
        .await;
    assert!(bad_parent.body["errors"]["parent_id"].is_object());

    let listed = s.get(&format!("/guilds/{guild}/channels"), &ada.auth).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 4);
    let patched = s
        .patch(
            &format!("/channels/{id}"),
            &ada.auth,
            json!({ "topic": null, "nsfw": true, "position": 3 }),
        )
        .await;
    assert_eq!(patched.body["topic"], serde_json::Value::Null);
    assert_eq!(patched.body["nsfw"], true);
    assert_eq!(
        s.get(&format!("/channels/{id}"), &ada.auth).await.body["position"],
        3
    );
    let deleted = s.delete(&format!("/channels/{id}"), &ada.auth).await;
    assert_eq!(
        (deleted.status, deleted.body["id"].clone()),
        (200, json!(id))
    );
    assert_eq!(
        s.get(&format!("/channels/{id}"), &ada.auth).await.body["code"],
        10003
    );
}

#[tokio::test]
async fn deleting_a_category_frees_its_children() {
    let s = server();
    let ada = s.register("ada").await;
    let (guild, general) = s.guild(&ada, "Home").await;
    let category = s.get(&format!("/channels/{general}"), &ada.auth).await.body["parent_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        s.delete(&format!("/channels/{category}"), &ada.auth)
            .await
            .status,
        200
    );
    let general_now = s.get(&format!("/channels/{general}"), &ada.auth).await;
    assert_eq!(general_now.body["parent_id"], serde_json::Value::Null);
    assert_eq!(
        s.get(&format!("/guilds/{guild}/channels"), &ada.auth)
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn members_page_by_user_id_and_leave() {
    let s = server();
    let ada = s.register("ada").await;
    let (guild, general) = s.guild(&ada, "Home").await;
    let mut everyone = vec![ada.id.clone()];
    for name in ["bob", "cat", "dan"] {
        let who = s.register(name).await;
        s.join(&ada, &general, &who).await;
        everyone.push(who.id);
    }
    everyone.sort_by_key(|id| id.parse::<u64>().unwrap());
    let page = s
        .get(&format!("/guilds/{guild}/members?limit=1000"), &ada.auth)
        .await;
    let ids: Vec<_> = page
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, everyone);
    assert_eq!(page.body[0]["flags"], 0);
    assert!(page.body[0]["roles"].is_array());
    let one = s.get(&format!("/guilds/{guild}/members"), &ada.auth).await;
    assert_eq!(one.body.as_array().unwrap().len(), 1, "limit defaults to 1");
    let after = s
        .get(
            &format!("/guilds/{guild}/members?limit=2&after={}", everyone[1]),
            &ada.auth,
        )
        .await;
    let after_ids: Vec<_> = after
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user"]["id"].clone())
        .collect();
    assert_eq!(after_ids, [json!(everyone[2]), json!(everyone[3])]);
    assert_eq!(
        s.get(&format!("/guilds/{guild}/members?limit=1001"), &ada.auth)
            .await
            .status,
        400
    );
    let unknown = s
        .get(&format!("/guilds/{guild}/members/1"), &ada.auth)
        .await;
    assert_eq!(
        (unknown.status, unknown.body["code"].clone()),
        (404, json!(10007))
    );

    let owner_leaves = s
        .delete(&format!("/users/@me/guilds/{guild}"), &ada.auth)
        .await;
    assert_eq!(owner_leaves.status, 400, "the owner cannot leave");
    let bob = s
        .request(
            "POST",
            "/auth/login",
            None,
            Some(json!({ "login": "bob", "password": "password-bob" })),
        )
        .await;
    let bob = bob.body["token"].as_str().unwrap().to_owned();
    assert_eq!(
        s.delete(&format!("/users/@me/guilds/{guild}"), &bob)
            .await
            .status,
        204
    );
    assert_eq!(s.get(&format!("/guilds/{guild}"), &bob).await.status, 403);
    let count = s
        .get(&format!("/guilds/{guild}?with_counts=true"), &ada.auth)
        .await;
    assert_eq!(count.body["approximate_member_count"], 3);
}

/// An edit that lands while the channel is being deleted must not bring it
/// back: every round, whichever request wins, the channel ends deleted.
#[tokio::test]
async fn channel_patch_racing_its_delete_leaves_it_deleted() {
    let s = server();
    let owner = s.register("owner").await;
    let (guild, _) = s.guild(&owner, "Home").await;
    for round in 0..40 {
        let created = s
            .post(
                &format!("/guilds/{guild}/channels"),
                &owner.auth,
                json!({ "name": format!("doomed-{round}") }),
            )
            .await;
        let id = created.body["id"].as_str().unwrap().to_owned();
        let path = format!("/channels/{id}");
        let (patched, deleted) = tokio::join!(
            s.patch(&path, &owner.auth, json!({ "topic": "still here?" })),
            s.delete(&path, &owner.auth)
        );
        assert!(matches!(patched.status, 200 | 404), "{}", patched.status);
        assert_eq!(deleted.status, 200, "{:?}", deleted.body);
        assert_eq!(s.get(&path, &owner.auth).await.status, 404, "round {round}");
        let listed = s
            .get(&format!("/guilds/{guild}/channels"), &owner.auth)
            .await;
        assert!(
            !listed
                .body
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["id"] == id.as_str()),
            "round {round}: still listed"
        );
    }
}

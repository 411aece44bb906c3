use serde_json::json;

use crate::server;

#[tokio::test]
async fn invite_lifecycle() {
    let s = server();
    let (ada, bob) = (s.register("ada").await, s.register("bob").await);
    let (guild, general) = s.guild(&ada, "Home").await;
    let created = s
        .post(
            &format!("/channels/{general}/invites"),
            &ada.auth,
            json!({}),
        )
        .await;
    assert_eq!(created.status, 200);
    let code = created.body["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 8);
    assert_eq!(created.body["max_age"], 86400);
    assert_eq!(created.body["max_uses"], 0);
    assert_eq!(created.body["channel"]["id"], general.as_str());
    assert_eq!(created.body["inviter"]["id"], ada.id.as_str());

    let public = s
        .request(
            "GET",
            &format!("/invites/{code}?with_counts=true"),
            None,
            None,
        )
        .await;
    assert_eq!(public.status, 200, "anyone may look an invite up");
    assert_eq!(public.body["guild"]["id"], guild.as_str());
    assert_eq!(public.body["approximate_member_count"], 1);

    let joined = s
        .post(&format!("/invites/{code}"), &bob.auth, json!({}))
        .await;
    assert_eq!(joined.status, 200);
    assert_eq!(
        s.get(&format!("/guilds/{guild}"), &bob.auth).await.status,
        200
    );
    assert_eq!(
        s.get(&format!("/invites/{code}"), &bob.auth).await.body["uses"],
        1
    );
    let again = s
        .post(&format!("/invites/{code}"), &bob.auth, json!({}))
        .await;
    assert_eq!(again.body["uses"], 1, "joining twice uses nothing");

    let denied = s.delete(&format!("/invites/{code}"), &bob.auth).await;
    assert_eq!(
        (denied.status, denied.body["code"].clone()),
        (403, json!(50013))
    );
    let revoked = s.delete(&format!("/invites/{code}"), &ada.auth).await;
    assert_eq!(
        (revoked.status, revoked.body["code"].clone()),
        (200, json!(code))
    );
    let gone = s.get(&format!("/invites/{code}"), &ada.auth).await;
    assert_eq!(
        (gone.status, gone.body["code"].clone()),
        (404, json!(10006))
    );
}

#[tokio::test]
async fn max_uses_and_max_age_are_honoured() {
    let s = server();
    let ada = s.register("ada").await;
    let (_, general) = s.guild(&ada, "Home").await;
    let once = s
        .post(
            &format!("/channels/{general}/invites"),
            &ada.auth,
            json!({ "max_uses": 1 }),
        )
        .await;
    let code = once.body["code"].as_str().unwrap();
    assert_eq!(
        s.post(
            &format!("/invites/{code}"),
            &s.register("bob").await.auth,
            json!({})
        )
        .await
        .status,
        200
    );
    let late = s
        .post(
            &format!("/invites/{code}"),
            &s.register("cat").await.auth,
            json!({}),
        )
        .await;
    assert_eq!(
        (late.status, late.body["code"].clone()),
        (404, json!(10006))
    );

    let brief = s
        .post(
            &format!("/channels/{general}/invites"),
            &ada.auth,
            json!({ "max_age": 1 }),
        )
        .await;
    let code = brief.body["code"].as_str().unwrap();
    assert!(brief.body["expires_at"].is_string());
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let expired = s
        .post(
            &format!("/invites/{code}"),
            &s.register("dan").await.auth,
            json!({}),
        )
        .await;
    assert_eq!(
        (expired.status, expired.body["code"].clone()),
        (404, json!(10006))
    );

    let too_old = s
        .post(
            &format!("/channels/{general}/invites"),
            &ada.auth,
            json!({ "max_age": 604_801, "max_uses": 101 }),
        )
        .await;
    assert_eq!(too_old.status, 400);
    assert!(
        too_old.body["errors"]["max_age"].is_object()
            && too_old.body["errors"]["max_uses"].is_object()
    );
}

#[tokio::test]
async fn bots_cannot_accept_invites() {
    let s = server();
    let ada = s.register("ada").await;
    let (guild, general) = s.guild(&ada, "Home").await;
    let bot = s.bot(&ada, "helper", &guild, "0").await;
    let invite = s
        .post(
            &format!("/channels/{general}/invites"),
            &ada.auth,
            json!({}),
        )
        .await;
    let code = invite.body["code"].as_str().unwrap();
    let refused = s
        .post(&format!("/invites/{code}"), &bot.auth, json!({}))
        .await;
    assert_eq!(
        (refused.status, refused.body["code"].clone()),
        (403, json!(20001))
    );
}

#[tokio::test]
async fn managers_list_live_invites_and_joining_is_announced() {
    let s = server();
    let (ada, bob) = (s.register("ada").await, s.register("bob").await);
    let (guild, general) = s.guild(&ada, "Home").await;
    let other = s
        .post(
            &format!("/guilds/{guild}/channels"),
            &ada.auth,
            json!({ "name": "other" }),
        )
        .await;
    let other = other.body["id"].as_str().unwrap().to_owned();
    let invite = |channel: &str, body| {
        let path = format!("/channels/{channel}/invites");
        let (s, ada) = (&s, &ada);
        async move {
            s.post(&path, &ada.auth, body).await.body["code"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let in_general = invite(&general, json!({})).await;
    let in_other = invite(&other, json!({})).await;
    let single_use = invite(&general, json!({ "max_uses": 1 })).await;

    let codes = |reply: &concord_testkit::Reply| {
        let mut codes: Vec<String> = reply
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["code"].as_str().unwrap().to_owned())
            .collect();
        codes.sort();
        codes
    };
    let mut all = vec![in_general.clone(), in_other.clone(), single_use.clone()];
    all.sort();
    assert_eq!(
        codes(&s.get(&format!("/guilds/{guild}/invites"), &ada.auth).await),
        all
    );

    // Bob joins with the single-use invite: it is spent, and #general
    // (the system channel) says he joined.
    let joined = s
        .post(&format!("/invites/{single_use}"), &bob.auth, json!({}))
        .await;
    assert_eq!(joined.status, 200);
    let mut live = vec![in_general.clone(), in_other.clone()];
    live.sort();
    assert_eq!(
        codes(&s.get(&format!("/guilds/{guild}/invites"), &ada.auth).await),
        live
    );
    assert_eq!(
        codes(
            &s.get(&format!("/channels/{other}/invites"), &ada.auth)
                .await
        ),
        [in_other]
    );
    let notice = s
        .get(&format!("/channels/{general}/messages?limit=1"), &ada.auth)
        .await;
    assert_eq!(notice.body[0]["type"], 7);
    assert_eq!(notice.body[0]["author"]["id"], bob.id.as_str());

    // An invite whose channel is gone is no longer listed (nor breaks the list).
    s.delete(&format!("/channels/{other}"), &ada.auth).await;
    assert_eq!(
        codes(&s.get(&format!("/guilds/{guild}/invites"), &ada.auth).await),
        [in_general]
    );

    for path in [
        format!("/guilds/{guild}/invites"),
        format!("/channels/{general}/invites"),
    ] {
        let denied = s.get(&path, &bob.auth).await;
        assert_eq!(
            (denied.status, denied.body["code"].clone()),
            (403, json!(50013)),
            "{path}"
        );
    }
}

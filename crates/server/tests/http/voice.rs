//! Voice regions and voice channels' settings: `GET /voice/regions`, a
//! guild's regions, and `bitrate`, `user_limit` and `rtc_region` checked
//! as Discord checks them.

use serde_json::json;

use crate::server;

#[tokio::test]
async fn voice_regions_are_listed_for_signed_in_users_and_members() {
    let s = server();
    let ada = s.register("ada").await;
    let bob = s.register("bob").await;
    let r = s.get("/voice/regions", &ada.auth).await;
    assert_eq!(r.status, 200);
    let regions = r.body.as_array().unwrap();
    assert!(!regions.is_empty());
    for region in regions {
        for field in ["id", "name", "optimal", "deprecated", "custom"] {
            assert!(region.get(field).is_some(), "{field}: {region}");
        }
    }
    assert_eq!(s.get("/voice/regions", "").await.status, 401);
    let (guild, _) = s.guild(&ada, "Home").await;
    let r = s.get(&format!("/guilds/{guild}/regions"), &ada.auth).await;
    assert_eq!((r.status, &r.body), (200, &json!(regions)));
    let r = s.get(&format!("/guilds/{guild}/regions"), &bob.auth).await;
    assert_eq!((r.status, r.body["code"].as_u64()), (403, Some(50001)));
}

#[tokio::test]
async fn voice_channels_check_bitrate_user_limit_and_region() {
    let s = server();
    let ada = s.register("ada").await;
    let (guild, _) = s.guild(&ada, "Home").await;
    let region = s.get("/voice/regions", &ada.auth).await.body[0]["id"].clone();
    let body = json!({ "name": "Lounge", "type": 2, "bitrate": 96000, "user_limit": 5, "rtc_region": region });
    let r = s
        .post(&format!("/guilds/{guild}/channels"), &ada.auth, body)
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        (
            &r.body["bitrate"],
            &r.body["user_limit"],
            &r.body["rtc_region"]
        ),
        (&json!(96000), &json!(5), &region)
    );
    let channel = r.body["id"].as_str().unwrap().to_owned();
    for (field, value) in [
        ("rtc_region", json!("atlantis")),
        ("user_limit", json!(100)),
        ("bitrate", json!(7999)),
    ] {
        let r = s
            .patch(
                &format!("/channels/{channel}"),
                &ada.auth,
                json!({ field: value }),
            )
            .await;
        assert_eq!(
            (r.status, r.body["code"].as_u64()),
            (400, Some(50035)),
            "{field}"
        );
        assert!(r.body["errors"].get(field).is_some(), "{}", r.body);
    }
    let r = s
        .patch(
            &format!("/channels/{channel}"),
            &ada.auth,
            json!({ "rtc_region": null }),
        )
        .await;
    assert_eq!((r.status, &r.body["rtc_region"]), (200, &json!(null)));
}

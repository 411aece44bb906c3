//! Web Push, end to end: a push service on loopback (RFC 8030's receiving
//! side, written here) records what the server posts; each push's VAPID
//! token is verified with the server's public key and its body decrypted
//! with the subscription's keys (RFC 8291), as a browser would. Also what
//! is refused: URLs the outbound guard stops, malformed subscriptions,
//! and pushes that settings or a live session make unneeded.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use concord_testkit::gateway::GatewayClient;
use concord_testkit::{Account, TestServer};
use hkdf::Hkdf;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{PublicKey, SecretKey};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::server_with;

/// A request the push service received.
#[derive(Debug, Clone)]
struct Received {
    device: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// The push service: `POST /push/{device}` records the request and
/// answers 201, or 410 for the device `gone` (a subscription that ended).
struct PushService {
    base: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl PushService {
    async fn start() -> PushService {
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let log = Arc::clone(&received);
        let app = axum::Router::new().route(
            "/push/{device}",
            axum::routing::post(
                move |Path(device): Path<String>, headers: HeaderMap, body: axum::body::Bytes| {
                    let log = Arc::clone(&log);
                    async move {
                        let status = match device.as_str() {
                            "gone" => StatusCode::GONE,
                            _ => StatusCode::CREATED,
                        };
                        log.lock().unwrap().push(Received {
                            device,
                            headers,
                            body: body.to_vec(),
                        });
                        status
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        PushService { base, received }
    }

    fn endpoint(&self, device: &str) -> String {
        format!("{}/push/{device}", self.base)
    }

    /// Every request for `device` so far.
    fn for_device(&self, device: &str) -> Vec<Received> {
        let all = self.received.lock().unwrap();
        all.iter().filter(|r| r.device == device).cloned().collect()
    }

    /// Waits (generously) until `device` has had `count` requests; them.
    async fn wait_for(&self, device: &str, count: usize) -> Vec<Received> {
        for _ in 0..600 {
            let got = self.for_device(device);
            if got.len() >= count {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{device} never got {count} pushes");
    }
}

/// A browser's side of a subscription: its key pair and auth secret.
struct Browser {
    secret: SecretKey,
    auth: [u8; 16],
}

impl Browser {
    fn new(seed: u8) -> Browser {
        Browser {
            secret: SecretKey::from_slice(&[seed; 32]).unwrap(),
            auth: [seed.wrapping_add(1); 16],
        }
    }

    /// `PushSubscription.toJSON()` for `endpoint`.
    fn subscription(&self, endpoint: &str) -> Value {
        let public = self.secret.public_key().to_encoded_point(false);
        json!({
            "endpoint": endpoint,
            "expirationTime": null,
            "keys": { "p256dh": B64.encode(public.as_bytes()), "auth": B64.encode(self.auth) },
        })
    }

    /// Decrypts an `aes128gcm` body (RFC 8188 header, RFC 8291 keys).
    fn decrypt(&self, body: &[u8]) -> Value {
        let (salt, rest) = body.split_at(16);
        let idlen = rest[4] as usize;
        let (key_id, sealed) = rest[5..].split_at(idlen);
        let sender = PublicKey::from_sec1_bytes(key_id).expect("the key id is the sender's key");
        let shared =
            p256::ecdh::diffie_hellman(self.secret.to_nonzero_scalar(), sender.as_affine());
        let ua_public = self.secret.public_key().to_encoded_point(false);
        let mut ikm = [0u8; 32];
        Hkdf::<Sha256>::new(Some(&self.auth), shared.raw_secret_bytes())
            .expand_multi_info(
                &[b"WebPush: info\0", ua_public.as_bytes(), key_id],
                &mut ikm,
            )
            .unwrap();
        let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
        let (mut cek, mut nonce) = ([0u8; 16], [0u8; 12]);
        prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek)
            .unwrap();
        prk.expand(b"Content-Encoding: nonce\0", &mut nonce)
            .unwrap();
        let cipher = Aes128Gcm::new_from_slice(&cek).unwrap();
        let mut plain = cipher
            .decrypt(Nonce::from_slice(&nonce), sealed)
            .expect("decrypts with the subscription's keys");
        while plain.last() == Some(&0) {
            plain.pop();
        }
        assert_eq!(plain.pop(), Some(2), "one last record");
        serde_json::from_slice(&plain).unwrap()
    }
}

/// Checks a push's headers and VAPID token (signed by `vapid_key` for the
/// push service's origin); its decrypted payload.
fn open(push: &Received, browser: &Browser, vapid_key: &str, origin: &str, urgency: &str) -> Value {
    let header = |name: &str| push.headers[name].to_str().unwrap().to_owned();
    assert_eq!(header("content-encoding"), "aes128gcm");
    assert_eq!(header("ttl"), "86400");
    assert_eq!(header("urgency"), urgency);
    let authorization = header("authorization");
    let (token, k) = authorization
        .strip_prefix("vapid t=")
        .and_then(|rest| rest.split_once(", k="))
        .expect("vapid t=..., k=...");
    assert_eq!(k, vapid_key);
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let public = VerifyingKey::from_sec1_bytes(&B64.decode(vapid_key).unwrap()).unwrap();
    let signature = Signature::from_slice(&B64.decode(signature).unwrap()).unwrap();
    public
        .verify(signed.as_bytes(), &signature)
        .expect("signed with the server's VAPID key");
    let mut parts = signed.split('.');
    let jwt_header: Value =
        serde_json::from_slice(&B64.decode(parts.next().unwrap()).unwrap()).unwrap();
    assert_eq!(jwt_header["alg"], "ES256");
    let claims: Value =
        serde_json::from_slice(&B64.decode(parts.next().unwrap()).unwrap()).unwrap();
    assert_eq!(claims["aud"], origin);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let exp = claims["exp"].as_u64().unwrap();
    assert!(
        exp > now && exp <= now + 24 * 3600,
        "exp within a day: {claims}"
    );
    let sub = claims["sub"].as_str().unwrap();
    assert!(
        sub.starts_with("mailto:") || sub.starts_with("https://"),
        "{sub}"
    );
    browser.decrypt(&push.body)
}

async fn subscribe(s: &TestServer, who: &Account, browser: &Browser, endpoint: &str) {
    let reply = s
        .put(
            "/users/@me/push-subscriptions",
            &who.auth,
            browser.subscription(endpoint),
        )
        .await;
    assert_eq!(reply.status, 204, "{:?}", reply.body);
}

async fn dm(s: &TestServer, from: &Account, to: &Account) -> String {
    let reply = s
        .post(
            "/users/@me/channels",
            &from.auth,
            json!({ "recipient_id": to.id }),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body["id"].as_str().unwrap().to_owned()
}

fn server() -> TestServer {
    server_with(&["--outbound-allow", "127.0.0.1"])
}

#[tokio::test]
async fn pushes_reach_offline_people_encrypted_and_signed() {
    let s = server();
    let service = PushService::start().await;
    let key = s.request("GET", "/push/vapid-key", None, None).await;
    assert_eq!(key.status, 200, "no authentication needed");
    let vapid_key = key.body["public_key"].as_str().unwrap().to_owned();
    assert_eq!(
        B64.decode(&vapid_key).unwrap().len(),
        65,
        "an uncompressed point"
    );

    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let browser = Browser::new(7);
    subscribe(&s, &bob, &browser, &service.endpoint("bob")).await;

    // A DM: high urgency, no guild.
    let channel = dm(&s, &alice, &bob).await;
    let text = "é".repeat(250);
    let sent = s.say(&alice, &channel, &text).await;
    let pushes = service.wait_for("bob", 1).await;
    let payload = open(&pushes[0], &browser, &vapid_key, &service.base, "high");
    assert_eq!(payload["type"], "message");
    assert_eq!(payload["channel_id"], channel);
    assert_eq!(payload["message_id"], sent);
    assert_eq!(payload["title"], "alice");
    assert!(payload.get("guild_id").is_none(), "{payload}");
    let body = payload["body"].as_str().unwrap();
    assert_eq!(body.chars().count(), 200, "cut to 200 characters");

    // A mention in a guild: the title names the channel.
    let (guild, general) = s.guild(&alice, "Pushers").await;
    s.join(&alice, &general, &bob).await;
    let mention = s
        .say(&alice, &general, &format!("lunch, <@{}>?", bob.id))
        .await;
    let pushes = service.wait_for("bob", 2).await;
    let payload = open(&pushes[1], &browser, &vapid_key, &service.base, "high");
    assert_eq!(payload["guild_id"], guild);
    assert_eq!(payload["message_id"], mention);
    assert_eq!(payload["title"], "alice (#general)");
    assert_eq!(payload["body"], format!("lunch, <@{}>?", bob.id));

    // Their own messages never reach them; a message not for them neither.
    s.say(&bob, &general, &format!("me, <@{}>", bob.id)).await;
    s.say(&alice, &general, "nobody in particular").await;
    // A muted channel: nothing, though mentioned.
    let muted = s
        .patch(
            &format!("/users/@me/guilds/{guild}/settings"),
            &bob.auth,
            json!({ "channel_overrides": { general.clone(): { "muted": true, "mute_config": null } } }),
        )
        .await;
    assert_eq!(muted.status, 200, "{:?}", muted.body);
    assert_eq!(muted.body["channel_overrides"][0]["channel_id"], general);
    assert_eq!(muted.body["channel_overrides"][0]["muted"], true);
    s.say(&alice, &general, &format!("still there, <@{}>?", bob.id))
        .await;
    // A DM after it does reach them: the messages before it were decided
    // first, and none of them was pushed.
    let marker = s.say(&alice, &channel, "marker").await;
    let pushes = service.wait_for("bob", 3).await;
    let payload = open(&pushes[2], &browser, &vapid_key, &service.base, "high");
    assert_eq!(payload["message_id"], marker, "nothing between: {payload}");

    // Once online, nothing is pushed to them.
    let mut ws = GatewayClient::connect(&s.ws_url(), "v=10").await;
    ws.identify(&bob.auth, 0).await;
    let ready = ws.dispatch("READY").await;
    let entries = ready["d"]["user_guild_settings"]["entries"]
        .as_array()
        .unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e["guild_id"] == guild && e["channel_overrides"][0]["muted"] == true),
        "READY lists the settings: {entries:?}"
    );
    let carol = s.register("carol").await;
    let carols = Browser::new(11);
    subscribe(&s, &carol, &carols, &service.endpoint("carol")).await;
    s.say(&alice, &channel, "are you there?").await;
    let to_carol = dm(&s, &alice, &carol).await;
    let marker = s.say(&alice, &to_carol, "marker").await;
    let pushes = service.wait_for("carol", 1).await;
    let payload = open(&pushes[0], &carols, &vapid_key, &service.base, "high");
    assert_eq!(payload["message_id"], marker);
    assert_eq!(service.for_device("bob").len(), 3, "bob was online");

    // Settings changes reach the user's sessions.
    let unmuted = s
        .patch(
            &format!("/users/@me/guilds/{guild}/settings"),
            &bob.auth,
            json!({ "message_notifications": 1, "channel_overrides": { general.clone(): { "muted": false } } }),
        )
        .await;
    assert_eq!(unmuted.status, 200, "{:?}", unmuted.body);
    let update = ws.dispatch("USER_GUILD_SETTINGS_UPDATE").await;
    assert_eq!(update["d"]["guild_id"], guild);
    assert_eq!(update["d"]["message_notifications"], 1);
    assert_eq!(update["d"]["channel_overrides"], json!([]));

    // A client that says its person is away (`afk`) no longer holds pushes back.
    let mut watcher = GatewayClient::connect(&s.ws_url(), "v=10").await;
    // GUILDS | GUILD_PRESENCES
    watcher.identify(&alice.auth, 1 | 1 << 8).await;
    watcher.dispatch("READY").await;
    ws.send(
        json!({ "op": 3, "d": { "since": null, "activities": [], "status": "idle", "afk": true } }),
    )
    .await;
    loop {
        let seen = watcher.dispatch("PRESENCE_UPDATE").await;
        if seen["d"]["user"]["id"] == bob.id && seen["d"]["status"] == "idle" {
            assert!(seen["d"].get("afk").is_none(), "others are not shown it");
            break;
        }
    }
    let away = s.say(&alice, &channel, "back soon?").await;
    let pushes = service.wait_for("bob", 4).await;
    let payload = open(&pushes[3], &browser, &vapid_key, &service.base, "high");
    assert_eq!(payload["message_id"], away);

    // Another device of theirs in use holds pushes back: afk counts only
    // when every session says it.
    let mut phone = GatewayClient::connect(&s.ws_url(), "v=10").await;
    phone.identify(&bob.auth, 0).await;
    phone.dispatch("READY").await;
    s.say(&alice, &channel, "are you on your phone?").await;
    // Pushes are decided in order: once carol's is in, bob's was decided.
    let marker = s.say(&alice, &to_carol, "marker").await;
    let pushes = service.wait_for("carol", 2).await;
    let payload = open(&pushes[1], &carols, &vapid_key, &service.base, "high");
    assert_eq!(payload["message_id"], marker);
    phone
        .send(json!({ "op": 3, "d": { "since": null, "activities": [], "status": "dnd", "afk": true } }))
        .await;
    loop {
        let seen = watcher.dispatch("PRESENCE_UPDATE").await;
        if seen["d"]["user"]["id"] == bob.id && seen["d"]["status"] == "dnd" {
            break;
        }
    }
    let both_away = s.say(&alice, &channel, "both away now").await;
    let pushes = service.wait_for("bob", 5).await;
    let payload = open(&pushes[4], &browser, &vapid_key, &service.base, "high");
    assert_eq!(
        payload["message_id"], both_away,
        "nothing while the phone was in use"
    );
}

#[tokio::test]
async fn a_gone_subscription_is_dropped() {
    let s = server();
    let service = PushService::start().await;
    let alice = s.register("alice").await;
    let dave = s.register("dave").await;
    let endpoint = service.endpoint("gone");
    subscribe(&s, &dave, &Browser::new(3), &endpoint).await;
    let channel = dm(&s, &alice, &dave).await;
    s.say(&alice, &channel, "hello?").await;
    service.wait_for("gone", 1).await;
    // Once the 410 is settled, the subscription is no longer there.
    let mut status = 0;
    for _ in 0..600 {
        let reply = s
            .request(
                "DELETE",
                "/users/@me/push-subscriptions",
                Some(&dave.auth),
                Some(json!({ "endpoint": endpoint })),
            )
            .await;
        status = reply.status;
        if status == 404 {
            assert_eq!(reply.body["code"], 10900);
            break;
        }
        // Put back what this check removed, to see the server remove it.
        subscribe(&s, &dave, &Browser::new(3), &endpoint).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        status, 404,
        "the push service's 410 removed the subscription"
    );
    assert_eq!(
        service.for_device("gone").len(),
        1,
        "tried once, not retried"
    );
}

#[tokio::test]
async fn subscriptions_are_checked() {
    let s = server();
    let bob = s.register("bob").await;
    let browser = Browser::new(5);
    let refused = |endpoint: &'static str| {
        let body = browser.subscription(endpoint);
        let (s, bob) = (&s, &bob);
        async move {
            let reply = s
                .put("/users/@me/push-subscriptions", &bob.auth, body)
                .await;
            assert_eq!(reply.status, 400, "{endpoint}: {:?}", reply.body);
            assert_eq!(reply.body["code"], 50035);
            reply.body["errors"]["endpoint"]["_errors"][0]["message"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    assert!(refused("http://push.example.com/x").await.contains("https"));
    assert!(refused("https://10.1.2.3/x").await.contains("private"));
    assert!(
        refused("https://169.254.169.254/x")
            .await
            .contains("link-local")
    );
    assert!(refused("https://localhost/x").await.contains("loopback"));
    assert!(refused("https://[::1]/x").await.contains("loopback"));
    refused("not a url").await;
    // The listed host passes, also over http.
    subscribe(&s, &bob, &browser, "http://127.0.0.1:9/push/bob").await;

    let bad_keys = json!({
        "endpoint": "http://127.0.0.1:9/push/x",
        "keys": { "p256dh": "AAAA", "auth": B64.encode([1u8; 8]) },
    });
    let reply = s
        .put("/users/@me/push-subscriptions", &bob.auth, bad_keys)
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["code"], 50035);
    assert!(
        reply.body["errors"]["keys"]["p256dh"]["_errors"].is_array(),
        "{:?}",
        reply.body
    );
    assert!(
        reply.body["errors"]["keys"]["auth"]["_errors"].is_array(),
        "{:?}",
        reply.body
    );
    let missing = s
        .put("/users/@me/push-subscriptions", &bob.auth, json!({}))
        .await;
    assert_eq!(missing.status, 400);
    assert!(
        missing.body["errors"]["endpoint"]["_errors"].is_array(),
        "{:?}",
        missing.body
    );

    // Ten per user at most; a replaced one does not count twice.
    for i in 1..10 {
        subscribe(&s, &bob, &browser, &format!("http://127.0.0.1:9/push/{i}")).await;
    }
    subscribe(&s, &bob, &browser, "http://127.0.0.1:9/push/3").await;
    let eleventh = s
        .put(
            "/users/@me/push-subscriptions",
            &bob.auth,
            browser.subscription("http://127.0.0.1:9/push/11"),
        )
        .await;
    assert_eq!(eleventh.status, 400, "{:?}", eleventh.body);
    assert_eq!(eleventh.body["code"], 30900);

    let unknown = s
        .request(
            "DELETE",
            "/users/@me/push-subscriptions",
            Some(&bob.auth),
            Some(json!({ "endpoint": "http://127.0.0.1:9/push/none" })),
        )
        .await;
    assert_eq!(unknown.status, 404);
    let no_auth = s
        .request(
            "PUT",
            "/users/@me/push-subscriptions",
            None,
            Some(browser.subscription("http://127.0.0.1:9/push/z")),
        )
        .await;
    assert_eq!(no_auth.status, 401);

    // Settings: levels and timestamps are checked, a guild one is not in is 403/404.
    let bad = s
        .patch(
            "/users/@me/guilds/@me/settings",
            &bob.auth,
            json!({ "message_notifications": 7, "mute_config": { "end_time": "soon" } }),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.body["errors"]["message_notifications"]["_errors"].is_array(),
        "{:?}",
        bad.body
    );
    assert!(
        bad.body["errors"]["mute_config"]["end_time"]["_errors"].is_array(),
        "{:?}",
        bad.body
    );
    let dms = s
        .patch(
            "/users/@me/guilds/@me/settings",
            &bob.auth,
            json!({ "muted": true }),
        )
        .await;
    assert_eq!(dms.status, 200, "{:?}", dms.body);
    assert_eq!(dms.body["guild_id"], Value::Null);
    assert_eq!(dms.body["muted"], true);
    assert_eq!(
        dms.body["mute_config"]["end_time"],
        Value::Null,
        "until unmuted"
    );
    let until = s
        .patch(
            "/users/@me/guilds/@me/settings",
            &bob.auth,
            json!({ "mute_config": { "end_time": "2030-01-01T00:00:00Z" } }),
        )
        .await;
    assert_eq!(until.status, 200, "{:?}", until.body);
    assert_eq!(until.body["muted"], true, "kept");
    assert_eq!(
        until.body["mute_config"]["end_time"],
        "2030-01-01T00:00:00.000000+00:00"
    );
    let elsewhere = s
        .patch(
            "/users/@me/guilds/1234/settings",
            &bob.auth,
            json!({ "muted": true }),
        )
        .await;
    assert_eq!(elsewhere.status, 404);
}

/// READY's unread mention counts follow the same settings: @everyone
/// suppressed, then nothing at all.
#[tokio::test]
async fn mention_badges_follow_the_settings() {
    let s = server();
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let (guild, general) = s.guild(&alice, "Badges").await;
    s.join(&alice, &general, &bob).await;
    let first = s.say(&alice, &general, "welcome").await;
    let acked = s
        .post(
            &format!("/channels/{general}/messages/{first}/ack"),
            &bob.auth,
            json!({ "token": null }),
        )
        .await;
    assert_eq!(acked.status, 200, "{:?}", acked.body);
    s.say(&alice, &general, "@everyone meeting").await;
    s.say(&alice, &general, &format!("<@{}> you too", bob.id))
        .await;
    let badge = || async {
        let mut ws = GatewayClient::connect(&s.ws_url(), "v=10").await;
        ws.identify(&bob.auth, 0).await;
        let ready = ws.dispatch("READY").await;
        let entries = ready["d"]["read_state"]["entries"]
            .as_array()
            .unwrap()
            .clone();
        let entry = entries.iter().find(|e| e["id"] == general).unwrap().clone();
        entry["mention_count"].as_u64().unwrap()
    };
    assert_eq!(badge().await, 2);
    let path = format!("/users/@me/guilds/{guild}/settings");
    let suppressed = s
        .patch(&path, &bob.auth, json!({ "suppress_everyone": true }))
        .await;
    assert_eq!(suppressed.status, 200, "{:?}", suppressed.body);
    assert_eq!(badge().await, 1);
    let muted = s.patch(&path, &bob.auth, json!({ "muted": true })).await;
    assert_eq!(muted.status, 200, "{:?}", muted.body);
    assert_eq!(badge().await, 1, "a mute hides notifications, not badges");
    let nothing = s
        .patch(&path, &bob.auth, json!({ "message_notifications": 2 }))
        .await;
    assert_eq!(nothing.status, 200, "{:?}", nothing.body);
    assert_eq!(badge().await, 0);
}

/// The bulk route Discord's client uses: several guilds (and DMs) at once,
/// each as the per-guild route changes it, told to the user's sessions
/// once per guild; a body with anything wrong changes nothing.
#[tokio::test]
async fn settings_of_many_guilds_change_at_once() {
    let s = server();
    let alice = s.register("alice").await;
    let (first, general) = s.guild(&alice, "First").await;
    let (second, _) = s.guild(&alice, "Second").await;
    let (elsewhere, other_general) = s.guild(&s.register("bob").await, "Elsewhere").await;
    let mut ws = GatewayClient::connect(&s.ws_url(), "v=10").await;
    ws.identify(&alice.auth, 0).await;
    ws.dispatch("READY").await;

    let changed = s
        .patch(
            "/users/@me/guilds/settings",
            &alice.auth,
            json!({ "guilds": {
                first.clone(): { "muted": true, "channel_overrides": { general.clone(): { "message_notifications": 1 } } },
                second.clone(): { "message_notifications": 2, "suppress_roles": true },
                "@me": { "suppress_everyone": true },
            } }),
        )
        .await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    let list = changed.body.as_array().expect("a list");
    assert_eq!(list.len(), 3, "{list:?}");
    let of = |id: Value| list.iter().find(|e| e["guild_id"] == id).unwrap().clone();
    let in_first = of(json!(first));
    assert_eq!(in_first["muted"], true);
    assert_eq!(in_first["channel_overrides"][0]["channel_id"], general);
    assert_eq!(in_first["channel_overrides"][0]["message_notifications"], 1);
    assert_eq!(of(json!(second))["message_notifications"], 2);
    assert_eq!(of(json!(second))["suppress_roles"], true);
    assert_eq!(of(Value::Null)["suppress_everyone"], true);
    let mut told = Vec::new();
    for _ in 0..3 {
        let update = ws.dispatch("USER_GUILD_SETTINGS_UPDATE").await;
        told.push(update["d"].clone());
    }
    for entry in list {
        assert!(told.contains(entry), "{entry} was told: {told:?}");
    }

    // One guild wrong (a channel of another guild, a guild the caller is
    // not in, an id that is none): refused, and nothing kept.
    let wrong_channel = s
        .patch(
            "/users/@me/guilds/settings",
            &alice.auth,
            json!({ "guilds": {
                first.clone(): { "muted": false },
                second.clone(): { "channel_overrides": { other_general.clone(): { "muted": true } } },
                "nope": { "muted": true },
            } }),
        )
        .await;
    assert_eq!(wrong_channel.status, 400, "{:?}", wrong_channel.body);
    assert_eq!(wrong_channel.body["code"], 50035);
    let errors = &wrong_channel.body["errors"]["guilds"];
    assert_eq!(
        errors[&second]["channel_overrides"][&other_general]["_errors"][0]["code"],
        "CHANNEL_INVALID",
        "{errors}"
    );
    assert_eq!(errors["nope"]["_errors"][0]["code"], "NUMBER_TYPE_COERCE");
    let not_member = s
        .patch(
            "/users/@me/guilds/settings",
            &alice.auth,
            json!({ "guilds": { first.clone(): { "muted": false }, elsewhere.clone(): { "muted": true } } }),
        )
        .await;
    assert_eq!(not_member.status, 403, "{:?}", not_member.body);
    assert_eq!(not_member.body["code"], 50001, "as the per-guild route");
    let mut again = GatewayClient::connect(&s.ws_url(), "v=10").await;
    again.identify(&alice.auth, 0).await;
    let ready = again.dispatch("READY").await;
    let entries = ready["d"]["user_guild_settings"]["entries"].clone();
    let kept = entries
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["guild_id"] == first)
        .unwrap()
        .clone();
    assert_eq!(kept["muted"], true, "the refused changes were not kept");

    let empty = s
        .patch(
            "/users/@me/guilds/settings",
            &alice.auth,
            json!({ "guilds": {} }),
        )
        .await;
    assert_eq!(empty.status, 200, "{:?}", empty.body);
    assert_eq!(empty.body, json!([]));
}

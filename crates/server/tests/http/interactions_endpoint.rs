//! Interactions over HTTP: an application's interactions endpoint (a
//! server on loopback, written here, let through with `--outbound-allow
//! 127.0.0.1`) checks every request's Ed25519 signature against the
//! application's `verify_key` with its own verifier. Setting the URL is
//! verified as Discord verifies it (a PING answered, a forged signature
//! refused); invocations are POSTed there, not sent over the gateway,
//! and answered in the response or later through the callback route.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use concord_testkit::gateway::GatewayClient;
use concord_testkit::{Account, Reply, TestServer};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde_json::{Value, json};

use crate::interactions::connect;
use crate::{server, server_with};

/// A request the endpoint received, and whether its signature held.
#[derive(Debug, Clone)]
struct Received {
    mode: String,
    signed: bool,
    body: Value,
}

/// The application's endpoint. `/checked` refuses bad signatures with
/// 401, answers a PING with a PONG and a command with a message;
/// `/later` does the same but answers a command with an empty 202,
/// leaving the callback route to answer; `/files` answers a command in
/// `multipart/form-data` with a file; `/careless` answers every PING,
/// signed or not.
struct Endpoint {
    base: String,
    key: Arc<Mutex<Option<VerifyingKey>>>,
    received: Arc<Mutex<Vec<Received>>>,
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .filter_map(|i| u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

/// Whether `headers` carry a valid signature of `body` by `key`.
fn signed_by(key: Option<VerifyingKey>, headers: &HeaderMap, body: &[u8]) -> bool {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(key), Some(signature), Some(timestamp)) = (
        key,
        header("x-signature-ed25519"),
        header("x-signature-timestamp"),
    ) else {
        return false;
    };
    let Ok(signature) = <[u8; 64]>::try_from(unhex(signature)) else {
        return false;
    };
    let mut message = timestamp.as_bytes().to_vec();
    message.extend_from_slice(body);
    key.verify(&message, &Signature::from_bytes(&signature))
        .is_ok()
}

impl Endpoint {
    async fn start() -> Endpoint {
        let key: Arc<Mutex<Option<VerifyingKey>>> = Arc::default();
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let (k, log) = (Arc::clone(&key), Arc::clone(&received));
        let handler =
            move |Path(mode): Path<String>, headers: HeaderMap, body: axum::body::Bytes| {
                let (key, log) = (*k.lock().unwrap(), Arc::clone(&log));
                async move {
                    let signed = signed_by(key, &headers, &body);
                    let body: Value = serde_json::from_slice(&body).unwrap_or_default();
                    log.lock().unwrap().push(Received {
                        mode: mode.clone(),
                        signed,
                        body: body.clone(),
                    });
                    answer(&mode, signed, &body)
                }
            };
        let app = axum::Router::new().route("/{mode}", axum::routing::post(handler));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Endpoint {
            base,
            key,
            received,
        }
    }

    fn url(&self, mode: &str) -> String {
        format!("{}/{mode}", self.base)
    }

    /// Checks signatures against `verify_key` from now on.
    fn trust(&self, verify_key: &str) {
        let bytes = <[u8; 32]>::try_from(unhex(verify_key)).expect("64 hex digits");
        *self.key.lock().unwrap() = Some(VerifyingKey::from_bytes(&bytes).unwrap());
    }

    fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits (generously) for a request of `kind` on `mode`.
    async fn interaction(&self, mode: &str, kind: u64) -> Received {
        for _ in 0..600 {
            let found = self
                .all()
                .into_iter()
                .find(|r| r.mode == mode && r.body["type"] == kind);
            if let Some(found) = found {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no interaction of type {kind} reached /{mode}");
    }
}

fn answer(mode: &str, signed: bool, body: &Value) -> Response {
    let careless = mode == "careless";
    if !signed && !careless {
        return (StatusCode::UNAUTHORIZED, "invalid request signature").into_response();
    }
    match (body["type"].as_u64(), mode) {
        (Some(1), _) => axum::Json(json!({ "type": 1 })).into_response(),
        (_, "later") => StatusCode::ACCEPTED.into_response(),
        (_, "files") => with_file(),
        _ => axum::Json(json!({ "type": 4, "data": { "content": "pong over http" } }))
            .into_response(),
    }
}

/// The file `/files` answers with.
const FILE: &[u8] = b"a file from the endpoint\n";

/// A message with a file, as Discord lets an endpoint answer: its JSON in
/// `payload_json`, the file in `files[0]`.
fn with_file() -> Response {
    let payload = json!({
        "type": 4,
        "data": {
            "content": "pong with a file",
            "attachments": [{ "id": 0, "filename": "notes.txt" }],
        },
    });
    let mut body = format!(
        "--part\r\ncontent-disposition: form-data; name=\"payload_json\"\r\n\
         content-type: application/json\r\n\r\n{payload}\r\n--part\r\n\
         content-disposition: form-data; name=\"files[0]\"; filename=\"notes.txt\"\r\n\
         content-type: text/plain\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(FILE);
    body.extend_from_slice(b"\r\n--part--\r\n");
    let headers = [("content-type", "multipart/form-data; boundary=part")];
    (headers, body).into_response()
}

fn form_error(reply: &Reply) -> Value {
    assert_eq!(reply.status, 400, "{:?}", reply.body);
    assert_eq!(reply.body["code"], 50035, "{:?}", reply.body);
    reply.body["errors"]["interactions_endpoint_url"]["_errors"][0]["code"].clone()
}

fn set_url(url: Option<&str>) -> Value {
    json!({ "interactions_endpoint_url": url })
}

#[tokio::test]
async fn an_endpoint_is_verified_when_it_is_set() {
    let s = server_with(&["--outbound-allow", "127.0.0.1"]);
    let endpoint = Endpoint::start().await;
    let owner = s.register("owner").await;
    let (guild, _) = s.guild(&owner, "Home").await;
    let bot = s.bot(&owner, "helper", &guild, "0").await;
    let app_path = format!("/applications/{}", bot.id);

    let app = s.get(&app_path, &owner.auth).await;
    assert_eq!(app.status, 200, "{:?}", app.body);
    assert_eq!(app.body["interactions_endpoint_url"], Value::Null);
    let verify_key = app.body["verify_key"].as_str().unwrap().to_owned();
    assert_eq!(verify_key.len(), 64, "{verify_key}");
    let again = s.get("/applications/@me", &bot.auth).await;
    assert_eq!(again.body["verify_key"], json!(verify_key));
    endpoint.trust(&verify_key);

    // One that answers a forged PING as well is refused, after both.
    let careless = s
        .patch(
            &app_path,
            &owner.auth,
            set_url(Some(&endpoint.url("careless"))),
        )
        .await;
    assert_eq!(
        form_error(&careless),
        "APPLICATION_INTERACTIONS_ENDPOINT_URL_INVALID"
    );
    let pings = endpoint.all();
    assert_eq!(pings.len(), 2, "{pings:?}");
    assert!(pings[0].signed && !pings[1].signed, "{pings:?}");
    assert_eq!(pings[0].body["type"], 1);
    assert_eq!(pings[0].body["application_id"], json!(bot.id));

    // Nothing listening: refused.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!("http://{}/checked", closed.local_addr().unwrap());
    drop(closed);
    let unreachable = s.patch(&app_path, &owner.auth, set_url(Some(&dead))).await;
    assert_eq!(
        form_error(&unreachable),
        "APPLICATION_INTERACTIONS_ENDPOINT_URL_INVALID"
    );

    // One that checks signatures is kept, set by the owner or the bot.
    let good = endpoint.url("checked");
    let set = s.patch(&app_path, &owner.auth, set_url(Some(&good))).await;
    assert_eq!(set.status, 200, "{:?}", set.body);
    assert_eq!(set.body["interactions_endpoint_url"], json!(good));
    assert_eq!(set.body["verify_key"], json!(verify_key));
    let checked: Vec<bool> = endpoint
        .all()
        .iter()
        .filter(|r| r.mode == "checked")
        .map(|r| r.signed)
        .collect();
    assert_eq!(checked, [true, false]);
    let cleared = s.patch("/applications/@me", &bot.auth, set_url(None)).await;
    assert_eq!(cleared.status, 200, "{:?}", cleared.body);
    assert_eq!(cleared.body["interactions_endpoint_url"], Value::Null);
    let by_bot = s
        .patch("/applications/@me", &bot.auth, set_url(Some(&good)))
        .await;
    assert_eq!(by_bot.body["interactions_endpoint_url"], json!(good));
    let read = s.get(&app_path, &owner.auth).await;
    assert_eq!(read.body["interactions_endpoint_url"], json!(good));
}

#[tokio::test]
async fn private_and_plain_urls_are_refused_without_the_allow_list() {
    let s = server();
    let endpoint = Endpoint::start().await;
    let owner = s.register("owner").await;
    let (guild, _) = s.guild(&owner, "Home").await;
    let bot = s.bot(&owner, "helper", &guild, "0").await;
    let https = endpoint.url("checked").replace("http://", "https://");
    for url in [endpoint.url("checked"), https, "https://10.0.0.1/i".into()] {
        let refused = s
            .patch("/applications/@me", &bot.auth, set_url(Some(&url)))
            .await;
        assert_eq!(form_error(&refused), "URL_TYPE_INVALID_URL", "{url}");
    }
    assert!(endpoint.all().is_empty());
    let app = s.get("/applications/@me", &bot.auth).await;
    assert_eq!(app.body["interactions_endpoint_url"], Value::Null);
}

/// An owner and a member in a guild, a bot with the guild command `ping`
/// whose interactions go to `/{mode}` of the endpoint, and the bot's and
/// owner's gateway sessions.
struct World {
    s: TestServer,
    endpoint: Endpoint,
    owner: Account,
    bot: Account,
    guild: String,
    channel: String,
    command: String,
    bot_ws: GatewayClient,
    owner_ws: GatewayClient,
}

impl World {
    async fn new(mode: &str) -> World {
        let s = server_with(&["--outbound-allow", "127.0.0.1"]);
        let endpoint = Endpoint::start().await;
        let owner = s.register("owner").await;
        let (guild, channel) = s.guild(&owner, "Home").await;
        let bot = s.bot(&owner, "helper", &guild, "0").await;
        let app = s.get("/applications/@me", &bot.auth).await;
        endpoint.trust(app.body["verify_key"].as_str().unwrap());
        let set = s
            .patch(
                "/applications/@me",
                &bot.auth,
                set_url(Some(&endpoint.url(mode))),
            )
            .await;
        assert_eq!(set.status, 200, "{:?}", set.body);
        let path = format!("/applications/{}/guilds/{guild}/commands", bot.id);
        let ping = json!({ "name": "ping", "type": 1, "description": "Answers pong" });
        let created = s.post(&path, &bot.auth, ping).await;
        assert_eq!(created.status, 201, "{:?}", created.body);
        let command = created.body["id"].as_str().unwrap().to_owned();
        let bot_ws = connect(&s, bot.auth.trim_start_matches("Bot ")).await;
        let owner_ws = connect(&s, &owner.auth).await;
        World {
            s,
            endpoint,
            owner,
            bot,
            guild,
            channel,
            command,
            bot_ws,
            owner_ws,
        }
    }

    async fn invoke(&self) {
        let body = json!({
            "type": 2,
            "application_id": self.bot.id,
            "guild_id": self.guild,
            "channel_id": self.channel,
            "session_id": "a-session",
            "nonce": "77",
            "data": { "version": "1", "id": self.command, "name": "ping", "type": 1 },
        });
        let reply = self.s.post("/interactions", &self.owner.auth, body).await;
        assert_eq!(reply.status, 204, "{:?}", reply.body);
    }

    /// The bot's gateway events up to the answer's MESSAGE_CREATE: no
    /// INTERACTION_CREATE among them, the interaction having gone over HTTP.
    async fn bot_sees_only_the_answer(&mut self, content: &str) {
        loop {
            let payload = self.bot_ws.receive().await;
            assert_ne!(payload["t"], "INTERACTION_CREATE", "{payload}");
            if payload["t"] == "MESSAGE_CREATE" {
                assert_eq!(payload["d"]["content"], content);
                return;
            }
        }
    }
}

#[tokio::test]
async fn an_invocation_is_posted_signed_and_answered_by_the_response() {
    let mut w = World::new("checked").await;
    w.invoke().await;
    let posted = w.endpoint.interaction("checked", 2).await;
    assert!(posted.signed, "{posted:?}");
    let d = &posted.body;
    assert_eq!(d["application_id"], json!(w.bot.id));
    assert_eq!(d["guild_id"], json!(w.guild));
    assert_eq!(d["channel_id"], json!(w.channel));
    assert_eq!(d["data"]["name"], "ping");
    assert_eq!(d["member"]["user"]["id"], json!(w.owner.id));

    let created = w.owner_ws.dispatch("MESSAGE_CREATE").await["d"].clone();
    assert_eq!(created["content"], "pong over http");
    assert_eq!(created["type"], 20);
    assert_eq!(created["interaction_metadata"]["id"], d["id"]);
    let success = w.owner_ws.dispatch("INTERACTION_SUCCESS").await["d"].clone();
    assert_eq!(success["id"], d["id"]);
    assert_eq!(success["nonce"], "77");
    w.bot_sees_only_the_answer("pong over http").await;

    // The token opens follow-ups as it does for a gateway interaction.
    let token = d["token"].as_str().unwrap();
    let path = format!("/webhooks/{}/{token}", w.bot.id);
    let follow_up =
        w.s.request("POST", &path, None, Some(json!({ "content": "and more" })))
            .await;
    assert_eq!(follow_up.status, 200, "{:?}", follow_up.body);
    let second = w.owner_ws.dispatch("MESSAGE_CREATE").await["d"].clone();
    assert_eq!(second["content"], "and more");
    // The response was the one answer.
    let id = d["id"].as_str().unwrap();
    let late =
        w.s.request(
            "POST",
            &format!("/interactions/{id}/{token}/callback"),
            None,
            Some(json!({ "type": 4, "data": { "content": "twice" } })),
        )
        .await;
    assert_eq!(
        (late.status, late.body["code"].clone()),
        (400, json!(40060))
    );
}

#[tokio::test]
async fn an_endpoint_may_answer_later_through_the_callback_route() {
    let mut w = World::new("later").await;
    w.invoke().await;
    let posted = w.endpoint.interaction("later", 2).await;
    assert!(posted.signed, "{posted:?}");
    let id = posted.body["id"].as_str().unwrap();
    let token = posted.body["token"].as_str().unwrap();
    let answered =
        w.s.request(
            "POST",
            &format!("/interactions/{id}/{token}/callback"),
            None,
            Some(json!({ "type": 4, "data": { "content": "answered later" } })),
        )
        .await;
    assert_eq!(answered.status, 204, "{:?}", answered.body);
    let created = w.owner_ws.dispatch("MESSAGE_CREATE").await["d"].clone();
    assert_eq!(created["content"], "answered later");
    let success = w.owner_ws.dispatch("INTERACTION_SUCCESS").await["d"].clone();
    assert_eq!(success["id"], json!(id));
    w.bot_sees_only_the_answer("answered later").await;
}

#[tokio::test]
async fn an_endpoint_may_answer_with_files() {
    let mut w = World::new("files").await;
    w.invoke().await;
    let posted = w.endpoint.interaction("files", 2).await;
    assert!(posted.signed, "{posted:?}");
    let created = w.owner_ws.dispatch("MESSAGE_CREATE").await["d"].clone();
    assert_eq!(created["content"], "pong with a file");
    assert_eq!(created["interaction_metadata"]["id"], posted.body["id"]);
    let files = created["attachments"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{created}");
    assert_eq!(files[0]["filename"], "notes.txt");
    assert_eq!(files[0]["size"], FILE.len());
    let url = files[0]["url"].as_str().unwrap();
    let fetched = reqwest::get(url).await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.bytes().await.unwrap(), FILE);
    w.bot_sees_only_the_answer("pong with a file").await;
}

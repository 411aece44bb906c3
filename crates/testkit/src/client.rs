//! HTTP to one Concord node: requests with Discord's authorization header,
//! replies parsed as JSON, and the few steps most tests begin with
//! (register, make a guild, join it, say something).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

/// An HTTP answer, with the body parsed as JSON (`Null` when empty).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The header's value as text, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A registered account.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    /// The value for the `Authorization` header.
    pub auth: String,
}

/// HTTP to the node at `addr`, or to several nodes in turn.
pub struct Client {
    pub addr: SocketAddr,
    http: reqwest::Client,
    /// Nodes of a cluster taken in turn, one per request or gateway URL,
    /// as a round-robin load balancer would; `None` for `addr` alone.
    spread: Option<Spread>,
}

struct Spread {
    addrs: Vec<SocketAddr>,
    next: AtomicUsize,
}

impl Client {
    pub fn new(addr: SocketAddr) -> Client {
        Client {
            addr,
            http: reqwest::Client::new(),
            spread: None,
        }
    }

    /// A client that sends each request (and gives each gateway URL) to
    /// the next of `addrs` in turn; `addr` is the first of them.
    pub fn round_robin(addrs: Vec<SocketAddr>) -> Client {
        let first = *addrs.first().expect("at least one node");
        Client {
            spread: Some(Spread {
                addrs,
                next: AtomicUsize::new(0),
            }),
            ..Client::new(first)
        }
    }

    /// The node the next request goes to.
    fn target(&self) -> SocketAddr {
        match &self.spread {
            Some(spread) => {
                let turn = spread.next.fetch_add(1, Ordering::Relaxed);
                spread.addrs[turn % spread.addrs.len()]
            }
            None => self.addr,
        }
    }

    /// The gateway's URL, as `GET /gateway` gives it (the next node's,
    /// for a round-robin client).
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.target())
    }

    /// Every node's gateway URL: what `GET /gateway` may answer.
    pub fn ws_urls(&self) -> Vec<String> {
        self.nodes()
            .iter()
            .map(|node| format!("ws://{node}"))
            .collect()
    }

    /// Every node this client sends to.
    fn nodes(&self) -> Vec<SocketAddr> {
        match &self.spread {
            Some(spread) => spread.addrs.clone(),
            None => vec![self.addr],
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.target(), path)
    }

    /// `path` is relative to `/api/v10`.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        self.request_with(method, path, auth, body, &[]).await
    }

    /// [`request`](Self::request) with extra headers, such as `X-Audit-Log-Reason`.
    pub async fn request_with(
        &self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        self.try_request(method, path, auth, body, headers)
            .await
            .expect("request")
    }

    /// [`request_with`](Self::request_with), with a failure to reach the
    /// node (stopped, killed) as an error rather than a panic.
    pub async fn try_request(
        &self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Result<Reply, reqwest::Error> {
        let method_name = method;
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self
            .http
            .request(method, self.url(&format!("/api/v10{path}")));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply = Self::try_reply(request.send().await?).await?;
        self.check(method_name, path, &reply).await;
        Ok(reply)
    }

    /// The reply checked against the OpenAPI document, when the suite
    /// asked for it ([`crate::openapi::check_replies`]).
    async fn check(&self, method: &str, path: &str, reply: &Reply) {
        if !crate::openapi::enabled() {
            return;
        }
        let document = match crate::openapi::loaded() {
            Some(document) => document,
            None => {
                let url = self.url("/api/v10/openapi.json");
                let fetched = self.http.get(url).send().await.expect("openapi.json");
                let document = fetched.json().await.expect("openapi.json is JSON");
                crate::openapi::load(document)
            }
        };
        document.check(method, path, reply);
    }

    /// Sends raw bytes with a content type, for malformed-input tests.
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Reply {
        let method_name = method;
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        // A connection of its own: the server may close it after refusing
        // a body it did not read, and the shared pool must not reuse it.
        let mut request = reqwest::Client::new()
            .request(method, self.url(&format!("/api/v10{path}")))
            .header("content-type", content_type)
            .body(body);
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        let reply = Self::reply(request.send().await.expect("request")).await;
        self.check(method_name, path, &reply).await;
        reply
    }

    async fn reply(response: reqwest::Response) -> Reply {
        Self::try_reply(response).await.expect("body")
    }

    async fn try_reply(response: reqwest::Response) -> Result<Reply, reqwest::Error> {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await?;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    pub async fn get(&self, path: &str, auth: &str) -> Reply {
        self.request("GET", path, Some(auth), None).await
    }

    /// Polls `GET path` until `done` holds for the reply, for things that
    /// settle shortly after a write (the search index); panics after 10 s.
    pub async fn get_until(&self, path: &str, auth: &str, done: impl Fn(&Reply) -> bool) -> Reply {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let reply = self.get(path, auth).await;
            if done(&reply) {
                return reply;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "GET {path} did not settle: {} {:?}",
                reply.status,
                reply.body
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    pub async fn post(&self, path: &str, auth: &str, body: Value) -> Reply {
        self.request("POST", path, Some(auth), Some(body)).await
    }

    pub async fn patch(&self, path: &str, auth: &str, body: Value) -> Reply {
        self.request("PATCH", path, Some(auth), Some(body)).await
    }

    pub async fn put(&self, path: &str, auth: &str, body: Value) -> Reply {
        self.request("PUT", path, Some(auth), Some(body)).await
    }

    pub async fn delete(&self, path: &str, auth: &str) -> Reply {
        self.request("DELETE", path, Some(auth), None).await
    }

    /// Registers a user whose password is `password-<name>`.
    pub async fn register(&self, name: &str) -> Account {
        let body = json!({ "username": name, "password": format!("password-{name}"), "email": format!("{name}@example.org") });
        let mut reply = self
            .request("POST", "/auth/register", None, Some(body.clone()))
            .await;
        // Password hashing is bounded: a suite registering many accounts
        // at once may be asked to come back, as any client would be.
        for _ in 0..20 {
            if reply.status != 429 {
                break;
            }
            let wait = reply.body["retry_after"].as_f64().unwrap_or(1.0).min(5.0);
            tokio::time::sleep(std::time::Duration::from_secs_f64(wait)).await;
            reply = self
                .request("POST", "/auth/register", None, Some(body.clone()))
                .await;
        }
        assert_eq!(reply.status, 201, "register {name}: {:?}", reply.body);
        let token = reply.body["token"].as_str().expect("token").to_owned();
        let me = self.get("/users/@me", &token).await;
        Account {
            id: me.body["id"].as_str().expect("id").to_owned(),
            auth: token,
        }
    }

    /// A guild owned by `owner`; returns (guild id, id of #general).
    pub async fn guild(&self, owner: &Account, name: &str) -> (String, String) {
        let reply = self
            .post("/guilds", &owner.auth, json!({ "name": name }))
            .await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        let general = reply.body["channels"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == 0))
            .and_then(|c| c["id"].as_str())
            .expect("general channel");
        (
            reply.body["id"].as_str().expect("guild id").to_owned(),
            general.to_owned(),
        )
    }

    /// Makes `who` a member of the guild of `channel` through an invite.
    pub async fn join(&self, owner: &Account, channel: &str, who: &Account) {
        let invite = self
            .post(
                &format!("/channels/{channel}/invites"),
                &owner.auth,
                json!({}),
            )
            .await;
        assert_eq!(invite.status, 200, "{:?}", invite.body);
        let code = invite.body["code"].as_str().expect("code");
        let joined = self
            .post(&format!("/invites/{code}"), &who.auth, json!({}))
            .await;
        assert_eq!(joined.status, 200, "{:?}", joined.body);
    }

    /// A bot application owned by `owner`, added to `guild` with `permissions`.
    pub async fn bot(
        &self,
        owner: &Account,
        name: &str,
        guild: &str,
        permissions: &str,
    ) -> Account {
        let app = self
            .post("/applications", &owner.auth, json!({ "name": name }))
            .await;
        assert_eq!(app.status, 201, "{:?}", app.body);
        let id = app.body["id"].as_str().expect("application id").to_owned();
        let reset = self
            .post(
                &format!("/applications/{id}/bot/reset"),
                &owner.auth,
                json!({}),
            )
            .await;
        let token = reset.body["token"].as_str().expect("bot token");
        let path = format!("/oauth2/authorize?client_id={id}&scope=bot&permissions={permissions}");
        let body = json!({ "guild_id": guild, "permissions": permissions, "authorize": true });
        let added = self.post(&path, &owner.auth, body).await;
        assert_eq!(added.status, 200, "{:?}", added.body);
        Account {
            id,
            auth: format!("Bot {token}"),
        }
    }

    /// Sends a message and returns its id.
    pub async fn say(&self, who: &Account, channel: &str, content: &str) -> String {
        let reply = self
            .post(
                &format!("/channels/{channel}/messages"),
                &who.auth,
                json!({ "content": content }),
            )
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        reply.body["id"].as_str().expect("message id").to_owned()
    }

    /// `GET /readyz`: 200 or 503, and each check.
    pub async fn readyz(&self) -> Reply {
        let response = self.http.get(self.url("/readyz")).send().await;
        Self::reply(response.expect("readyz")).await
    }

    /// The server's Prometheus text.
    /// `/metrics` of the node, or of every node one after another for a
    /// round-robin client (a counter then appears once per node).
    pub async fn metrics(&self) -> String {
        let mut all = String::new();
        for node in self.nodes() {
            let text = self
                .http
                .get(format!("http://{node}/metrics"))
                .send()
                .await
                .expect("metrics")
                .text()
                .await
                .expect("text");
            all.push_str(&text);
        }
        all
    }
}

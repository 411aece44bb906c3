//! What the generator measures: a Discord-compatible server (Concord or
//! another), or the same-run baseline broadcast server.

use std::net::Ipv4Addr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::json;

use crate::accounts::{Api, Refusal, identify_token};
use crate::socket::{self, FRAME_BYTES, Socket};
use crate::stats::Processes;

/// How long a socket may take from connecting to READY before it counts
/// as failed: a server that never answers must not hang the run.
const READY_DEADLINE: Duration = Duration::from_secs(120);

#[derive(Clone)]
pub(crate) enum Kind {
    /// A server speaking the Discord API: socket `i` identifies with
    /// `tokens[i]` (modulo their number), messages go to `channel`, sent
    /// with `auth`.
    Discord {
        tokens: Vec<String>,
        auth: String,
        channel: String,
    },
    Baseline,
}

/// One node of the target.
#[derive(Clone)]
pub(crate) struct Endpoint {
    /// `http://host:port` (or https, maybe with a path)
    pub(crate) http_url: String,
    /// What its `/gateway` names: `ws://` or `wss://`, an address or a host name, maybe a path.
    pub(crate) ws_url: String,
}

#[derive(Clone)]
pub(crate) struct Target {
    pub(crate) name: &'static str,
    /// The nodes, one or several sharing their state: socket and message
    /// `i` go to node `i` modulo their number, so that with several nodes
    /// most deliveries cross from one node to another.
    pub(crate) nodes: Vec<Endpoint>,
    /// The processes serving it, for their CPU and memory (summed).
    pub(crate) processes: Processes,
    pub(crate) kind: Kind,
    pub(crate) http: reqwest::Client,
    pub(crate) content_bytes: usize,
    /// What its sockets identify with.
    pub(crate) intents: u64,
    pub(crate) zlib: bool,
    /// Sockets to a loopback address per local source address (see
    /// [`crate::fleet`]).
    pub(crate) sockets_per_source: usize,
}

impl Target {
    /// Node `index` modulo their number.
    pub(crate) fn node(&self, index: usize) -> &Endpoint {
        &self.nodes[index % self.nodes.len()]
    }

    /// Opens socket `index` and, for a Discord server, identifies: returns
    /// the IDENTIFY→READY time.
    pub(crate) async fn open(
        &self,
        index: usize,
        source: Option<Ipv4Addr>,
    ) -> std::io::Result<(Socket, Option<Duration>)> {
        let ws_url = &self.node(index).ws_url;
        match &self.kind {
            Kind::Discord { tokens, .. } => {
                let token = identify_token(&tokens[index % tokens.len()]);
                let ready = async {
                    let mut socket =
                        socket::connect(ws_url, "v=10&encoding=json", source, self.zlib).await?;
                    let ready = socket.identify(token, self.intents).await?;
                    Ok((socket, Some(ready)))
                };
                tokio::time::timeout(READY_DEADLINE, ready)
                    .await
                    .unwrap_or_else(|_| Err(std::io::Error::other("no READY in time")))
            }
            Kind::Baseline => Ok((socket::connect(ws_url, "", source, self.zlib).await?, None)),
        }
    }

    /// Sends bench message `index`; returns the HTTP status.
    pub(crate) async fn send(&self, index: u32) -> Result<u16, reqwest::Error> {
        let head = format!("bench-{index}-");
        let content = format!(
            "{head}{}",
            "x".repeat(self.content_bytes.saturating_sub(head.len()))
        );
        let http_url = &self.node(index as usize).http_url;
        let reply = match &self.kind {
            Kind::Discord { auth, channel, .. } => {
                let url = format!("{http_url}/api/v10/channels/{channel}/messages");
                self.http
                    .post(url)
                    .header("authorization", auth)
                    .json(&json!({ "content": content }))
                    .send()
                    .await?
            }
            Kind::Baseline => {
                let size = FRAME_BYTES
                    .load(Ordering::Relaxed)
                    .max(content.len() as u64 + 64);
                let url = format!("{http_url}/broadcast?size={size}");
                self.http.post(url).body(content).send().await?
            }
        };
        Ok(reply.status().as_u16())
    }
}

/// What the server at `api.base` says about itself, and its gateway URL
/// (`gateway` when given, else what `GET /gateway` names).
pub(crate) async fn discover(
    api: &Api,
    gateway: Option<String>,
) -> Result<(Endpoint, Option<String>), Refusal> {
    let url = format!("{}/api/v10/gateway", api.base);
    let step = "reading the gateway URL";
    let reply = api.http.get(&url).send().await;
    let says = reply.as_ref().ok().and_then(|r| server_says(r.headers()));
    let ws_url = match gateway {
        Some(given) => given,
        None => {
            let reply = reply.map_err(|e| format!("{step}: GET {url} failed: {e}"))?;
            let status = reply.status();
            let body: serde_json::Value = reply.json().await.unwrap_or_default();
            match body["url"].as_str() {
                Some(ws) if status.is_success() => ws.to_owned(),
                _ => {
                    return Err(format!(
                        "{step}: GET {url} answered {status} {body} (give it with --gateway)"
                    ));
                }
            }
        }
    };
    socket::GatewayUrl::parse(&ws_url).map_err(|e| e.to_string())?;
    let endpoint = Endpoint {
        http_url: api.base.clone(),
        ws_url,
    };
    Ok((endpoint, says))
}

/// What a server names itself in its answers' `Server` and `X-Powered-By`
/// headers, if it does.
fn server_says(headers: &reqwest::header::HeaderMap) -> Option<String> {
    let said: Vec<&str> = ["server", "x-powered-by"]
        .iter()
        .filter_map(|h| headers.get(*h)?.to_str().ok())
        .collect();
    (!said.is_empty()).then(|| said.join("; "))
}

//! What the generator measures: a Discord-compatible server (Concord or
//! another), or the same-run baseline broadcast server.

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::json;

use crate::socket::{self, FRAME_BYTES, Socket};

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
    pub(crate) pids: Vec<u32>,
    pub(crate) kind: Kind,
    pub(crate) http: reqwest::Client,
    pub(crate) content_bytes: usize,
    pub(crate) zlib: bool,
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
        source: Option<IpAddr>,
    ) -> std::io::Result<(Socket, Option<Duration>)> {
        let ws_url = &self.node(index).ws_url;
        match &self.kind {
            Kind::Discord { tokens, .. } => {
                let token = &tokens[index % tokens.len()];
                let mut socket =
                    socket::connect(ws_url, "v=10&encoding=json", source, self.zlib).await?;
                let ready = socket
                    .identify(token)
                    .await
                    .ok_or_else(|| std::io::Error::other("no READY"))?;
                Ok((socket, Some(ready)))
            }
            Kind::Baseline => Ok((socket::connect(ws_url, "", source, false).await?, None)),
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

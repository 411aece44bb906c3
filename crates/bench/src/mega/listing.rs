//! Reading the member list of a large guild: HTTP pages through the whole
//! guild (`GET /guilds/{id}/members`, 1,000 at a time), and op 8 on one
//! socket, by a name prefix and by ids, each request timed until its last
//! GUILD_MEMBERS_CHUNK. A probe socket also gives what a member's client
//! is sent on IDENTIFY: READY's delay and the guild's GUILD_CREATE.

use std::time::{Duration, Instant};

use concord_model::Snowflake;
use rand::seq::IndexedRandom;
use serde_json::{Value, json};

use crate::accounts::identify_token;
use crate::phases;
use crate::socket::{self, Socket};
use crate::stats::Latency;
use crate::target::{Kind, Target};

/// How long one op 8 may take before it counts as failed.
const CHUNKS_WITHIN: Duration = Duration::from_secs(60);

/// A socket of the target's first account, past READY.
pub(crate) struct Probe {
    socket: Socket,
    /// IDENTIFY→READY.
    pub(crate) ready: Duration,
    /// The bytes of the first GUILD_CREATE.
    pub(crate) guild_create_bytes: usize,
}

impl Probe {
    pub(crate) async fn open(target: &Target) -> std::io::Result<Probe> {
        let Kind::Discord { tokens, .. } = &target.kind else {
            return Err(std::io::Error::other("not a Discord server"));
        };
        let url = &target.node(0).ws_url;
        let mut socket = socket::connect(url, "v=10&encoding=json", None, false).await?;
        let token = identify_token(&tokens[0]);
        let (ready, _) = socket.identify_ready(token, target.intents).await?;
        let created = tokio::time::timeout(CHUNKS_WITHIN, async {
            loop {
                let frame = socket.next_frame().await?;
                if memchr::memmem::find(&frame, b"\"t\":\"GUILD_CREATE\"").is_some() {
                    return Some(frame.len());
                }
            }
        });
        let guild_create_bytes = created
            .await
            .ok()
            .flatten()
            .ok_or_else(|| std::io::Error::other("no GUILD_CREATE"))?;
        Ok(Probe {
            socket,
            ready,
            guild_create_bytes,
        })
    }

    /// Sends op 8 `d` (with `nonce`) and waits for its last chunk; returns
    /// the time taken and the members it listed.
    async fn request(&mut self, mut d: Value, nonce: &str) -> Result<(Duration, usize), String> {
        d["nonce"] = json!(nonce);
        let started = Instant::now();
        if !self
            .socket
            .send(json!({ "op": 8, "d": d }).to_string())
            .await
        {
            return Err("the probe socket closed".into());
        }
        let mut members = 0;
        let chunks = async {
            loop {
                let frame = self
                    .socket
                    .next_frame()
                    .await
                    .ok_or("the probe socket closed")?;
                let Ok(payload) = serde_json::from_slice::<Value>(&frame) else {
                    continue;
                };
                let chunk = &payload["d"];
                if payload["t"] != "GUILD_MEMBERS_CHUNK" || chunk["nonce"] != nonce {
                    continue;
                }
                members += chunk["members"].as_array().map_or(0, Vec::len);
                let index = chunk["chunk_index"].as_u64().unwrap_or(0);
                if index + 1 >= chunk["chunk_count"].as_u64().unwrap_or(1) {
                    return Ok::<_, String>(());
                }
            }
        };
        match tokio::time::timeout(CHUNKS_WITHIN, chunks).await {
            Ok(Ok(())) => Ok((started.elapsed(), members)),
            Ok(Err(e)) => Err(e.to_owned()),
            Err(_) => Err(format!("no last chunk within {CHUNKS_WITHIN:?}")),
        }
    }
}

/// Latency of `requests` op 8s made by `make(n)`, and how many members
/// each found on average.
async fn op8_many(probe: &mut Probe, requests: usize, make: impl Fn(usize) -> Value) -> Value {
    let (mut latencies, mut found, mut errors) = (Vec::new(), 0, Vec::new());
    for n in 0..requests {
        match probe.request(make(n), &format!("p{n}")).await {
            Ok((took, members)) => {
                latencies.push(took.as_micros() as u64);
                found += members;
            }
            Err(e) => errors.push(e),
        }
    }
    json!({
        "requests": requests,
        "errors": errors.len(),
        "first_error": errors.first(),
        "members_per_request": found as f64 / latencies.len().max(1) as f64,
        "latency": Latency::of(latencies),
    })
}

/// Every HTTP page of the guild's members, in order.
async fn http_pages(target: &Target, guild: Snowflake) -> Value {
    let (mut latencies, mut members, mut after) = (Vec::new(), 0, String::from("0"));
    let started = Instant::now();
    let mut error = None;
    loop {
        let path = format!("/guilds/{guild}/members?limit=1000&after={after}");
        let begun = Instant::now();
        let page = match phases::get(target, &path).await {
            Ok(page) => page,
            Err(e) => {
                error = Some(e);
                break;
            }
        };
        latencies.push(begun.elapsed().as_micros() as u64);
        let items = page.as_array().map(Vec::as_slice).unwrap_or_default();
        members += items.len();
        match items.last().and_then(|m| m["user"]["id"].as_str()) {
            Some(last) if items.len() == 1000 => after = last.to_owned(),
            _ => break,
        }
    }
    json!({
        "pages": latencies.len(),
        "members": members,
        "seconds": started.elapsed().as_secs_f64(),
        "error": error,
        "latency": Latency::of(latencies),
    })
}

/// The member list read every way, `requests` times for each op 8 kind.
pub(crate) async fn run(
    target: &Target,
    probe: &mut Probe,
    guild: Snowflake,
    seeded: &[Snowflake],
    requests: usize,
) -> Value {
    let http = http_pages(target, guild).await;
    // Prefixes of seeded names, each matching a hundred or more members.
    let by_query = op8_many(probe, requests, |n| {
        let prefix = super::seed::username(1 + n % 99);
        json!({ "guild_id": guild, "query": prefix, "limit": 100 })
    })
    .await;
    // A prefix nobody has: as cheap as any, if names are indexed; a
    // server that matches by reading the guild reads all of it.
    let by_query_unmatched = op8_many(
        probe,
        1,
        |_| json!({ "guild_id": guild, "query": "nobody-by-this-name", "limit": 100 }),
    )
    .await;
    let by_ids = op8_many(probe, requests, |_| {
        let mut rng = rand::rng();
        let ids: Vec<_> = seeded.choose_multiple(&mut rng, 100).collect();
        json!({ "guild_id": guild, "user_ids": ids })
    })
    .await;
    json!({
        "http_pages": http,
        "op8_by_query": by_query,
        "op8_by_query_unmatched": by_query_unmatched,
        "op8_by_ids": by_ids,
    })
}

//! The measured phases. Each returns its figures as JSON.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::fleet::Fleet;
use crate::stats::{Latency, Meter, cpu_percent};
use crate::target::{Kind, Target};

/// Message indices: each phase takes a fresh range.
pub(crate) static NEXT_INDEX: AtomicU32 = AtomicU32::new(0);

fn take_indices(count: u32) -> u32 {
    NEXT_INDEX.fetch_add(count, Ordering::Relaxed)
}

/// One sender at a fixed rate; latency from send start to each receipt.
pub(crate) async fn fanout_latency(
    target: &Target,
    fleet: &Fleet,
    epoch: Instant,
    messages: u32,
    rate: f64,
) -> Value {
    let meter = Meter::start(&target.processes);
    let first = take_indices(messages);
    let base = fleet.deliveries.load(Ordering::Relaxed);
    let period = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let started = tokio::time::Instant::now();
    let mut sent_at = Vec::with_capacity(messages as usize);
    let mut errors = 0u64;
    for i in 0..messages {
        tokio::time::sleep_until(started + period * i).await;
        sent_at.push(epoch.elapsed().as_nanos() as u64);
        if !matches!(target.send(first + i).await, Ok(200)) {
            errors += 1;
        }
    }
    let expected = u64::from(messages) * fleet.len() as u64;
    fleet
        .wait_for(base, expected, Duration::from_secs(10))
        .await;
    let seen = fleet.take(first, first + messages);
    let latencies = seen
        .iter()
        .map(|(i, at)| at.saturating_sub(sent_at[(i - first) as usize]) / 1000)
        .collect::<Vec<_>>();
    json!({
        "sockets": fleet.len(),
        "messages": messages,
        "rate_per_second": rate,
        "send_errors": errors,
        "deliveries": seen.len(),
        "missing": expected.saturating_sub(seen.len() as u64),
        "latency": Latency::of(latencies),
        "cost": meter.stop(),
    })
}

/// Senders as fast as the server accepts; deliveries per second, and how
/// long the backlog takes to drain once sending stops.
pub(crate) async fn fanout_saturation(
    target: &Target,
    fleet: &Fleet,
    senders: usize,
    seconds: f64,
) -> Value {
    let meter = Meter::start(&target.processes);
    let base = fleet.deliveries.load(Ordering::Relaxed);
    let first = NEXT_INDEX.load(Ordering::Relaxed);
    let traffic_before = fleet.traffic.read();
    let sent = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for _ in 0..senders {
        let (target, sent, errors) = (target.clone(), Arc::clone(&sent), Arc::clone(&errors));
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                match target.send(take_indices(1)).await {
                    Ok(200) => sent.fetch_add(1, Ordering::Relaxed),
                    _ => errors.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let in_window = fleet.deliveries.load(Ordering::Relaxed) - base;
    let sent = sent.load(Ordering::Relaxed);
    let expected = sent * fleet.len() as u64;
    let drain = fleet
        .wait_for(base, expected, Duration::from_secs(60))
        .await;
    let delivered = fleet.deliveries.load(Ordering::Relaxed) - base;
    let end = NEXT_INDEX.load(Ordering::Relaxed);
    let missed = fleet.missed(first, end, target.nodes.len(), 10);
    fleet.take(0, end);
    let traffic = fleet.traffic.read();
    let (wire, payload) = (traffic.0 - traffic_before.0, traffic.1 - traffic_before.1);
    json!({
        "sockets": fleet.len(),
        "senders": senders,
        "seconds": seconds,
        "messages_sent": sent,
        "send_errors": errors.load(Ordering::Relaxed),
        "deliveries_per_second": in_window as f64 / seconds,
        "deliveries_per_second_including_drain": delivered as f64 / (seconds + drain.as_secs_f64()),
        "drain_seconds": drain.as_secs_f64(),
        "missing": expected.saturating_sub(delivered),
        // Sockets the server let go of as slow consumers (or that broke).
        "sockets_closed": fleet.len() - fleet.tasks_alive(),
        // Which messages went missing (of the first `end - first` sent),
        // with how many sockets of each node missed each.
        "missed_messages": missed.iter().map(|(m, per_node)| json!({
            "message": m - first, "of": end - first, "sockets_per_node": per_node,
        })).collect::<Vec<_>>(),
        "wire_bytes_per_delivery": wire as f64 / delivered.max(1) as f64,
        "payload_bytes_per_delivery": payload as f64 / delivered.max(1) as f64,
        "cost": meter.stop(),
    })
}

/// Concurrent senders for a while; accepted messages per second.
pub(crate) async fn ingest(target: &Target, senders: usize, seconds: f64) -> Value {
    let meter = Meter::start(&target.processes);
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for _ in 0..senders {
        let target = target.clone();
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut limited, mut errors) = (Vec::new(), 0u64, 0u64);
            while Instant::now() < deadline {
                let started = Instant::now();
                match target.send(take_indices(1)).await {
                    Ok(200) => latencies.push(started.elapsed().as_micros() as u64),
                    Ok(429) => limited += 1,
                    _ => errors += 1,
                }
            }
            (latencies, limited, errors)
        }));
    }
    let (mut latencies, mut limited, mut errors) = (Vec::new(), 0, 0);
    for task in tasks {
        if let Ok((l, r, e)) = task.await {
            latencies.extend(l);
            limited += r;
            errors += e;
        }
    }
    let accepted = latencies.len();
    json!({
        "senders": senders,
        "seconds": seconds,
        "accepted": accepted,
        "accepted_per_second": accepted as f64 / seconds,
        "rate_limited": limited,
        "errors": errors,
        "latency": Latency::of(latencies),
        "cost": meter.stop(),
    })
}

fn api_url(target: &Target, path: &str) -> Result<reqwest::Url, String> {
    reqwest::Url::parse(&format!("{}/api/v10{path}", target.node(0).http_url))
        .map_err(|e| e.to_string())
}

/// A GET's body, unparsed: throughput phases must not measure JSON parsing
/// (or URL parsing) in the generator.
async fn get_bytes(target: &Target, url: &reqwest::Url) -> Result<bytes::Bytes, String> {
    let Kind::Discord { auth, .. } = &target.kind else {
        return Err("not a Discord server".into());
    };
    let request = target.http.get(url.clone()).header("authorization", auth);
    let reply = request.send().await.map_err(|e| e.to_string())?;
    if reply.status() != 200 {
        return Err(format!("{url}: {}", reply.status()));
    }
    reply.bytes().await.map_err(|e| e.to_string())
}

pub(crate) async fn get(target: &Target, path: &str) -> Result<Value, String> {
    let body = get_bytes(target, &api_url(target, path)?).await?;
    serde_json::from_slice(&body).map_err(|e| e.to_string())
}

fn channel(target: &Target) -> &str {
    match &target.kind {
        Kind::Discord { channel, .. } => channel,
        Kind::Baseline => "",
    }
}

/// `reads` fetches of `path` at `concurrency`; reads per second and latency.
async fn read_many(target: &Target, path: &str, reads: usize, concurrency: usize) -> Value {
    let Ok(url) = api_url(target, path) else {
        return json!({ "error": "bad URL" });
    };
    let meter = Meter::start(&target.processes);
    let started = Instant::now();
    let results: Vec<_> = futures_util::stream::iter(0..reads)
        .map(|_| async {
            let begun = Instant::now();
            get_bytes(target, &url)
                .await
                .map(|_| begun.elapsed().as_micros() as u64)
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let seconds = started.elapsed().as_secs_f64();
    let errors = results.iter().filter(|r| r.is_err()).count();
    let latencies: Vec<u64> = results.into_iter().flatten().collect();
    json!({
        "reads": reads,
        "concurrency": concurrency,
        "errors": errors,
        "reads_per_second": latencies.len() as f64 / seconds,
        "latency": Latency::of(latencies),
        "cost": meter.stop(),
    })
}

/// Messages the history phase reads at least: full pages, and paging.
const HISTORY_AT_LEAST: usize = 200;

/// Posts messages until the channel holds `at_least` (run alone, the
/// history phase finds the channel no fan-out phase has filled); returns
/// how many it posted.
async fn fill_history(target: &Target, at_least: usize) -> usize {
    let path = format!("/channels/{}/messages?limit=100", channel(target));
    let held = get(target, &path)
        .await
        .ok()
        .and_then(|page| page.as_array().map(Vec::len))
        .unwrap_or(0);
    let mut posted = 0;
    if held < 100 {
        for _ in held..at_least {
            if matches!(target.send(take_indices(1)).await, Ok(200)) {
                posted += 1;
            }
        }
    }
    posted
}

/// The newest page at concurrency 1 and 8, then paging the whole channel.
pub(crate) async fn history(target: &Target, reads: usize) -> Value {
    let posted = fill_history(target, HISTORY_AT_LEAST).await;
    let newest = format!("/channels/{}/messages?limit=50", channel(target));
    let one = read_many(target, &newest, reads, 1).await;
    let eight = read_many(target, &newest, reads, 8).await;
    let mut pages = Vec::new();
    let mut before: Option<String> = None;
    let mut total = 0;
    let mut middle = None;
    loop {
        let path = match &before {
            Some(b) => format!(
                "/channels/{}/messages?limit=100&before={b}",
                channel(target)
            ),
            None => format!("/channels/{}/messages?limit=100", channel(target)),
        };
        let begun = Instant::now();
        let Ok(page) = get(target, &path).await else {
            break;
        };
        pages.push(begun.elapsed().as_micros() as u64);
        let items = page.as_array().cloned().unwrap_or_default();
        total += items.len();
        if middle.is_none() {
            middle = items
                .last()
                .and_then(|m| m["id"].as_str())
                .map(str::to_owned);
        }
        match items.last().and_then(|m| m["id"].as_str()) {
            Some(id) => before = Some(id.to_owned()),
            None => break,
        }
        if pages.len() >= 200 {
            break;
        }
    }
    let after = format!("/channels/{}/messages?limit=100&after=0", channel(target));
    let around = format!(
        "/channels/{}/messages?limit=100&around={}",
        channel(target),
        middle.unwrap_or_default()
    );
    json!({
        "posted_first": posted,
        "newest_page_concurrency_1": one,
        "newest_page_concurrency_8": eight,
        "paging_before": { "pages": pages.len(), "messages": total, "latency": Latency::of(pages) },
        "paging_after": read_many(target, &after, reads.min(200), 1).await,
        "paging_around": read_many(target, &around, reads.min(200), 1).await,
    })
}

/// A channel where `count` messages were deleted and one remains: the
/// latency of its first page.
pub(crate) async fn tombstones(target: &Target, count: usize, reads: usize) -> Value {
    let Kind::Discord { auth, channel, .. } = &target.kind else {
        return json!({ "error": "not a Discord server" });
    };
    let send = |i: usize| {
        let (target, auth, channel) = (target.clone(), auth.clone(), channel.clone());
        async move {
            let url = format!(
                "{}/api/v10/channels/{channel}/messages",
                target.node(i).http_url
            );
            let reply = target
                .http
                .post(url)
                .header("authorization", &auth)
                .json(&json!({ "content": format!("tomb {i}") }))
                .send()
                .await
                .ok()?;
            let body: Value = reply.json().await.ok()?;
            body["id"].as_str().map(str::to_owned)
        }
    };
    let started = Instant::now();
    let survivor = send(0).await;
    let doomed: Vec<String> = futures_util::stream::iter(1..=count)
        .map(send)
        .buffer_unordered(16)
        .filter_map(|id| async { id })
        .collect()
        .await;
    let filled = started.elapsed().as_secs_f64();
    let deleted: usize = futures_util::stream::iter(doomed.chunks(100).map(<[String]>::to_vec))
        .map(|ids| {
            let (target, auth, channel) = (target.clone(), auth.clone(), channel.clone());
            async move {
                let url = format!(
                    "{}/api/v10/channels/{channel}/messages/bulk-delete",
                    target.node(0).http_url
                );
                let reply = target
                    .http
                    .post(url)
                    .header("authorization", &auth)
                    .json(&json!({ "messages": ids }))
                    .send()
                    .await;
                if matches!(reply, Ok(r) if r.status() == 204) {
                    ids.len()
                } else {
                    0
                }
            }
        })
        .buffer_unordered(8)
        .fold(0, |a, n| async move { a + n })
        .await;
    let page = get(target, &format!("/channels/{channel}/messages?limit=50"))
        .await
        .unwrap_or_default();
    let only_survivor = page
        .as_array()
        .is_some_and(|a| a.len() == 1 && a[0]["id"].as_str() == survivor.as_deref());
    let newest = format!("/channels/{channel}/messages?limit=50");
    // At once, while the server still works off the deletes in the
    // background, and again once it is quiet: the first shows what a reader
    // meets then, the second the read path alone.
    let first_page = read_many(target, &newest, reads, 1).await;
    let settled_after = settle(target).await;
    json!({
        "deleted": deleted,
        "fill_and_delete_seconds": started.elapsed().as_secs_f64(),
        "fill_seconds": filled,
        "first_page_is_the_survivor": only_survivor,
        "first_page": first_page,
        "settled_after_seconds": settled_after,
        "first_page_settled": read_many(target, &newest, reads, 1).await,
    })
}

/// Server CPU, in percent of one core, under which it counts as quiet.
const QUIET_CPU_PERCENT: f64 = 10.0;
/// The longest [`settle`] waits.
const SETTLE_AT_MOST: Duration = Duration::from_secs(120);

/// Waits until the server's processes use under [`QUIET_CPU_PERCENT`] of a
/// core over a whole second (at most [`SETTLE_AT_MOST`]); the seconds it
/// waited, or `None` when the processes cannot be read.
async fn settle(target: &Target) -> Option<f64> {
    let started = Instant::now();
    let mut before = target.processes.sample()?;
    while started.elapsed() < SETTLE_AT_MOST {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = target.processes.sample()?;
        if cpu_percent(before, now, 1.0) < QUIET_CPU_PERCENT {
            break;
        }
        before = now;
    }
    Some(started.elapsed().as_secs_f64())
}

/// `count` idle sockets held for `seconds`, heartbeating.
pub(crate) async fn idle(
    target: &Target,
    count: usize,
    concurrency: usize,
    seconds: f64,
    epoch: Instant,
) -> Value {
    let (fleet, connect) = Fleet::connect(target, count, concurrency, epoch).await;
    let meter = Meter::start(&target.processes);
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    let cost = meter.stop();
    let still_open = fleet.tasks_alive();
    // What an idle socket costs once the server has given back what it
    // held only while the socket was busy (compression state).
    let held = target.processes.sample().map(|s| s.rss_bytes);
    let before = connect["server_rss_before"].as_u64();
    let per_socket_held = held
        .zip(before)
        .map(|(held, before)| held.saturating_sub(before) / count.max(1) as u64);
    fleet.close().await;
    json!({
        "connect": connect,
        "held_seconds": seconds,
        "still_open": still_open,
        "cost": cost,
        "server_bytes_per_socket_held": per_socket_held,
    })
}

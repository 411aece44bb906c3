//! What an anonymous or hostile client can make the server hold: memory
//! under a flood of distinct `Authorization` headers, under concurrent
//! wrong-password logins, and descriptors under slow connections. Each
//! phase reports the server's resident memory before (the same-run
//! baseline), at its peak, and after, and how a normal request fares
//! meanwhile. Figures, never pass/fail: bounds are compared in BENCHMARKS.md.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::accounts::{Api, Refusal};
use crate::stats::{Latency, Processes};

/// The server a phase measures, and an account on it for normal requests.
pub(crate) struct Victim {
    pub(crate) base: String,
    pub(crate) processes: Processes,
    pub(crate) http: reqwest::Client,
    pub(crate) token: String,
    pub(crate) login: String,
    pub(crate) password: String,
}

impl Victim {
    /// Account `{prefix}{name}` on the server `api` reaches, served by `processes`.
    pub(crate) async fn on(api: &Api, processes: Processes, name: &str) -> Result<Victim, Refusal> {
        let username = format!("{}{name}", api.prefix);
        let (token, _) = api.account(&username).await?;
        Ok(Victim {
            base: api.base.clone(),
            processes,
            http: api.http.clone(),
            token,
            login: format!("{username}@bench.invalid"),
            password: api.password.clone(),
        })
    }
}

fn rss(processes: &Processes) -> Option<u64> {
    processes.sample().map(|s| s.rss_bytes)
}

fn mib(bytes: Option<u64>) -> Value {
    json!(bytes.map(|b| (b as f64 / 1_048_576.0 * 10.0).round() / 10.0))
}

/// Samples the server's RSS every 20 ms until stopped; the highest seen.
struct PeakRss {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
}

impl PeakRss {
    fn start(processes: &Processes) -> PeakRss {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(rss(processes).unwrap_or(0)));
        let (s, p, processes) = (Arc::clone(&stop), Arc::clone(&peak), processes.clone());
        tokio::spawn(async move {
            while !s.load(Ordering::Relaxed) {
                if let Some(now) = rss(&processes) {
                    p.fetch_max(now, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        PeakRss { stop, peak }
    }

    fn stop(self) -> Option<u64> {
        self.stop.store(true, Ordering::Relaxed);
        Some(self.peak.load(Ordering::Relaxed)).filter(|&p| p > 0)
    }
}

impl Victim {
    /// Latency of `count` authenticated `GET /users/@me`, one at a time.
    async fn normal_requests(&self, count: usize) -> Value {
        let mut samples = Vec::with_capacity(count);
        let mut failed = 0;
        for _ in 0..count {
            let started = Instant::now();
            let ok = self
                .http
                .get(format!("{}/api/v10/users/@me", self.base))
                .header("authorization", &self.token)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            samples.push(started.elapsed().as_micros() as u64);
            failed += u64::from(!ok);
        }
        json!({ "latency": Latency::of(samples), "failed": failed })
    }
}

/// Counts answers by status code.
#[derive(Default)]
struct Statuses(std::collections::BTreeMap<u16, u64>);

impl Statuses {
    fn add(&mut self, status: Option<u16>) {
        *self.0.entry(status.unwrap_or(0)).or_default() += 1;
    }

    fn json(&self) -> Value {
        self.0
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    }
}

/// `requests` requests, each with an `Authorization` header never seen before.
pub(crate) async fn distinct_headers(victim: &Victim, requests: usize) -> Value {
    let before = rss(&victim.processes);
    let normal_before = victim.normal_requests(200).await;
    let peak = PeakRss::start(&victim.processes);
    let started = Instant::now();
    let statuses: Vec<Option<u16>> = futures_util::stream::iter(0..requests)
        .map(|i| {
            let request = victim
                .http
                .get(format!("{}/api/v10/users/@me", victim.base))
                .header(
                    "authorization",
                    format!("flood.{i}.{:016x}", rand::random::<u64>()),
                );
            async move { request.send().await.ok().map(|r| r.status().as_u16()) }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let seconds = started.elapsed().as_secs_f64();
    let peak = peak.stop();
    let normal_after = victim.normal_requests(200).await;
    let mut counts = Statuses::default();
    statuses.into_iter().for_each(|s| counts.add(s));
    json!({
        "requests": requests,
        "seconds": seconds,
        "statuses": counts.json(),
        "rss_before_mib": mib(before),
        "rss_peak_mib": mib(peak),
        "rss_after_mib": mib(rss(&victim.processes)),
        "normal_request_before": normal_before,
        "normal_request_after": normal_after,
    })
}

/// `concurrent` wrong-password logins at once, half for a real account and
/// half for unknown ones, while a normal request is timed.
pub(crate) async fn concurrent_logins(victim: &Victim, concurrent: usize) -> Value {
    let before = rss(&victim.processes);
    let peak = PeakRss::start(&victim.processes);
    let started = Instant::now();
    let logins = futures_util::stream::iter(0..concurrent)
        .map(|i| {
            let login = if i % 2 == 0 {
                victim.login.clone()
            } else {
                format!("nobody{i}")
            };
            let body = json!({ "login": login, "password": format!("not-{}", victim.password) });
            let request = victim
                .http
                .post(format!("{}/api/v10/auth/login", victim.base))
                .json(&body);
            async move {
                let started = Instant::now();
                let status = request.send().await.ok().map(|r| r.status().as_u16());
                (status, started.elapsed().as_micros() as u64)
            }
        })
        .buffer_unordered(concurrent)
        .collect::<Vec<_>>();
    let (results, normal) = tokio::join!(logins, async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        victim.normal_requests(20).await
    });
    let seconds = started.elapsed().as_secs_f64();
    let peak = peak.stop();
    let mut counts = Statuses::default();
    let mut latencies = Vec::new();
    for (status, us) in results {
        counts.add(status);
        latencies.push(us);
    }
    json!({
        "concurrent": concurrent,
        "seconds": seconds,
        "statuses": counts.json(),
        "login_latency": Latency::of(latencies),
        "rss_before_mib": mib(before),
        "rss_peak_mib": mib(peak),
        "rss_growth_mib": mib(peak.zip(before).map(|(p, b)| p.saturating_sub(b))),
        "normal_request_during": normal,
    })
}

/// `connections` sockets that send one byte of a request's headers every
/// `interval`, held for `seconds`; how many the server still keeps open,
/// and whether `/healthz` answers from another connection meanwhile.
pub(crate) async fn slow_connections(
    victim: &Victim,
    connections: usize,
    interval: Duration,
    seconds: f64,
) -> Value {
    // Host and port of the base URL (a host name or an address).
    let addr = reqwest::Url::parse(&victim.base)
        .ok()
        .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)))
        .unwrap_or_default();
    let before = rss(&victim.processes);
    let open = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let closed_by_server = Arc::new(AtomicU64::new(0));
    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(seconds);
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        let (addr, open, refused, closed, stop) = (
            addr.clone(),
            Arc::clone(&open),
            Arc::clone(&refused),
            Arc::clone(&closed_by_server),
            Arc::clone(&stop),
        );
        tasks.push(tokio::spawn(async move {
            let Ok(mut socket) = TcpStream::connect(&addr).await else {
                refused.fetch_add(1, Ordering::Relaxed);
                return;
            };
            let connected = Instant::now();
            open.fetch_add(1, Ordering::Relaxed);
            let request = b"GET /healthz HTTP/1.1\r\nHost: bench\r\nX-Slow: ";
            let mut sent = 0usize;
            loop {
                let byte = request.get(sent).copied().unwrap_or(b'a');
                if socket.write_all(&[byte]).await.is_err() {
                    closed.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                sent += 1;
                // A closed peer shows up on the next write; a read would too.
                let mut probe = [0u8; 1];
                match tokio::time::timeout(interval, socket.peek(&mut probe)).await {
                    // Closed as accepted (over a limit) or later (a timeout).
                    Ok(Ok(0)) | Ok(Err(_)) if connected.elapsed() < Duration::from_secs(1) => {
                        refused.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    Ok(Ok(0)) | Ok(Err(_)) => {
                        closed.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    // Some answer (a 408 or 503): the server is closing it.
                    Ok(Ok(_)) => {
                        closed.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    Err(_) => {}
                }
                if stop.load(Ordering::Relaxed) {
                    break;
                }
            }
            open.fetch_sub(1, Ordering::Relaxed);
        }));
        // Accepts are not the thing measured: a gentle ramp.
        if tasks.len() % 100 == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    // Health checks from a fresh connection each, while the slow ones hold.
    let mut health = Vec::new();
    let mut health_failed = 0u64;
    let mut peak_open = 0;
    while tokio::time::Instant::now() < deadline {
        peak_open = peak_open.max(open.load(Ordering::Relaxed));
        let started = Instant::now();
        // From another loopback address: the slow connections' address is
        // at its own limit, which is the point, and must not hide the cap.
        let checker = reqwest::Client::builder()
            .local_address(IpAddr::from([127, 0, 0, 2]))
            .build()
            .expect("health client");
        let ok = checker
            .get(format!("{}/healthz", victim.base))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        health.push(started.elapsed().as_micros() as u64);
        health_failed += u64::from(!ok);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let still_open = open.load(Ordering::Relaxed);
    let rss_held = rss(&victim.processes);
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.abort();
    }
    json!({
        "connections": connections,
        "byte_interval_seconds": interval.as_secs_f64(),
        "held_seconds": seconds,
        "refused_at_accept": refused.load(Ordering::Relaxed),
        "closed_by_server": closed_by_server.load(Ordering::Relaxed),
        "peak_open": peak_open,
        "still_open_at_end": still_open,
        "healthz": { "latency": Latency::of(health), "failed": health_failed },
        "rss_before_mib": mib(before),
        "rss_held_mib": mib(rss_held),
    })
}

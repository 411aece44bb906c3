//! Many sockets on one target, each with a receiving task.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::socket::{Lane, Seen, Traffic};
use crate::stats::Latency;
use crate::target::Target;

pub(crate) struct Fleet {
    seen: Vec<Seen>,
    /// Each socket's index as the target opened it (which account it is:
    /// the index modulo the target's tokens).
    pub(crate) indices: Vec<usize>,
    /// Each socket's PRESENCE_UPDATEs so far.
    pub(crate) presences: Vec<Arc<AtomicU64>>,
    /// Payloads each socket is to send.
    outboxes: Vec<mpsc::UnboundedSender<String>>,
    pub(crate) deliveries: Arc<AtomicU64>,
    /// The bench messages' bytes on the wire and inflated.
    pub(crate) traffic: Arc<Traffic>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Where socket `index` of `total` connects from, to a loopback server:
/// one address holds some 28,000 local ports, so beyond `per_source`
/// sockets they come from 127.0.0.2, .3, ... (`per_source` each).
fn source(index: usize, total: usize, per_source: usize) -> Option<Ipv4Addr> {
    let per_source = per_source.max(1);
    (total > per_source).then(|| {
        let last = (2 + index / per_source).min(254) as u8;
        Ipv4Addr::new(127, 0, 0, last)
    })
}

impl Fleet {
    /// Opens `count` sockets, `concurrency` at a time, and starts reading them.
    pub(crate) async fn connect(
        target: &Target,
        count: usize,
        concurrency: usize,
        epoch: Instant,
    ) -> (Fleet, Value) {
        let before = target.processes.sample();
        let started = Instant::now();
        let per_source = target.sockets_per_source;
        let opened: Vec<_> = futures_util::stream::iter(0..count)
            .map(|i| async move { (i, target.open(i, source(i, count, per_source)).await) })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        let seconds = started.elapsed().as_secs_f64();
        let deliveries = Arc::new(AtomicU64::new(0));
        let (stop, stopped) = watch::channel(false);
        let mut fleet = Fleet {
            seen: Vec::new(),
            indices: Vec::new(),
            presences: Vec::new(),
            outboxes: Vec::new(),
            deliveries,
            traffic: Arc::default(),
            stop,
            tasks: Vec::new(),
        };
        let mut ready = Vec::new();
        let mut failed = 0;
        let mut first_error = None;
        let mut sources = BTreeSet::new();
        for (index, result) in opened {
            match result {
                Ok((socket, latency)) => {
                    ready.extend(latency.map(|d| d.as_micros() as u64));
                    sources.insert(socket.local);
                    let (outbox, outgoing) = mpsc::unbounded_channel();
                    let lane = Lane {
                        deliveries: Arc::clone(&fleet.deliveries),
                        traffic: Arc::clone(&fleet.traffic),
                        outbox: Some(outgoing),
                        ..Lane::default()
                    };
                    fleet.seen.push(Arc::clone(&lane.seen));
                    fleet.presences.push(Arc::clone(&lane.presences));
                    fleet.outboxes.push(outbox);
                    fleet.indices.push(index);
                    let task = socket.receive(epoch, lane, stopped.clone());
                    fleet.tasks.push(tokio::spawn(task));
                }
                Err(e) => {
                    failed += 1;
                    first_error.get_or_insert_with(|| e.to_string());
                }
            }
        }
        // Let the server settle before reading its memory.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = target.processes.sample();
        let per_socket = before
            .zip(after)
            .map(|(b, a)| a.rss_bytes.saturating_sub(b.rss_bytes) / count.max(1) as u64);
        let report = json!({
            "sockets": count,
            "connected": fleet.seen.len(),
            "failed": failed,
            "first_error": first_error,
            "source_addresses": sources.len(),
            "seconds": seconds,
            "identify_to_ready": Latency::of(ready),
            "server_rss_before": before.map(|s| s.rss_bytes),
            "server_rss_after": after.map(|s| s.rss_bytes),
            "server_bytes_per_socket": per_socket,
        });
        (fleet, report)
    }

    pub(crate) fn len(&self) -> usize {
        self.seen.len()
    }

    /// Has socket `at` (in the fleet's order) send `payload`.
    pub(crate) fn send(&self, at: usize, payload: String) {
        let _ = self.outboxes[at].send(payload);
    }

    /// PRESENCE_UPDATEs each socket has received so far.
    pub(crate) fn presences_seen(&self) -> Vec<u64> {
        self.presences
            .iter()
            .map(|p| p.load(Ordering::Relaxed))
            .collect()
    }

    /// Takes every delivery of messages in `first..end` seen so far.
    pub(crate) fn take(&self, first: u32, end: u32) -> Vec<(u32, u64)> {
        let mut all = Vec::new();
        for seen in &self.seen {
            let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
            all.extend(
                seen.iter()
                    .copied()
                    .filter(|(i, _)| (first..end).contains(i)),
            );
            seen.retain(|(i, _)| !(first..end).contains(i));
        }
        all
    }

    /// The messages of `first..end` that some sockets never saw, at most
    /// `shown` of them: each with how many sockets of each node (socket
    /// `i` of the target went to node `i % nodes`) missed it.
    pub(crate) fn missed(
        &self,
        first: u32,
        end: u32,
        nodes: usize,
        shown: usize,
    ) -> Vec<(u32, Vec<u64>)> {
        let mut missed: std::collections::BTreeMap<u32, Vec<u64>> = Default::default();
        for (seen, index) in self.seen.iter().zip(&self.indices) {
            let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
            let got: BTreeSet<u32> = seen.iter().map(|(i, _)| *i).collect();
            for message in (first..end).filter(|m| !got.contains(m)) {
                let per_node = missed
                    .entry(message)
                    .or_insert_with(|| vec![0; nodes.max(1)]);
                per_node[index % nodes.max(1)] += 1;
            }
        }
        missed.into_iter().take(shown).collect()
    }

    /// Waits until `expected` deliveries arrived since `base`, or `limit`.
    pub(crate) async fn wait_for(&self, base: u64, expected: u64, limit: Duration) -> Duration {
        let started = Instant::now();
        while self.deliveries.load(Ordering::Relaxed) - base < expected && started.elapsed() < limit
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        started.elapsed()
    }

    pub(crate) async fn close(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

impl Fleet {
    /// How many receiving tasks are still running (their socket is open).
    pub(crate) fn tasks_alive(&self) -> usize {
        self.tasks.iter().filter(|t| !t.is_finished()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missed_messages_are_counted_per_node_of_the_sockets() {
        let seen = |got: &[u32]| -> Seen {
            Arc::new(std::sync::Mutex::new(got.iter().map(|i| (*i, 0)).collect()))
        };
        let fleet = Fleet {
            seen: vec![
                seen(&[0, 1, 2]),
                seen(&[0, 2]),
                seen(&[0, 2]),
                seen(&[0, 1]),
            ],
            indices: vec![0, 1, 2, 3],
            presences: Vec::new(),
            outboxes: Vec::new(),
            deliveries: Arc::default(),
            traffic: Arc::default(),
            stop: watch::channel(false).0,
            tasks: Vec::new(),
        };
        // Sockets 1 and 2 (nodes 1 and 2) missed 1; socket 3 (node 0) missed 2.
        assert_eq!(
            fleet.missed(0, 3, 3, 10),
            vec![(1, vec![0, 1, 1]), (2, vec![1, 0, 0])]
        );
        assert_eq!(fleet.missed(0, 3, 3, 1).len(), 1, "at most `shown`");
    }

    #[test]
    fn sockets_beyond_one_source_address_come_from_the_next() {
        assert_eq!(source(5, 10, 20), None, "few sockets: the default address");
        let at = |index| source(index, 6, 2).map(|a| a.octets()[3]);
        assert_eq!(
            (0..6).map(at).collect::<Vec<_>>(),
            [2, 2, 3, 3, 4, 4].map(Some)
        );
    }
}

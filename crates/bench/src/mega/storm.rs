//! The presence storm: the guild's connected accounts change their status
//! (op 3) at a fixed rate, and each socket counts the PRESENCE_UPDATEs it
//! gets. Each socket follows a few accounts (op 14), as a client follows
//! the members its member list shows, so in a large guild it should get
//! exactly their changes: what it receives per second, against what
//! following them predicts, and the server's CPU meanwhile.

use std::time::Duration;

use serde_json::{Value, json};

use crate::fleet::Fleet;
use crate::stats::Meter;
use crate::target::Target;

/// Who follows whom: socket `index` identifies as account `index % users`
/// and follows the `follows` accounts after its own (never itself).
pub(crate) struct Follows {
    pub(crate) users: usize,
    pub(crate) follows: usize,
}

impl Follows {
    pub(crate) fn account(&self, index: usize) -> usize {
        index % self.users.max(1)
    }

    /// The accounts socket `index` follows.
    pub(crate) fn of(&self, index: usize) -> impl Iterator<Item = usize> + '_ {
        let own = self.account(index);
        let count = self.follows.min(self.users.saturating_sub(1));
        (1..=count).map(move |k| (own + k) % self.users)
    }
}

/// The first socket of each account, by account.
fn changers(fleet: &Fleet, follows: &Follows) -> Vec<(usize, usize)> {
    let mut first = vec![None; follows.users];
    for (at, index) in fleet.indices.iter().enumerate() {
        first[follows.account(*index)].get_or_insert(at);
    }
    first
        .into_iter()
        .enumerate()
        .filter_map(|(account, at)| Some((account, at?)))
        .collect()
}

/// `rate` status changes a second for `seconds`, round the accounts.
pub(crate) async fn run(
    target: &Target,
    fleet: &Fleet,
    follows: &Follows,
    rate: f64,
    seconds: f64,
) -> Value {
    let changers = changers(fleet, follows);
    if changers.is_empty() {
        return json!({ "error": "no socket connected" });
    }
    let before = fleet.presences_seen();
    let meter = Meter::start(&target.processes);
    let changes = (rate * seconds).round() as usize;
    let period = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let mut changed = vec![0u64; follows.users];
    let started = tokio::time::Instant::now();
    for i in 0..changes {
        tokio::time::sleep_until(started + period * i as u32).await;
        let (account, at) = changers[i % changers.len()];
        // Alternating, so that each change is one others are told of.
        let status = ["idle", "dnd"][(changed[account] % 2) as usize];
        changed[account] += 1;
        let d = json!({ "status": status, "activities": [], "since": null, "afk": false });
        fleet.send(at, json!({ "op": 3, "d": d }).to_string());
    }
    let sent_for = started.elapsed();
    let expected: Vec<u64> = fleet
        .indices
        .iter()
        .map(|index| follows.of(*index).map(|a| changed[a]).sum())
        .collect();
    let expected_total: u64 = expected.iter().sum();
    let received = |fleet: &Fleet| -> Vec<u64> {
        let now = fleet.presences_seen();
        now.iter().zip(&before).map(|(n, b)| n - b).collect()
    };
    let drain = wait_for(fleet, &received, expected_total).await;
    let cost = meter.stop();
    let got = received(fleet);
    let missing: u64 = got
        .iter()
        .zip(&expected)
        .map(|(g, e)| e.saturating_sub(*g))
        .sum();
    let extra: u64 = got
        .iter()
        .zip(&expected)
        .map(|(g, e)| g.saturating_sub(*e))
        .sum();
    let window = sent_for.as_secs_f64().max(seconds);
    json!({
        "changes": changes,
        "rate_per_second": rate,
        "seconds": window,
        "sockets": fleet.len(),
        "accounts": follows.users,
        "follows_per_socket": follows.follows,
        "expected": expected_total,
        "received": got.iter().sum::<u64>(),
        "missing": missing,
        "extra": extra,
        "drain_seconds": drain.as_secs_f64(),
        "received_per_socket_per_second": per_second(&got, window),
        "expected_per_socket_per_second": per_second(&expected, window),
        "cost": cost,
    })
}

/// Counts per socket as rates over `seconds`: mean, median, p99, max.
fn per_second(counts: &[u64], seconds: f64) -> Value {
    let mut rates: Vec<f64> = counts.iter().map(|c| *c as f64 / seconds).collect();
    rates.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let last = rates.len().saturating_sub(1);
        rates
            .get((last as f64 * q).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    json!({
        "mean": rates.iter().sum::<f64>() / rates.len().max(1) as f64,
        "p50": at(0.5),
        "p99": at(0.99),
        "max": at(1.0),
    })
}

/// Waits until `expected` presences arrived, or nothing more arrives for
/// two seconds (at most half a minute); returns how long it waited.
async fn wait_for(
    fleet: &Fleet,
    received: &impl Fn(&Fleet) -> Vec<u64>,
    expected: u64,
) -> Duration {
    let started = tokio::time::Instant::now();
    let (mut last, mut since) = (0, started);
    while started.elapsed() < Duration::from_secs(30) {
        let now: u64 = received(fleet).iter().sum();
        if now >= expected {
            break;
        }
        if now != last {
            (last, since) = (now, tokio::time::Instant::now());
        } else if since.elapsed() > Duration::from_secs(2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockets_follow_the_accounts_after_their_own() {
        let follows = Follows {
            users: 4,
            follows: 2,
        };
        assert_eq!(follows.of(3).collect::<Vec<_>>(), [0, 1]);
        assert_eq!(follows.of(5).collect::<Vec<_>>(), [2, 3]);
        let all = Follows {
            users: 3,
            follows: 10,
        };
        assert_eq!(all.of(0).collect::<Vec<_>>(), [1, 2], "never itself");
    }
}

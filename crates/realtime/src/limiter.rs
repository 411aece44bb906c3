//! The rate-limit seam: counters per key that every node shares, so N
//! nodes allow what one does.
//!
//! Two kinds of counter: fixed windows ([`Limiter::check_all`]: the HTTP
//! limits, slowmode, the duplicate-flood check) and streaks of failures
//! ([`Limiter::streaks`]: login throttling, which backs off after repeated
//! failures). Keys name who is counted (the authenticated user, else the
//! client's address), never text a client can vary freely.
//!
//! [`LocalLimiter`] is the in-process default: both kinds in
//! [`BoundedTable`]s, so however many clients come it holds at most
//! [`CAPACITY`] windows and a request locks one shard.

use async_trait::async_trait;

use crate::RealtimeResult;
use crate::bounded::{BoundedTable, Expiring};

pub use concord_config::Limit;

/// Windows (and streaks) kept at most; the least recently used go first.
pub const CAPACITY: usize = 100_000;

/// The state of a window after one request, for the `X-RateLimit-*`
/// headers and `retry_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Milliseconds until the window resets.
    pub reset_after_ms: u64,
    /// Unix milliseconds at which it resets.
    pub reset_at_ms: u64,
}

/// Failures in a row of one key, not yet forgotten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Streak {
    pub count: u32,
    /// Unix milliseconds of the last failure.
    pub last_ms: u64,
}

#[async_trait]
pub trait Limiter: Send + Sync {
    /// Counts one request against each of `checks` in order, stopping at
    /// the first that refuses: one decision per key counted, the last one
    /// the refusal if there was one, and no key after it counted. One
    /// round trip for a request's global and route limits.
    async fn check_all(
        &self,
        checks: &[(&str, Limit)],
        now_ms: u64,
    ) -> RealtimeResult<Vec<Decision>>;

    /// Counts one request against `key`.
    async fn check(&self, key: &str, limit: Limit, now_ms: u64) -> RealtimeResult<Decision> {
        let mut decisions = self.check_all(&[(key, limit)], now_ms).await?;
        decisions
            .pop()
            .ok_or_else(|| crate::RealtimeError("no decision for a counted key".into()))
    }

    /// The live streak of each of `keys`, in order (`None` if none).
    async fn streaks(&self, keys: &[&str], now_ms: u64) -> RealtimeResult<Vec<Option<Streak>>>;

    /// One more failure for each of `keys`; a streak is forgotten
    /// `forget_after_ms` after its last failure.
    async fn extend_streaks(
        &self,
        keys: &[&str],
        now_ms: u64,
        forget_after_ms: u64,
    ) -> RealtimeResult<()>;

    /// Ends the streak of `key` (a success).
    async fn end_streak(&self, key: &str) -> RealtimeResult<()>;
}

/// One key's current window.
struct Window {
    start_ms: u64,
    window_ms: u64,
    count: u32,
}

impl Expiring for Window {
    fn expired(&self, now_ms: u64) -> bool {
        now_ms >= self.start_ms.saturating_add(self.window_ms)
    }
}

/// A streak as kept: with when it is forgotten.
struct Kept {
    streak: Streak,
    forget_at_ms: u64,
}

impl Expiring for Kept {
    fn expired(&self, now_ms: u64) -> bool {
        now_ms >= self.forget_at_ms
    }
}

/// Counters in this process: one node, or nodes of one test process.
pub struct LocalLimiter {
    windows: BoundedTable<Window>,
    streaks: BoundedTable<Kept>,
}

impl Default for LocalLimiter {
    fn default() -> Self {
        Self::with_capacity(CAPACITY)
    }
}

impl LocalLimiter {
    pub fn new() -> Self {
        Self::default()
    }

    /// A limiter keeping at most about `capacity` windows and as many streaks.
    pub fn with_capacity(capacity: usize) -> Self {
        LocalLimiter {
            windows: BoundedTable::new(capacity),
            streaks: BoundedTable::new(capacity),
        }
    }

    /// Windows held now.
    pub fn windows(&self) -> usize {
        self.windows.len()
    }

    fn count(&self, key: &str, limit: Limit, now_ms: u64) -> Decision {
        let fresh = || Window {
            start_ms: now_ms,
            window_ms: limit.window_ms,
            count: 0,
        };
        self.windows.with(key, now_ms, fresh, |w| {
            let allowed = w.count < limit.count;
            if allowed {
                w.count += 1;
            }
            let reset_at_ms = w.start_ms.saturating_add(w.window_ms);
            Decision {
                allowed,
                limit: limit.count,
                remaining: limit.count.saturating_sub(w.count),
                reset_after_ms: reset_at_ms.saturating_sub(now_ms),
                reset_at_ms,
            }
        })
    }
}

#[async_trait]
impl Limiter for LocalLimiter {
    async fn check_all(
        &self,
        checks: &[(&str, Limit)],
        now_ms: u64,
    ) -> RealtimeResult<Vec<Decision>> {
        let mut decisions = Vec::with_capacity(checks.len());
        for (key, limit) in checks {
            let decision = self.count(key, *limit, now_ms);
            decisions.push(decision);
            if !decision.allowed {
                break;
            }
        }
        Ok(decisions)
    }

    async fn streaks(&self, keys: &[&str], now_ms: u64) -> RealtimeResult<Vec<Option<Streak>>> {
        Ok(keys
            .iter()
            .map(|key| {
                self.streaks.peek(key, |kept| {
                    kept.filter(|k| !k.expired(now_ms)).map(|k| k.streak)
                })
            })
            .collect())
    }

    async fn extend_streaks(
        &self,
        keys: &[&str],
        now_ms: u64,
        forget_after_ms: u64,
    ) -> RealtimeResult<()> {
        let forget_at_ms = now_ms.saturating_add(forget_after_ms);
        for key in keys {
            let fresh = || Kept {
                streak: Streak {
                    count: 0,
                    last_ms: now_ms,
                },
                forget_at_ms,
            };
            self.streaks.with(key, now_ms, fresh, |kept| {
                kept.streak.count = kept.streak.count.saturating_add(1);
                kept.streak.last_ms = now_ms;
                kept.forget_at_ms = forget_at_ms;
            });
        }
        Ok(())
    }

    async fn end_streak(&self, key: &str) -> RealtimeResult<()> {
        self.streaks.remove(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! What only the in-process backend shows; the behaviour every
    //! backend shares is in `conformance`.

    use super::*;

    /// 120,000 distinct keys once took the table to half a gigabyte.
    #[tokio::test]
    async fn limiter_table_is_bounded() {
        let limiter = LocalLimiter::with_capacity(10_000);
        let limit = Limit {
            count: 5,
            window_ms: 60_000,
        };
        for i in 0..200_000u32 {
            limiter
                .check(&format!("g:{i}"), limit, 1_000)
                .await
                .unwrap();
        }
        assert!(limiter.windows() <= 10_100, "{} held", limiter.windows());
        for _ in 0..5 {
            assert!(limiter.check("busy", limit, 2_000).await.unwrap().allowed);
        }
        let busy = limiter.check("busy", limit, 2_000).await.unwrap();
        assert!(!busy.allowed, "a live window still counts");
    }
}

//! Fixed-window counters keyed by bucket, in a [`BoundedTable`]: however
//! many clients come, the table keeps at most [`CAPACITY`] windows and a
//! request locks one shard of it. In-process for one node; when several
//! nodes share the limits the counters move to Redis behind the same
//! narrow API ([`RateLimiter::check`]).
//!
//! Keys name who is counted: the authenticated user, else the client's
//! address (see `api::ratelimit`), never text a client can vary freely.

use crate::bounded::{BoundedTable, Expiring};

pub use concord_config::Limit;

/// Windows kept at most; the least recently used go first when full.
pub const CAPACITY: usize = 100_000;

/// The state of a bucket after one request, for the `X-RateLimit-*` headers.
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

/// One bucket's current window.
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

pub struct RateLimiter {
    windows: BoundedTable<Window>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::with_capacity(CAPACITY)
    }
}

impl RateLimiter {
    pub fn new() -> Self {
        Self::default()
    }

    /// A limiter keeping at most about `capacity` windows.
    pub fn with_capacity(capacity: usize) -> Self {
        RateLimiter {
            windows: BoundedTable::new(capacity),
        }
    }

    /// Counts one request against `key` and says whether it may proceed.
    pub fn check(&self, key: &str, limit: Limit, now_ms: u64) -> Decision {
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

    /// Windows held now.
    pub fn len(&self) -> usize {
        self.windows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_allows_count_then_refuses_until_reset() {
        let limiter = RateLimiter::new();
        let limit = Limit {
            count: 2,
            window_ms: 1_000,
        };
        let a = limiter.check("k", limit, 10_000);
        assert!(a.allowed && a.remaining == 1 && a.reset_after_ms == 1_000);
        assert!(limiter.check("k", limit, 10_100).allowed);
        let refused = limiter.check("k", limit, 10_500);
        assert!(!refused.allowed);
        assert_eq!((refused.remaining, refused.reset_after_ms), (0, 500));
        assert!(
            limiter.check("other", limit, 10_500).allowed,
            "buckets are separate"
        );
        assert!(limiter.check("k", limit, 11_000).allowed, "new window");
    }

    /// 120,000 distinct keys once took the table to half a gigabyte.
    #[test]
    fn limiter_table_is_bounded() {
        let limiter = RateLimiter::with_capacity(10_000);
        let limit = Limit {
            count: 5,
            window_ms: 60_000,
        };
        for i in 0..200_000u32 {
            limiter.check(&format!("g:{i}"), limit, 1_000);
        }
        assert!(limiter.len() <= 10_100, "{} windows held", limiter.len());
        for _ in 0..5 {
            assert!(limiter.check("busy", limit, 2_000).allowed);
        }
        let busy = limiter.check("busy", limit, 2_000);
        assert!(!busy.allowed, "a live window still counts");
    }
}

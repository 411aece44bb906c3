//! Fixed-window counters keyed by bucket. In-process for one node; the
//! counters move to Redis when several nodes share the limits.

use std::collections::HashMap;
use std::sync::Mutex;

pub use concord_config::Limit;

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

#[derive(Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<String, (u64, u32)>>,
}

const PRUNE_ABOVE: usize = 100_000;

impl RateLimiter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one request against `key` and says whether it may proceed.
    pub fn check(&self, key: &str, limit: Limit, now_ms: u64) -> Decision {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() > PRUNE_ABOVE {
            windows.retain(|_, (start, _)| now_ms < *start + 3_600_000);
        }
        let (start, count) = windows.entry(key.to_owned()).or_insert((now_ms, 0));
        if now_ms >= *start + limit.window_ms {
            *start = now_ms;
            *count = 0;
        }
        let allowed = *count < limit.count;
        if allowed {
            *count += 1;
        }
        let reset_at_ms = *start + limit.window_ms;
        Decision {
            allowed,
            limit: limit.count,
            remaining: limit.count - *count,
            reset_after_ms: reset_at_ms - now_ms,
            reset_at_ms,
        }
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
}

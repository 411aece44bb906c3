//! Rate limits through the realtime seam's [`Limiter`], shared by every
//! node: the API's global and route limits, slowmode and the
//! duplicate-flood check count in the same backend, so N nodes allow what
//! one does.
//!
//! Keys name who is counted: the authenticated user, else the client's
//! address (see `api::ratelimit`), never text a client can vary freely.
//!
//! A limiter backend that fails lets these requests through (fail-open):
//! each of them is otherwise authorized, the node's own bounds (connection
//! caps per address, hashing bounds, body limits) still hold, and refusing
//! every request would turn an outage of the limiter into an outage of
//! the whole API. Login throttling decides otherwise (see
//! `passwords::Passwords`).

use concord_model::snowflake::now_ms;

use crate::Service;
use crate::error::{ServiceError, ServiceResult};

pub use concord_realtime::{Decision, Limit, Limiter};

impl Service {
    /// Counts one API request against each of `checks` in order, stopping
    /// at the first refusal (see [`Limiter::check_all`]). `None` when the
    /// limiter could not answer: the request goes on, uncounted.
    pub async fn count_request(
        &self,
        checks: &[(&str, Limit)],
        now_ms: u64,
    ) -> Option<Vec<Decision>> {
        match self.realtime.limiter.check_all(checks, now_ms).await {
            Ok(decisions) => Some(decisions),
            Err(e) => {
                limiter_failed(&e);
                None
            }
        }
    }

    /// Counts one use of `key`; a 429 with `code` once `limit` is spent.
    /// Lets the use through if the limiter cannot answer (see above).
    pub(crate) async fn within_limit(
        &self,
        key: &str,
        limit: Limit,
        code: u32,
    ) -> ServiceResult<()> {
        let decision = match self.realtime.limiter.check(key, limit, now_ms()).await {
            Ok(decision) => decision,
            Err(e) => {
                limiter_failed(&e);
                return Ok(());
            }
        };
        if decision.allowed {
            Ok(())
        } else {
            Err(ServiceError::RateLimited {
                code,
                retry_after_ms: decision.reset_after_ms,
            })
        }
    }
}

fn limiter_failed(error: &concord_realtime::RealtimeError) {
    metrics::counter!("concord_limiter_failures_total").increment(1);
    tracing::warn!(error = %error, "rate limiter unavailable; request let through");
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use async_trait::async_trait;
    use concord_bus::LocalBus;
    use concord_realtime::{Realtime, RealtimeError, RealtimeResult, Streak};
    use concord_store::DEFAULT_BUCKET_MS;
    use concord_store::memory::MemoryStore;

    use super::*;
    use crate::ServiceConfig;
    use crate::access::passwords::LoginAttempt;

    /// A limiter whose backend is down.
    struct Down;

    fn down<T>() -> RealtimeResult<T> {
        Err(RealtimeError("connection refused".into()))
    }

    #[async_trait]
    impl Limiter for Down {
        async fn check_all(&self, _: &[(&str, Limit)], _: u64) -> RealtimeResult<Vec<Decision>> {
            down()
        }
        async fn streaks(&self, _: &[&str], _: u64) -> RealtimeResult<Vec<Option<Streak>>> {
            down()
        }
        async fn extend_streaks(&self, _: &[&str], _: u64, _: u64) -> RealtimeResult<()> {
            down()
        }
        async fn end_streak(&self, _: &str) -> RealtimeResult<()> {
            down()
        }
    }

    /// Requests, slowmode and the flood check go on without the limiter;
    /// logins are refused with a 429, never a 500.
    #[tokio::test]
    async fn a_limiter_that_is_down_fails_open_but_for_logins() {
        let store = Arc::new(MemoryStore::new(DEFAULT_BUCKET_MS));
        let bus = Arc::new(LocalBus::new(16));
        let service = Service::open(store, bus, ServiceConfig::defaults())
            .await
            .unwrap()
            .with_realtime(Realtime {
                limiter: Arc::new(Down),
                ..Realtime::local()
            });
        let one = Limit {
            count: 1,
            window_ms: 1_000,
        };
        assert_eq!(service.count_request(&[("g:u:1", one)], 0).await, None);
        for _ in 0..3 {
            let slowmode = service
                .within_limit("slowmode:1:2", one, concord_model::codes::SLOWMODE)
                .await;
            assert!(slowmode.is_ok(), "{slowmode:?}");
        }
        let attempt = LoginAttempt {
            login: "ada",
            address: "192.0.2.1",
        };
        let refused = service.check_login_throttle(&attempt, 0).await;
        assert!(
            matches!(refused, Err(ServiceError::RateLimited { retry_after_ms, .. }) if retry_after_ms > 0),
            "{refused:?}"
        );
        service.login_failed(&attempt, 0).await;
        service.login_succeeded(&attempt).await;
    }
}

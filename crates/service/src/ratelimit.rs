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

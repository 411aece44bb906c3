//! Leases: a name one node holds for a while, for the node's snowflake
//! ids and for singleton tasks (auto-archive, the presence sweep, the
//! search indexer, purges left behind), taken and renewed through the realtime seam.

use std::sync::Arc;

use crate::Service;

impl Service {
    /// Whether the node named `holder` runs this turn of the singleton task
    /// whose lease is `lease`: takes or renews it for `ttl`, longer than
    /// the task's period, so the holder keeps it from one turn to the next
    /// and another node takes over once it stops. A backend that cannot
    /// answer skips the turn: these tasks run again shortly.
    pub async fn takes_turn(&self, lease: &str, holder: &str, ttl: std::time::Duration) -> bool {
        match self.realtime.leases.acquire(lease, holder, ttl).await {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!(error = %e, lease, "lease unavailable; turn skipped");
                false
            }
        }
    }
}

/// Runs `turn` every `period`, for as long as the service lives, on the
/// turns this node (named `holder`) holds `lease` (taken for three periods,
/// so another node takes over once this one stops).
pub async fn each_turn<F, Fut>(
    service: std::sync::Weak<Service>,
    holder: String,
    lease: &'static str,
    period: std::time::Duration,
    turn: F,
) where
    F: Fn(Arc<Service>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut tick = tokio::time::interval(period);
    loop {
        tick.tick().await;
        let Some(service) = service.upgrade() else {
            return;
        };
        if service.takes_turn(lease, &holder, period * 3).await {
            turn(service).await;
        }
    }
}

/// Renews `holder`'s lease on `name` three times per `ttl`; returns only
/// if another holder took it (this node stalled past `ttl`). A backend
/// that cannot answer is tried again at the next renewal.
pub async fn keep_lease(
    leases: Arc<dyn concord_realtime::Leases>,
    name: String,
    holder: String,
    ttl: std::time::Duration,
) {
    let mut tick = tokio::time::interval(ttl / 3);
    tick.tick().await;
    loop {
        tick.tick().await;
        let renewed = match leases.renew(&name, &holder, ttl).await {
            // Ran out, but maybe nobody took it meanwhile.
            Ok(false) => leases.acquire(&name, &holder, ttl).await,
            held => held,
        };
        match renewed {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => tracing::warn!(error = %e, lease = name, "lease not renewed; trying again"),
        }
    }
}

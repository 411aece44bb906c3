//! Delivering pushes (RFC 8030): the queue lives in the store, so a push
//! is queued by the node that handled the message and delivered by
//! whichever node holds the [`DELIVERY_LEASE`], once per device, also
//! after the queuing node died. Each push is encrypted for its browser
//! (`aes128gcm`), signed with the server's VAPID key, and POSTed through
//! the outbound guard; a push service's 404 or 410 removes the
//! subscription, a failure is tried again later, a bounded number of
//! times and never past the push's TTL.

use std::sync::{Arc, Weak};
use std::time::Duration;

use concord_model::records::QueuedPush;
use concord_model::snowflake::now_ms;
use tokio::task::JoinSet;

use super::encrypt;
use super::subscriptions::base64url;
use crate::{Service, ServiceResult};

/// The lease of the node draining the queue.
pub const DELIVERY_LEASE: &str = "push-delivery";
/// How often the queue is looked at (sooner when this node queued something).
const DRAIN_EVERY: Duration = Duration::from_secs(1);
/// How long the lease outlives its holder's last turn: longer than a pass
/// (one batch at once, each request within its timeout), so no other
/// node delivers the same pushes while one pass runs.
const LEASE_TTL: Duration = Duration::from_secs(60);
/// Pushes posted at once in a pass.
const BATCH: usize = 32;
/// Batches posted one after another in one turn at most.
const PASSES_PER_TURN: usize = 8;
/// Tries of one push at most.
const ATTEMPTS_MAX: u32 = 5;
/// How long a push service keeps a push for an offline browser, and how
/// long a push is tried at most, in seconds.
pub const TTL_S: u64 = 86_400;

/// What became of one try.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Delivered,
    /// The subscription is gone (404/410, or removed here): forget it.
    Gone,
    /// Worth trying again later (network, 429, 5xx).
    Retry(String),
    /// Never deliverable (a refused URL, keys that do not work, another 4xx).
    Refused(String),
}

/// Seconds before the next try after `attempts` tries: 5 s, 20 s, 80 s...
fn backoff_ms(attempts: u32) -> u64 {
    5_000u64.saturating_mul(4u64.saturating_pow(attempts.saturating_sub(1)))
}

impl Service {
    /// What the VAPID `sub` claim names: the server's https URL, else a
    /// contact address push services accept.
    fn vapid_subject(&self) -> String {
        let base = &self.config.public_base;
        if base.starts_with("https://") {
            base.clone()
        } else {
            "mailto:postmaster@localhost".into()
        }
    }

    /// One try of one push.
    async fn try_push(&self, push: &QueuedPush) -> Outcome {
        let subscriptions = match self.store.push_subscriptions(push.user_id).await {
            Ok(s) => s,
            Err(e) => return Outcome::Retry(e.to_string()),
        };
        let Some(subscription) = subscriptions.iter().find(|s| s.endpoint == push.endpoint) else {
            return Outcome::Gone;
        };
        let target = match self.outbound.check_url(&subscription.endpoint).await {
            Ok(target) => target,
            Err(refusal) => return Outcome::Refused(refusal.to_string()),
        };
        let keys = base64url(&subscription.p256dh).zip(base64url(&subscription.auth));
        let Some((ua_public, auth)) = keys else {
            return Outcome::Refused("undecodable keys".into());
        };
        let body = match encrypt::encrypt(&ua_public, &auth, push.payload.as_bytes()) {
            Ok(body) => body,
            Err(e) => return Outcome::Refused(e.to_string()),
        };
        let origin = target.url.origin().ascii_serialization();
        let authorization =
            self.notifications
                .vapid
                .authorization(&origin, &self.vapid_subject(), now_ms() / 1000);
        let sent = self
            .outbound
            .client()
            .post(target.url)
            .header("Content-Encoding", "aes128gcm")
            .header("Content-Type", "application/octet-stream")
            .header("TTL", TTL_S.to_string())
            .header("Urgency", &push.urgency)
            .header("Authorization", authorization)
            .body(body)
            .send()
            .await;
        match sent {
            Err(e) => Outcome::Retry(e.to_string()),
            Ok(response) => match response.status().as_u16() {
                200..=299 => Outcome::Delivered,
                404 | 410 => Outcome::Gone,
                429 | 500..=599 => Outcome::Retry(format!("status {}", response.status())),
                _ => Outcome::Refused(format!("status {}", response.status())),
            },
        }
    }

    /// Settles a try: off the queue, or back on it for later.
    async fn settle(&self, push: QueuedPush, outcome: Outcome, now: u64) -> ServiceResult<()> {
        let label = match &outcome {
            Outcome::Delivered => "delivered",
            Outcome::Gone => "gone",
            Outcome::Retry(_) => "retry",
            Outcome::Refused(_) => "refused",
        };
        metrics::counter!("concord_pushes_total", "outcome" => label).increment(1);
        match outcome {
            Outcome::Delivered => {}
            Outcome::Gone => {
                self.store
                    .delete_push_subscription(push.user_id, &push.endpoint)
                    .await?;
            }
            Outcome::Refused(why) => {
                tracing::info!(user = %push.user_id, why, "push refused; dropped");
            }
            Outcome::Retry(why) => {
                let attempts = push.attempts + 1;
                let due_ms = now + backoff_ms(attempts);
                let expires = push.id.timestamp_ms() + TTL_S * 1000;
                if attempts < ATTEMPTS_MAX && due_ms < expires {
                    tracing::debug!(user = %push.user_id, why, attempts, "push failed; tried again later");
                    let again = QueuedPush {
                        attempts,
                        due_ms,
                        ..push
                    };
                    return Ok(self.store.queue_pushes(&[again]).await?);
                }
                tracing::info!(user = %push.user_id, why, "push failed too often; dropped");
            }
        }
        self.store.unqueue_push(push.id).await?;
        Ok(())
    }

    /// One pass over the queue: posts the pushes due at `now` (a batch at
    /// once) and settles each; how many were tried.
    pub async fn deliver_due_pushes(self: &Arc<Self>, now: u64) -> ServiceResult<usize> {
        let due = self.store.pushes_due(now, BATCH).await?;
        let tried = due.len();
        let mut tries = JoinSet::new();
        for push in due {
            let service = Arc::clone(self);
            tries.spawn(async move {
                let outcome = service.try_push(&push).await;
                service.settle(push, outcome, now_ms()).await
            });
        }
        while let Some(done) = tries.join_next().await {
            match done {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "push not settled; tried again"),
                Err(e) => tracing::warn!(error = %e, "push task failed"),
            }
        }
        Ok(tried)
    }

    /// Queues the pushes a new message calls for.
    pub async fn queue_pushes_for(
        &self,
        notice: &super::recipients::Notice,
    ) -> ServiceResult<usize> {
        let pushes = self.pushes_for(notice).await?;
        if !pushes.is_empty() {
            self.store.queue_pushes(&pushes).await?;
            self.notifications.queued.notify_one();
        }
        Ok(pushes.len())
    }
}

/// Decides the pushes of the messages this node stored, as they come, and
/// queues them, for as long as the service lives. Runs on every node.
pub async fn push_intake(service: Weak<Service>) {
    let rx = service.upgrade().and_then(|s| {
        let mut slot = s
            .notifications
            .intake_rx
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        slot.take()
    });
    let Some(mut rx) = rx else {
        return;
    };
    while let Some(notice) = rx.recv().await {
        let Some(service) = service.upgrade() else {
            return;
        };
        if let Err(e) = service.queue_pushes_for(&notice).await {
            tracing::warn!(error = %e, message = %notice.message.id, "pushes not queued");
        }
    }
}

/// Drains the push queue every [`DRAIN_EVERY`] (at once when this node
/// queued something) while this node (named `holder`) holds the
/// [`DELIVERY_LEASE`], for as long as the service lives.
pub async fn push_delivery(service: Weak<Service>, holder: String) {
    let Some(queued) = service
        .upgrade()
        .map(|s| Arc::clone(&s.notifications.queued))
    else {
        return;
    };
    loop {
        tokio::select! {
            () = tokio::time::sleep(DRAIN_EVERY) => {}
            () = queued.notified() => {}
        }
        let Some(service) = service.upgrade() else {
            return;
        };
        // Full batches follow one another, a bounded number per turn (a
        // push that cannot be settled, the store failing, is not posted
        // over and over), each under the lease renewed: a pass is shorter
        // than the lease, so no other node takes it meanwhile.
        for _ in 0..PASSES_PER_TURN {
            if !service.takes_turn(DELIVERY_LEASE, &holder, LEASE_TTL).await {
                break;
            }
            match service.deliver_due_pushes(now_ms()).await {
                Ok(n) if n == BATCH => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "push queue not drained");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off() {
        assert_eq!(backoff_ms(1), 5_000);
        assert_eq!(backoff_ms(2), 20_000);
        assert_eq!(backoff_ms(3), 80_000);
        assert!(backoff_ms(40) >= backoff_ms(5));
    }
}

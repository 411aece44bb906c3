//! An interaction's end: once its token has closed, everything kept for it
//! goes (its record, its answer, its open modal, its ephemeral messages
//! with their files' references, so a blob no other message uses is
//! deleted). The node holding the [`SWEEP_LEASE`] does it for the whole
//! cluster, from an index in the store (`interaction-due:{id}`, the id
//! zero-padded so the oldest come first), so what a node that stopped
//! accepted goes as well.

use std::time::Duration;

use concord_model::Snowflake;

use super::{Ephemeral, Interaction, TOKEN_LIFETIME, ack_key, ephemeral_key, record_key};
use crate::{Service, ServiceResult};

/// How often closed interactions are looked for.
pub const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// The lease that makes one node of a cluster the one removing them.
pub const SWEEP_LEASE: &str = "interaction-sweep";
/// How long after its token closes an interaction is kept still: a
/// request that opened it just before then finishes its writes first.
const GRACE: Duration = Duration::from_secs(60);
/// Index entries read from the store at a time.
const BATCH: usize = 100;
const DUE_PREFIX: &str = "interaction-due:";

fn due_key(id: Snowflake) -> String {
    format!("{DUE_PREFIX}{:020}", id.get())
}

/// When what is kept for the interaction `id` may go.
fn due_ms(id: Snowflake) -> u64 {
    id.timestamp_ms() + (TOKEN_LIFETIME + GRACE).as_millis() as u64
}

impl Service {
    /// Stores a new interaction, listed for the sweep first, so nothing
    /// kept for it is missed.
    pub(crate) async fn remember_interaction(
        &self,
        interaction: &Interaction,
    ) -> ServiceResult<()> {
        self.store.put_meta(&due_key(interaction.id), b"").await?;
        self.save_interaction(interaction).await
    }

    /// Removes every interaction due by `now_ms` (its token closed and
    /// the grace gone by), oldest first, and returns how many went.
    pub async fn sweep_interactions(&self, now_ms: u64) -> ServiceResult<usize> {
        let mut swept = 0;
        loop {
            let keys = self.store.meta_keys(DUE_PREFIX, BATCH).await?;
            let more = keys.len() == BATCH;
            for key in keys {
                let id = key[DUE_PREFIX.len()..].parse().ok().map(Snowflake);
                if let Some(id) = id {
                    if due_ms(id) > now_ms {
                        return Ok(swept);
                    }
                    self.forget_interaction(id).await?;
                    swept += 1;
                }
                self.store.take_meta(&key).await?;
            }
            if !more {
                return Ok(swept);
            }
        }
    }

    /// Removes what is kept for one interaction. The record goes last:
    /// interrupted, the next sweep finds it and does the rest.
    async fn forget_interaction(&self, id: Snowflake) -> ServiceResult<()> {
        let record = self.store.meta(&record_key(id)).await?;
        if let Some(record) =
            record.and_then(|raw| serde_json::from_slice::<Interaction>(&raw).ok())
        {
            for message_id in &record.ephemeral {
                self.forget_ephemeral(*message_id).await?;
            }
            self.close_modal(&record).await?;
        }
        self.store.take_meta(&ack_key(id)).await?;
        self.store.take_meta(&record_key(id)).await?;
        Ok(())
    }

    /// Removes an ephemeral message, releasing its files; returns it if
    /// it was there.
    pub(crate) async fn forget_ephemeral(
        &self,
        message_id: Snowflake,
    ) -> ServiceResult<Option<Ephemeral>> {
        let Some(ephemeral) = self.ephemeral_message(message_id).await? else {
            return Ok(None);
        };
        self.release_attachments(std::slice::from_ref(&ephemeral.message))
            .await?;
        self.store.take_meta(&ephemeral_key(message_id)).await?;
        Ok(Some(ephemeral))
    }
}

/// Removes closed interactions every [`SWEEP_EVERY`], for as long as the
/// service lives and while this node (named `holder`) holds the
/// [`SWEEP_LEASE`].
pub async fn interaction_sweep(service: std::sync::Weak<Service>, holder: String) {
    let sweep = |service: std::sync::Arc<Service>| async move {
        let now = concord_model::snowflake::now_ms();
        match service.sweep_interactions(now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(interactions = n, "closed interactions removed"),
            Err(e) => tracing::warn!(error = %e, "interaction sweep failed"),
        }
    };
    crate::cluster::leases::each_turn(service, holder, SWEEP_LEASE, SWEEP_EVERY, sweep).await;
}

#[cfg(test)]
mod tests;

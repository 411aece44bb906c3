//! The lease seam: names one node at a time may hold, for a while.
//!
//! A lease is held by a `holder` (a node's random name for itself) until
//! its `ttl` passes without a renewal, so a node that dies gives up its
//! leases on its own. Uses: a node's snowflake worker and process ids
//! ([`claim_node_id`]), so two nodes never mint the same ids, and tasks
//! that one node of a cluster runs (auto-archiving, the presence sweep).
//! [`LocalLeases`] is the in-process default.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::{RealtimeError, RealtimeResult};

#[async_trait]
pub trait Leases: Send + Sync {
    /// Takes `name` for `holder` for `ttl` if nobody else holds it (or
    /// their lease ran out); true if `holder` holds it now. Taking a lease
    /// one already holds renews it.
    async fn acquire(&self, name: &str, holder: &str, ttl: Duration) -> RealtimeResult<bool>;

    /// Takes the first of `names`, in order, that `holder` can take (as
    /// [`Leases::acquire`]); its index, or `None` if every one is held by
    /// others. One round trip for a choice among many.
    async fn acquire_first(
        &self,
        names: &[String],
        holder: &str,
        ttl: Duration,
    ) -> RealtimeResult<Option<usize>>;

    /// Extends `holder`'s lease on `name` by `ttl`; false if it no longer
    /// holds it (it ran out, and maybe another took it).
    async fn renew(&self, name: &str, holder: &str, ttl: Duration) -> RealtimeResult<bool>;

    /// Gives up `holder`'s lease on `name` (nothing if another holds it).
    async fn release(&self, name: &str, holder: &str) -> RealtimeResult<()>;
}

/// Leases in this process: one node, or nodes of one test process.
#[derive(Default)]
pub struct LocalLeases {
    held: Mutex<HashMap<String, (String, Instant)>>,
}

impl LocalLeases {
    pub fn new() -> Self {
        Self::default()
    }

    fn held(&self) -> MutexGuard<'_, HashMap<String, (String, Instant)>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Whether `holder` may take a lease now held as `current`.
fn free_for(current: Option<&(String, Instant)>, holder: &str, now: Instant) -> bool {
    current.is_none_or(|(by, until)| by == holder || *until <= now)
}

#[async_trait]
impl Leases for LocalLeases {
    async fn acquire(&self, name: &str, holder: &str, ttl: Duration) -> RealtimeResult<bool> {
        let names = [name.to_owned()];
        Ok(self.acquire_first(&names, holder, ttl).await?.is_some())
    }

    async fn acquire_first(
        &self,
        names: &[String],
        holder: &str,
        ttl: Duration,
    ) -> RealtimeResult<Option<usize>> {
        let now = Instant::now();
        let mut held = self.held();
        let Some(at) = names
            .iter()
            .position(|name| free_for(held.get(name), holder, now))
        else {
            return Ok(None);
        };
        held.insert(names[at].clone(), (holder.to_owned(), now + ttl));
        Ok(Some(at))
    }

    async fn renew(&self, name: &str, holder: &str, ttl: Duration) -> RealtimeResult<bool> {
        let now = Instant::now();
        match self.held().get_mut(name) {
            Some((by, until)) if by == holder && *until > now => {
                *until = now + ttl;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn release(&self, name: &str, holder: &str) -> RealtimeResult<()> {
        let mut held = self.held();
        if held.get(name).is_some_and(|(by, _)| by == holder) {
            held.remove(name);
        }
        Ok(())
    }
}

/// Snowflake worker and process ids take 5 bits each.
const IDS: u8 = 32;

/// The lease a node holds on its snowflake ids while it runs.
pub fn node_id_lease(worker_id: u8, process_id: u8) -> String {
    format!("snowflake/{worker_id}/{process_id}")
}

/// Why a node could not have snowflake ids.
#[derive(Debug, thiserror::Error)]
pub enum NodeIdError {
    #[error(
        "snowflake ids taken: another running node holds worker_id {worker_id} and process_id {process_id}; \
         give this node another pair, or leave worker_id and process_id unset to take a free one"
    )]
    Taken { worker_id: u8, process_id: u8 },
    #[error(
        "snowflake ids taken: every worker_id and process_id pair allowed by the settings is held by a running node"
    )]
    NoneFree,
    #[error(transparent)]
    Backend(#[from] RealtimeError),
}

/// Takes the lease on a snowflake id pair for `holder`: the pair set when
/// both ids are, else the first free one of those the set id allows (of
/// all 1024 when none is). Refused when the set pair, or every allowed
/// one, is held by another running node. The holder renews it while it
/// runs, more often than `ttl`.
pub async fn claim_node_id(
    leases: &dyn Leases,
    holder: &str,
    worker_id: Option<u8>,
    process_id: Option<u8>,
    ttl: Duration,
) -> Result<(u8, u8), NodeIdError> {
    let pairs: Vec<(u8, u8)> = (0..IDS)
        .filter(|w| worker_id.is_none_or(|set| set == *w))
        .flat_map(|w| {
            (0..IDS)
                .filter(|p| process_id.is_none_or(|set| set == *p))
                .map(move |p| (w, p))
        })
        .collect();
    let names: Vec<String> = pairs.iter().map(|(w, p)| node_id_lease(*w, *p)).collect();
    match leases.acquire_first(&names, holder, ttl).await? {
        Some(at) => Ok(pairs[at]),
        None => match (worker_id, process_id) {
            (Some(worker_id), Some(process_id)) => Err(NodeIdError::Taken {
                worker_id,
                process_id,
            }),
            _ => Err(NodeIdError::NoneFree),
        },
    }
}

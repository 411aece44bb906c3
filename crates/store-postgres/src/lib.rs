//! The PostgreSQL backend, for several nodes sharing one store (sqlx).
//!
//! The schema is in `migrations/`, embedded and applied by
//! [`PgStore::connect`] under the migrator's advisory lock, so nodes that
//! start together apply it once. Each record is kept whole as JSONB (the
//! serde form the embedded store writes, so one encoding serves both)
//! beside the key columns its queries need: the code stays one query per
//! method, and a new record field needs no migration.
//!
//! Messages keep the KKV layout: primary key `(channel_id, bucket,
//! message_id)`, and `channel_buckets` lists each channel's partitions
//! that hold messages, so a page walks only those ([`messages`]).
//!
//! Every conditional operation is one SQL statement (a conditional
//! `UPDATE ... RETURNING`, `INSERT ... ON CONFLICT`), so concurrent
//! callers on any number of nodes are ordered by the row locks PostgreSQL
//! takes, never by a read, a decision here and a write. A poll vote
//! replaces a set of rows: it is one transaction that takes the poll
//! message's row lock first (`polls`), ordered by that lock the same way. Their rules are
//! those of `concord_store::ops`, written in SQL; the conformance suite
//! holds the two to the same answers.

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

mod accounts;
mod channels;
mod codec;
mod commands;
mod guilds;
mod mentions;
mod messages;
mod meta;
mod notifications;
mod nul;
mod polls;
mod purge;
pub mod testing;
mod threads;
mod webhooks;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use concord_store::{BackupStore, CopyProgress, StoreError, StoreResult};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};

use crate::codec::backend;

/// How long a call waits for a connection before it fails: while the
/// database is unreachable, requests (and `/readyz`) fail after this.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// The schema, applied in order at start.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Width of a message partition in milliseconds. Every node of a
    /// cluster must use the same.
    pub bucket_ms: u64,
    /// Connections this node keeps open at most.
    pub max_connections: u32,
}

pub struct PgStore {
    pool: PgPool,
    bucket_ms: u64,
    visits: AtomicU64,
}

impl PgStore {
    /// Connects to the database at `url` and brings its schema up to date.
    pub async fn connect(url: &str, options: PgOptions) -> StoreResult<Self> {
        let connect: PgConnectOptions = url.parse().map_err(backend)?;
        let connect = connect.log_statements(tracing::log::LevelFilter::Trace);
        // Migrations run on a connection of their own: the advisory lock
        // they hold is session-wide and must not stay with a pooled one.
        let mut conn = connect.connect().await.map_err(backend)?;
        // (`run` itself makes the future not `Send`: sqlx's documented way round.)
        MIGRATOR
            .run_direct(None, &mut conn, false)
            .await
            .map_err(backend)?;
        conn.close().await.map_err(backend)?;
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(connect)
            .await
            .map_err(backend)?;
        Ok(PgStore {
            pool,
            bucket_ms: options.bucket_ms,
            visits: AtomicU64::new(0),
        })
    }

    /// Whether the database answers: for readiness checks.
    pub async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(backend)
    }

    /// Closes every connection; the store answers no more.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The record `sql` selects with `keys` bound in order, if any: the
    /// shape of every read of one record by its key columns.
    pub(crate) async fn record<T>(&self, sql: &'static str, keys: &[i64]) -> StoreResult<Option<T>>
    where
        T: serde::de::DeserializeOwned + Send + Unpin,
    {
        let query = keys
            .iter()
            .fold(sqlx::query_scalar(sql), |query, key| query.bind(*key));
        let found: Option<codec::Json<T>> =
            query.fetch_optional(&self.pool).await.map_err(backend)?;
        Ok(found.map(|record| record.0))
    }

    /// The records `sql` selects with `binds` bound in order: the shape of
    /// every page of records by key.
    pub(crate) async fn records<T>(&self, sql: &'static str, binds: &[i64]) -> StoreResult<Vec<T>>
    where
        T: serde::de::DeserializeOwned + Send + Unpin,
    {
        let query = binds
            .iter()
            .fold(sqlx::query_scalar(sql), |query, bind| query.bind(*bind));
        let found: Vec<codec::Json<T>> = query.fetch_all(&self.pool).await.map_err(backend)?;
        Ok(found.into_iter().map(|record| record.0).collect())
    }

    fn visited(&self, buckets: u64) {
        self.visits.fetch_add(buckets, Ordering::Relaxed);
    }
}

impl BackupStore for PgStore {
    /// The database is backed up by PostgreSQL's own tools, which copy it
    /// consistently while it serves every node.
    fn copy_to(&self, _dest: &std::path::Path, _: &dyn Fn(CopyProgress)) -> StoreResult<u64> {
        Err(StoreError::Backend(
            "a PostgreSQL store is backed up with pg_dump (see docs/deployment.md)".into(),
        ))
    }
}

#[cfg(test)]
mod tests;

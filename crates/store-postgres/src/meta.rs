//! Small server-wide values.

use async_trait::async_trait;
use concord_store::{MetaStore, StoreResult, keys};

use crate::codec::backend;
use crate::{PgStore, nul};

#[async_trait]
impl MetaStore for PgStore {
    fn backend_name(&self) -> &'static str {
        "postgres"
    }

    async fn meta(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
            .bind(nul::text(keys::text(key)?))
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)
    }

    async fn put_meta(&self, key: &str, value: &[u8]) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        )
        .bind(nul::text(keys::text(key)?))
        .bind(value)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn put_meta_if_absent(&self, key: &str, value: &[u8]) -> StoreResult<Vec<u8>> {
        // On a conflict the row is locked and returned as it is: whoever
        // inserted first, every caller gets the value that was kept.
        sqlx::query_scalar(
            "INSERT INTO meta (key, value) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET value = meta.value RETURNING value",
        )
        .bind(nul::text(keys::text(key)?))
        .bind(value)
        .fetch_one(&self.pool)
        .await
        .map_err(backend)
    }

    async fn take_meta(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        sqlx::query_scalar("DELETE FROM meta WHERE key = $1 RETURNING value")
            .bind(nul::text(keys::text(key)?))
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)
    }

    async fn meta_keys(&self, prefix: &str, limit: usize) -> StoreResult<Vec<String>> {
        // Byte order is the "C" collation's. A scan of the table: meta
        // holds small, short-lived values, and sweeps list it rarely.
        let keys: Vec<String> = sqlx::query_scalar(
            "SELECT key FROM meta WHERE starts_with(key, $1)
             ORDER BY key COLLATE \"C\" LIMIT $2",
        )
        .bind(nul::text(keys::text(prefix)?))
        .bind(crate::codec::limit(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(keys.iter().map(|k| nul::untext(k).into_owned()).collect())
    }
}

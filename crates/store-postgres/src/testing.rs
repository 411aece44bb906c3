//! For tests of code over a PostgreSQL store: the server they may use
//! (`CONCORD_TEST_POSTGRES`, which `scripts/services/postgres` prints) and
//! a database of their own on it, dropped after them.

use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

use crate::{PgOptions, PgStore};

/// The test server's URL; `None` (after saying so) when it is unset, and
/// a panic instead when `CONCORD_TEST_SERVICES_REQUIRED` is set.
pub fn test_server() -> Option<String> {
    match std::env::var("CONCORD_TEST_POSTGRES") {
        Ok(url) => Some(url),
        Err(_) if std::env::var_os("CONCORD_TEST_SERVICES_REQUIRED").is_some() => {
            panic!("CONCORD_TEST_POSTGRES is unset: start scripts/services/postgres")
        }
        Err(_) => {
            eprintln!(
                "skipped: CONCORD_TEST_POSTGRES is unset (scripts/services/postgres starts a server)"
            );
            None
        }
    }
}

/// A database made for one test on the test server, dropped (with any
/// connection still open to it) when this goes.
pub struct ScratchDatabase {
    server: PgConnectOptions,
    name: String,
    /// The database's URL.
    pub url: String,
}

impl ScratchDatabase {
    /// A new empty database on the server at `server_url`.
    pub async fn create(server_url: &str) -> Result<ScratchDatabase, sqlx::Error> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "concord_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let server: PgConnectOptions = server_url.parse()?;
        let mut admin = server.connect().await?;
        let create = format!("CREATE DATABASE {name}");
        sqlx::query(sqlx::AssertSqlSafe(create))
            .execute(&mut admin)
            .await?;
        admin.close().await?;
        let url = server.clone().database(&name).to_url_lossy().to_string();
        Ok(ScratchDatabase { server, name, url })
    }

    /// A store on this database (the schema applied).
    pub async fn store(&self, bucket_ms: u64) -> Result<PgStore, concord_store::StoreError> {
        let options = PgOptions {
            bucket_ms,
            max_connections: 8,
        };
        PgStore::connect(&self.url, options).await
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // A thread of its own: the test's runtime may be shutting down.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let mut admin = server.connect().await?;
                let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                sqlx::query(sqlx::AssertSqlSafe(drop))
                    .execute(&mut admin)
                    .await?;
                admin.close().await
            })?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        });
        if let Ok(Err(e)) = dropped.join() {
            eprintln!("dropping test database {}: {e}", self.name);
        }
    }
}

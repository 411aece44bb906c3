//! For tests of code over a PostgreSQL store: the server they may use
//! (`CONCORD_TEST_POSTGRES`, which `scripts/services/postgres` prints) and
//! a database of their own on it, dropped after them.

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};

use crate::{MIGRATOR, PgOptions, PgStore};

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
        let server: PgConnectOptions = server_url.parse()?;
        let admin = server.connect().await?;
        Self::create_copy(server, admin, None).await
    }

    /// A new database with the schema applied: a copy of a template made
    /// once per server and schema (applying the migrations to each test's
    /// database would cost more than the rest of its nodes' start).
    pub async fn migrated(server_url: &str) -> Result<ScratchDatabase, sqlx::Error> {
        let server: PgConnectOptions = server_url.parse()?;
        let template = template_name();
        let mut admin = server.connect().await?;
        // One process makes it; the others wait here, then find it made.
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(TEMPLATE_LOCK)
            .execute(&mut admin)
            .await?;
        let made: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(&template)
                .fetch_one(&mut admin)
                .await?;
        if !made {
            make_template(&server, &mut admin, &template).await?;
        }
        Self::create_copy(server, admin, Some(&template)).await
    }

    /// Creates a database of a new name through `admin` (then closed), as
    /// a copy of `template` or of the server's default.
    async fn create_copy(
        server: PgConnectOptions,
        mut admin: PgConnection,
        template: Option<&str>,
    ) -> Result<ScratchDatabase, sqlx::Error> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "concord_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let copy = template
            .map(|t| format!(" TEMPLATE {t}"))
            .unwrap_or_default();
        run(&mut admin, format!("CREATE DATABASE {name}{copy}")).await?;
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
                run(
                    &mut admin,
                    format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                )
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

/// The advisory lock taken while a template is looked for and made.
const TEMPLATE_LOCK: i64 = 0x636f_6e63_6f72_6474;

/// The template's name: it changes with the migrations.
fn template_name() -> String {
    let mut hasher = std::hash::DefaultHasher::new();
    for migration in MIGRATOR.iter() {
        migration.version.hash(&mut hasher);
        migration.checksum.hash(&mut hasher);
    }
    format!("concord_template_{:016x}", hasher.finish())
}

/// Makes the template under another name, then renames it: a template
/// that exists is complete, even if a process died making one.
async fn make_template(
    server: &PgConnectOptions,
    admin: &mut PgConnection,
    template: &str,
) -> Result<(), sqlx::Error> {
    let making = format!("{template}_making");
    run(
        admin,
        format!("DROP DATABASE IF EXISTS {making} WITH (FORCE)"),
    )
    .await?;
    run(admin, format!("CREATE DATABASE {making}")).await?;
    let mut conn = server.clone().database(&making).connect().await?;
    MIGRATOR.run_direct(None, &mut conn, false).await?;
    conn.close().await?;
    run(
        admin,
        format!("ALTER DATABASE {making} RENAME TO {template}"),
    )
    .await
}

/// Runs a statement made of database names this module chose (never
/// client text, which is what makes it safe to build).
async fn run(conn: &mut PgConnection, statement: String) -> Result<(), sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(statement))
        .execute(conn)
        .await?;
    Ok(())
}

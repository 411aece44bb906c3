//! The mega guild's members, written straight into the store of a server
//! this run started, while it is stopped: a hundred thousand members
//! through the HTTP API would be a hundred thousand registrations (each a
//! password hash) and invite joins, minutes of work that measure nothing
//! the phase is about. The store is opened the way `concord serve` opens
//! it, so the records are the ones the server's own writes make; members
//! are plain accounts without a password, as an import would leave them.

use std::path::PathBuf;

use concord_config::{Config, Settings};
use concord_model::Snowflake;
use concord_model::records::{Member, User};
use concord_model::snowflake::{SnowflakeGenerator, now_ms};
use futures_util::{StreamExt, TryStreamExt};

use crate::accounts::Refusal;

/// Writes in flight: concurrent writes share one journal sync.
const IN_FLIGHT: usize = 256;

/// Ids minted here come from a worker and process pair no node of a
/// small cluster leases, so they never meet the server's own.
const WORKER: u8 = 31;
const PROCESS: u8 = 31;

/// Seeded member `n`'s username: a query for a prefix of it finds them.
pub(crate) fn username(n: usize) -> String {
    format!("member{n}")
}

/// Adds members `names` (numbered, see [`username`]) to `guild` in the
/// store of the server whose data directory is `data_dir`; returns their
/// user ids.
pub(crate) async fn members(
    data_dir: PathBuf,
    bucket_ms: u64,
    guild: Snowflake,
    names: std::ops::Range<usize>,
) -> Result<Vec<Snowflake>, Refusal> {
    let mut settings = Settings::defaults();
    settings.data_dir = Some(data_dir);
    settings.message_bucket_ms = Some(bucket_ms);
    let config = Config::from_settings(settings).map_err(|e| format!("seeding: {e}"))?;
    concord_server::datadir::prepare(&config.data_dir).map_err(|e| format!("seeding: {e}"))?;
    let store = concord_server::open_store(&config)
        .await
        .map_err(|e| format!("seeding: opening the store: {e}"))?;
    let generator = SnowflakeGenerator::new(WORKER, PROCESS);
    let joined = now_ms();
    let members: Vec<(usize, Snowflake)> = names.map(|n| (n, generator.next())).collect();
    // Each write a task of its own: a write waiting for its sync may hold
    // its thread (the embedded store's group commit blocked it), and the
    // writes behind it must be committing meanwhile for one sync to cover
    // many.
    futures_util::stream::iter(members.clone())
        .map(|(n, id)| {
            let store = std::sync::Arc::clone(&store);
            tokio::spawn(async move {
                store.create_user(&User::new(id, username(n))).await?;
                store.put_member(&Member::new(guild, id, joined)).await
            })
        })
        .buffer_unordered(IN_FLIGHT)
        .map(|written| {
            written
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())
        })
        .try_collect::<()>()
        .await
        .map_err(|e| format!("seeding: writing a member: {e}"))?;
    Ok(members.into_iter().map(|(_, id)| id).collect())
}

//! Online backups: a copy of everything a server needs (store, search
//! index, config file) written while it keeps serving.
//!
//! The index is copied first, the store second: the restored index then
//! covers no more than the restored store, and the search feed's catch-up
//! from the index watermark fills the gap on the restored server's start.
//! The manifest is written last, so a backup without one is incomplete.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use concord_store::CopyProgress;
use serde::{Deserialize, Serialize};

use crate::{FormErrors, Service, ServiceError, ServiceResult};

/// Names inside a backup, which is laid out as a data directory.
pub const MANIFEST: &str = "backup.json";
pub const STORE_DIR: &str = "store";
pub const SEARCH_DIR: &str = "search";
pub const ATTACHMENTS_DIR: &str = "attachments";
pub const CONFIG_FILE: &str = "concord.toml";

/// What a finished backup holds; written as its manifest.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BackupSummary {
    pub format: u32,
    pub concord_version: String,
    pub created_at_ms: u64,
    pub store_records: u64,
    /// Bytes of search index copied; `None` with search off.
    pub search_bytes: Option<u64>,
    #[serde(default)]
    pub attachment_files: u64,
    pub config_file: bool,
    pub seconds: f64,
}

/// Reported as a backup goes.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum BackupProgress {
    Search,
    Store { copied: u64, estimated: u64 },
    Attachments,
    Config,
}

fn refused(message: &str) -> ServiceError {
    ServiceError::InvalidForm(FormErrors::single(
        "destination",
        "BACKUP_DESTINATION_INVALID",
        message,
    ))
}

fn failed(what: &str, e: impl std::fmt::Display) -> ServiceError {
    ServiceError::Internal(format!("backup: {what}: {e}"))
}

/// An absolute path to a missing or empty directory.
pub fn check_destination(dest: &Path) -> ServiceResult<()> {
    if !dest.is_absolute() {
        return Err(refused("The destination must be an absolute path."));
    }
    match std::fs::read_dir(dest).map(|mut entries| entries.next().is_none()) {
        Ok(true) => Ok(()),
        Ok(false) => Err(refused("The destination exists and is not empty.")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dest).map_err(|e| refused(&format!("Cannot create it: {e}.")))
        }
        Err(e) => Err(refused(&format!("Cannot use it: {e}."))),
    }
}

impl Service {
    /// Writes a backup into `dest` (absolute; missing or empty), with
    /// `config_file` copied in when the server runs with one.
    pub async fn backup(
        &self,
        dest: PathBuf,
        config_file: Option<PathBuf>,
        progress: Arc<dyn Fn(BackupProgress) + Send + Sync>,
    ) -> ServiceResult<BackupSummary> {
        check_destination(&dest)?;
        let started = Instant::now();
        let search_bytes = match self.search_index() {
            Some(index) => {
                progress(BackupProgress::Search);
                let to = dest.join(SEARCH_DIR);
                let copied = tokio::task::spawn_blocking(move || index.copy_to(&to)).await;
                Some(
                    copied
                        .map_err(|e| failed("search", e))?
                        .map_err(|e| failed("search", e))?,
                )
            }
            None => None,
        };
        // Uploads and deletions of files wait while the store and the blobs
        // are copied, so every attachment in the copy has its blob.
        let blobs_held = match &self.attachments.blobs {
            Some(blobs) => Some(blobs.hold().await),
            None => None,
        };
        let store = Arc::clone(&self.store);
        let (to, report) = (dest.join(STORE_DIR), Arc::clone(&progress));
        let copied = tokio::task::spawn_blocking(move || {
            store.copy_to(&to, &|p: CopyProgress| {
                report(BackupProgress::Store {
                    copied: p.copied,
                    estimated: p.estimated,
                })
            })
        })
        .await;
        let store_records = copied.map_err(|e| failed("store", e))??;
        let attachment_files = match &self.attachments.blobs {
            Some(blobs) => {
                progress(BackupProgress::Attachments);
                let to = dest.join(ATTACHMENTS_DIR);
                tokio::task::block_in_place(|| blobs.copy_to(&to))
                    .map_err(|e| failed("attachments", e))?
            }
            None => 0,
        };
        drop(blobs_held);
        if let Some(file) = &config_file {
            progress(BackupProgress::Config);
            std::fs::copy(file, dest.join(CONFIG_FILE)).map_err(|e| failed("config file", e))?;
        }
        let summary = BackupSummary {
            format: 1,
            concord_version: env!("CARGO_PKG_VERSION").into(),
            created_at_ms: concord_model::snowflake::now_ms(),
            store_records,
            search_bytes,
            attachment_files,
            config_file: config_file.is_some(),
            seconds: started.elapsed().as_secs_f64(),
        };
        let manifest = serde_json::to_vec_pretty(&summary).map_err(|e| failed("manifest", e))?;
        crate::attachments::blobs::write_durably(&dest.join(MANIFEST), &manifest)
            .map_err(|e| failed("manifest", e))?;
        Ok(summary)
    }
}

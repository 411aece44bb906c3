//! Files sent with messages. Their bytes are blobs in the data directory,
//! named by SHA-256 so identical files are stored once, written and synced
//! before the message that carries them is acknowledged, and removed when
//! the last attachment referring to them is deleted.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use concord_model::records::{Attachment, Message};
use concord_model::{Snowflake, codes};
use sha2::{Digest, Sha256};

use crate::users::blocking;
use crate::{Service, ServiceError, ServiceResult};

/// A file as a client uploaded it.
#[derive(Debug, Clone)]
pub struct Upload {
    pub filename: String,
    pub content_type: Option<String>,
    pub bytes: Bytes,
}

/// The blob directory. Adding a reference (write, then record) and
/// dropping one (unrecord, then maybe delete) take turns, so a blob is
/// never deleted under a new attachment that shares it.
pub struct Blobs {
    dir: PathBuf,
    turns: tokio::sync::Mutex<()>,
}

fn io(e: std::io::Error) -> ServiceError {
    ServiceError::Internal(format!("attachment storage: {e}"))
}

impl Blobs {
    pub fn new(dir: PathBuf) -> Blobs {
        Blobs {
            dir,
            turns: tokio::sync::Mutex::new(()),
        }
    }

    /// `ab/abcdef...`: two hex digits of fan-out keep directories small.
    fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(&sha256[..2]).join(sha256)
    }

    /// Holds off every upload and every freeing while a backup copies
    /// the store and the blobs, so that the two agree.
    pub(crate) async fn hold(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.turns.lock().await
    }

    /// Puts every blob into `dest` (hard links where the file system
    /// allows: blobs never change); returns how many.
    pub(crate) fn copy_to(&self, dest: &Path) -> std::io::Result<u64> {
        let mut copied = 0;
        for (name, path) in blob_files(&self.dir)? {
            let fan = path.parent().and_then(Path::file_name).unwrap_or_default();
            let target = dest.join(fan).join(&name);
            std::fs::create_dir_all(dest.join(fan))?;
            if std::fs::hard_link(&path, &target).is_err() {
                std::fs::copy(&path, &target)?;
            }
            copied += 1;
        }
        Ok(copied)
    }

    /// The bytes of a blob, if it exists.
    pub async fn read(&self, sha256: &str) -> ServiceResult<Option<Vec<u8>>> {
        if sha256.len() < 2 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        match tokio::fs::read(self.path(sha256)).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        }
    }
}

/// Writes the file through a temporary name and syncs it and its
/// directory, so that once this returns the file survives a crash whole.
pub(crate) fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let temporary = path.with_extension("partial");
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)?;
    std::fs::File::open(dir)?.sync_all()
}

/// Keeps what a file name may safely carry into a URL path.
fn clean_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .map(|c| match c {
            c if c.is_ascii_alphanumeric() || "._-".contains(c) => c,
            _ => '_',
        })
        .take(100)
        .collect();
    match cleaned.trim_matches('.') {
        "" => "unknown".into(),
        _ => cleaned,
    }
}

impl Service {
    fn blobs(&self) -> ServiceResult<&Blobs> {
        self.blobs
            .as_ref()
            .ok_or_else(|| ServiceError::Internal("no attachment storage configured".into()))
    }

    /// Stores the files and records them as attachments of a message
    /// about to be created in `channel_id`.
    pub(crate) async fn store_uploads(
        &self,
        channel_id: Snowflake,
        uploads: Vec<Upload>,
    ) -> ServiceResult<Vec<Attachment>> {
        if uploads.is_empty() {
            return Ok(Vec::new());
        }
        let blobs = self.blobs()?;
        let mut attachments = Vec::new();
        let _turn = blobs.turns.lock().await;
        for upload in uploads {
            let sha256 = hex(&Sha256::digest(&upload.bytes));
            let path = blobs.path(&sha256);
            let bytes = upload.bytes.clone();
            // Blobs never change: one already there is this content.
            if !path.exists() {
                blocking(move || write_durably(&path, &bytes))
                    .await?
                    .map_err(io)?;
            }
            let size = imagesize::blob_size(&upload.bytes).ok();
            attachments.push(Attachment {
                id: self.next_id(),
                channel_id,
                filename: clean_filename(&upload.filename),
                size: upload.bytes.len() as u64,
                content_type: upload.content_type.filter(|t| !t.is_empty()),
                width: size.map(|s| s.width as u32),
                height: size.map(|s| s.height as u32),
                sha256,
            });
        }
        self.store.put_attachments(&attachments).await?;
        Ok(attachments)
    }

    /// Forgets the attachments of deleted messages and deletes the blobs
    /// no other attachment refers to.
    pub(crate) async fn release_attachments(&self, messages: &[Message]) -> ServiceResult<()> {
        let ids: Vec<Snowflake> = messages
            .iter()
            .flat_map(|m| m.attachments.iter().map(|a| a.id))
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        let blobs = self.blobs()?;
        let _turn = blobs.turns.lock().await;
        for sha256 in self.store.delete_attachments(&ids).await? {
            match tokio::fs::remove_file(blobs.path(&sha256)).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
                _ => {}
            }
        }
        Ok(())
    }

    /// Deletes every blob no attachment refers to: after a channel or a
    /// guild went with all its messages, and whatever a crash left behind.
    pub(crate) async fn sweep_blobs(&self) -> ServiceResult<()> {
        let Some(blobs) = &self.blobs else {
            return Ok(());
        };
        let _turn = blobs.turns.lock().await;
        let dir = blobs.dir.clone();
        let files = blocking(move || blob_files(&dir)).await?.map_err(io)?;
        for (name, path) in files {
            if !self.store.blob_referenced(&name).await? {
                tokio::fs::remove_file(&path).await.map_err(io)?;
            }
        }
        Ok(())
    }

    /// An attachment's record and bytes, by the parts of its URL.
    pub async fn attachment_file(
        &self,
        channel_id: Snowflake,
        id: Snowflake,
        filename: &str,
    ) -> ServiceResult<(Attachment, Vec<u8>)> {
        let unknown = ServiceError::NotFound(codes::UNKNOWN_ATTACHMENT);
        let attachment = match self.store.attachment(id).await? {
            Some(a) if a.channel_id == channel_id && a.filename == filename => a,
            _ => return Err(unknown),
        };
        let bytes = self.blobs()?.read(&attachment.sha256).await?;
        Ok((attachment, bytes.ok_or(unknown)?))
    }
}

/// Every file in the blob directory, by name (partial writes included,
/// under their own name, which no attachment refers to).
fn blob_files(dir: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut files = Vec::new();
    let fans = match std::fs::read_dir(dir) {
        Ok(fans) => fans,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(files),
        Err(e) => return Err(e),
    };
    for fan in fans {
        for blob in std::fs::read_dir(fan?.path())? {
            let blob = blob?;
            files.push((blob.file_name().to_string_lossy().into_owned(), blob.path()));
        }
    }
    Ok(files)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

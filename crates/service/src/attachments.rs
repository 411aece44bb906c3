//! Files sent with messages. Their bytes are blobs in the data directory,
//! named by SHA-256 so identical files are stored once, written and synced
//! before the message that carries them is acknowledged, and removed when
//! the last attachment referring to them is deleted.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use concord_model::records::{Attachment, Message};
use concord_model::{Snowflake, codes};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::signed_urls::UrlSignature;
use crate::users::blocking;
use crate::{Service, ServiceError, ServiceResult};

/// Where files being received wait, beside the blobs: each in a
/// `*.partial` file of its own, which the server removes at start if a
/// crash left one behind.
const RECEIVING_DIR: &str = "tmp";

/// A file as a client uploaded it. Its bytes wait on disk until the
/// message carrying it is accepted; dropped before that (the message was
/// refused, the request failed), the file is removed.
#[derive(Debug)]
pub struct Upload {
    pub filename: String,
    pub content_type: Option<String>,
    file: Received,
}

impl Upload {
    pub fn size(&self) -> u64 {
        self.file.size
    }
}

/// A received file, synced, waiting under a temporary name.
#[derive(Debug)]
struct Received {
    /// `None` once moved into the blobs.
    path: Option<PathBuf>,
    size: u64,
    sha256: String,
    /// Width and height, if it is an image.
    dimensions: Option<(u32, u32)>,
    _turn: UploadTurn,
}

impl Drop for Received {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A request's turn to receive files; requests beyond
/// `upload_concurrency` wait for one. Every file of the request holds it
/// until the request is done with them.
#[derive(Debug, Clone)]
pub struct UploadTurn {
    _permit: Arc<OwnedSemaphorePermit>,
}

/// A file being received: written to disk and hashed as its bytes arrive,
/// so a request's files never sit in memory.
pub struct UploadWriter {
    file: tokio::fs::File,
    hasher: Sha256,
    filename: String,
    content_type: Option<String>,
    /// Owns the temporary file: dropping the writer removes it.
    received: Received,
}

impl UploadWriter {
    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.received.size
    }

    pub async fn write(&mut self, chunk: &[u8]) -> ServiceResult<()> {
        self.file.write_all(chunk).await.map_err(io)?;
        self.hasher.update(chunk);
        self.received.size += chunk.len() as u64;
        Ok(())
    }

    /// The whole file, synced (so moving it into the blobs later makes it
    /// durable), with its hash and, for an image, its size from its header.
    pub async fn finish(mut self) -> ServiceResult<Upload> {
        self.file.flush().await.map_err(io)?;
        self.file.sync_all().await.map_err(io)?;
        drop(self.file);
        let mut received = self.received;
        received.sha256 = hex(&self.hasher.finalize());
        let path = received.path.clone().unwrap_or_default();
        received.dimensions = blocking(move || imagesize::size(path).ok())
            .await?
            .map(|s| (s.width as u32, s.height as u32));
        Ok(Upload {
            filename: self.filename,
            content_type: self.content_type,
            file: received,
        })
    }
}

/// The blob directory. Adding a reference (write, then record) and
/// dropping one (unrecord, then maybe delete) take turns, so a blob is
/// never deleted under a new attachment that shares it.
pub struct Blobs {
    dir: PathBuf,
    turns: tokio::sync::Mutex<()>,
    /// Requests receiving files at once.
    receiving: Arc<Semaphore>,
}

fn io(e: std::io::Error) -> ServiceError {
    ServiceError::Internal(format!("attachment storage: {e}"))
}

impl Blobs {
    /// Blobs in `dir`; at most `concurrent_uploads` requests receive files at once.
    pub fn new(dir: PathBuf, concurrent_uploads: usize) -> Blobs {
        Blobs {
            dir,
            turns: tokio::sync::Mutex::new(()),
            receiving: Arc::new(Semaphore::new(concurrent_uploads.max(1))),
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
            create_private_dir(&dest.join(fan))?;
            if std::fs::hard_link(&path, &target).is_err() {
                std::fs::copy(&path, &target)?;
            }
            copied += 1;
        }
        Ok(copied)
    }

    /// A blob opened for reading, if it exists: served from disk as it is
    /// read, never whole in memory.
    pub async fn open(&self, sha256: &str) -> ServiceResult<Option<tokio::fs::File>> {
        if sha256.len() < 2 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        match tokio::fs::File::open(self.path(sha256)).await {
            Ok(file) => Ok(Some(file)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        }
    }
}

/// A new, empty, private file in `dir` to receive into.
fn receiving_file(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    create_private_dir(dir)?;
    let name = hex(&rand::random::<[u8; 16]>());
    let path = dir.join(format!("{name}.partial"));
    let file = private_file(&path)?;
    Ok((path, file))
}

/// Creates `dir` and its missing parents, readable by this user only.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Creates a new file readable by this user only.
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Moves a synced file to `path` and syncs its directory, so that once
/// this returns the file is there after a crash.
fn place(from: &Path, path: &Path) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let new_dir = !dir.exists();
    create_private_dir(dir)?;
    std::fs::rename(from, path)?;
    std::fs::File::open(dir)?.sync_all()?;
    // A directory made just now must itself be in its parent after a crash.
    match dir.parent() {
        Some(parent) if new_dir => std::fs::File::open(parent)?.sync_all(),
        _ => Ok(()),
    }
}

/// Writes the file through a temporary name and syncs it and its
/// directory, so that once this returns the file survives a crash whole.
pub(crate) fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let temporary = path.with_extension("partial");
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    let _ = std::fs::remove_file(&temporary);
    let mut file = private_file(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    place(&temporary, path)
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

    /// Waits for a turn to receive files (see [`UploadTurn`]).
    pub async fn upload_turn(&self) -> ServiceResult<UploadTurn> {
        let receiving = Arc::clone(&self.blobs()?.receiving);
        let permit = receiving
            .acquire_owned()
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        Ok(UploadTurn {
            _permit: Arc::new(permit),
        })
    }

    /// Starts receiving a file into a temporary file of its own.
    pub async fn receive_upload(
        &self,
        turn: &UploadTurn,
        filename: String,
        content_type: Option<String>,
    ) -> ServiceResult<UploadWriter> {
        let dir = self.blobs()?.dir.join(RECEIVING_DIR);
        let (path, file) = blocking(move || receiving_file(&dir)).await?.map_err(io)?;
        Ok(UploadWriter {
            file: tokio::fs::File::from_std(file),
            hasher: Sha256::new(),
            filename,
            content_type,
            received: Received {
                path: Some(path),
                size: 0,
                sha256: String::new(),
                dimensions: None,
                _turn: turn.clone(),
            },
        })
    }

    /// Moves the received files into the blobs and records them as
    /// attachments of a message about to be created in `channel_id`.
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
        for mut upload in uploads {
            let received = &mut upload.file;
            let path = blobs.path(&received.sha256);
            // Blobs never change: one already there is this content, and
            // the received copy goes when `upload` is dropped.
            if !path.exists()
                && let Some(from) = received.path.clone()
            {
                blocking(move || place(&from, &path)).await?.map_err(io)?;
                received.path = None;
            }
            attachments.push(Attachment {
                id: self.next_id(),
                channel_id,
                filename: clean_filename(&upload.filename),
                size: received.size,
                content_type: upload.content_type.take().filter(|t| !t.is_empty()),
                width: received.dimensions.map(|d| d.0),
                height: received.dimensions.map(|d| d.1),
                sha256: received.sha256.clone(),
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

    /// An attachment's URL for a reader, signed now (see [`crate::signed_urls`]).
    pub(crate) fn attachment_url(&self, attachment: &Attachment) -> String {
        let now_s = concord_model::snowflake::now_ms() / 1000;
        let path = self.urls.sign(&attachment.path(), now_s);
        format!("{}{path}", self.config.public_base)
    }

    /// An attachment's record and open file, by the parts of its URL, if the
    /// URL's signature is valid and unexpired (10049 otherwise, as for a
    /// file that does not exist: a URL is either good or it is not), with
    /// the seconds it may still be served for.
    pub async fn attachment_file(
        &self,
        channel_id: Snowflake,
        id: Snowflake,
        filename: &str,
        signature: UrlSignature<'_>,
    ) -> ServiceResult<AttachmentFile> {
        let unknown = ServiceError::NotFound(codes::UNKNOWN_ATTACHMENT);
        let path = format!("/attachments/{channel_id}/{id}/{filename}");
        let now_s = concord_model::snowflake::now_ms() / 1000;
        let Some(valid_for_s) = self.urls.check(&path, signature, now_s) else {
            return Err(unknown);
        };
        let attachment = match self.store.attachment(id).await? {
            Some(a) if a.channel_id == channel_id && a.filename == filename => a,
            _ => return Err(unknown),
        };
        let file = self.blobs()?.open(&attachment.sha256).await?;
        Ok(AttachmentFile {
            attachment,
            file: file.ok_or(unknown)?,
            valid_for_s,
        })
    }
}

/// A file to serve.
pub struct AttachmentFile {
    pub attachment: Attachment,
    pub file: tokio::fs::File,
    /// How long the URL it was asked for stays valid.
    pub valid_for_s: u64,
}

/// Every file in the blob directory, by name (partial writes included,
/// under their own name, which no attachment refers to), but not the
/// files being received, which belong to requests still running.
fn blob_files(dir: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut files = Vec::new();
    let fans = match std::fs::read_dir(dir) {
        Ok(fans) => fans,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(files),
        Err(e) => return Err(e),
    };
    for fan in fans {
        let fan = fan?;
        if fan.file_name() == RECEIVING_DIR || !fan.file_type()?.is_dir() {
            continue;
        }
        for blob in std::fs::read_dir(fan.path())? {
            let blob = blob?;
            files.push((blob.file_name().to_string_lossy().into_owned(), blob.path()));
        }
    }
    Ok(files)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

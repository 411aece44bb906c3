//! Attachments: files sent with messages. Their bytes are blobs (see
//! [`blobs`], the blob seam), named by SHA-256 so identical files are
//! stored once, written and synced before the message that carries them
//! is acknowledged, and removed when the last attachment referring to them
//! is deleted; they are served only at URLs the server signed
//! ([`signed_urls`]).
//!
//! Depends on the blob seam and the store's attachment references; on no
//! other component. Messages depend on it for their files, guilds and
//! threads for sweeping what a deletion left unreferenced.

pub mod blobs;
pub mod form;
pub mod images;
pub mod metadata;
pub mod signed_urls;
pub mod sized;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use concord_model::records::{Attachment, Message, MessagePatch};
use concord_model::{Snowflake, codes};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{Service, ServiceError, ServiceResult};
use blobs::{BlobStore, hex, staging_file};
use signed_urls::UrlSignature;

/// A file as a client uploaded it. Its bytes wait on disk until the
/// message carrying it is accepted; dropped before that (the message was
/// refused, the request failed), the file is removed.
#[derive(Debug)]
pub struct Upload {
    pub filename: String,
    pub content_type: Option<String>,
    /// Its number in the request: `n` of the `files[n]` field it came in
    /// (else its place among the files), which `attachments[].id` names.
    pub index: u64,
    /// Its alt text, from the request's `attachments` (see [`metadata`]).
    pub description: Option<String>,
    file: Received,
}

impl Upload {
    pub fn size(&self) -> u64 {
        self.file.size
    }
}

/// A received file, synced, waiting under a temporary name, which goes
/// with it (the blob it was put into keeps its bytes).
#[derive(Debug)]
struct Received {
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
            index: 0,
            description: None,
            file: received,
        })
    }
}

/// What attachments keep on each node.
pub(crate) struct State {
    /// Signs attachment URLs, with a key derived from the token secret.
    pub(crate) urls: signed_urls::UrlSigner,
    /// Where attachments' bytes live; `None` refuses uploads.
    pub(crate) blobs: Option<Blobs>,
    /// Avatars and icons made at the sizes asked.
    pub(crate) sized: sized::Resizer,
}

/// A node's way to the blobs.
pub struct Blobs {
    store: Arc<dyn BlobStore>,
    /// Requests receiving files at once.
    receiving: Arc<Semaphore>,
    /// Held alone by an online backup, so that every attachment in the
    /// copy has its blob; uploads and removals share it and otherwise go
    /// on side by side. Per node: online backups copy the embedded store,
    /// which one node serves.
    backup: tokio::sync::RwLock<()>,
}

fn io(e: std::io::Error) -> ServiceError {
    ServiceError::Internal(format!("attachment storage: {e}"))
}

impl Blobs {
    /// Blobs in `store`; at most `concurrent_uploads` requests receive files at once.
    pub fn new(store: Arc<dyn BlobStore>, concurrent_uploads: usize) -> Blobs {
        Blobs {
            store,
            receiving: Arc::new(Semaphore::new(concurrent_uploads.max(1))),
            backup: tokio::sync::RwLock::new(()),
        }
    }

    /// Holds off every upload and every removal while a backup copies
    /// the store and the blobs, so that the two agree.
    pub(crate) async fn hold(&self) -> tokio::sync::RwLockWriteGuard<'_, ()> {
        self.backup.write().await
    }

    pub(crate) fn copy_to(&self, dest: &Path) -> std::io::Result<u64> {
        self.store.copy_to(dest)
    }
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

pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> ServiceResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))
}

impl Service {
    fn blobs(&self) -> ServiceResult<&Blobs> {
        self.attachments
            .blobs
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
        let dir = self.blobs()?.store.staging_dir();
        let (path, file) = blocking(move || staging_file(&dir)).await?.map_err(io)?;
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

    /// Puts the received files into the blobs and records them as
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
        let _shared = blobs.backup.read().await;
        self.put_uploads(blobs, &uploads).await?;
        let attachments: Vec<Attachment> = uploads
            .iter()
            .map(|upload| Attachment {
                id: self.next_id(),
                channel_id,
                filename: clean_filename(&upload.filename),
                size: upload.file.size,
                content_type: upload.content_type.clone().filter(|t| !t.is_empty()),
                width: upload.file.dimensions.map(|d| d.0),
                height: upload.file.dimensions.map(|d| d.1),
                sha256: upload.file.sha256.clone(),
                description: upload.description.clone(),
            })
            .collect();
        self.store.put_attachments(&attachments).await?;
        // A blob shared with an attachment deleted meanwhile may have been
        // discarded before these references were recorded: put it back.
        // From now on, any removal sees the references and keeps it.
        self.put_uploads(blobs, &uploads).await?;
        Ok(attachments)
    }

    /// Puts each upload's file into its blob, unless the blob is there.
    async fn put_uploads(&self, blobs: &Blobs, uploads: &[Upload]) -> ServiceResult<()> {
        for upload in uploads {
            let received = &upload.file;
            if blobs.store.exists(&received.sha256).await.map_err(io)? {
                continue;
            }
            let staged = received
                .path
                .as_deref()
                .ok_or_else(|| io(std::io::ErrorKind::NotFound.into()))?;
            blobs
                .store
                .put(&received.sha256, staged)
                .await
                .map_err(io)?;
        }
        Ok(())
    }

    /// Forgets the attachments of deleted messages and deletes the blobs
    /// no other attachment refers to.
    pub(crate) async fn release_attachments(&self, messages: &[Message]) -> ServiceResult<()> {
        let ids: Vec<Snowflake> = messages
            .iter()
            .flat_map(|m| m.attachments.iter().map(|a| a.id))
            .collect();
        self.release_attachment_ids(&ids).await
    }

    /// Releases the files an edit (`patch`, kept) took off `message`.
    pub(crate) async fn release_dropped(
        &self,
        message: &Message,
        patch: &MessagePatch,
    ) -> ServiceResult<()> {
        let Some(files) = &patch.attachments else {
            return Ok(());
        };
        let dropped: Vec<Snowflake> = (message.attachments.iter())
            .filter(|a| !files.iter().any(|f| f.id == a.id))
            .map(|a| a.id)
            .collect();
        self.release_attachment_ids(&dropped).await
    }

    async fn release_attachment_ids(&self, ids: &[Snowflake]) -> ServiceResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let blobs = self.blobs()?;
        let _shared = blobs.backup.read().await;
        for sha256 in self.store.delete_attachments(ids).await? {
            self.drop_unreferenced(blobs, &sha256).await?;
        }
        Ok(())
    }

    /// Deletes every blob no attachment refers to: after a channel or a
    /// guild went with all its messages, and whatever a crash left behind.
    pub(crate) async fn sweep_blobs(&self) -> ServiceResult<()> {
        let Some(blobs) = &self.attachments.blobs else {
            return Ok(());
        };
        let _shared = blobs.backup.read().await;
        for withdrawn in blobs.store.withdrawn().await.map_err(io)? {
            match self.store.blob_referenced(&withdrawn.sha256).await? {
                true => blobs.store.restore(withdrawn).await.map_err(io)?,
                false => blobs.store.discard(withdrawn).await.map_err(io)?,
            }
        }
        for name in blobs.store.list().await.map_err(io)? {
            self.drop_unreferenced(blobs, &name).await?;
        }
        Ok(())
    }

    /// Discards a blob nothing refers to. It is withdrawn first and the
    /// references counted again, so an attachment recorded meanwhile (on
    /// any node) gets it back rather than losing it.
    async fn drop_unreferenced(&self, blobs: &Blobs, name: &str) -> ServiceResult<()> {
        if self.store.blob_referenced(name).await? {
            return Ok(());
        }
        let Some(withdrawn) = blobs.store.withdraw(name).await.map_err(io)? else {
            return Ok(());
        };
        match self.store.blob_referenced(name).await {
            Ok(false) => blobs.store.discard(withdrawn).await.map_err(io),
            Ok(true) => blobs.store.restore(withdrawn).await.map_err(io),
            Err(e) => {
                blobs.store.restore(withdrawn).await.map_err(io)?;
                Err(e.into())
            }
        }
    }

    /// An attachment's URL for a reader, signed now (see [`signed_urls`]).
    pub(crate) fn attachment_url(&self, attachment: &Attachment) -> String {
        let now_s = concord_model::snowflake::now_ms() / 1000;
        let path = self.attachments.urls.sign(&attachment.path(), now_s);
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
        let Some(valid_for_s) = self.attachments.urls.check(&path, signature, now_s) else {
            return Err(unknown);
        };
        let attachment = match self.store.attachment(id).await? {
            Some(a) if a.channel_id == channel_id && a.filename == filename => a,
            _ => return Err(unknown),
        };
        let file = self
            .blobs()?
            .store
            .open(&attachment.sha256)
            .await
            .map_err(io)?;
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

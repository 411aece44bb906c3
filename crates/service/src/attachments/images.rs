//! Uploaded images: avatars (users', webhooks') and icons (guilds'), sent
//! as data URIs and checked as Discord checks them, their bytes kept as
//! blobs exactly as attachments' are (identical bytes are one blob), and
//! named to clients by a hash of their content, which the CDN-style paths
//! (`/avatars/{id}/{hash}.png`, `/icons/{id}/{hash}.png`) serve.
//!
//! The record that shows an image names its blob (`Images`), and the
//! store counts the blob as referred to while a stored record names it.
//! So the steps are those of an attachment: the blob is put, the record
//! stored, the blob put again if a sweep took it meanwhile; the image it
//! replaced is then released, kept if anything else still shows or
//! carries the same bytes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use concord_model::{Snowflake, codes};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::RwLockReadGuard;

use super::blobs::{hex, staging_file};
use super::sized::{Served, SizeAsked};
use super::{Blobs, blocking, io};
use crate::{FormErrors, Service, ServiceError, ServiceResult};

/// Largest avatar or icon, in bytes, as on Discord.
pub const IMAGE_MAX_BYTES: usize = 10 * 1024 * 1024;

/// An image decoded from a data URI, of a type its bytes show.
#[derive(Debug)]
pub struct DecodedImage {
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// The image of a data URI (`data:image/png;base64,...`: PNG, JPEG, GIF or
/// WebP, told by its bytes) of at most `max` bytes; errors under `field`.
pub fn decode_image(
    field: &str,
    uri: &str,
    max: usize,
    errors: &mut FormErrors,
) -> Option<DecodedImage> {
    let decoded = uri
        .strip_prefix("data:")
        .and_then(|rest| rest.split_once(";base64,"))
        .filter(|(kind, _)| IMAGE_TYPES.contains(kind))
        .and_then(|(_, data)| B64.decode(data).ok());
    match decoded {
        Some(bytes) if bytes.len() > max => {
            let kb = max / 1024;
            errors.add(
                field,
                "BINARY_TYPE_MAX_SIZE",
                format!("File cannot be larger than {kb}.0 kb."),
            );
            None
        }
        Some(bytes) if IMAGE_TYPES.contains(&image_type(&bytes)) => Some(DecodedImage {
            content_type: image_type(&bytes),
            bytes,
        }),
        _ => {
            errors.add(field, "IMAGE_INVALID", "Invalid image data");
            None
        }
    }
}

const IMAGE_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/// The content type of image bytes, from their signature.
pub fn image_type(bytes: &[u8]) -> &'static str {
    match bytes {
        [0x89, b'P', b'N', b'G', ..] => "image/png",
        [0xff, 0xd8, 0xff, ..] => "image/jpeg",
        [b'G', b'I', b'F', b'8', ..] => "image/gif",
        [
            b'R',
            b'I',
            b'F',
            b'F',
            _,
            _,
            _,
            _,
            b'W',
            b'E',
            b'B',
            b'P',
            ..,
        ] => "image/webp",
        _ => "application/octet-stream",
    }
}

/// What a request does to an image: sets one or removes it.
#[derive(Debug)]
pub enum ImageEdit {
    Set(DecodedImage),
    Remove,
}

/// The edit a body's nullable image field asks for (`None`: left alone);
/// bad data is an error under `field`.
pub fn image_edit(
    field: &str,
    value: Option<Option<String>>,
    errors: &mut FormErrors,
) -> Option<ImageEdit> {
    match value? {
        None => Some(ImageEdit::Remove),
        Some(uri) => decode_image(field, &uri, IMAGE_MAX_BYTES, errors).map(ImageEdit::Set),
    }
}

/// An image edit whose new bytes, if any, are in their blob, for a record
/// to name. Holds off backups (as an upload does) until [settled].
///
/// [settled]: Service::settle_image
pub struct StagedImage<'a> {
    new: Option<Kept>,
    _shared: Option<RwLockReadGuard<'a, ()>>,
}

/// A new image's blob, and its bytes in a staged file (removed when this
/// goes) to put again if the blob went before the record named it.
struct Kept {
    hash: String,
    blob: String,
    staged: Staged,
}

struct Staged(std::path::PathBuf);

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl StagedImage<'_> {
    /// Sets a record's image hash and blob to this edit's.
    pub fn apply(&self, hash: &mut Option<String>, blob: &mut Option<String>) {
        (*hash, *blob) = (self.hash(), self.blob());
    }

    /// The hash clients see (`a_` first for a GIF, as Discord marks
    /// animated images), or none once removed.
    pub fn hash(&self) -> Option<String> {
        self.new.as_ref().map(|kept| kept.hash.clone())
    }

    /// The blob a record names.
    pub fn blob(&self) -> Option<String> {
        self.new.as_ref().map(|kept| kept.blob.clone())
    }
}

/// Clients' name for an image: the first half of its SHA-256 (the 32 hex
/// digits Discord's hashes have), `a_` first when it is a GIF.
fn client_hash(sha256: &str, content_type: &str) -> String {
    let half = &sha256[..32.min(sha256.len())];
    match content_type {
        "image/gif" => format!("a_{half}"),
        _ => half.to_owned(),
    }
}

/// An image to serve.
pub struct ImageFile {
    pub content_type: &'static str,
    pub size: u64,
    pub file: tokio::fs::File,
}

impl Service {
    /// Puts a new image's bytes into their blob (nothing for a removal,
    /// or when no edit was asked for).
    pub async fn stage_image(
        &self,
        edit: Option<ImageEdit>,
    ) -> ServiceResult<Option<StagedImage<'_>>> {
        let image = match edit {
            None => return Ok(None),
            Some(ImageEdit::Remove) => {
                return Ok(Some(StagedImage {
                    new: None,
                    _shared: None,
                }));
            }
            Some(ImageEdit::Set(image)) => image,
        };
        let blobs = self.blobs()?;
        let shared = blobs.backup.read().await;
        let dir = blobs.store.staging_dir();
        let (blob, staged) = blocking(move || {
            use std::io::Write;
            let (path, mut file) = staging_file(&dir)?;
            let staged = Staged(path);
            file.write_all(&image.bytes)?;
            file.sync_all()?;
            Ok::<_, std::io::Error>((hex(&Sha256::digest(&image.bytes)), staged))
        })
        .await?
        .map_err(io)?;
        let kept = Kept {
            hash: client_hash(&blob, image.content_type),
            blob,
            staged,
        };
        put_unless_there(blobs, &kept).await?;
        Ok(Some(StagedImage {
            new: Some(kept),
            _shared: Some(shared),
        }))
    }

    /// After the record naming `staged`'s image was stored in place of one
    /// that named `old_blob`: puts the new blob back if a sweep took it
    /// before the record was stored, and releases the old one unless
    /// something else refers to it.
    pub async fn settle_image(
        &self,
        staged: Option<StagedImage<'_>>,
        old_blob: Option<&str>,
    ) -> ServiceResult<()> {
        let (Some(staged), Some(blobs)) = (staged, &self.attachments.blobs) else {
            return Ok(());
        };
        let _shared = match staged._shared {
            Some(shared) => shared,
            None => blobs.backup.read().await,
        };
        if let Some(kept) = &staged.new {
            put_unless_there(blobs, kept).await?;
        }
        let new_blob = staged.new.as_ref().map(|kept| kept.blob.as_str());
        match old_blob {
            Some(old) if Some(old) != new_blob => self.drop_unreferenced(blobs, old).await,
            _ => Ok(()),
        }
    }

    /// After a record that showed the image in `blob` was deleted: the
    /// blob goes unless something else refers to it.
    pub(crate) async fn release_image(&self, blob: Option<&str>) -> ServiceResult<()> {
        let (Some(blob), Some(blobs)) = (blob, &self.attachments.blobs) else {
            return Ok(());
        };
        let _shared = blobs.backup.read().await;
        self.drop_unreferenced(blobs, blob).await
    }

    /// The image whose blob a record names, if it is still there.
    pub(crate) async fn image_file(&self, blob: &str) -> ServiceResult<Option<ImageFile>> {
        let Some(mut file) = self.blobs()?.store.open(blob).await.map_err(io)? else {
            return Ok(None);
        };
        let size = file.metadata().await.map_err(io)?.len();
        let mut head = [0u8; 12];
        let mut read = 0;
        while read < head.len() {
            match file.read(&mut head[read..]).await.map_err(io)? {
                0 => break,
                n => read += n,
            }
        }
        file.rewind().await.map_err(io)?;
        Ok(Some(ImageFile {
            content_type: image_type(&head[..read]),
            size,
            file,
        }))
    }

    /// `GET /avatars/{id}/{hash}.{ext}`: a user's or a webhook's current
    /// avatar (404 for any other id or hash), at the size asked.
    pub async fn avatar_image(
        &self,
        owner: Snowflake,
        hash: &str,
        asked: Option<SizeAsked>,
    ) -> ServiceResult<Served> {
        let blob = match self.store.user(owner).await? {
            Some(user) => shown(user.avatar, user.avatar_blob, hash),
            None => match self.store.webhook(owner).await? {
                Some(hook) => shown(hook.avatar, hook.avatar_blob, hash),
                None => None,
            },
        };
        self.shown_image(blob, codes::UNKNOWN_USER, asked).await
    }

    /// `GET /icons/{guild_id}/{hash}.{ext}`: a guild's current icon.
    pub async fn icon_image(
        &self,
        guild_id: Snowflake,
        hash: &str,
        asked: Option<SizeAsked>,
    ) -> ServiceResult<Served> {
        let blob = match self.store.guild(guild_id).await? {
            Some(guild) => shown(guild.icon, guild.icon_blob, hash),
            None => None,
        };
        self.shown_image(blob, codes::UNKNOWN_GUILD, asked).await
    }

    /// A group DM's icon (`/channel-icons/{channel_id}/{hash}`).
    pub async fn channel_icon_image(
        &self,
        channel_id: Snowflake,
        hash: &str,
        asked: Option<SizeAsked>,
    ) -> ServiceResult<Served> {
        let blob = match self.store.channel(channel_id).await? {
            Some(channel) if channel.is_private() => shown(channel.icon, channel.icon_blob, hash),
            _ => None,
        };
        self.shown_image(blob, codes::UNKNOWN_CHANNEL, asked).await
    }

    async fn shown_image(
        &self,
        blob: Option<String>,
        code: u32,
        asked: Option<SizeAsked>,
    ) -> ServiceResult<Served> {
        let unknown = ServiceError::NotFound(code);
        let Some(blob) = blob else {
            return Err(unknown);
        };
        let file = self.image_file(&blob).await?.ok_or(unknown)?;
        match asked {
            None => Ok(Served::Original(file)),
            Some(asked) => self.attachments.sized.serve(&blob, file, asked).await,
        }
    }
}

/// The blob of the image a record shows, if `hash` names it.
fn shown(current: Option<String>, blob: Option<String>, hash: &str) -> Option<String> {
    current.filter(|c| c == hash).and(blob)
}

async fn put_unless_there(blobs: &Blobs, kept: &Kept) -> ServiceResult<()> {
    if !blobs.store.exists(&kept.blob).await.map_err(io)? {
        blobs
            .store
            .put(&kept.blob, &kept.staged.0)
            .await
            .map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(kind: &str, bytes: &[u8]) -> String {
        format!("data:{kind};base64,{}", B64.encode(bytes))
    }

    #[test]
    fn images_are_told_by_their_bytes_and_bounded() {
        let mut errors = FormErrors::new();
        let png = b"\x89PNG\r\n\x1a\n";
        let image = decode_image("avatar", &uri("image/png", png), 64, &mut errors).unwrap();
        assert_eq!(image.content_type, "image/png");
        let gif = decode_image("avatar", &uri("image/png", b"GIF89a"), 64, &mut errors);
        assert_eq!(gif.unwrap().content_type, "image/gif", "the bytes decide");
        assert!(errors.is_empty());
        for bad in [
            uri("image/svg+xml", b"<svg/>"),
            uri("text/plain", png),
            uri("image/png", b"not an image"),
            "data:image/png;base64,%%%".to_owned(),
            "https://example.com/a.png".to_owned(),
        ] {
            let mut errors = FormErrors::new();
            assert!(
                decode_image("avatar", &bad, 64, &mut errors).is_none(),
                "{bad}"
            );
            assert!(!errors.is_empty(), "{bad}");
        }
        let mut errors = FormErrors::new();
        let big = [png.as_slice(), &[0; 64]].concat();
        assert!(decode_image("avatar", &uri("image/png", &big), 64, &mut errors).is_none());
        assert!(!errors.is_empty());
    }

    #[test]
    fn hashes_are_discords_length_and_mark_gifs() {
        let sha = "ab".repeat(32);
        assert_eq!(client_hash(&sha, "image/png"), "ab".repeat(16));
        assert_eq!(
            client_hash(&sha, "image/gif"),
            format!("a_{}", "ab".repeat(16))
        );
    }
}

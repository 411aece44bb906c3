//! Avatars and icons at the size a client asks (`?size=` on the CDN
//! paths, a power of two from 16 to 4096, as Discord's): an image larger
//! than that is scaled down to fit it, keeping its aspect ratio, and
//! written in the format the path names (an animated GIF asked as a GIF
//! stays animated; other formats show its first frame). One that already
//! fits is served as uploaded.
//!
//! The paths are public, so the CPU a client can spend here is bounded:
//! at most [`RESIZING_AT_ONCE`] images are decoded at once per node, off
//! the async runtime, none beyond [`MAX_SOURCE_PIXELS`] (over all its
//! frames), and what was made is kept in a small cache by blob, size and
//! format, so asking again costs nothing. The cache is this node's own: a
//! blob's content never changes, so nodes need not agree on it.

use std::io::Cursor;
use std::num::NonZeroUsize;
use std::sync::Mutex;

use bytes::Bytes;
use image::codecs::gif::{GifDecoder, GifEncoder, Repeat};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::imageops::FilterType;
use image::{AnimationDecoder, DynamicImage, Frame, ImageReader, Limits};
use lru::LruCache;
use tokio::io::AsyncReadExt;
use tokio::sync::Semaphore;

use super::images::{IMAGE_MAX_BYTES, ImageFile};
use crate::{ServiceError, ServiceResult};

/// Whether Discord's CDN takes `size`: a power of two from 16 to 4096.
pub fn valid_size(size: u32) -> bool {
    (16..=4096).contains(&size) && size.is_power_of_two()
}

/// The format a CDN path names by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    Png,
    Jpeg,
    WebP,
    Gif,
}

impl ImageFormat {
    pub fn from_extension(extension: &str) -> Option<ImageFormat> {
        match extension.to_ascii_lowercase().as_str() {
            "png" => Some(ImageFormat::Png),
            "jpg" | "jpeg" => Some(ImageFormat::Jpeg),
            "webp" => Some(ImageFormat::WebP),
            "gif" => Some(ImageFormat::Gif),
            _ => None,
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            ImageFormat::Png => "image/png",
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::WebP => "image/webp",
            ImageFormat::Gif => "image/gif",
        }
    }
}

/// What a client asked of an image beyond its path: a valid size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeAsked {
    pub size: u32,
    pub format: ImageFormat,
}

/// An image to answer with: the upload itself, or a copy made to fit.
pub enum Served {
    Original(ImageFile),
    Sized {
        content_type: &'static str,
        bytes: Bytes,
    },
}

/// Images decoded at once per node.
pub const RESIZING_AT_ONCE: usize = 2;
/// The most pixels an image may have (all of its frames together) to be
/// decoded; a larger one is served as uploaded.
pub const MAX_SOURCE_PIXELS: u64 = 4096 * 4096;
/// Copies kept, and the largest one kept.
const CACHED: usize = 256;
const CACHED_MAX_BYTES: usize = 512 * 1024;

type Key = (String, u32, ImageFormat);

/// A node's resizing: its permits and its cache.
pub(crate) struct Resizer {
    permits: Semaphore,
    cache: Mutex<LruCache<Key, Bytes>>,
}

impl Default for Resizer {
    fn default() -> Self {
        Resizer {
            permits: Semaphore::new(RESIZING_AT_ONCE),
            cache: Mutex::new(LruCache::new(
                NonZeroUsize::new(CACHED).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }
}

impl Resizer {
    fn cached(&self, key: &Key) -> Option<Bytes> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.get(key).cloned()
    }

    fn keep(&self, key: Key, bytes: &Bytes) {
        if bytes.len() <= CACHED_MAX_BYTES {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            cache.put(key, bytes.clone());
        }
    }

    /// The image in blob `blob`, opened as `file`, as `asked` wants it.
    pub(crate) async fn serve(
        &self,
        blob: &str,
        mut file: ImageFile,
        asked: SizeAsked,
    ) -> ServiceResult<Served> {
        let key = (blob.to_owned(), asked.size, asked.format);
        if let Some(bytes) = self.cached(&key) {
            return Ok(sized(asked.format, bytes));
        }
        let _permit = (self.permits.acquire().await)
            .map_err(|_| ServiceError::Unavailable("resizing stopped".into()))?;
        if let Some(bytes) = self.cached(&key) {
            return Ok(sized(asked.format, bytes));
        }
        let mut source = Vec::with_capacity(file.size.min(IMAGE_MAX_BYTES as u64) as usize);
        (&mut file.file)
            .take(IMAGE_MAX_BYTES as u64 + 1)
            .read_to_end(&mut source)
            .await
            .map_err(|e| ServiceError::Internal(format!("reading an image: {e}")))?;
        use tokio::io::AsyncSeekExt;
        file.file
            .rewind()
            .await
            .map_err(|e| ServiceError::Internal(format!("reading an image: {e}")))?;
        let made = tokio::task::spawn_blocking(move || resize(&source, asked))
            .await
            .map_err(|e| ServiceError::Internal(format!("resizing an image: {e}")))?;
        match made {
            Some(bytes) => {
                let bytes = Bytes::from(bytes);
                self.keep(key, &bytes);
                Ok(sized(asked.format, bytes))
            }
            None => Ok(Served::Original(file)),
        }
    }
}

fn sized(format: ImageFormat, bytes: Bytes) -> Served {
    Served::Sized {
        content_type: format.content_type(),
        bytes,
    }
}

/// `source` scaled down to fit `asked.size` and written as asked; `None`
/// when it already fits, is beyond the bounds, or does not decode.
fn resize(source: &[u8], asked: SizeAsked) -> Option<Vec<u8>> {
    let reader = ImageReader::new(Cursor::new(source))
        .with_guessed_format()
        .ok()?;
    let is_gif = reader.format() == Some(image::ImageFormat::Gif);
    let (width, height) = reader.into_dimensions().ok()?;
    let pixels = u64::from(width) * u64::from(height);
    if width.max(height) <= asked.size || pixels > MAX_SOURCE_PIXELS {
        return None;
    }
    if is_gif && asked.format == ImageFormat::Gif {
        return resize_animation(source, asked.size, pixels);
    }
    let mut reader = ImageReader::new(Cursor::new(source))
        .with_guessed_format()
        .ok()?;
    reader.limits(limits());
    let image = reader.decode().ok()?;
    encode(
        &image.resize(asked.size, asked.size, FilterType::Triangle),
        asked.format,
    )
}

fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_SOURCE_PIXELS * 4 * 2);
    limits
}

/// A GIF's every frame scaled down, while all of them together stay
/// within [`MAX_SOURCE_PIXELS`].
fn resize_animation(source: &[u8], size: u32, frame_pixels: u64) -> Option<Vec<u8>> {
    let decoder = GifDecoder::new(Cursor::new(source)).ok()?;
    let mut frames = Vec::new();
    let mut budget = MAX_SOURCE_PIXELS;
    for frame in decoder.into_frames() {
        budget = budget.checked_sub(frame_pixels)?;
        let frame = frame.ok()?;
        let delay = frame.delay();
        let image = DynamicImage::ImageRgba8(frame.into_buffer());
        let scaled = image.resize(size, size, FilterType::Triangle).into_rgba8();
        frames.push(Frame::from_parts(scaled, 0, 0, delay));
    }
    let mut out = Vec::new();
    {
        let mut encoder = GifEncoder::new(&mut out);
        encoder.set_repeat(Repeat::Infinite).ok()?;
        encoder.encode_frames(frames).ok()?;
    }
    Some(out)
}

fn encode(image: &DynamicImage, format: ImageFormat) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let written = match format {
        ImageFormat::Png => image.write_with_encoder(PngEncoder::new(&mut out)),
        // JPEG has no alpha.
        ImageFormat::Jpeg => DynamicImage::ImageRgb8(image.to_rgb8())
            .write_with_encoder(JpegEncoder::new_with_quality(&mut out, 90)),
        ImageFormat::WebP => DynamicImage::ImageRgba8(image.to_rgba8())
            .write_with_encoder(WebPEncoder::new_lossless(&mut out)),
        ImageFormat::Gif => {
            DynamicImage::ImageRgba8(image.to_rgba8()).write_with_encoder(GifEncoder::new(&mut out))
        }
    };
    written.ok().map(|()| out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_powers_of_two_from_16_to_4096() {
        for size in [16, 32, 64, 128, 256, 512, 1024, 2048, 4096] {
            assert!(valid_size(size), "{size}");
        }
        for size in [0, 1, 8, 15, 17, 100, 8192] {
            assert!(!valid_size(size), "{size}");
        }
    }

    #[test]
    fn only_a_larger_image_is_scaled_down_keeping_its_shape() {
        let image = DynamicImage::new_rgba8(200, 100);
        let png = encode(&image, ImageFormat::Png).unwrap();
        let asked = |size, format| SizeAsked { size, format };
        assert!(resize(&png, asked(256, ImageFormat::Png)).is_none(), "fits");
        for format in [
            ImageFormat::Png,
            ImageFormat::Jpeg,
            ImageFormat::WebP,
            ImageFormat::Gif,
        ] {
            let out = resize(&png, asked(64, format)).unwrap();
            let decoded = image::load_from_memory(&out).unwrap();
            assert_eq!((decoded.width(), decoded.height()), (64, 32), "{format:?}");
            let guessed = image::guess_format(&out).unwrap();
            assert_eq!(guessed.to_mime_type(), format.content_type());
        }
    }
}

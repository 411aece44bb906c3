//! Avatars, guild icons and group DM icons at Discord's CDN paths, at the root of the server
//! (where a client library's asset base URL points): public, since their
//! hashes are in every user and guild object, and cached for good, since
//! a hash names its content.

use axum::extract::{Path, RawQuery};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use concord_model::Snowflake;
use concord_service::ServiceError;
use concord_service::attachments::sized::{ImageFormat, Served, SizeAsked, valid_size};

use super::messages::file_body;
use crate::State;
use crate::error::ApiResult;

/// `GET /avatars/{user_id}/{hash}.{ext}`: a user's or a webhook's avatar.
pub(crate) async fn avatar(
    state: State,
    Path((owner, file)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let (owner, hash, asked) = match asked(&owner, &file, query.as_deref()) {
        Ok(found) => found,
        Err(refused) => return Ok(refused.into_response()),
    };
    serve(state.service.avatar_image(owner, hash, asked).await)
}

/// `GET /icons/{guild_id}/{hash}.{ext}`: a guild's icon.
pub(crate) async fn icon(
    state: State,
    Path((guild, file)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let (guild, hash, asked) = match asked(&guild, &file, query.as_deref()) {
        Ok(found) => found,
        Err(refused) => return Ok(refused.into_response()),
    };
    serve(state.service.icon_image(guild, hash, asked).await)
}

/// `GET /channel-icons/{channel_id}/{hash}.{ext}`: a group DM's icon.
pub(crate) async fn channel_icon(
    state: State,
    Path((channel, file)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let (channel, hash, asked) = match asked(&channel, &file, query.as_deref()) {
        Ok(found) => found,
        Err(refused) => return Ok(refused.into_response()),
    };
    serve(state.service.channel_icon_image(channel, hash, asked).await)
}

/// The id, hash and size asked of a path and its query, or the answer
/// that refuses them: 404 for a path no image can have, 400 for a size
/// Discord's CDN does not take.
fn asked<'a>(
    id: &str,
    file: &'a str,
    query: Option<&str>,
) -> Result<(Snowflake, &'a str, Option<SizeAsked>), Refused> {
    let (id, hash, format) = path_parts(id, file).ok_or(Refused::NotFound)?;
    let size = size_asked(query).ok_or(Refused::BadSize)?;
    Ok((id, hash, size.map(|size| SizeAsked { size, format })))
}

/// The id, hash and format of a path, if it is one an image can have.
fn path_parts<'a>(id: &str, file: &'a str) -> Option<(Snowflake, &'a str, ImageFormat)> {
    let (hash, extension) = file.rsplit_once('.')?;
    let id = id.parse::<u64>().ok().filter(|id| *id > 0)?;
    let format = ImageFormat::from_extension(extension)?;
    Some((Snowflake(id), hash, format))
}

/// `size` from the query: `Some(None)` when none is asked, `None` when
/// the one asked is not a size (the last `size` counts; other parameters,
/// such as `format` or `quality`, are ignored as the CDN does).
fn size_asked(query: Option<&str>) -> Option<Option<u32>> {
    let value = query
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.strip_prefix("size="))
        .next_back();
    match value {
        None => Some(None),
        Some(value) => value.parse().ok().filter(|s| valid_size(*s)).map(Some),
    }
}

/// Discord's CDN answers a missing asset with a bare 404.
fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "404: Not Found").into_response()
}

/// A path or query no image is served for.
enum Refused {
    NotFound,
    BadSize,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::NotFound => not_found(),
            Refused::BadSize => (StatusCode::BAD_REQUEST, "400: Bad Request").into_response(),
        }
    }
}

/// Cached for good: a hash names its content, and a size made of it is
/// always the same.
const FOREVER: &str = "public, max-age=31536000, immutable";

fn serve(found: Result<Served, ServiceError>) -> ApiResult<Response> {
    let served = match found {
        Err(ServiceError::NotFound(_)) => return Ok(not_found()),
        other => other?,
    };
    let (content_type, length, body) = match served {
        Served::Original(image) => (image.content_type, image.size, file_body(image.file)),
        Served::Sized {
            content_type,
            bytes,
        } => (
            content_type,
            bytes.len() as u64,
            axum::body::Body::from(bytes),
        ),
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_LENGTH, length.to_string()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            (header::CACHE_CONTROL, FOREVER.to_owned()),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_an_id_a_hash_and_an_image_extension() {
        let png = Some((Snowflake(5), "ab", ImageFormat::Png));
        assert_eq!(path_parts("5", "ab.png"), png);
        let gif = Some((Snowflake(5), "a_ab", ImageFormat::Gif));
        assert_eq!(path_parts("5", "a_ab.GIF"), gif);
        assert_eq!(path_parts("5", "ab.svg"), None);
        assert_eq!(path_parts("5", "ab"), None);
        assert_eq!(path_parts("x", "ab.png"), None);
        assert_eq!(path_parts("0", "ab.png"), None);
    }

    #[test]
    fn sizes_are_read_from_the_query() {
        assert_eq!(size_asked(None), Some(None));
        assert_eq!(size_asked(Some("format=webp")), Some(None));
        assert_eq!(size_asked(Some("size=64")), Some(Some(64)));
        assert_eq!(
            size_asked(Some("quality=lossless&size=4096")),
            Some(Some(4096))
        );
        assert_eq!(size_asked(Some("size=100")), None);
        assert_eq!(size_asked(Some("size=")), None);
        assert_eq!(size_asked(Some("size=8192")), None);
    }
}

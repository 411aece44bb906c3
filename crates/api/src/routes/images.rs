//! Avatars, guild icons and group DM icons at Discord's CDN paths, at the root of the server
//! (where a client library's asset base URL points): public, since their
//! hashes are in every user and guild object, and cached for good, since
//! a hash names its content.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use concord_model::Snowflake;
use concord_service::ServiceError;
use concord_service::attachments::images::ImageFile;

use super::messages::file_body;
use crate::State;
use crate::error::ApiResult;

/// What a client may ask for; the bytes served are the ones uploaded,
/// with their own type, whichever it asks.
const EXTENSIONS: [&str; 5] = ["png", "jpg", "jpeg", "webp", "gif"];

/// `GET /avatars/{user_id}/{hash}.{ext}`: a user's or a webhook's avatar.
pub(crate) async fn avatar(
    state: State,
    Path((owner, file)): Path<(String, String)>,
) -> ApiResult<Response> {
    let Some((owner, hash)) = asked(&owner, &file) else {
        return Ok(not_found());
    };
    serve(state.service.avatar_image(owner, hash).await)
}

/// `GET /icons/{guild_id}/{hash}.{ext}`: a guild's icon.
pub(crate) async fn icon(
    state: State,
    Path((guild, file)): Path<(String, String)>,
) -> ApiResult<Response> {
    let Some((guild, hash)) = asked(&guild, &file) else {
        return Ok(not_found());
    };
    serve(state.service.icon_image(guild, hash).await)
}

/// `GET /channel-icons/{channel_id}/{hash}.{ext}`: a group DM's icon.
pub(crate) async fn channel_icon(
    state: State,
    Path((channel, file)): Path<(String, String)>,
) -> ApiResult<Response> {
    let Some((channel, hash)) = asked(&channel, &file) else {
        return Ok(not_found());
    };
    serve(state.service.channel_icon_image(channel, hash).await)
}

/// The id and hash of a path, if it is one an image can have.
fn asked<'a>(id: &str, file: &'a str) -> Option<(Snowflake, &'a str)> {
    let (hash, extension) = file.rsplit_once('.')?;
    let id = id.parse::<u64>().ok().filter(|id| *id > 0)?;
    EXTENSIONS
        .contains(&extension.to_ascii_lowercase().as_str())
        .then_some((Snowflake(id), hash))
}

/// Discord's CDN answers a missing asset with a bare 404.
fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "404: Not Found").into_response()
}

fn serve(found: Result<ImageFile, ServiceError>) -> ApiResult<Response> {
    let image = match found {
        Err(ServiceError::NotFound(_)) => return Ok(not_found()),
        other => other?,
    };
    Ok((
        [
            (header::CONTENT_TYPE, image.content_type.to_owned()),
            (header::CONTENT_LENGTH, image.size.to_string()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            (
                header::CACHE_CONTROL,
                "public, max-age=31536000, immutable".to_owned(),
            ),
        ],
        file_body(image.file),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_an_id_a_hash_and_an_image_extension() {
        assert_eq!(asked("5", "ab.png"), Some((Snowflake(5), "ab")));
        assert_eq!(asked("5", "a_ab.GIF"), Some((Snowflake(5), "a_ab")));
        assert_eq!(asked("5", "ab.svg"), None);
        assert_eq!(asked("5", "ab"), None);
        assert_eq!(asked("x", "ab.png"), None);
        assert_eq!(asked("0", "ab.png"), None);
    }
}

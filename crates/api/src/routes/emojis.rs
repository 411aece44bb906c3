//! Custom emoji: the guild routes, and the image URL clients load.

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use concord_service::guilds::{CreateEmoji, PatchEmoji};

use super::guilds::guild_id;
use super::{created, no_content, ok};
use crate::State;
use crate::error::ApiResult;
use crate::extract::{Auth, Body, id};

pub(super) fn routes() -> super::Routes {
    routes!("Emoji" {
        get "/guilds/{guild_id}/emojis" => list, 200 Vec<Emoji>;
        post "/guilds/{guild_id}/emojis" => create, 201 Emoji, body CreateEmoji;
        get "/guilds/{guild_id}/emojis/{emoji_id}" => one, 200 Emoji;
        patch "/guilds/{guild_id}/emojis/{emoji_id}" => patch, 200 Emoji, body PatchEmoji;
        delete "/guilds/{guild_id}/emojis/{emoji_id}" => delete, 204 NoBody;
    })
}

fn emoji_id(raw: &str) -> ApiResult<concord_model::Snowflake> {
    id(raw, "emoji_id")
}

async fn list(state: State, Auth(caller): Auth, Path(g): Path<String>) -> ApiResult<Response> {
    Ok(ok(state.service.emojis(caller, guild_id(&g)?).await?))
}

async fn one(
    state: State,
    Auth(caller): Auth,
    Path((g, e)): Path<(String, String)>,
) -> ApiResult<Response> {
    Ok(ok(state
        .service
        .emoji(caller, guild_id(&g)?, emoji_id(&e)?)
        .await?))
}

async fn create(
    state: State,
    Auth(caller): Auth,
    Path(g): Path<String>,
    Body(input): Body<CreateEmoji>,
) -> ApiResult<Response> {
    Ok(created(
        state
            .service
            .create_emoji(caller, guild_id(&g)?, input)
            .await?,
    ))
}

async fn patch(
    state: State,
    Auth(caller): Auth,
    Path((g, e)): Path<(String, String)>,
    Body(input): Body<PatchEmoji>,
) -> ApiResult<Response> {
    Ok(ok(state
        .service
        .patch_emoji(caller, guild_id(&g)?, emoji_id(&e)?, input)
        .await?))
}

async fn delete(
    state: State,
    Auth(caller): Auth,
    Path((g, e)): Path<(String, String)>,
) -> ApiResult<Response> {
    state
        .service
        .delete_emoji(caller, guild_id(&g)?, emoji_id(&e)?)
        .await?;
    Ok(no_content())
}

/// `GET /emojis/{id}.{ext}`: the image, for anyone with the URL, as
/// Discord's CDN serves it. The extension is the client's wish; the bytes
/// are what was uploaded.
pub(crate) async fn image(state: State, Path(file): Path<String>) -> ApiResult<Response> {
    let raw = file.split_once('.').map_or(file.as_str(), |(id, _)| id);
    let (content_type, bytes) = state.service.emoji_image(emoji_id(raw)?).await?;
    let content_type = HeaderValue::from_str(&content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let cache = HeaderValue::from_static("public, max-age=86400, immutable");
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, cache),
        ],
        bytes,
    )
        .into_response())
}

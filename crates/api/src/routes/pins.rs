//! Pins: the current routes and the deprecated ones serenity still uses.

use axum::extract::Path;
use axum::response::Response;

use super::channels::channel_id;
use super::{no_content, ok};
use crate::State;
use crate::error::ApiResult;
use crate::extract::{Auth, QueryMap, id};

pub(super) fn routes() -> super::Routes {
    routes!("Pins" {
        get "/channels/{channel_id}/messages/pins" => list, 200 PinPage;
        put "/channels/{channel_id}/messages/pins/{message_id}" => pin, 204 NoBody;
        delete "/channels/{channel_id}/messages/pins/{message_id}" => unpin, 204 NoBody;
        get "/channels/{channel_id}/pins" => list_deprecated, 200 Vec<Message>;
        put "/channels/{channel_id}/pins/{message_id}" => pin, 204 NoBody;
        delete "/channels/{channel_id}/pins/{message_id}" => unpin, 204 NoBody;
    })
}

async fn list(
    state: State,
    Auth(caller): Auth,
    Path(c): Path<String>,
    query: QueryMap,
) -> ApiResult<Response> {
    let limit = query.int("limit", 1, 50, 50)? as usize;
    Ok(ok(state
        .service
        .pins(caller, channel_id(&c)?, query.get("before"), limit)
        .await?))
}

/// The old shape: the pinned messages themselves, newest pin first.
async fn list_deprecated(
    state: State,
    Auth(caller): Auth,
    Path(c): Path<String>,
) -> ApiResult<Response> {
    let page = state
        .service
        .pins(caller, channel_id(&c)?, None, 250)
        .await?;
    Ok(ok(page
        .items
        .into_iter()
        .map(|p| p.message)
        .collect::<Vec<_>>()))
}

async fn pin(
    state: State,
    Auth(caller): Auth,
    Path((c, m)): Path<(String, String)>,
) -> ApiResult<Response> {
    state
        .service
        .pin(caller, channel_id(&c)?, id(&m, "message_id")?)
        .await?;
    Ok(no_content())
}

async fn unpin(
    state: State,
    Auth(caller): Auth,
    Path((c, m)): Path<(String, String)>,
) -> ApiResult<Response> {
    state
        .service
        .unpin(caller, channel_id(&c)?, id(&m, "message_id")?)
        .await?;
    Ok(no_content())
}

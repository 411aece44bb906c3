//! Pins: the current routes and the deprecated ones serenity still uses.

use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::response::Response;
use axum::routing::{get, put};

use super::channels::channel_id;
use super::{no_content, ok};
use crate::error::ApiResult;
use crate::extract::{Auth, QueryMap, id};
use crate::{AppState, State};

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/channels/{channel_id}/messages/pins", get(list))
        .route(
            "/channels/{channel_id}/messages/pins/{message_id}",
            put(pin).delete(unpin),
        )
        .route("/channels/{channel_id}/pins", get(list_deprecated))
        .route(
            "/channels/{channel_id}/pins/{message_id}",
            put(pin).delete(unpin),
        )
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

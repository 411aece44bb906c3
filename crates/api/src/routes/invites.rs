//! Invite lookup, join and revoke.

use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::response::Response;
use axum::routing::get;

use super::ok;
use crate::error::ApiResult;
use crate::extract::{Auth, QueryMap};
use crate::{AppState, State};

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/invites/{code}", get(invite).post(accept).delete(revoke))
}

/// Anyone may look an invite up, signed in or not.
async fn invite(state: State, Path(code): Path<String>, query: QueryMap) -> ApiResult<Response> {
    Ok(ok(state
        .service
        .invite(&code, query.flag("with_counts"))
        .await?))
}

async fn accept(state: State, Auth(caller): Auth, Path(code): Path<String>) -> ApiResult<Response> {
    Ok(ok(state.service.accept_invite(caller, &code).await?))
}

async fn revoke(state: State, Auth(caller): Auth, Path(code): Path<String>) -> ApiResult<Response> {
    Ok(ok(state.service.delete_invite(caller, &code).await?))
}

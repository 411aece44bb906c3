//! Invite lookup, join and revoke.

use axum::extract::Path;
use axum::response::Response;

use super::ok;
use crate::State;
use crate::error::ApiResult;
use crate::extract::{Auth, QueryMap};

pub(super) fn routes() -> super::Routes {
    routes!("Invites" {
        get "/invites/{code}" => invite;
        post "/invites/{code}" => accept;
        delete "/invites/{code}" => revoke;
    })
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

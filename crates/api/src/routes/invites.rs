//! Invite lookup, join and revoke, and the lists of a guild's or channel's invites.

use axum::extract::Path;
use axum::response::Response;

use super::channels::channel_id;
use super::guilds::guild_id;
use super::ok;
use crate::State;
use crate::error::ApiResult;
use crate::extract::{Auth, QueryMap};

pub(super) fn routes() -> super::Routes {
    routes!("Invites" {
        get "/invites/{code}" => invite, 200 Invite;
        post "/invites/{code}" => accept, 200 Invite;
        delete "/invites/{code}" => revoke, 200 Invite;
        get "/guilds/{guild_id}/invites" => guild_invites, 200 Vec<Invite>;
        get "/channels/{channel_id}/invites" => channel_invites, 200 Vec<Invite>;
    })
}

/// Anyone may look an invite up, signed in or not.
async fn invite(state: State, Path(code): Path<String>, query: QueryMap) -> ApiResult<Response> {
    Ok(ok(state
        .service
        .invite(&code, query.flag("with_counts")?)
        .await?))
}

async fn accept(state: State, Auth(caller): Auth, Path(code): Path<String>) -> ApiResult<Response> {
    Ok(ok(state.service.accept_invite(caller, &code).await?))
}

async fn revoke(state: State, Auth(caller): Auth, Path(code): Path<String>) -> ApiResult<Response> {
    Ok(ok(state.service.delete_invite(caller, &code).await?))
}

async fn guild_invites(
    state: State,
    Auth(caller): Auth,
    Path(g): Path<String>,
) -> ApiResult<Response> {
    Ok(ok(state
        .service
        .guild_invites(caller, guild_id(&g)?)
        .await?))
}

async fn channel_invites(
    state: State,
    Auth(caller): Auth,
    Path(c): Path<String>,
) -> ApiResult<Response> {
    Ok(ok(state
        .service
        .channel_invites(caller, channel_id(&c)?)
        .await?))
}

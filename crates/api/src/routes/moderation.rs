//! Role edits, member edits, kicks and bans, and the audit log that records them.

use axum::extract::Path;
use axum::response::Response;
use concord_service::guilds::audit::AuditQuery;
use concord_service::guilds::{CreateBan, PatchMember, PatchNick, RoleInput};

use super::guilds::guild_id;
use super::{no_content, ok};
use crate::State;
use crate::error::ApiResult;
use crate::extract::{Auth, Body, QueryMap, id};

pub(super) fn routes() -> super::Routes {
    routes!("Moderation" {
        patch "/guilds/{guild_id}/roles/{role_id}" => edit_role, 200 Role, body RoleInput;
        delete "/guilds/{guild_id}/roles/{role_id}" => delete_role, 204 NoBody;
        patch "/guilds/{guild_id}/members/@me" => edit_own_nick, 200 Member, body PatchNick;
        get "/guilds/{guild_id}/audit-logs" => audit_log, 200 AuditLog;
        get "/guilds/{guild_id}/members/search" => search_members, 200 Vec<Member>;
        get "/guilds/{guild_id}/bans" => bans, 200 Vec<Ban>;
        get "/guilds/{guild_id}/bans/{user_id}" => ban, 200 Ban;
        put "/guilds/{guild_id}/bans/{user_id}" => create_ban, 204 NoBody, body CreateBan;
        delete "/guilds/{guild_id}/bans/{user_id}" => unban, 204 NoBody;
    })
}

async fn edit_role(
    state: State,
    Auth(caller): Auth,
    Path((g, r)): Path<(String, String)>,
    Body(input): Body<RoleInput>,
) -> ApiResult<Response> {
    Ok(ok(state
        .service
        .edit_role(caller, guild_id(&g)?, id(&r, "role_id")?, input)
        .await?))
}

async fn delete_role(
    state: State,
    Auth(caller): Auth,
    Path((g, r)): Path<(String, String)>,
) -> ApiResult<Response> {
    state
        .service
        .delete_role(caller, guild_id(&g)?, id(&r, "role_id")?)
        .await?;
    Ok(no_content())
}

pub(super) async fn edit_member(
    state: State,
    Auth(caller): Auth,
    Path((g, u)): Path<(String, String)>,
    Body(input): Body<PatchMember>,
) -> ApiResult<Response> {
    Ok(ok(state
        .service
        .edit_member(caller, guild_id(&g)?, id(&u, "user_id")?, input)
        .await?))
}

pub(super) async fn kick(
    state: State,
    Auth(caller): Auth,
    Path((g, u)): Path<(String, String)>,
) -> ApiResult<Response> {
    state
        .service
        .kick(caller, guild_id(&g)?, id(&u, "user_id")?)
        .await?;
    Ok(no_content())
}

async fn edit_own_nick(
    state: State,
    Auth(caller): Auth,
    Path(g): Path<String>,
    Body(input): Body<PatchNick>,
) -> ApiResult<Response> {
    Ok(ok(state
        .service
        .edit_own_nick(caller, guild_id(&g)?, input)
        .await?))
}

async fn search_members(
    state: State,
    Auth(caller): Auth,
    Path(g): Path<String>,
    query: QueryMap,
) -> ApiResult<Response> {
    let limit = query.int("limit", 1, 1000, 1)? as usize;
    let text = query.get("query").unwrap_or("");
    Ok(ok(state
        .service
        .search_members(caller, guild_id(&g)?, text, limit)
        .await?))
}

async fn bans(
    state: State,
    Auth(caller): Auth,
    Path(g): Path<String>,
    query: QueryMap,
) -> ApiResult<Response> {
    let limit = query.int("limit", 1, 1000, 1000)? as usize;
    let after = query.id("after")?.unwrap_or_default();
    Ok(ok(state
        .service
        .bans(caller, guild_id(&g)?, after, limit)
        .await?))
}

async fn ban(
    state: State,
    Auth(caller): Auth,
    Path((g, u)): Path<(String, String)>,
) -> ApiResult<Response> {
    Ok(ok(state
        .service
        .get_ban(caller, guild_id(&g)?, id(&u, "user_id")?)
        .await?))
}

async fn create_ban(
    state: State,
    Auth(caller): Auth,
    Path((g, u)): Path<(String, String)>,
    Body(input): Body<CreateBan>,
) -> ApiResult<Response> {
    state
        .service
        .ban(caller, guild_id(&g)?, id(&u, "user_id")?, input)
        .await?;
    Ok(no_content())
}

async fn unban(
    state: State,
    Auth(caller): Auth,
    Path((g, u)): Path<(String, String)>,
) -> ApiResult<Response> {
    state
        .service
        .unban(caller, guild_id(&g)?, id(&u, "user_id")?)
        .await?;
    Ok(no_content())
}

async fn audit_log(
    state: State,
    Auth(caller): Auth,
    Path(g): Path<String>,
    query: QueryMap,
) -> ApiResult<Response> {
    let filters = AuditQuery {
        user_id: query.id("user_id")?,
        action_type: query
            .get("action_type")
            .map(|_| query.int("action_type", 1, 255, 0))
            .transpose()?
            .map(|a| a as u16),
        before: query.id("before")?,
        limit: query.int("limit", 1, 100, 50)? as usize,
    };
    Ok(ok(state
        .service
        .audit_log(caller, guild_id(&g)?, filters)
        .await?))
}

//! Guilds, their channels, members and roles.

use axum::extract::Path;
use axum::response::Response;
use concord_model::{Snowflake, limits};
use concord_service::guilds::{ChannelInput, CreateGuild, PatchGuild, Position, RoleInput};

use super::{created, no_content, ok};
use crate::State;
use crate::error::ApiResult;
use crate::extract::{Auth, Body, ImageBody, QueryMap, id};

pub(super) fn routes() -> super::Routes {
    routes!("Guilds" {
        post "/guilds" => create_guild, 201 GuildCreate, body CreateGuild;
        get "/guilds/{guild_id}" => guild, 200 Guild;
        patch "/guilds/{guild_id}" => patch_guild, 200 Guild, body PatchGuild;
        delete "/guilds/{guild_id}" => delete_guild, 204 NoBody;
        get "/guilds/{guild_id}/channels" => channels, 200 Vec<Channel>;
        post "/guilds/{guild_id}/channels" => create_channel, 201 Channel, body ChannelInput;
        patch "/guilds/{guild_id}/channels" => reorder_channels, 204 NoBody, body Vec<Position>;
        get "/guilds/{guild_id}/members" => members, 200 Vec<Member>;
        get "/guilds/{guild_id}/members/{user_id}" => member, 200 Member;
        patch "/guilds/{guild_id}/members/{user_id}" => super::moderation::edit_member, 200 Member, body PatchMember;
        delete "/guilds/{guild_id}/members/{user_id}" => super::moderation::kick, 204 NoBody;
        put "/guilds/{guild_id}/members/{user_id}/roles/{role_id}" => add_role, 204 NoBody;
        delete "/guilds/{guild_id}/members/{user_id}/roles/{role_id}" => remove_role, 204 NoBody;
        get "/guilds/{guild_id}/roles" => roles, 200 Vec<Role>;
        post "/guilds/{guild_id}/roles" => create_role, 200 Role, body RoleInput;
        patch "/guilds/{guild_id}/roles" => reorder_roles, 200 Vec<Role>, body Vec<Position>;
    })
}

pub(super) fn guild_id(raw: &str) -> ApiResult<Snowflake> {
    id(raw, "guild_id")
}

async fn create_guild(
    state: State,
    Auth(caller): Auth,
    Body(input): ImageBody<CreateGuild>,
) -> ApiResult<Response> {
    Ok(created(state.service.create_guild(caller, input).await?))
}

async fn guild(
    state: State,
    Auth(caller): Auth,
    Path(g): Path<String>,
    query: QueryMap,
) -> ApiResult<Response> {
    Ok(ok(state
        .service
        .guild(caller, guild_id(&g)?, query.flag("with_counts")?)
        .await?))
}

async fn patch_guild(
    state: State,
    Auth(caller): Auth,
    Path(g): Path<String>,
    Body(input): ImageBody<PatchGuild>,
) -> ApiResult<Response> {
    Ok(ok(state
        .service
        .patch_guild(caller, guild_id(&g)?, input)
        .await?))
}

async fn delete_guild(
    state: State,
    Auth(caller): Auth,
    Path(g): Path<String>,
) -> ApiResult<Response> {
    state.service.delete_guild(caller, guild_id(&g)?).await?;
    Ok(no_content())
}

async fn channels(state: State, Auth(caller): Auth, Path(g): Path<String>) -> ApiResult<Response> {
    Ok(ok(state
        .service
        .guild_channels(caller, guild_id(&g)?)
        .await?))
}

async fn create_channel(
    state: State,
    Auth(caller): Auth,
    Path(g): Path<String>,
    Body(input): Body<ChannelInput>,
) -> ApiResult<Response> {
    Ok(created(
        state
            .service
            .create_channel(caller, guild_id(&g)?, input)
            .await?,
    ))
}

async fn members(
    state: State,
    Auth(caller): Auth,
    Path(g): Path<String>,
    query: QueryMap,
) -> ApiResult<Response> {
    let limit = query.int("limit", 1, u64::from(limits::MEMBERS_LIMIT_MAX), 1)? as usize;
    let after = query.id("after")?.unwrap_or_default();
    Ok(ok(state
        .service
        .members(caller, guild_id(&g)?, after, limit)
        .await?))
}

async fn member(
    state: State,
    Auth(caller): Auth,
    Path((g, u)): Path<(String, String)>,
) -> ApiResult<Response> {
    Ok(ok(state
        .service
        .member(caller, guild_id(&g)?, id(&u, "user_id")?)
        .await?))
}

async fn set_role(
    state: State,
    caller: Auth,
    ids: (String, String, String),
    give: bool,
) -> ApiResult<Response> {
    let (g, u, r) = ids;
    let (g, u, r) = (guild_id(&g)?, id(&u, "user_id")?, id(&r, "role_id")?);
    state
        .service
        .set_member_role(caller.0, g, u, r, give)
        .await?;
    Ok(no_content())
}

async fn add_role(
    state: State,
    caller: Auth,
    Path(ids): Path<(String, String, String)>,
) -> ApiResult<Response> {
    set_role(state, caller, ids, true).await
}

async fn remove_role(
    state: State,
    caller: Auth,
    Path(ids): Path<(String, String, String)>,
) -> ApiResult<Response> {
    set_role(state, caller, ids, false).await
}

async fn roles(state: State, Auth(caller): Auth, Path(g): Path<String>) -> ApiResult<Response> {
    Ok(ok(state.service.roles(caller, guild_id(&g)?).await?))
}

async fn create_role(
    state: State,
    Auth(caller): Auth,
    Path(g): Path<String>,
    Body(input): Body<RoleInput>,
) -> ApiResult<Response> {
    Ok(ok(state
        .service
        .create_role(caller, guild_id(&g)?, input)
        .await?))
}

async fn reorder_roles(
    state: State,
    Auth(caller): Auth,
    Path(g): Path<String>,
    Body(moves): Body<Vec<Position>>,
) -> ApiResult<Response> {
    Ok(ok(state
        .service
        .reorder_roles(caller, guild_id(&g)?, moves)
        .await?))
}

async fn reorder_channels(
    state: State,
    Auth(caller): Auth,
    Path(g): Path<String>,
    Body(moves): Body<Vec<Position>>,
) -> ApiResult<Response> {
    state
        .service
        .reorder_channels(caller, guild_id(&g)?, moves)
        .await?;
    Ok(no_content())
}

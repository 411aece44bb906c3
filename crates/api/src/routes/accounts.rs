//! Registration, login, users, applications and bot authorization.

use axum::extract::Path;
use axum::response::Response;
use concord_service::accounts::{
    Authorize, CreateApplication, Login, PatchApplication, PatchMe, Register,
};
use concord_service::messages::mentions::{DEFAULT_LIMIT, MAX_LIMIT, MentionsQuery};
use concord_service::private::OpenPrivateChannel;

use super::{created, no_content, ok};
use crate::State;
use crate::error::ApiResult;
use crate::extract::{Auth, Body, ClientAddress, ImageBody, QueryMap, id};

pub(super) fn routes() -> super::Routes {
    routes!("Users and applications" {
        post "/auth/register" => register, 201 TokenResponse, body Register;
        post "/auth/login" => login, 200 LoginResponse, body Login;
        post "/auth/logout-everywhere" => logout_everywhere, 204 NoBody;
        get "/users/@me" => me, 200 CurrentUser;
        patch "/users/@me" => patch_me, 200 PatchedMe, body PatchMe;
        get "/users/@me/guilds" => my_guilds, 200 Vec<PartialGuild>;
        get "/users/@me/mentions" => my_mentions, 200 Vec<Message>;
        delete "/users/@me/mentions/{message_id}" => dismiss_mention, 204 NoBody;
        get "/users/@me/channels" => private_channels, 200 Vec<Channel>;
        post "/users/@me/channels" => open_private_channel, 200 Channel, body OpenPrivateChannel;
        delete "/users/@me/guilds/{guild_id}" => leave_guild, 204 NoBody;
        get "/users/{user_id}" => user, 200 User;
        post "/applications" => create_application, 201 Application, body CreateApplication;
        get "/applications/@me" => current_application, 200 Application;
        patch "/applications/@me" => patch_current_application, 200 Application, body PatchApplication;
        get "/oauth2/applications/@me" => current_application, 200 Application;
        get "/applications/{application_id}" => application, 200 Application;
        patch "/applications/{application_id}" => patch_application, 200 Application, body PatchApplication;
        post "/applications/{application_id}/bot/reset" => reset_bot_token, 200 TokenResponse;
        post "/oauth2/authorize" => authorize, 200 Authorized, body Authorize;
    })
}

async fn register(state: State, Body(input): Body<Register>) -> ApiResult<Response> {
    Ok(created(state.service.register(input).await?))
}

async fn login(
    state: State,
    ClientAddress(address): ClientAddress,
    Body(input): Body<Login>,
) -> ApiResult<Response> {
    Ok(ok(state.service.login(input, &address).await?))
}

/// Concord's (Discord's client ends sessions one by one, by hashes of
/// session ids it does not give out): ends every session of the account,
/// the caller's own token too, on every node.
async fn logout_everywhere(state: State, Auth(caller): Auth) -> ApiResult<Response> {
    state.service.log_out_everywhere(caller).await?;
    Ok(no_content())
}

async fn me(state: State, Auth(caller): Auth) -> ApiResult<Response> {
    Ok(ok(state.service.me(caller).await?))
}

async fn patch_me(
    state: State,
    Auth(caller): Auth,
    Body(input): ImageBody<PatchMe>,
) -> ApiResult<Response> {
    Ok(ok(state.service.patch_me(caller, input).await?))
}

async fn private_channels(state: State, Auth(caller): Auth) -> ApiResult<Response> {
    Ok(ok(state.service.private_channels(caller).await?))
}

async fn open_private_channel(
    state: State,
    Auth(caller): Auth,
    Body(input): Body<OpenPrivateChannel>,
) -> ApiResult<Response> {
    Ok(ok(state
        .service
        .open_private_channel(caller, input)
        .await?))
}

async fn user(state: State, Auth(_): Auth, Path(user_id): Path<String>) -> ApiResult<Response> {
    Ok(ok(state.service.user(id(&user_id, "user_id")?).await?))
}

async fn my_guilds(state: State, Auth(caller): Auth, query: QueryMap) -> ApiResult<Response> {
    let limit = query.int("limit", 1, 200, 200)? as usize;
    let guilds = state
        .service
        .my_guilds(caller, query.id("before")?, query.id("after")?, limit)
        .await?;
    Ok(ok(guilds))
}

/// `roles` and `everyone` are taken as true unless given false.
async fn my_mentions(state: State, Auth(caller): Auth, query: QueryMap) -> ApiResult<Response> {
    let on_unless_false = |name| match query.get(name) {
        None => Ok(true),
        Some(_) => query.flag(name),
    };
    let request = MentionsQuery {
        limit: query.int("limit", 1, MAX_LIMIT as u64, DEFAULT_LIMIT as u64)? as usize,
        before: query.id("before")?,
        roles: on_unless_false("roles")?,
        everyone: on_unless_false("everyone")?,
        guild_id: query.id("guild_id")?,
    };
    Ok(ok(state.service.recent_mentions(caller, request).await?))
}

async fn dismiss_mention(
    state: State,
    Auth(caller): Auth,
    Path(message_id): Path<String>,
) -> ApiResult<Response> {
    let message_id = id(&message_id, "message_id")?;
    state.service.dismiss_mention(caller, message_id).await?;
    Ok(no_content())
}

async fn leave_guild(
    state: State,
    Auth(caller): Auth,
    Path(guild_id): Path<String>,
) -> ApiResult<Response> {
    state
        .service
        .leave_guild(caller, id(&guild_id, "guild_id")?)
        .await?;
    Ok(no_content())
}

async fn create_application(
    state: State,
    Auth(caller): Auth,
    Body(input): Body<CreateApplication>,
) -> ApiResult<Response> {
    Ok(created(
        state.service.create_application(caller, input).await?,
    ))
}

async fn current_application(state: State, Auth(caller): Auth) -> ApiResult<Response> {
    Ok(ok(state.service.current_application(caller).await?))
}

async fn patch_current_application(
    state: State,
    Auth(caller): Auth,
    Body(input): Body<PatchApplication>,
) -> ApiResult<Response> {
    Ok(ok(state
        .service
        .patch_current_application(caller, input)
        .await?))
}

async fn application(
    state: State,
    Auth(caller): Auth,
    Path(app): Path<String>,
) -> ApiResult<Response> {
    Ok(ok(state
        .service
        .application(caller, id(&app, "application_id")?)
        .await?))
}

async fn patch_application(
    state: State,
    Auth(caller): Auth,
    Path(app): Path<String>,
    Body(input): Body<PatchApplication>,
) -> ApiResult<Response> {
    Ok(ok(state
        .service
        .patch_application(caller, id(&app, "application_id")?, input)
        .await?))
}

async fn reset_bot_token(
    state: State,
    Auth(caller): Auth,
    Path(app): Path<String>,
) -> ApiResult<Response> {
    Ok(ok(state
        .service
        .reset_bot_token(caller, id(&app, "application_id")?)
        .await?))
}

async fn authorize(
    state: State,
    Auth(caller): Auth,
    query: QueryMap,
    Body(input): Body<Authorize>,
) -> ApiResult<Response> {
    let client_id = id(query.get("client_id").unwrap_or(""), "client_id")?;
    let scope = query.get("scope").unwrap_or("");
    Ok(ok(state
        .service
        .authorize_bot(caller, client_id, scope, input)
        .await?))
}

//! Registration, login, users, applications and bot authorization.

use axum::extract::Path;
use axum::response::Response;
use concord_service::accounts::{
    Authorize, CreateApplication, Login, PatchApplication, PatchMe, Register,
};
use concord_service::private::OpenPrivateChannel;

use super::{created, no_content, ok};
use crate::State;
use crate::error::ApiResult;
use crate::extract::{Auth, Body, ClientAddress, QueryMap, id};

pub(super) fn routes() -> super::Routes {
    routes!("Users and applications" {
        post "/auth/register" => register, 201 TokenResponse, body Register;
        post "/auth/login" => login, 200 LoginResponse, body Login;
        get "/users/@me" => me, 200 CurrentUser;
        patch "/users/@me" => patch_me, 200 PatchedMe, body PatchMe;
        get "/users/@me/guilds" => my_guilds, 200 Vec<PartialGuild>;
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

async fn me(state: State, Auth(caller): Auth) -> ApiResult<Response> {
    Ok(ok(state.service.me(caller).await?))
}

async fn patch_me(
    state: State,
    Auth(caller): Auth,
    Body(input): Body<PatchMe>,
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

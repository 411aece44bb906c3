//! Application commands, global and per guild, and their permissions in a
//! guild. Managed by the application's own bot token.

use axum::extract::Path;
use axum::http::HeaderMap;
use axum::response::Response;
use concord_model::Snowflake;
use concord_service::commands::{CommandInput, EditCommandPermissions, ListLocalization};

use super::guilds::guild_id;
use super::{created, no_content, ok};
use crate::State;
use crate::error::ApiResult;
use crate::extract::{Auth, Body, QueryMap, id};

pub(super) fn routes() -> super::Routes {
    routes!("Application commands" {
        get "/applications/{application_id}/commands" => global_commands;
        post "/applications/{application_id}/commands" => create_global_command;
        put "/applications/{application_id}/commands" => overwrite_global_commands;
        get "/applications/{application_id}/commands/{command_id}" => global_command;
        patch "/applications/{application_id}/commands/{command_id}" => edit_global_command;
        delete "/applications/{application_id}/commands/{command_id}" => delete_global_command;
        get "/applications/{application_id}/guilds/{guild_id}/commands" => guild_commands;
        post "/applications/{application_id}/guilds/{guild_id}/commands" => create_guild_command;
        put "/applications/{application_id}/guilds/{guild_id}/commands" => overwrite_guild_commands;
        get "/applications/{application_id}/guilds/{guild_id}/commands/permissions" => guild_command_permissions;
        get "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}" => guild_command;
        patch "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}" => edit_guild_command;
        delete "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}" => delete_guild_command;
        get "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}/permissions" => command_permissions;
        put "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}/permissions" => edit_command_permissions;
    })
}

fn application_id(raw: &str) -> ApiResult<Snowflake> {
    id(raw, "application_id")
}

fn command_id(raw: &str) -> ApiResult<Snowflake> {
    id(raw, "command_id")
}

/// The reader's locale: `X-Discord-Locale`, else the first language of
/// `Accept-Language`.
fn locale(headers: &HeaderMap) -> Option<String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(locale) = header("x-discord-locale") {
        return Some(locale.trim().to_owned());
    }
    let first = header("accept-language")?.split(',').next()?;
    let tag = first.split(';').next()?.trim();
    (!tag.is_empty() && tag != "*").then(|| tag.to_owned())
}

fn localization(query: &QueryMap, headers: &HeaderMap) -> ApiResult<ListLocalization> {
    Ok(ListLocalization {
        with_localizations: query.flag("with_localizations")?,
        locale: locale(headers),
    })
}

/// 201 for a new command, 200 for one that replaced its namesake.
fn upserted((command, is_new): (concord_model::wire::ApplicationCommand, bool)) -> Response {
    if is_new {
        created(command)
    } else {
        ok(command)
    }
}

async fn global_commands(
    state: State,
    Auth(caller): Auth,
    Path(a): Path<String>,
    query: QueryMap,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let app = application_id(&a)?;
    let localization = localization(&query, &headers)?;
    let service = &state.service;
    Ok(ok(service
        .application_commands(caller, app, None, &localization)
        .await?))
}

async fn create_global_command(
    state: State,
    Auth(caller): Auth,
    Path(a): Path<String>,
    Body(input): Body<CommandInput>,
) -> ApiResult<Response> {
    let app = application_id(&a)?;
    let service = &state.service;
    Ok(upserted(
        service
            .create_application_command(caller, app, None, input)
            .await?,
    ))
}

async fn overwrite_global_commands(
    state: State,
    Auth(caller): Auth,
    Path(a): Path<String>,
    Body(inputs): Body<Vec<CommandInput>>,
) -> ApiResult<Response> {
    let app = application_id(&a)?;
    let service = &state.service;
    Ok(ok(service
        .overwrite_application_commands(caller, app, None, inputs)
        .await?))
}

async fn global_command(
    state: State,
    Auth(caller): Auth,
    Path((a, c)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (app, command) = (application_id(&a)?, command_id(&c)?);
    let service = &state.service;
    Ok(ok(service
        .application_command(caller, app, None, command)
        .await?))
}

async fn edit_global_command(
    state: State,
    Auth(caller): Auth,
    Path((a, c)): Path<(String, String)>,
    Body(input): Body<CommandInput>,
) -> ApiResult<Response> {
    let (app, command) = (application_id(&a)?, command_id(&c)?);
    let service = &state.service;
    Ok(ok(service
        .edit_application_command(caller, app, None, command, input)
        .await?))
}

async fn delete_global_command(
    state: State,
    Auth(caller): Auth,
    Path((a, c)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (app, command) = (application_id(&a)?, command_id(&c)?);
    let service = &state.service;
    service
        .delete_application_command(caller, app, None, command)
        .await?;
    Ok(no_content())
}

async fn guild_commands(
    state: State,
    Auth(caller): Auth,
    Path((a, g)): Path<(String, String)>,
    query: QueryMap,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (app, guild) = (application_id(&a)?, guild_id(&g)?);
    let localization = localization(&query, &headers)?;
    let service = &state.service;
    Ok(ok(service
        .application_commands(caller, app, Some(guild), &localization)
        .await?))
}

async fn create_guild_command(
    state: State,
    Auth(caller): Auth,
    Path((a, g)): Path<(String, String)>,
    Body(input): Body<CommandInput>,
) -> ApiResult<Response> {
    let (app, guild) = (application_id(&a)?, guild_id(&g)?);
    let service = &state.service;
    Ok(upserted(
        service
            .create_application_command(caller, app, Some(guild), input)
            .await?,
    ))
}

async fn overwrite_guild_commands(
    state: State,
    Auth(caller): Auth,
    Path((a, g)): Path<(String, String)>,
    Body(inputs): Body<Vec<CommandInput>>,
) -> ApiResult<Response> {
    let (app, guild) = (application_id(&a)?, guild_id(&g)?);
    let service = &state.service;
    Ok(ok(service
        .overwrite_application_commands(caller, app, Some(guild), inputs)
        .await?))
}

async fn guild_command(
    state: State,
    Auth(caller): Auth,
    Path((a, g, c)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let (app, guild, command) = (application_id(&a)?, guild_id(&g)?, command_id(&c)?);
    let service = &state.service;
    Ok(ok(service
        .application_command(caller, app, Some(guild), command)
        .await?))
}

async fn edit_guild_command(
    state: State,
    Auth(caller): Auth,
    Path((a, g, c)): Path<(String, String, String)>,
    Body(input): Body<CommandInput>,
) -> ApiResult<Response> {
    let (app, guild, command) = (application_id(&a)?, guild_id(&g)?, command_id(&c)?);
    let service = &state.service;
    Ok(ok(service
        .edit_application_command(caller, app, Some(guild), command, input)
        .await?))
}

async fn delete_guild_command(
    state: State,
    Auth(caller): Auth,
    Path((a, g, c)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let (app, guild, command) = (application_id(&a)?, guild_id(&g)?, command_id(&c)?);
    let service = &state.service;
    service
        .delete_application_command(caller, app, Some(guild), command)
        .await?;
    Ok(no_content())
}

async fn guild_command_permissions(
    state: State,
    Auth(caller): Auth,
    Path((a, g)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (app, guild) = (application_id(&a)?, guild_id(&g)?);
    let service = &state.service;
    Ok(ok(service
        .guild_command_permissions(caller, app, guild)
        .await?))
}

async fn command_permissions(
    state: State,
    Auth(caller): Auth,
    Path((a, g, c)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let (app, guild, command) = (application_id(&a)?, guild_id(&g)?, command_id(&c)?);
    let service = &state.service;
    Ok(ok(service
        .command_permissions(caller, app, guild, command)
        .await?))
}

async fn edit_command_permissions(
    state: State,
    Auth(caller): Auth,
    Path((a, g, c)): Path<(String, String, String)>,
    Body(input): Body<EditCommandPermissions>,
) -> ApiResult<Response> {
    let (app, guild, command) = (application_id(&a)?, guild_id(&g)?, command_id(&c)?);
    let service = &state.service;
    Ok(ok(service
        .edit_command_permissions(caller, app, guild, command, input)
        .await?))
}

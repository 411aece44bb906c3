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
        get "/applications/{application_id}/commands" => list_commands, 200 Vec<ApplicationCommand>;
        post "/applications/{application_id}/commands" => create_command, 201 ApplicationCommand | 200 ApplicationCommand, body CommandInput;
        put "/applications/{application_id}/commands" => overwrite_commands, 200 Vec<ApplicationCommand>, body Vec<CommandInput>;
        get "/applications/{application_id}/commands/{command_id}" => get_command, 200 ApplicationCommand;
        patch "/applications/{application_id}/commands/{command_id}" => edit_command, 200 ApplicationCommand, body CommandInput;
        delete "/applications/{application_id}/commands/{command_id}" => delete_command, 204 NoBody;
        get "/applications/{application_id}/guilds/{guild_id}/commands" => list_commands, 200 Vec<ApplicationCommand>;
        post "/applications/{application_id}/guilds/{guild_id}/commands" => create_command, 201 ApplicationCommand | 200 ApplicationCommand, body CommandInput;
        put "/applications/{application_id}/guilds/{guild_id}/commands" => overwrite_commands, 200 Vec<ApplicationCommand>, body Vec<CommandInput>;
        get "/applications/{application_id}/guilds/{guild_id}/commands/permissions" => guild_command_permissions, 200 Vec<CommandPermissions>;
        get "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}" => get_command, 200 ApplicationCommand;
        patch "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}" => edit_command, 200 ApplicationCommand, body CommandInput;
        delete "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}" => delete_command, 204 NoBody;
        get "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}/permissions" => command_permissions, 200 CommandPermissions;
        put "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}/permissions" => edit_command_permissions, 200 CommandPermissions, body EditCommandPermissions;
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
pub(super) fn locale(headers: &HeaderMap) -> Option<String> {
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

/// The path of a command route: the application, the guild for a guild's
/// commands (none for global ones), and the command where there is one.
#[derive(serde::Deserialize)]
struct Scope {
    application_id: String,
    guild_id: Option<String>,
    command_id: Option<String>,
}

impl Scope {
    fn application(&self) -> ApiResult<Snowflake> {
        application_id(&self.application_id)
    }

    fn guild(&self) -> ApiResult<Option<Snowflake>> {
        self.guild_id.as_deref().map(guild_id).transpose()
    }

    fn command(&self) -> ApiResult<Snowflake> {
        command_id(self.command_id.as_deref().unwrap_or_default())
    }
}

async fn list_commands(
    state: State,
    Auth(caller): Auth,
    Path(scope): Path<Scope>,
    query: QueryMap,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let localization = localization(&query, &headers)?;
    let listed = state
        .service
        .application_commands(caller, scope.application()?, scope.guild()?, &localization)
        .await?;
    Ok(ok(listed))
}

async fn create_command(
    state: State,
    Auth(caller): Auth,
    Path(scope): Path<Scope>,
    Body(input): Body<CommandInput>,
) -> ApiResult<Response> {
    let made = state
        .service
        .create_application_command(caller, scope.application()?, scope.guild()?, input)
        .await?;
    Ok(upserted(made))
}

async fn overwrite_commands(
    state: State,
    Auth(caller): Auth,
    Path(scope): Path<Scope>,
    Body(inputs): Body<Vec<CommandInput>>,
) -> ApiResult<Response> {
    let set = state
        .service
        .overwrite_application_commands(caller, scope.application()?, scope.guild()?, inputs)
        .await?;
    Ok(ok(set))
}

async fn get_command(
    state: State,
    Auth(caller): Auth,
    Path(scope): Path<Scope>,
) -> ApiResult<Response> {
    let (app, guild, command) = (scope.application()?, scope.guild()?, scope.command()?);
    let found = state
        .service
        .application_command(caller, app, guild, command)
        .await?;
    Ok(ok(found))
}

async fn edit_command(
    state: State,
    Auth(caller): Auth,
    Path(scope): Path<Scope>,
    Body(input): Body<CommandInput>,
) -> ApiResult<Response> {
    let (app, guild, command) = (scope.application()?, scope.guild()?, scope.command()?);
    let edited = state
        .service
        .edit_application_command(caller, app, guild, command, input)
        .await?;
    Ok(ok(edited))
}

async fn delete_command(
    state: State,
    Auth(caller): Auth,
    Path(scope): Path<Scope>,
) -> ApiResult<Response> {
    let (app, guild, command) = (scope.application()?, scope.guild()?, scope.command()?);
    state
        .service
        .delete_application_command(caller, app, guild, command)
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

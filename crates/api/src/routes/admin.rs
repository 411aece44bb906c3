//! The instance admin API (Concord's own, not Discord's): what the
//! `concord user|token|guild|stats|backup` commands call.

use std::sync::Arc;

use axum::extract::Path;
use axum::http::header;
use axum::response::Response;
use concord_model::Snowflake;
use concord_service::operations::backup::{self, BackupProgress};
use concord_service::operations::{AdminCreateUser, AdminPatchUser, AdminResetPassword};
use serde::Deserialize;
use serde_json::json;
use std::convert::Infallible;
use std::path::PathBuf;
use tokio::sync::mpsc;

use super::{created, no_content, ok};
use crate::State;
use crate::error::ApiResult;
use crate::extract::{Admin, Body, QueryMap, id};

pub(super) fn routes() -> super::Routes {
    routes!("Instance administration" {
        get "/admin/users" => users, 200 Vec<AdminUser>;
        post "/admin/users" => create_user, 201 Credentials, body AdminCreateUser;
        get "/admin/users/{user}" => user, 200 AdminUser;
        patch "/admin/users/{user}" => patch_user, 200 AdminUser, body AdminPatchUser;
        post "/admin/users/{user}/password" => reset_password, 200 Credentials, body AdminResetPassword;
        post "/admin/registration-tokens" => create_token, 201 RegistrationToken;
        get "/admin/guilds" => guilds, 200 Vec<AdminGuild>;
        delete "/admin/guilds/{guild_id}" => delete_guild, 204 NoBody;
        get "/admin/stats" => stats, 200 Stats;
        post "/admin/backup" => backup, 200 JsonLines<BackupLine>, body BackupRequest;
    })
}

/// `after` and `limit` (1-1000, default 100) of a listing.
fn page(query: &QueryMap) -> ApiResult<(Snowflake, usize)> {
    let after = query.id("after")?.unwrap_or(Snowflake(0));
    Ok((after, query.int("limit", 1, 1000, 100)? as usize))
}

async fn users(state: State, _: Admin, query: QueryMap) -> ApiResult<Response> {
    let (after, limit) = page(&query)?;
    Ok(ok(state.service.admin_users(after, limit).await?))
}

async fn create_user(
    state: State,
    _: Admin,
    Body(input): Body<AdminCreateUser>,
) -> ApiResult<Response> {
    Ok(created(state.service.admin_create_user(input).await?))
}

/// `{user}` is an id, a username or an email.
async fn user(state: State, _: Admin, Path(user): Path<String>) -> ApiResult<Response> {
    Ok(ok(state.service.admin_user(&user).await?))
}

async fn patch_user(
    state: State,
    _: Admin,
    Path(user): Path<String>,
    Body(input): Body<AdminPatchUser>,
) -> ApiResult<Response> {
    Ok(ok(state.service.admin_patch_user(&user, input).await?))
}

async fn reset_password(
    state: State,
    _: Admin,
    Path(user): Path<String>,
    Body(input): Body<AdminResetPassword>,
) -> ApiResult<Response> {
    Ok(ok(state.service.admin_reset_password(&user, input).await?))
}

async fn create_token(state: State, _: Admin) -> ApiResult<Response> {
    let token = state.service.create_registration_token().await?;
    Ok(created(json!({ "token": token })))
}

async fn guilds(state: State, _: Admin, query: QueryMap) -> ApiResult<Response> {
    let (after, limit) = page(&query)?;
    Ok(ok(state.service.admin_guilds(after, limit).await?))
}

async fn delete_guild(state: State, _: Admin, Path(guild_id): Path<String>) -> ApiResult<Response> {
    let guild_id = id(&guild_id, "guild_id")?;
    state.service.admin_delete_guild(guild_id).await?;
    Ok(no_content())
}

async fn stats(state: State, _: Admin) -> ApiResult<Response> {
    let mut stats = serde_json::to_value(state.service.stats().await?).unwrap_or_default();
    stats["gateway_connections"] = json!((state.gateway_connections)());
    stats["uptime_seconds"] = json!(state.started.elapsed().as_secs());
    Ok(ok(stats))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct BackupRequest {
    /// An absolute path on the server's machine: missing or empty.
    destination: String,
}

/// Runs a backup and streams its progress as JSON lines; the last line
/// is `{"done": summary}` or `{"error": message}`.
async fn backup(state: State, _: Admin, Body(input): Body<BackupRequest>) -> ApiResult<Response> {
    let destination = PathBuf::from(input.destination);
    backup::check_destination(&destination)?;
    let (lines, receiver) = mpsc::unbounded_channel::<String>();
    let report = lines.clone();
    let progress = Arc::new(move |p: BackupProgress| {
        let _ = report.send(json_line(&p));
    });
    let service = Arc::clone(&state.service);
    let config_file = state.config_file.clone();
    tokio::spawn(async move {
        let last = match service.backup(destination, config_file, progress).await {
            Ok(summary) => json!({ "done": summary }),
            Err(e) => json!({ "error": e.to_string() }),
        };
        let _ = lines.send(json_line(&last));
    });
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        let line = receiver.recv().await?;
        Some((Ok::<_, Infallible>(line), receiver))
    });
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .body(axum::body::Body::from_stream(stream))
        .unwrap_or_default())
}

fn json_line(value: &impl serde::Serialize) -> String {
    let mut line = serde_json::to_string(value).unwrap_or_default();
    line.push('\n');
    line
}

//! Route table, grouped by Discord resource.

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::AppState;
use crate::error::json_response;

mod accounts;
mod admin;
mod channels;
pub(crate) mod emojis;
mod gateway;
mod guilds;
mod invites;
mod messages;
mod moderation;
mod pins;
mod reactions;
mod search;

pub(crate) fn api() -> Router<Arc<AppState>> {
    Router::new()
        .merge(accounts::routes())
        .merge(admin::routes())
        .merge(gateway::routes())
        .merge(guilds::routes())
        .merge(channels::routes())
        .merge(messages::routes())
        .merge(invites::routes())
        .merge(moderation::routes())
        .merge(pins::routes())
        .merge(reactions::routes())
        .merge(emojis::routes())
        .merge(search::routes())
}

/// 200 with a JSON body.
pub(crate) fn ok<T: Serialize>(value: T) -> Response {
    with_status(StatusCode::OK, value)
}

pub(crate) fn created<T: Serialize>(value: T) -> Response {
    with_status(StatusCode::CREATED, value)
}

fn with_status<T: Serialize>(status: StatusCode, value: T) -> Response {
    json_response(status, &value)
}

pub(crate) fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

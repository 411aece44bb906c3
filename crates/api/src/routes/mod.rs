//! Route table, grouped by Discord resource. Routes are added only through
//! [`routes!`], which records each one, so the OpenAPI document served at
//! `/openapi.json` is made from the very table the router is.

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use serde::Serialize;

use crate::AppState;
use crate::error::json_response;

/// `routes!("Tag" { get "/path" => handler; ... })`: a [`Routes`] in which
/// every line is both routed and documented.
macro_rules! routes {
    ($tag:literal { $($method:ident $path:expr => $handler:path;)* }) => {
        $crate::routes::Routes::new()
            $(.add(
                $crate::routes::Operation::new(
                    $tag,
                    stringify!($method),
                    $path,
                    stringify!($handler),
                ),
                axum::routing::$method($handler),
            ))*
    };
}

mod openapi;

pub(crate) use openapi::Operation;

mod accounts;
mod admin;
mod channels;
mod commands;
pub(crate) mod emojis;
mod gateway;
mod guilds;
pub(crate) mod images;
mod interactions;
mod invites;
pub(crate) mod messages;
mod moderation;
mod notifications;
mod pins;
mod polls;
mod reactions;
mod search;
mod threads;
mod voice;
mod webhooks;

/// A router and the operations it routes.
pub(crate) struct Routes {
    router: Router<Arc<AppState>>,
    operations: Vec<Operation>,
}

impl Routes {
    pub(crate) fn new() -> Routes {
        Routes {
            router: Router::new(),
            operations: Vec::new(),
        }
    }

    pub(crate) fn add(
        mut self,
        operation: Operation,
        route: MethodRouter<Arc<AppState>>,
    ) -> Routes {
        self.router = self.router.route(&operation.path, route);
        self.operations.push(operation);
        self
    }

    fn merge(mut self, other: Routes) -> Routes {
        self.router = self.router.merge(other.router);
        self.operations.extend(other.operations);
        self
    }

    /// The router, with the document of all its operations (itself
    /// included) at `/openapi.json`.
    fn documented(self) -> Router<Arc<AppState>> {
        let this = Operation::new("Meta", "get", "/openapi.json", "openapi");
        let mut operations = self.operations;
        operations.push(this.clone());
        let document = openapi::document(&operations);
        let serve = axum::routing::get(move || {
            let document = document.clone();
            async move { ok(&*document) }
        });
        self.router.route(&this.path, serve)
    }
}

pub(crate) fn api() -> Router<Arc<AppState>> {
    Routes::new()
        .merge(accounts::routes())
        .merge(admin::routes())
        .merge(gateway::routes())
        .merge(guilds::routes())
        .merge(channels::routes())
        .merge(messages::routes())
        .merge(invites::routes())
        .merge(moderation::routes())
        .merge(pins::routes())
        .merge(polls::routes())
        .merge(reactions::routes())
        .merge(emojis::routes())
        .merge(search::routes())
        .merge(threads::routes())
        .merge(webhooks::routes())
        .merge(commands::routes())
        .merge(interactions::routes())
        .merge(notifications::routes())
        .merge(voice::routes())
        .documented()
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

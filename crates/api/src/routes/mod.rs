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

/// `routes!("Tag" { get "/path" => handler, 200 Type; ... })`: a
/// [`Routes`] in which every line is both routed and documented. Each line
/// says what the route answers (`200 Channel`, `201 Guild`, `204 NoBody`,
/// alternatives joined by `|`) and, where it reads one, its body (`body T`
/// for JSON, `form T` for JSON or multipart with files).
macro_rules! routes {
    ($tag:literal { $(
        $method:ident $path:expr => $handler:path,
        $($status:literal $answer:ty)|+
        $(, body $body:ty)? $(, form $form:ty)?;
    )* }) => {
        {
            #[allow(unused_imports)]
            use $crate::routes::shapes::*;
            $crate::routes::Routes::new()
            $(.add(
                $crate::routes::Operation::new(
                    $tag,
                    stringify!($method),
                    $path,
                    stringify!($handler),
                )
                $(.answers::<$answer>($status))+
                $(.body::<$body>())?
                $(.form::<$form>())?,
                axum::routing::$method($handler),
            ))*
        }
    };
}

mod openapi;
mod shapes;

pub(crate) use openapi::Operation;
pub(crate) use openapi::{JsonLines, NoBody, PlainText};

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
        let this =
            Operation::new("Meta", "get", "/openapi.json", "openapi").answers::<OpenApi>(200);
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

/// The document served at `/openapi.json`: an OpenAPI 3.1 object.
struct OpenApi;

impl schemars::JsonSchema for OpenApi {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "OpenApi".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "object",
            "required": ["openapi", "info", "paths"],
            "properties": { "openapi": { "type": "string", "pattern": "^3\\.1\\." } },
        })
    }
}

pub(crate) fn api() -> Router<Arc<AppState>> {
    table().documented()
}

/// Every route of the API but the document's own.
fn table() -> Routes {
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

#[cfg(test)]
mod tests {
    /// A schema name stands for one shape: a type read and written alike,
    /// or named apart.
    #[test]
    fn every_schema_name_has_one_shape() {
        let (document, conflicts) = super::openapi::document_checked(&super::table().operations);
        assert_eq!(conflicts, Vec::<String>::new());
        let schemas = document["components"]["schemas"].as_object().unwrap();
        assert!(schemas.contains_key("Message") && schemas.contains_key("CreateMessage"));
    }
}

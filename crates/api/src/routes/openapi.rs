//! The OpenAPI 3.1 document of the HTTP API, written from the route table:
//! one operation per routed method and path, its path parameters, and the
//! two ways to authenticate. Bodies follow Discord's documented shapes and
//! are not restated here.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

/// One routed method and path.
#[derive(Debug, Clone)]
pub(crate) struct Operation {
    pub tag: &'static str,
    pub method: &'static str,
    pub path: String,
    /// The handler's name, which is also the operation id.
    pub handler: &'static str,
}

impl Operation {
    pub(crate) fn new(
        tag: &'static str,
        method: &'static str,
        path: impl Into<String>,
        handler: &'static str,
    ) -> Operation {
        Operation {
            tag,
            method,
            path: path.into(),
            handler,
        }
    }

    /// `super :: moderation :: kick` → `kick`
    fn name(&self) -> &str {
        self.handler
            .rsplit("::")
            .next()
            .unwrap_or(self.handler)
            .trim()
    }

    /// `reset_bot_token` → `Reset bot token`
    fn summary(&self) -> String {
        let words = self.name().replace('_', " ");
        let mut chars = words.chars();
        chars
            .next()
            .map(|first| first.to_uppercase().chain(chars).collect())
            .unwrap_or_default()
    }

    fn parameters(&self) -> Vec<Value> {
        self.path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| {
                json!({
                    "name": name,
                    "in": "path",
                    "required": true,
                    "schema": { "type": "string" },
                })
            })
            .collect()
    }

    fn public(&self) -> bool {
        matches!(
            self.name(),
            "register" | "login" | "gateway" | "invite" | "openapi" | "vapid_key"
        ) || self.path.contains("{webhook_token}")
    }

    fn describe(&self, ids: &mut BTreeMap<String, usize>) -> Value {
        // Handlers named alike in two modules get distinct operation ids.
        let seen = ids.entry(self.name().to_owned()).or_default();
        *seen += 1;
        let id = match *seen {
            1 => self.name().to_owned(),
            n => format!("{}_{n}", self.name()),
        };
        let mut operation = json!({
            "operationId": id,
            "summary": self.summary(),
            "tags": [self.tag],
            "parameters": self.parameters(),
            "responses": {
                "default": {
                    "description": "Discord's shape for this resource, or a Discord error object",
                    "content": { "application/json": { "schema": {} } },
                },
            },
        });
        if self.public() {
            operation["security"] = json!([{}, { "BotToken": [] }, { "UserToken": [] }]);
        }
        operation
    }
}

/// The whole document, serialized once.
pub(crate) fn document(operations: &[Operation]) -> Arc<Value> {
    let mut paths: BTreeMap<&str, serde_json::Map<String, Value>> = BTreeMap::new();
    let mut ids = BTreeMap::new();
    for op in operations {
        paths
            .entry(&op.path)
            .or_default()
            .insert(op.method.to_owned(), op.describe(&mut ids));
    }
    let tags: std::collections::BTreeSet<&str> = operations.iter().map(|op| op.tag).collect();
    Arc::new(json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Concord HTTP API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Discord's HTTP API v10 as Concord serves it (also under /api/v9 and /api), plus Concord's instance administration under /admin.",
        },
        "servers": [{ "url": "/api/v10" }],
        "tags": tags.iter().map(|t| json!({ "name": t })).collect::<Vec<_>>(),
        "security": [{ "BotToken": [] }, { "UserToken": [] }],
        "components": {
            "securitySchemes": {
                "BotToken": {
                    "type": "apiKey", "in": "header", "name": "Authorization",
                    "description": "`Bot <token>`",
                },
                "UserToken": {
                    "type": "apiKey", "in": "header", "name": "Authorization",
                    "description": "A user's token, bare; admin routes also take `Control <token>` from the data directory",
                },
            },
        },
        "paths": paths,
    }))
}

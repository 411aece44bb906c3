//! The OpenAPI 3.1 document of the HTTP API, written from the route table:
//! one operation per routed method and path, its path parameters, the two
//! ways to authenticate, and the JSON Schemas (2020-12, as OpenAPI 3.1
//! uses) of its request body and of each answer, derived from the very
//! types the handlers read and write. Shared shapes live once in
//! `components/schemas` and are referenced from the operations.

use std::collections::{BTreeMap, BTreeSet};
use std::marker::PhantomData;
use std::sync::Arc;

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value, json};

/// What one answer of a route carries: a JSON body of a type (any
/// [`JsonSchema`] type), no body ([`NoBody`]), or another media type.
pub(crate) trait Answer {
    /// The media type and the schema of the body, `None` when there is none.
    fn content(responses: &mut SchemaGenerator) -> Option<(&'static str, Schema)>;
}

impl<T: JsonSchema> Answer for T {
    fn content(responses: &mut SchemaGenerator) -> Option<(&'static str, Schema)> {
        Some(("application/json", responses.subschema_for::<T>()))
    }
}

/// An answer without a body (204).
pub(crate) struct NoBody;

impl Answer for NoBody {
    fn content(_: &mut SchemaGenerator) -> Option<(&'static str, Schema)> {
        None
    }
}

/// A plain-text answer.
pub(crate) struct PlainText;

impl Answer for PlainText {
    fn content(_: &mut SchemaGenerator) -> Option<(&'static str, Schema)> {
        Some(("text/plain", schemars::json_schema!({ "type": "string" })))
    }
}

/// A stream of JSON values of `T`, one a line.
pub(crate) struct JsonLines<T>(PhantomData<T>);

impl<T: JsonSchema> Answer for JsonLines<T> {
    fn content(responses: &mut SchemaGenerator) -> Option<(&'static str, Schema)> {
        Some(("application/x-ndjson", responses.subschema_for::<T>()))
    }
}

type ContentFn = fn(&mut SchemaGenerator) -> Option<(&'static str, Schema)>;
type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

fn content_of<A: Answer>() -> ContentFn {
    A::content
}

fn schema_of<T: JsonSchema>(requests: &mut SchemaGenerator) -> Schema {
    requests.subschema_for::<T>()
}

/// How a request body may be sent.
#[derive(Debug, Clone, Copy)]
enum Encoding {
    Json,
    /// JSON, or `multipart/form-data` with the JSON in `payload_json` and
    /// files in `files[n]`, as Discord takes messages.
    JsonOrMultipart,
}

/// One routed method and path, and what it reads and answers.
#[derive(Debug, Clone)]
pub(crate) struct Operation {
    pub tag: &'static str,
    pub method: &'static str,
    pub path: String,
    /// The handler's name, which is also the operation id.
    pub handler: &'static str,
    answers: Vec<(u16, ContentFn)>,
    body: Option<(Encoding, SchemaFn)>,
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
            answers: Vec::new(),
            body: None,
        }
    }

    /// A success the route answers with, and what it carries.
    pub(crate) fn answers<A: Answer>(mut self, status: u16) -> Operation {
        self.answers.push((status, content_of::<A>()));
        self
    }

    /// The route reads a JSON body of `T`.
    pub(crate) fn body<T: JsonSchema>(mut self) -> Operation {
        self.body = Some((Encoding::Json, schema_of::<T>));
        self
    }

    /// The route reads `T` as JSON or as a multipart form with files.
    pub(crate) fn form<T: JsonSchema>(mut self) -> Operation {
        self.body = Some((Encoding::JsonOrMultipart, schema_of::<T>));
        self
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
            || self.path.contains("{interaction_token}")
    }

    /// The answers: each success as routed, then Discord's error objects.
    fn responses(&self, schemas: &mut Generators) -> Value {
        let mut responses = Map::new();
        for (status, content) in &self.answers {
            let entry = responses
                .entry(status.to_string())
                .or_insert_with(|| json!({ "description": description(*status) }));
            if let Some((media, schema)) = content(&mut schemas.responses) {
                entry["content"][media] = json!({ "schema": schema });
            }
        }
        for (status, error) in [("4XX", "Error"), ("429", "RateLimited"), ("503", "Error")] {
            responses.insert(
                status.into(),
                json!({ "$ref": format!("#/components/responses/{error}") }),
            );
        }
        Value::Object(responses)
    }

    fn request_body(&self, schemas: &mut Generators) -> Option<Value> {
        let (encoding, schema) = self.body?;
        let schema = json!({ "schema": schema(&mut schemas.requests) });
        let mut content = json!({ "application/json": schema });
        if let Encoding::JsonOrMultipart = encoding {
            content["multipart/form-data"] = json!({
                "schema": {
                    "type": "object",
                    "properties": {
                        "payload_json": {
                            "type": "string",
                            "description": "The JSON body, as text",
                            "contentMediaType": "application/json",
                        },
                    },
                    "patternProperties": {
                        "^files\\[[0-9]+\\]$": {
                            "type": "string",
                            "contentMediaType": "application/octet-stream",
                        },
                    },
                },
            });
        }
        Some(json!({ "required": true, "content": content }))
    }

    fn describe(&self, ids: &mut BTreeMap<String, usize>, schemas: &mut Generators) -> Value {
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
            "responses": self.responses(schemas),
        });
        if let Some(body) = self.request_body(schemas) {
            operation["requestBody"] = body;
        }
        if self.public() {
            operation["security"] = json!([{}, { "BotToken": [] }, { "UserToken": [] }]);
        }
        operation
    }
}

fn description(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No content",
        _ => "Success",
    }
}

/// Answers are described as Concord writes them (a field always sent is
/// required, an `Option` without `skip_serializing_if` is nullable), and
/// request bodies as Concord reads them (a field with a default may be
/// left out). Both land in `components/schemas`, so a type is named once.
struct Generators {
    responses: SchemaGenerator,
    requests: SchemaGenerator,
}

impl Generators {
    fn new() -> Generators {
        let settings = || {
            SchemaSettings::draft2020_12().with(|s| {
                s.definitions_path = "/components/schemas".into();
                s.meta_schema = None;
            })
        };
        Generators {
            responses: settings().for_serialize().into_generator(),
            requests: settings().for_deserialize().into_generator(),
        }
    }

    /// Every named schema, and the names of those a type describes
    /// differently read and written (which would need two names).
    fn components(mut self) -> (Map<String, Value>, Vec<String>) {
        let mut all = self.responses.take_definitions(true);
        let mut conflicts = Vec::new();
        for (name, schema) in self.requests.take_definitions(true) {
            match all.get(&name) {
                Some(known) if *known != schema => conflicts.push(name),
                _ => {
                    all.insert(name, schema);
                }
            }
        }
        all.extend(error_schemas());
        (all, conflicts)
    }
}

/// Discord's error objects: `code` and `message`, with the per-field
/// `errors` of a 50035, and the rate limit's `retry_after` and `global`.
fn error_schemas() -> Map<String, Value> {
    let object = |required: &[&str], properties: Value| json!({ "type": "object", "required": required, "properties": properties });
    let mut schemas = Map::new();
    schemas.insert(
        "Error".into(),
        object(
            &["code", "message"],
            json!({
                "code": { "type": "integer", "minimum": 0 },
                "message": { "type": "string" },
                "errors": { "type": "object" },
            }),
        ),
    );
    schemas.insert(
        "RateLimited".into(),
        object(
            &["message", "retry_after", "global"],
            json!({
                "message": { "type": "string" },
                "retry_after": { "type": "number", "minimum": 0 },
                "global": { "type": "boolean" },
                "code": { "type": "integer", "minimum": 0 },
            }),
        ),
    );
    schemas
}

fn error_responses() -> Value {
    let answer = |description: &str, schema: &str| {
        json!({
            "description": description,
            "content": { "application/json": {
                "schema": { "$ref": format!("#/components/schemas/{schema}") },
            } },
        })
    };
    json!({
        "Error": answer("Discord's error object", "Error"),
        "RateLimited": answer("Rate limited", "RateLimited"),
    })
}

/// The whole document, serialized once.
pub(crate) fn document(operations: &[Operation]) -> Arc<Value> {
    let (document, conflicts) = document_checked(operations);
    for name in conflicts {
        tracing::error!(name, "a schema described differently read and written");
    }
    Arc::new(document)
}

/// The document, and the schema names in conflict (none, as a unit test
/// checks).
pub(crate) fn document_checked(operations: &[Operation]) -> (Value, Vec<String>) {
    let mut paths: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
    let mut ids = BTreeMap::new();
    let mut schemas = Generators::new();
    for op in operations {
        let described = op.describe(&mut ids, &mut schemas);
        paths
            .entry(&op.path)
            .or_default()
            .insert(op.method.to_owned(), described);
    }
    let tags: BTreeSet<&str> = operations.iter().map(|op| op.tag).collect();
    let (components, conflicts) = schemas.components();
    let document = json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "Concord HTTP API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Discord's HTTP API v10 as Concord serves it (also under /api/v9 and /api), plus Concord's instance administration under /admin.",
        },
        "servers": [{ "url": "/api/v10" }],
        "tags": tags.iter().map(|t| json!({ "name": t })).collect::<Vec<_>>(),
        "security": [{ "BotToken": [] }, { "UserToken": [] }],
        "components": {
            "schemas": components,
            "responses": error_responses(),
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
    });
    (document, conflicts)
}

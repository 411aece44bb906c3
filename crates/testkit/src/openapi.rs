//! Every reply checked against the OpenAPI document the server serves: the
//! operation is found by method and path, and the body must match the
//! schema of the answer documented for its status (no body for a 204).
//! A suite turns this on with [`check_replies`]; the document is fetched
//! once per test binary, and each schema is compiled once, on first use.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use serde_json::{Value, json};

use crate::Reply;

static ON: AtomicBool = AtomicBool::new(false);
static DOCUMENT: OnceLock<Document> = OnceLock::new();

/// Checks every reply of every [`Client`](crate::Client) of this process
/// from now on.
pub fn check_replies() {
    ON.store(true, Ordering::Relaxed);
}

pub(crate) fn enabled() -> bool {
    ON.load(Ordering::Relaxed)
}

/// The document, once fetched.
pub fn loaded() -> Option<&'static Document> {
    DOCUMENT.get()
}

pub(crate) fn load(document: Value) -> &'static Document {
    DOCUMENT.get_or_init(|| Document::new(document))
}

/// One documented answer: the schema of its body by media type (none for
/// no body).
type Answer = Vec<Body>;

struct Body {
    media: String,
    schema: Value,
    /// Compiled on first use.
    compiled: OnceLock<jsonschema::Validator>,
}

struct Operation {
    method: String,
    template: String,
    segments: Vec<String>,
    /// By status (`"200"`) or range (`"4XX"`).
    answers: HashMap<String, Answer>,
}

impl Operation {
    /// How well `path` fits: the number of literal segments matched, or
    /// `None` if it does not fit.
    fn fit(&self, path: &[&str]) -> Option<usize> {
        if path.len() != self.segments.len() {
            return None;
        }
        let mut literal = 0;
        for (template, actual) in self.segments.iter().zip(path) {
            if template.starts_with('{') {
                continue;
            }
            if template != actual {
                return None;
            }
            literal += 1;
        }
        Some(literal)
    }
}

pub struct Document {
    operations: Vec<Operation>,
    components: Value,
    /// Operations answered so far (`GET /path`), for
    /// `CONCORD_TEST_OPENAPI_COVERAGE`.
    seen: Mutex<BTreeSet<String>>,
}

impl Document {
    fn new(document: Value) -> Document {
        let mut operations = Vec::new();
        let paths = document["paths"].as_object().cloned().unwrap_or_default();
        for (template, methods) in paths {
            for (method, op) in methods.as_object().into_iter().flatten() {
                let mut answers = HashMap::new();
                for (status, answer) in op["responses"].as_object().into_iter().flatten() {
                    let answer = resolve(&document, answer);
                    let content = answer["content"].as_object().into_iter().flatten();
                    let body = content.map(|(media, c)| Body {
                        media: media.clone(),
                        schema: c["schema"].clone(),
                        compiled: OnceLock::new(),
                    });
                    answers.insert(status.clone(), body.collect());
                }
                operations.push(Operation {
                    method: method.to_uppercase(),
                    segments: template.split('/').map(str::to_owned).collect(),
                    template: template.clone(),
                    answers,
                });
            }
        }
        Document {
            operations,
            components: json!({ "schemas": document["components"]["schemas"] }),
            seen: Mutex::default(),
        }
    }

    /// Panics, saying why, if `reply` to `method path` is not what the
    /// document says; a path it does not list (the router's own 404) is
    /// not checked.
    pub fn check(&self, method: &str, path: &str, reply: &Reply) {
        let path = path.split('?').next().unwrap_or(path);
        let segments: Vec<&str> = path.split('/').collect();
        let Some(op) = (self.operations.iter())
            .filter(|op| op.method == method)
            .filter_map(|op| Some((op.fit(&segments)?, op)))
            .max_by_key(|(fit, _)| *fit)
            .map(|(_, op)| op)
        else {
            return;
        };
        let name = format!("{method} {}", op.template);
        let status = reply.status.to_string();
        self.record(&format!("{name} {status}"));
        let range = format!("{}XX", &status[..1]);
        let answer = op.answers.get(&status).or_else(|| op.answers.get(&range));
        let Some(answer) = answer else {
            panic!(
                "{name} answered {status}, which the document does not list: {}",
                reply.body
            );
        };
        let content_type = reply.header("content-type").unwrap_or("");
        if answer.is_empty() {
            assert!(
                reply.body.is_null(),
                "{name} answered {status} with a body, where the document says none: {}",
                reply.body
            );
            return;
        }
        let Some(body) = answer
            .iter()
            .find(|body| content_type.starts_with(body.media.as_str()))
        else {
            panic!(
                "{name} answered {status} as {content_type:?}, which the document does not list"
            );
        };
        if body.media == "application/json" {
            self.validate(&name, &status, body, &reply.body);
        }
    }

    fn validate(&self, name: &str, status: &str, expected: &Body, body: &Value) {
        let validator = expected
            .compiled
            .get_or_init(|| self.compile(&expected.schema));
        if validator.is_valid(body) {
            return;
        }
        let errors: Vec<String> = validator
            .iter_errors(body)
            .take(5)
            .map(|e| format!("at {}: {e}", e.instance_path()))
            .collect();
        let mut shown = body.to_string();
        shown.truncate(2000);
        panic!(
            "{name} answered {status} with a body that does not match the document:\n  {}\nbody: {shown}",
            errors.join("\n  ")
        );
    }

    /// The schema, with the document's named schemas where its `$ref`s
    /// point (`#/components/schemas/…`).
    fn compile(&self, schema: &Value) -> jsonschema::Validator {
        let mut root = match schema {
            Value::Object(_) => schema.clone(),
            other => json!({ "allOf": [other] }),
        };
        root["components"] = self.components.clone();
        jsonschema::draft202012::new(&root)
            .unwrap_or_else(|e| panic!("the document's schema {schema} does not compile: {e}"))
    }

    /// With `CONCORD_TEST_OPENAPI_COVERAGE=FILE`, each operation and status
    /// answered is appended to FILE the first time, for a report of what no
    /// test reaches.
    fn record(&self, name: &str) {
        let Some(file) = std::env::var_os("CONCORD_TEST_OPENAPI_COVERAGE") else {
            return;
        };
        if !self.seen.lock().expect("seen").insert(name.to_owned()) {
            return;
        }
        use std::io::Write;
        let mut out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(file)
            .expect("coverage file");
        let _ = writeln!(out, "{name}");
    }
}

/// `{"$ref": "#/components/responses/Error"}` → what it points to.
fn resolve<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str().and_then(|r| r.strip_prefix('#')) {
        Some(pointer) => document.pointer(pointer).unwrap_or(value),
        None => value,
    }
}

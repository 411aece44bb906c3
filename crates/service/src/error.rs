use std::collections::BTreeMap;

use concord_model::codes;
use concord_store::StoreError;
use serde_json::{Map, Value, json};

/// Everything a request can fail with. The API maps each variant to one
/// status code and Discord's error body, in one place.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("unauthorized")]
    Unauthorized,
    /// 401 with a code: a secret in the path (a webhook's token) that
    /// opens nothing.
    #[error("invalid token ({0})")]
    InvalidToken(u32),
    /// 404 with an `Unknown ...` code.
    #[error("not found ({0})")]
    NotFound(u32),
    /// 403 with 50001, 50013 or another refusal code.
    #[error("forbidden ({0})")]
    Forbidden(u32),
    /// 400 with a code that stands alone (empty message, bulk limits...).
    #[error("bad request ({0})")]
    BadRequest(u32),
    /// 400 with 50035 and the per-field errors.
    #[error("invalid form body")]
    InvalidForm(FormErrors),
    /// A cap such as 500 channels per guild (400 with a 30xxx code).
    #[error("limit reached ({0})")]
    LimitReached(u32),
    /// 429 with a code, e.g. slowmode; `retry_after_ms` until allowed.
    #[error("rate limited ({code})")]
    RateLimited { code: u32, retry_after_ms: u64 },
    /// 202: the search index is being filled; try again shortly.
    #[error("search index not ready ({documents_indexed} documents so far)")]
    IndexNotReady { documents_indexed: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// 503: a backend the request needs is down (the event bus, a
    /// networked store); the same request may succeed once it is back.
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("internal: {0}")]
    Internal(String),
}

pub type ServiceResult<T> = Result<T, ServiceError>;

/// Writing JSON of the wire types fails only on a bug (a map with keys
/// that are not strings): a 500 rather than a panic.
impl From<serde_json::Error> for ServiceError {
    fn from(e: serde_json::Error) -> Self {
        ServiceError::Internal(format!("JSON: {e}"))
    }
}

/// Per-field validation errors, keyed by dotted path (`embeds.0.title`),
/// rendered as Discord's nested `errors` object.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FormErrors {
    fields: BTreeMap<String, Vec<(String, String)>>,
}

impl FormErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// One error at `path` (`""` for the whole body).
    pub fn single(path: &str, code: &str, message: impl Into<String>) -> Self {
        let mut e = Self::new();
        e.add(path, code, message);
        e
    }

    pub fn add(&mut self, path: &str, code: &str, message: impl Into<String>) {
        self.fields
            .entry(path.to_owned())
            .or_default()
            .push((code.to_owned(), message.into()));
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// `Ok` if nothing was added, else the 50035 error.
    pub fn into_result(self) -> ServiceResult<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::InvalidForm(self))
        }
    }

    /// `{"content": {"_errors": [{"code", "message"}]}}`, nested by path.
    pub fn to_json(&self) -> Value {
        let mut root = Map::new();
        for (path, errors) in &self.fields {
            let mut node = &mut root;
            for part in path.split('.').filter(|p| !p.is_empty()) {
                node = node
                    .entry(part)
                    .or_insert_with(|| Value::Object(Map::new()))
                    .as_object_mut()
                    .expect("form error nodes are objects");
            }
            let list = errors
                .iter()
                .map(|(code, message)| json!({ "code": code, "message": message }))
                .collect();
            node.insert("_errors".into(), Value::Array(list));
        }
        Value::Object(root)
    }
}

impl ServiceError {
    /// Whether a backend the request needs is out of reach (503): the
    /// same request may succeed once it is back.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            ServiceError::Unavailable(_) | ServiceError::Store(StoreError::Unavailable(_))
        )
    }

    /// Discord's `message` for this error.
    pub fn message(&self) -> String {
        match self {
            ServiceError::Unauthorized => "401: Unauthorized".into(),
            ServiceError::NotFound(c)
            | ServiceError::InvalidToken(c)
            | ServiceError::Forbidden(c)
            | ServiceError::BadRequest(c)
            | ServiceError::LimitReached(c) => codes::message(*c).into(),
            ServiceError::InvalidForm(_) => codes::message(codes::INVALID_FORM_BODY).into(),
            ServiceError::RateLimited {
                code: codes::GENERAL,
                ..
            } => "You are being rate limited.".into(),
            ServiceError::RateLimited { code, .. } => codes::message(*code).into(),
            ServiceError::IndexNotReady { .. } => {
                codes::message(codes::INDEX_NOT_YET_AVAILABLE).into()
            }
            ServiceError::Unavailable(_) | ServiceError::Store(StoreError::Unavailable(_)) => {
                "503: Service Unavailable".into()
            }
            ServiceError::Store(_) | ServiceError::Internal(_) => {
                "500: Internal Server Error".into()
            }
        }
    }
}

/// Checks a string's length in characters, Discord-style.
/// A number within `[min, max]`, with Discord's words for one outside.
pub(crate) fn check_range(errors: &mut FormErrors, path: &str, value: i64, min: i64, max: i64) {
    if value < min {
        let message = format!("int value should be greater than or equal to {min}.");
        errors.add(path, "NUMBER_TYPE_MIN", message);
    } else if value > max {
        let message = format!("int value should be less than or equal to {max}.");
        errors.add(path, "NUMBER_TYPE_MAX", message);
    }
}

/// A position (of a channel or role in its list): never negative.
pub(crate) fn check_position(errors: &mut FormErrors, path: &str, position: i32) {
    check_range(errors, path, i64::from(position), 0, i64::from(i32::MAX));
}

pub(crate) fn check_length(
    errors: &mut FormErrors,
    path: &str,
    value: &str,
    min: usize,
    max: usize,
) {
    let n = value.chars().count();
    if n < min || n > max {
        let message = format!("Must be between {min} and {max} in length.");
        errors.add(path, "BASE_TYPE_BAD_LENGTH", message);
    }
}

/// Slowmode is at most six hours, for channels and threads alike.
pub(crate) fn check_slowmode(errors: &mut FormErrors, seconds: u32) {
    if seconds > 21_600 {
        errors.add(
            "rate_limit_per_user",
            "NUMBER_TYPE_MAX",
            "int value should be less than or equal to 21600.",
        );
    }
}

/// A unique-field conflict as Discord's form error.
pub(crate) fn taken(e: concord_store::StoreError) -> ServiceError {
    match e {
        concord_store::StoreError::Conflict(field) => {
            let code = if field == "email" {
                "EMAIL_ALREADY_REGISTERED"
            } else {
                "USERNAME_ALREADY_TAKEN"
            };
            ServiceError::InvalidForm(FormErrors::single(
                field,
                code,
                format!("This {field} is already taken."),
            ))
        }
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_errors_mirror_the_request() {
        let mut e = FormErrors::new();
        e.add(
            "content",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 2000 or fewer in length.",
        );
        e.add(
            "embeds.0.title",
            "BASE_TYPE_REQUIRED",
            "This field is required",
        );
        e.add(
            "",
            "DICT_TYPE_CONVERT",
            "Only dictionaries may be used in a DictType",
        );
        assert_eq!(
            e.to_json(),
            json!({
                "_errors": [{"code": "DICT_TYPE_CONVERT", "message": "Only dictionaries may be used in a DictType"}],
                "content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}]},
                "embeds": {"0": {"title": {"_errors": [{"code": "BASE_TYPE_REQUIRED", "message": "This field is required"}]}}}
            })
        );
    }
}

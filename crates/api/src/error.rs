//! The one mapping from failures to Discord's status codes and bodies.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use concord_model::codes;
use concord_service::{FormErrors, ServiceError};
use concord_store::StoreError;
use serde_json::json;

#[derive(Debug)]
pub enum ApiError {
    Service(ServiceError),
    /// Body was not JSON at all.
    InvalidJson,
    RouteNotFound,
    MethodNotAllowed,
    PayloadTooLarge,
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        ApiError::Service(e)
    }
}

impl From<FormErrors> for ApiError {
    fn from(e: FormErrors) -> Self {
        ApiError::Service(ServiceError::InvalidForm(e))
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// A JSON response with exactly `application/json` (discord.py compares the
/// whole header), serialized straight from `body` into the response bytes.
/// A response of JSON already written.
pub fn json_bytes(status: StatusCode, bytes: Vec<u8>) -> Response {
    let content_type = [(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    )];
    (status, content_type, bytes).into_response()
}

pub fn json_response<T: serde::Serialize>(status: StatusCode, body: &T) -> Response {
    // Sized for a page of messages, so serializing rarely reallocates.
    let mut bytes = Vec::with_capacity(16 * 1024);
    match serde_json::to_writer(&mut bytes, body) {
        Ok(()) => json_bytes(status, bytes),
        Err(e) => {
            tracing::error!(error = %e, "response not serializable");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            ApiError::InvalidJson => (
                StatusCode::BAD_REQUEST,
                json!({ "code": codes::INVALID_JSON, "message": codes::message(codes::INVALID_JSON) }),
            ),
            ApiError::RouteNotFound => (
                StatusCode::NOT_FOUND,
                json!({ "message": "404: Not Found", "code": 0 }),
            ),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                json!({ "message": "405: Method Not Allowed", "code": 0 }),
            ),
            ApiError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({ "message": "Request entity too large", "code": 40005 }),
            ),
            ApiError::Service(e) => {
                let message = e.message();
                match e {
                    ServiceError::Unauthorized => (
                        StatusCode::UNAUTHORIZED,
                        json!({ "message": message, "code": 0 }),
                    ),
                    ServiceError::InvalidToken(code) => (
                        StatusCode::UNAUTHORIZED,
                        json!({ "message": message, "code": code }),
                    ),
                    ServiceError::NotFound(code) => (
                        StatusCode::NOT_FOUND,
                        json!({ "message": message, "code": code }),
                    ),
                    ServiceError::Forbidden(code) => (
                        StatusCode::FORBIDDEN,
                        json!({ "message": message, "code": code }),
                    ),
                    ServiceError::BadRequest(code) | ServiceError::LimitReached(code) => (
                        StatusCode::BAD_REQUEST,
                        json!({ "message": message, "code": code }),
                    ),
                    ServiceError::InvalidForm(errors) => (
                        StatusCode::BAD_REQUEST,
                        json!({ "message": message, "code": codes::INVALID_FORM_BODY, "errors": errors.to_json() }),
                    ),
                    ServiceError::RateLimited {
                        code,
                        retry_after_ms,
                    } => {
                        return rate_limited(code, retry_after_ms);
                    }
                    ServiceError::IndexNotReady { documents_indexed } => (
                        StatusCode::ACCEPTED,
                        json!({
                            "message": message,
                            "code": codes::INDEX_NOT_YET_AVAILABLE,
                            "documents_indexed": documents_indexed,
                            "retry_after": 2,
                        }),
                    ),
                    ServiceError::Unavailable(_)
                    | ServiceError::Store(StoreError::Unavailable(_)) => {
                        tracing::warn!(error = %e, "request refused");
                        (
                            StatusCode::SERVICE_UNAVAILABLE,
                            json!({ "message": message, "code": 0 }),
                        )
                    }
                    ServiceError::Store(_) | ServiceError::Internal(_) => {
                        tracing::error!(error = %e, "request failed");
                        (
                            StatusCode::INTERNAL_SERVER_ERROR,
                            json!({ "message": message, "code": 0 }),
                        )
                    }
                }
            }
        };
        json_response(status, &body)
    }
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::RouteNotFound
}

pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// A 429 from a rule of the service (slowmode), shaped as the route limits'
/// are: `Retry-After` in whole seconds and a `Via` header (discord.py).
fn rate_limited(code: u32, retry_after_ms: u64) -> Response {
    let body = json!({
        "message": codes::message(code),
        "retry_after": retry_after_ms as f64 / 1000.0,
        "global": false,
        "code": code,
    });
    let mut response = json_response(StatusCode::TOO_MANY_REQUESTS, &body);
    let headers = response.headers_mut();
    if let Ok(seconds) = HeaderValue::from_str(&retry_after_ms.div_ceil(1000).max(1).to_string()) {
        headers.insert(header::RETRY_AFTER, seconds);
    }
    headers.insert(header::VIA, HeaderValue::from_static("1.1 concord"));
    response
}

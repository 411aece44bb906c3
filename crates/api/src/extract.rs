//! Extractors that turn every kind of bad input into Discord's errors.

use std::collections::HashMap;
use std::sync::Arc;

use axum::RequestExt;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use concord_model::Snowflake;
use concord_model::limits;
use concord_service::access::parse_authorization;
use concord_service::attachments::Upload;
use concord_service::attachments::form::FormRefusal;
use concord_service::messages::{CreateMessage, EditMessage};
use concord_service::threads::StartThread;
use concord_service::{Caller, FormErrors, ServiceError};
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::error::ApiError;

/// The authenticated caller; 401 without a valid token.
pub struct Auth(pub Caller);

/// A caller the rate limiter already verified, so the token is checked
/// once per request.
#[derive(Clone, Copy)]
pub(crate) struct Authenticated(pub Caller);

impl FromRequestParts<Arc<AppState>> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        if let Some(Authenticated(caller)) = parts.extensions.get::<Authenticated>() {
            return Ok(Auth(*caller));
        }
        let (kind, token) =
            parse_authorization(authorization(parts)?).ok_or(ServiceError::Unauthorized)?;
        Ok(Auth(state.service.authenticate(kind, token).await?))
    }
}

/// The client's address as the rate limits count it: the peer, or the
/// address a trusted proxy forwards, an IPv6 one by its /64.
pub struct ClientAddress(pub String);

impl FromRequestParts<Arc<AppState>> for ClientAddress {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        let trust = state.service.config.rate_limits.trust_forwarded_for;
        let address = crate::ratelimit::client_address_of(&parts.headers, &parts.extensions, trust);
        Ok(ClientAddress(crate::ratelimit::address_key(&address)))
    }
}

/// The user a request's `Authorization` header proves, if it proves one.
pub(crate) async fn verify(headers: &HeaderMap, state: &AppState) -> Option<Caller> {
    let header = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (kind, token) = parse_authorization(header)?;
    state.service.authenticate(kind, token).await.ok()
}

/// The `Authorization` header's text; 401 without one.
fn authorization(parts: &Parts) -> Result<&str, ApiError> {
    let header = parts.headers.get(header::AUTHORIZATION);
    Ok(header
        .and_then(|v| v.to_str().ok())
        .ok_or(ServiceError::Unauthorized)?)
}

/// An instance administrator: the user token of an admin, or
/// `Control <token>` with the token the server writes into its data
/// directory for the local command line.
pub struct Admin;

impl FromRequestParts<Arc<AppState>> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        let header = authorization(parts)?;
        if let Some(token) = header.strip_prefix("Control ") {
            return match same_secret(token.trim(), &state.control_token) {
                true => Ok(Admin),
                false => Err(ServiceError::Unauthorized.into()),
            };
        }
        let caller = match parts.extensions.get::<Authenticated>() {
            Some(Authenticated(caller)) => *caller,
            None => {
                let (kind, token) =
                    parse_authorization(header).ok_or(ServiceError::Unauthorized)?;
                state.service.authenticate(kind, token).await?
            }
        };
        match state.service.is_instance_admin(caller).await? {
            true => Ok(Admin),
            false => Err(ServiceError::Forbidden(concord_model::codes::MISSING_PERMISSIONS).into()),
        }
    }
}

/// Compares in time independent of where the texts differ.
fn same_secret(given: &str, expected: &str) -> bool {
    given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// A JSON body: 50109 if it is not JSON, 50035 naming the field if a value
/// has the wrong type. Missing and empty bodies read as `{}`. At most
/// `LIMIT` bytes (413 beyond).
pub struct Body<T, const LIMIT: usize = { limits::BODY_MAX_BYTES }>(pub T);

/// A JSON body that may carry an avatar or icon as a data URI: room for
/// the largest image, base64-encoded, beside the usual fields.
pub type ImageBody<T> = Body<T, IMAGE_BODY_MAX_BYTES>;

/// Largest body of a route taking an image.
pub const IMAGE_BODY_MAX_BYTES: usize =
    concord_service::attachments::images::IMAGE_MAX_BYTES.div_ceil(3) * 4 + limits::BODY_MAX_BYTES;

impl<T: DeserializeOwned, S: Send + Sync, const LIMIT: usize> FromRequest<S> for Body<T, LIMIT> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            });
        // JSON keeps its own limit: the router's is sized for uploads.
        let bytes = axum::body::to_bytes(req.into_body(), LIMIT)
            .await
            .map_err(|_| ApiError::PayloadTooLarge)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return parse(b"{}").map(Body);
        }
        if content_type
            .as_deref()
            .is_some_and(|t| t != "application/json")
        {
            let errors = FormErrors::single(
                "",
                "CONTENT_TYPE_INVALID",
                "Expected \"Content-Type\" header to be one of {'application/json'}.",
            );
            return Err(errors.into());
        }
        parse(&bytes).map(Body)
    }
}

/// A new message: JSON, or `multipart/form-data` with the JSON in
/// `payload_json` and files in `files[n]`, each within the configured size.
pub struct MessageForm<T = CreateMessage>(pub T);

/// A body that may come as multipart, with files beside `payload_json`.
pub trait CarriesFiles: DeserializeOwned + Default {
    fn attach(&mut self, uploads: Vec<Upload>);
}

impl CarriesFiles for CreateMessage {
    fn attach(&mut self, uploads: Vec<Upload>) {
        self.uploads = uploads;
    }
}

/// Files an edit adds (the routes of an interaction's or webhook's messages).
impl CarriesFiles for EditMessage {
    fn attach(&mut self, uploads: Vec<Upload>) {
        self.uploads = uploads;
    }
}

/// A forum post's files belong to its first message.
impl CarriesFiles for StartThread {
    fn attach(&mut self, uploads: Vec<Upload>) {
        if !uploads.is_empty() {
            self.message.get_or_insert_default().uploads = uploads;
        }
    }
}

impl<T: CarriesFiles + Send> FromRequest<Arc<AppState>> for MessageForm<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<Self, ApiError> {
        let multipart = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
        if !multipart {
            let Body(input) = Body::<T>::from_request(req, state).await?;
            return Ok(MessageForm(input));
        }
        let boundary = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| multer::parse_boundary(v).ok())
            .ok_or_else(|| form_error("Invalid `boundary` for `multipart/form-data` request"))?;
        // Within the router's body limit, as every body.
        let body = req.with_limited_body().into_body().into_data_stream();
        let form = state
            .service
            .receive_form(multer::Multipart::new(body, boundary))
            .await
            .map_err(|refusal| match refusal {
                FormRefusal::Invalid(message) => form_error(&message),
                FormRefusal::TooLarge => ApiError::PayloadTooLarge,
                FormRefusal::Service(e) => e.into(),
            })?;
        let mut input = match form.json() {
            Some(json) => parse(&json)?,
            None => T::default(),
        };
        let uploads = form.uploads;
        input.attach(uploads);
        Ok(MessageForm(input))
    }
}

fn form_error(message: &str) -> ApiError {
    FormErrors::single("", "MULTIPART_INVALID", message).into()
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_err() {
        return Err(ApiError::InvalidJson);
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        let message = e.into_inner().to_string();
        let errors = match missing_field(&message) {
            Some(field) if path.is_empty() => {
                FormErrors::single(field, "BASE_TYPE_REQUIRED", "This field is required")
            }
            Some(field) => FormErrors::single(
                &format!("{path}.{field}"),
                "BASE_TYPE_REQUIRED",
                "This field is required",
            ),
            None => FormErrors::single(
                &path,
                "BASE_TYPE_INVALID",
                format!("Invalid value: {}", strip_position(&message)),
            ),
        };
        errors.into()
    })
}

fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

fn strip_position(message: &str) -> &str {
    message.split(" at line ").next().unwrap_or(message)
}

/// A snowflake from a path segment: 50035 if it is not one.
pub fn id(value: &str, name: &str) -> Result<Snowflake, ApiError> {
    value.parse().map_err(|_| {
        FormErrors::single(
            name,
            "NUMBER_TYPE_COERCE",
            format!("Value \"{value}\" is not snowflake."),
        )
        .into()
    })
}

/// Query parameters, tolerant of empty pairs.
pub struct QueryMap(HashMap<String, Vec<String>>);

impl<S: Send + Sync> FromRequestParts<S> for QueryMap {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        let pairs = query.split('&').filter(|p| !p.is_empty()).map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(k), decode(v))
        });
        for (k, v) in pairs {
            map.entry(k).or_default().push(v);
        }
        Ok(QueryMap(map))
    }
}

impl QueryMap {
    /// An integer within `[min, max]`, or `default` when absent.
    pub fn int(&self, name: &str, min: u64, max: u64, default: u64) -> Result<u64, ApiError> {
        let Some(raw) = self.get(name) else {
            return Ok(default);
        };
        match raw.parse::<u64>() {
            Ok(v) if (min..=max).contains(&v) => Ok(v),
            _ => {
                let message = format!("Must be between {min} and {max}.");
                Err(FormErrors::single(name, "NUMBER_TYPE_MAX", message).into())
            }
        }
    }

    pub fn id(&self, name: &str) -> Result<Option<Snowflake>, ApiError> {
        self.get(name).map(|v| id(v, name)).transpose()
    }

    /// Every id given for a repeatable parameter (`author_id=1&author_id=2`).
    pub fn ids(&self, name: &str) -> Result<Vec<Snowflake>, ApiError> {
        self.all(name).iter().map(|v| id(v, name)).collect()
    }

    /// Every value given for a repeatable parameter, in order.
    pub fn all(&self, name: &str) -> &[String] {
        self.0.get(name).map_or(&[], Vec::as_slice)
    }

    /// A boolean, false when absent; anything but Discord's spellings of
    /// true and false is refused (50035), not taken for false.
    pub fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.get(name) {
            None => Ok(false),
            Some("true" | "True" | "1") => Ok(true),
            Some("false" | "False" | "0") => Ok(false),
            Some(_) => Err(FormErrors::single(
                name,
                "BOOLEAN_TYPE_COERCE",
                "Must be either true or false.",
            )
            .into()),
        }
    }

    /// The last value given for `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.all(name).last().map(String::as_str)
    }
}

//! Interactions over HTTP, for an application that set an
//! `interactions_endpoint_url`: each interaction is POSTed there, signed
//! with the application's key (`X-Signature-Ed25519` over the timestamp
//! then the body, `X-Signature-Timestamp`), instead of reaching its bot
//! as INTERACTION_CREATE. The response's body is the interaction's
//! callback, taken by the same rules and deadline as the callback route;
//! an empty one leaves the application to answer through that route.
//!
//! A URL is verified when set, as Discord verifies it: a signed PING must
//! be answered with a PONG, and a request whose signature is wrong must
//! be refused with 401. Every request passes [`crate::outbound`]: the URL
//! is checked when set, and the client resolves through the same rule.

use std::sync::Arc;
use std::time::Duration;

use concord_model::snowflake::now_ms;
use concord_model::{Snowflake, limits};
use serde_json::{Value, json};

use super::input::InteractionCallback;
use super::interaction_type::PING;
use super::signing::ApplicationKey;
use super::{Interaction, RESPONSE_DEADLINE, bad};
use crate::{Service, ServiceResult};

/// How long each request of a URL's verification may take.
const VERIFY_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest answer read: a callback is a message at most.
const ANSWER_MAX: usize = 1 << 20;
/// The field a URL comes in.
const FIELD: &str = "interactions_endpoint_url";
/// The callback answering a PING.
const PONG: u64 = 1;

/// An endpoint's answer: its status and body (JSON, or the
/// `payload_json` of a multipart answer), with the files of a multipart
/// one.
struct Answer {
    status: u16,
    body: Vec<u8>,
    uploads: Vec<crate::attachments::Upload>,
}

impl Answer {
    fn success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// `X-Signature-Timestamp`: now, in Unix seconds.
fn timestamp() -> String {
    (now_ms() / 1000).to_string()
}

impl Service {
    /// The URL an application asks for, if the outbound rule lets it
    /// through and it answers as an interactions endpoint must (50035
    /// otherwise, with Discord's message).
    pub(crate) async fn verified_endpoint(
        &self,
        application_id: Snowflake,
        url: &str,
    ) -> ServiceResult<String> {
        self.outbound
            .check_url(url)
            .await
            .map_err(|refusal| refusal.at(FIELD))?;
        let key = self.application_key(application_id).await?;
        let ping = json!({
            "id": self.next_id(),
            "application_id": application_id,
            "type": PING,
            "token": super::token::issue(Snowflake(0)).1,
            "version": 1,
        });
        let body = serde_json::to_vec(&ping).unwrap_or_default();
        let time = timestamp();
        let signature = key.sign(&time, &body);
        let ponged = self
            .post_to_endpoint(url, &time, &signature, body.clone(), VERIFY_TIMEOUT)
            .await
            .is_some_and(|answer| {
                answer.success()
                    && serde_json::from_slice::<Value>(&answer.body)
                        .is_ok_and(|v| v.get("type").and_then(Value::as_u64) == Some(PONG))
            });
        // The same request under a signature of other bytes.
        let forged = key.sign(&time, b"not this body");
        let refused_forgery = ponged
            && self
                .post_to_endpoint(url, &time, &forged, body, VERIFY_TIMEOUT)
                .await
                .is_some_and(|answer| answer.status == 401);
        if !refused_forgery {
            return bad(
                FIELD,
                "APPLICATION_INTERACTIONS_ENDPOINT_URL_INVALID",
                "The specified interactions endpoint url could not be verified.",
            );
        }
        Ok(url.to_owned())
    }

    /// POSTs the interaction to the application's endpoint without
    /// waiting; the answer, if it is one, is taken as the callback.
    pub(super) fn deliver_over_http(
        self: &Arc<Self>,
        url: String,
        interaction: &Interaction,
        token: String,
        payload: Value,
    ) {
        let service = Arc::clone(self);
        let (id, application_id) = (interaction.id, interaction.application_id);
        tokio::spawn(async move {
            let key = match service.application_key(application_id).await {
                Ok(key) => key,
                Err(e) => {
                    tracing::warn!(error = %e, "interaction not delivered: no signing key");
                    return;
                }
            };
            let body = serde_json::to_vec(&payload).unwrap_or_default();
            let answer = service.post_signed(&key, &url, body).await;
            let Some(answer) = answer.filter(|a| a.success() && !a.body.is_empty()) else {
                return;
            };
            let mut callback = match serde_json::from_slice::<InteractionCallback>(&answer.body) {
                Ok(callback) => callback,
                Err(e) => {
                    tracing::debug!(interaction = %id, error = %e, "endpoint answered no callback");
                    return;
                }
            };
            callback.uploads = answer.uploads;
            let taken = service
                .interaction_callback(id, &token, callback, false)
                .await;
            if let Err(e) = taken {
                tracing::debug!(interaction = %id, error = %e, "endpoint's callback refused");
            }
        });
    }

    /// POSTs `body` signed now, waiting as long as the deadline allows.
    async fn post_signed(&self, key: &ApplicationKey, url: &str, body: Vec<u8>) -> Option<Answer> {
        let time = timestamp();
        let signature = key.sign(&time, &body);
        self.post_to_endpoint(url, &time, &signature, body, RESPONSE_DEADLINE)
            .await
    }

    /// One request to an endpoint through the outbound client: its answer,
    /// or `None` when it failed, took too long or answered too much.
    async fn post_to_endpoint(
        &self,
        url: &str,
        timestamp: &str,
        signature: &str,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Option<Answer> {
        let sent = self
            .outbound
            .client()
            .post(url)
            .timeout(timeout)
            .header("content-type", "application/json")
            .header("x-signature-ed25519", signature)
            .header("x-signature-timestamp", timestamp)
            .body(body)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(e) => {
                tracing::debug!(error = %e, "interactions endpoint unreachable");
                return None;
            }
        };
        let status = response.status().as_u16();
        let boundary = (response.headers().get("content-type"))
            .and_then(|v| v.to_str().ok())
            .filter(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"))
            .and_then(|v| multer::parse_boundary(v).ok());
        match boundary {
            Some(boundary) => self.form_answer(status, response, boundary).await,
            None => json_answer(status, response).await,
        }
    }

    /// A multipart answer, its files received as a request's are, within
    /// the same bounds.
    async fn form_answer(
        &self,
        status: u16,
        response: reqwest::Response,
        boundary: String,
    ) -> Option<Answer> {
        let files = limits::ATTACHMENTS_MAX as u64 * self.config.attachment_max_bytes;
        let size = multer::SizeLimit::new()
            .whole_stream(ANSWER_MAX as u64 + files)
            .for_field("payload_json", ANSWER_MAX as u64);
        let chunks = futures_util::stream::unfold(response, |mut response| async move {
            match response.chunk().await {
                Ok(Some(chunk)) => Some((Ok(chunk), response)),
                Ok(None) => None,
                Err(e) => Some((Err(e), response)),
            }
        });
        let constraints = multer::Constraints::new().size_limit(size);
        let form = multer::Multipart::with_constraints(chunks, boundary, constraints);
        match self.receive_form(form).await {
            Ok(form) => Some(Answer {
                status,
                body: form.json().unwrap_or_default(),
                uploads: form.uploads,
            }),
            Err(refusal) => {
                tracing::debug!(?refusal, "interactions endpoint's answer refused");
                None
            }
        }
    }
}

/// A JSON answer, read whole up to [`ANSWER_MAX`].
async fn json_answer(status: u16, mut response: reqwest::Response) -> Option<Answer> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) if body.len() + chunk.len() <= ANSWER_MAX => {
                body.extend_from_slice(&chunk)
            }
            Ok(Some(_)) => return None,
            Ok(None) => {
                return Some(Answer {
                    status,
                    body,
                    uploads: Vec::new(),
                });
            }
            Err(e) => {
                tracing::debug!(error = %e, "interactions endpoint's answer cut");
                return None;
            }
        }
    }
}

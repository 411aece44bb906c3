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

use concord_model::Snowflake;
use concord_model::snowflake::now_ms;
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

/// An endpoint's answer: its status and body.
struct Answer {
    status: u16,
    body: Vec<u8>,
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
            let callback = match serde_json::from_slice::<InteractionCallback>(&answer.body) {
                Ok(callback) => callback,
                Err(e) => {
                    tracing::debug!(interaction = %id, error = %e, "endpoint answered no callback");
                    return;
                }
            };
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
        let mut response = match sent {
            Ok(response) => response,
            Err(e) => {
                tracing::debug!(error = %e, "interactions endpoint unreachable");
                return None;
            }
        };
        let status = response.status().as_u16();
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) if body.len() + chunk.len() <= ANSWER_MAX => {
                    body.extend_from_slice(&chunk)
                }
                Ok(Some(_)) => return None,
                Ok(None) => return Some(Answer { status, body }),
                Err(e) => {
                    tracing::debug!(error = %e, "interactions endpoint's answer cut");
                    return None;
                }
            }
        }
    }
}

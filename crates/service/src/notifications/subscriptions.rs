//! The routes browsers subscribe through (Concord's own: Discord has none
//! for Web Push): the server's public key, and a user's subscriptions.

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use concord_model::codes;
use concord_model::records::PushSubscription;
use serde::Serialize;

use super::input::{PushSubscriptionInput, PushUnsubscribe};
use crate::{Caller, FormErrors, Service, ServiceError, ServiceResult};

/// Subscriptions a user keeps at most (their browsers and devices).
pub const SUBSCRIPTIONS_MAX: usize = 10;

/// `GET /push/vapid-key`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct VapidKey {
    /// base64url of the uncompressed P-256 point: a browser's
    /// `applicationServerKey`.
    pub public_key: String,
}

/// base64url, padded or not, as browsers and libraries write it.
pub(crate) fn base64url(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(text)
        .or_else(|_| URL_SAFE.decode(text))
        .ok()
}

impl Service {
    pub fn vapid_key(&self) -> VapidKey {
        VapidKey {
            public_key: self.notifications.vapid.public_key().to_owned(),
        }
    }

    /// `PUT /users/@me/push-subscriptions`: keeps the browser's
    /// subscription (replacing one with the same endpoint). Its endpoint
    /// must pass the outbound guard, its keys must be a P-256 point and a
    /// 16-byte secret.
    pub async fn put_push_subscription(
        &self,
        caller: Caller,
        input: PushSubscriptionInput,
    ) -> ServiceResult<()> {
        if caller.bot {
            return Err(ServiceError::Forbidden(codes::MISSING_ACCESS));
        }
        let mut errors = FormErrors::new();
        let required = |errors: &mut FormErrors, path: &str| {
            errors.add(path, "BASE_TYPE_REQUIRED", "This field is required")
        };
        let keys = input.keys.unwrap_or_default();
        match keys.p256dh.as_deref().and_then(base64url) {
            None if keys.p256dh.is_none() => required(&mut errors, "keys.p256dh"),
            Some(point)
                if p256::PublicKey::from_sec1_bytes(&point).is_ok() && point.len() == 65 => {}
            _ => errors.add(
                "keys.p256dh",
                "PUSH_KEY_INVALID",
                "Not an uncompressed P-256 public key in base64url.",
            ),
        }
        match keys.auth.as_deref().and_then(base64url) {
            None if keys.auth.is_none() => required(&mut errors, "keys.auth"),
            Some(secret) if secret.len() == 16 => {}
            _ => errors.add(
                "keys.auth",
                "PUSH_KEY_INVALID",
                "Not a 16-byte secret in base64url.",
            ),
        }
        let Some(endpoint) = input.endpoint else {
            required(&mut errors, "endpoint");
            return Err(ServiceError::InvalidForm(errors));
        };
        errors.into_result()?;
        self.outbound
            .check_url(&endpoint)
            .await
            .map_err(|refusal| refusal.at("endpoint"))?;
        let subscription = PushSubscription {
            user_id: caller.id,
            endpoint,
            p256dh: keys.p256dh.unwrap_or_default(),
            auth: keys.auth.unwrap_or_default(),
            expiration_ms: input.expiration_time,
        };
        if !self
            .store
            .put_push_subscription(&subscription, SUBSCRIPTIONS_MAX)
            .await?
        {
            return Err(ServiceError::LimitReached(codes::MAX_PUSH_SUBSCRIPTIONS));
        }
        Ok(())
    }

    /// `DELETE /users/@me/push-subscriptions`: forgets the browser's
    /// subscription; 404 if the caller has none with that endpoint.
    pub async fn delete_push_subscription(
        &self,
        caller: Caller,
        input: PushUnsubscribe,
    ) -> ServiceResult<()> {
        let Some(endpoint) = input.endpoint else {
            return Err(ServiceError::InvalidForm(FormErrors::single(
                "endpoint",
                "BASE_TYPE_REQUIRED",
                "This field is required",
            )));
        };
        if endpoint.len() > crate::outbound::URL_MAX {
            return Err(ServiceError::NotFound(codes::UNKNOWN_PUSH_SUBSCRIPTION));
        }
        if self
            .store
            .delete_push_subscription(caller.id, &endpoint)
            .await?
        {
            Ok(())
        } else {
            Err(ServiceError::NotFound(codes::UNKNOWN_PUSH_SUBSCRIPTION))
        }
    }
}

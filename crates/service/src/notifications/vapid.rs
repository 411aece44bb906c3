//! The server's VAPID identity (RFC 8292): a P-256 key pair made on first
//! start and kept in the store's meta (so every node of a cluster signs
//! with the same one, and backups keep it), and the `Authorization` header
//! each push carries.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::json;

use crate::{ServiceError, ServiceResult};

/// The meta key of the private scalar.
const VAPID_KEY: &str = "vapid_private_key";
/// How long a signature is good for; RFC 8292 allows at most 24 hours.
const TOKEN_LIFETIME_S: u64 = 12 * 60 * 60;

pub(crate) struct Vapid {
    key: SigningKey,
    /// The public key, base64url of its uncompressed point: what browsers
    /// subscribe with and each push names in `k=`.
    public: String,
}

impl Vapid {
    /// The instance's key pair: the stored one, or a new one stored now
    /// (of nodes starting at once, all keep the first written).
    pub(crate) async fn load(store: &dyn concord_store::Store) -> ServiceResult<Vapid> {
        let bytes = match store.meta(VAPID_KEY).await? {
            Some(bytes) => bytes,
            None => {
                let fresh = super::encrypt::fresh_secret();
                store
                    .put_meta_if_absent(VAPID_KEY, &fresh.to_bytes())
                    .await?
            }
        };
        let key = SigningKey::from_slice(&bytes).map_err(|e| {
            ServiceError::Internal(format!("the stored VAPID key is unusable: {e}"))
        })?;
        let point = key.verifying_key().to_encoded_point(false);
        Ok(Vapid {
            public: URL_SAFE_NO_PAD.encode(point.as_bytes()),
            key,
        })
    }

    pub(crate) fn public_key(&self) -> &str {
        &self.public
    }

    /// `vapid t=<JWT>, k=<public key>` for a push to a service at
    /// `origin` (scheme, host and port of the endpoint), signed now.
    pub(crate) fn authorization(&self, origin: &str, subject: &str, now_s: u64) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = json!({ "aud": origin, "exp": now_s + TOKEN_LIFETIME_S, "sub": subject });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signed = format!("{header}.{claims}");
        let signature: Signature = self.key.sign(signed.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(signature.to_bytes());
        format!("vapid t={signed}.{signature}, k={}", self.public)
    }
}

#[cfg(test)]
mod tests {
    use p256::ecdsa::VerifyingKey;
    use p256::ecdsa::signature::Verifier;

    use super::*;

    #[tokio::test]
    async fn the_key_is_made_once_and_signs_verifiable_tokens() {
        let store = concord_store::memory::MemoryStore::new(concord_store::DEFAULT_BUCKET_MS);
        let first = Vapid::load(&store).await.unwrap();
        let again = Vapid::load(&store).await.unwrap();
        assert_eq!(first.public_key(), again.public_key());

        let header = first.authorization("https://push.example", "mailto:a@b", 1000);
        let (t, k) = header
            .strip_prefix("vapid t=")
            .and_then(|rest| rest.split_once(", k="))
            .unwrap();
        assert_eq!(k, first.public_key());
        let (signed, signature) = t.rsplit_once('.').unwrap();
        let public = VerifyingKey::from_sec1_bytes(&URL_SAFE_NO_PAD.decode(k).unwrap()).unwrap();
        let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap()).unwrap();
        public.verify(signed.as_bytes(), &signature).unwrap();
        let claims = signed.split('.').nth(1).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
        assert_eq!(claims["aud"], "https://push.example");
        assert_eq!(claims["exp"], 1000 + TOKEN_LIFETIME_S);
    }
}

//! Each application's Ed25519 key pair, which signs what the server POSTs
//! to its interactions endpoint: made the first time it is needed and
//! kept in the store's meta (`application_key:{id}`, written once by a
//! conditional write), so every node signs with the same key and the
//! application's `verify_key` never changes.

use concord_model::Snowflake;
use ed25519_dalek::{Signer, SigningKey};

use crate::{Service, ServiceError, ServiceResult};

fn key_of(application_id: Snowflake) -> String {
    format!("application_key:{application_id}")
}

/// The key an application's interactions are signed with.
pub(crate) struct ApplicationKey(SigningKey);

impl ApplicationKey {
    /// The public key as Discord gives it: 64 hex digits.
    pub(crate) fn verify_key(&self) -> String {
        hex(self.0.verifying_key().as_bytes())
    }

    /// `X-Signature-Ed25519`: the hex signature of the timestamp
    /// followed by the body.
    pub(crate) fn sign(&self, timestamp: &str, body: &[u8]) -> String {
        let mut signed = Vec::with_capacity(timestamp.len() + body.len());
        signed.extend_from_slice(timestamp.as_bytes());
        signed.extend_from_slice(body);
        hex(&self.0.sign(&signed).to_bytes())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Service {
    /// The application's key: the stored one, or a new one stored now (of
    /// nodes making one at once, all keep the first written).
    pub(crate) async fn application_key(
        &self,
        application_id: Snowflake,
    ) -> ServiceResult<ApplicationKey> {
        let key = key_of(application_id);
        let seed = match self.store.meta(&key).await? {
            Some(seed) => seed,
            None => {
                let fresh = rand::random::<[u8; 32]>();
                self.store.put_meta_if_absent(&key, &fresh).await?
            }
        };
        let seed: [u8; 32] = seed.as_slice().try_into().map_err(|_| {
            ServiceError::Internal(format!("the stored key of {application_id} is unusable"))
        })?;
        Ok(ApplicationKey(SigningKey::from_bytes(&seed)))
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signature, Verifier, VerifyingKey};

    use super::*;

    fn unhex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn a_key_is_made_once_and_its_signatures_verify() {
        let store = crate::cluster::two_nodes::seeded_store().await;
        let nodes = crate::cluster::two_nodes::nodes(&store, 2).await;
        let app = Snowflake(77);
        // Two nodes making it at once keep one.
        let (first, second) =
            tokio::join!(nodes[0].application_key(app), nodes[1].application_key(app));
        let (first, second) = (first.unwrap(), second.unwrap());
        assert_eq!(first.verify_key(), second.verify_key());
        assert_eq!(first.verify_key().len(), 64);
        let other = nodes[0].application_key(Snowflake(78)).await.unwrap();
        assert_ne!(first.verify_key(), other.verify_key());

        let public: [u8; 32] = unhex(&first.verify_key()).try_into().unwrap();
        let public = VerifyingKey::from_bytes(&public).unwrap();
        let signature: [u8; 64] = unhex(&second.sign("1700000000", b"{}")).try_into().unwrap();
        let signature = Signature::from_bytes(&signature);
        assert!(public.verify(b"1700000000{}", &signature).is_ok());
        assert!(public.verify(b"1700000001{}", &signature).is_err());
    }
}

//! Message encryption for Web Push (RFC 8291) in the `aes128gcm` content
//! coding (RFC 8188): one record, a fresh sender key pair and salt per
//! message, keys derived from the browser's public key and auth secret.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use hkdf::Hkdf;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{PublicKey, SecretKey};
use sha2::Sha256;

/// The record size announced; a message is one record, so it must fit.
const RECORD_SIZE: u32 = 4096;
/// The largest plaintext one record carries (its delimiter and the tag aside).
pub(crate) const PLAINTEXT_MAX: usize = RECORD_SIZE as usize - 16 - 1;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum EncryptError {
    #[error("the subscription's public key is not a P-256 point")]
    PublicKey,
    #[error("the subscription's auth secret is not 16 bytes")]
    AuthSecret,
    #[error("the message is too long for one record")]
    TooLong,
}

/// The body of a push carrying `plaintext` to the browser whose keys are
/// `ua_public` (an uncompressed point) and `auth_secret`.
pub(crate) fn encrypt(
    ua_public: &[u8],
    auth_secret: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, EncryptError> {
    let salt: [u8; 16] = rand::random();
    let sender = fresh_secret();
    if plaintext.len() > PLAINTEXT_MAX {
        return Err(EncryptError::TooLong);
    }
    if auth_secret.len() != 16 {
        return Err(EncryptError::AuthSecret);
    }
    let ua = PublicKey::from_sec1_bytes(ua_public).map_err(|_| EncryptError::PublicKey)?;
    let ua_bytes = ua.to_encoded_point(false);
    let as_bytes = sender.public_key().to_encoded_point(false);
    let shared = p256::ecdh::diffie_hellman(sender.to_nonzero_scalar(), ua.as_affine());

    // IKM = HKDF(auth_secret, ecdh_secret, "WebPush: info" 0 ua_public as_public, 32)
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(auth_secret), shared.raw_secret_bytes())
        .expand_multi_info(
            &[b"WebPush: info\0", ua_bytes.as_bytes(), as_bytes.as_bytes()],
            &mut ikm,
        )
        .map_err(|_| EncryptError::TooLong)?;
    let (cek, nonce) = content_keys(&salt, &ikm);

    let mut record = plaintext.to_vec();
    // The last (and only) record's delimiter; no padding.
    record.push(2);
    let cipher = Aes128Gcm::new_from_slice(&cek).map_err(|_| EncryptError::TooLong)?;
    let sealed = cipher
        .encrypt(Nonce::from_slice(&nonce), record.as_slice())
        .map_err(|_| EncryptError::TooLong)?;

    let key_id = as_bytes.as_bytes();
    let mut body = Vec::with_capacity(16 + 4 + 1 + key_id.len() + sealed.len());
    body.extend_from_slice(&salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(key_id.len() as u8);
    body.extend_from_slice(key_id);
    body.extend_from_slice(&sealed);
    Ok(body)
}

/// A new P-256 secret key from the system's randomness.
pub(crate) fn fresh_secret() -> SecretKey {
    loop {
        // All but a 2^-32 sliver of 32-byte strings are valid scalars.
        if let Ok(key) = SecretKey::from_slice(&rand::random::<[u8; 32]>()) {
            return key;
        }
    }
}

/// The content encryption key and nonce of RFC 8188 from the salt and
/// the input keying material.
pub(crate) fn content_keys(salt: &[u8], ikm: &[u8]) -> ([u8; 16], [u8; 12]) {
    let prk = Hkdf::<Sha256>::new(Some(salt), ikm);
    let mut cek = [0u8; 16];
    let mut nonce = [0u8; 12];
    // Lengths far below HKDF's bound: these expansions cannot fail.
    let _ = prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek);
    let _ = prk.expand(b"Content-Encoding: nonce\0", &mut nonce);
    (cek, nonce)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a browser does with the body: the inverse, written apart.
    fn decrypt(ua_secret: &SecretKey, auth: &[u8], body: &[u8]) -> Vec<u8> {
        let (salt, rest) = body.split_at(16);
        let rs = u32::from_be_bytes(rest[..4].try_into().unwrap());
        assert_eq!(rs, RECORD_SIZE);
        let idlen = rest[4] as usize;
        let (key_id, sealed) = rest[5..].split_at(idlen);
        let as_public = PublicKey::from_sec1_bytes(key_id).unwrap();
        let shared =
            p256::ecdh::diffie_hellman(ua_secret.to_nonzero_scalar(), as_public.as_affine());
        let ua_public = ua_secret.public_key().to_encoded_point(false);
        let mut ikm = [0u8; 32];
        Hkdf::<Sha256>::new(Some(auth), shared.raw_secret_bytes())
            .expand_multi_info(
                &[b"WebPush: info\0", ua_public.as_bytes(), key_id],
                &mut ikm,
            )
            .unwrap();
        let (cek, nonce) = content_keys(salt, &ikm);
        let cipher = Aes128Gcm::new_from_slice(&cek).unwrap();
        let mut plain = cipher.decrypt(Nonce::from_slice(&nonce), sealed).unwrap();
        assert_eq!(plain.pop(), Some(2));
        plain
    }

    #[test]
    fn a_browser_decrypts_what_is_sent() {
        let ua = fresh_secret();
        let ua_public = ua.public_key().to_encoded_point(false);
        let auth: [u8; 16] = rand::random();
        let body = encrypt(ua_public.as_bytes(), &auth, b"{\"hello\":1}").unwrap();
        assert_eq!(decrypt(&ua, &auth, &body), b"{\"hello\":1}");
        // Each message has its own salt and sender key.
        let again = encrypt(ua_public.as_bytes(), &auth, b"{\"hello\":1}").unwrap();
        assert_ne!(body[..16], again[..16]);
    }

    #[test]
    fn bad_keys_and_long_messages_are_refused() {
        let ua = fresh_secret();
        let ua_public = ua.public_key().to_encoded_point(false);
        assert_eq!(
            encrypt(b"nope", &[0; 16], b"x").unwrap_err(),
            EncryptError::PublicKey
        );
        assert_eq!(
            encrypt(ua_public.as_bytes(), &[0; 15], b"x").unwrap_err(),
            EncryptError::AuthSecret
        );
        let long = vec![b'a'; PLAINTEXT_MAX + 1];
        assert_eq!(
            encrypt(ua_public.as_bytes(), &[0; 16], &long).unwrap_err(),
            EncryptError::TooLong
        );
    }
}

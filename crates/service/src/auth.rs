//! Tokens and passwords.
//!
//! A token is `base64url(user id) . base64url(issued ms) . base64url(mac)`,
//! three parts as Discord's. The MAC is HMAC-SHA256 over the id, the issue
//! time and the user's token generation, so checking a token needs the
//! secret and the generation, both in memory: no store read on the hot
//! path. Bumping the generation (password change, bot token reset) revokes
//! every earlier token.

use std::collections::HashMap;
use std::sync::Mutex;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use concord_model::Snowflake;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{ServiceError, ServiceResult};

type HmacSha256 = Hmac<Sha256>;

/// Length of a token's MAC: HMAC-SHA256.
const MAC_BYTES: usize = 32;

/// What a verified token says about its holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenState {
    pub generation: u64,
    pub bot: bool,
}

pub struct TokenSigner {
    secret: Vec<u8>,
    /// Generation and kind of each user seen; filled on first use.
    states: Mutex<HashMap<Snowflake, TokenState>>,
}

/// The parts of a token, before its MAC is checked.
pub struct ParsedToken {
    pub user_id: Snowflake,
    issued_ms: u64,
    mac: Vec<u8>,
}

impl TokenSigner {
    pub fn new(secret: Vec<u8>) -> Self {
        TokenSigner {
            secret,
            states: Mutex::new(HashMap::new()),
        }
    }

    fn mac(&self, user_id: Snowflake, issued_ms: u64, generation: u64) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(&user_id.get().to_be_bytes());
        mac.update(&issued_ms.to_be_bytes());
        mac.update(&generation.to_be_bytes());
        mac
    }

    pub fn issue(&self, user_id: Snowflake, state: TokenState, issued_ms: u64) -> String {
        self.remember(user_id, state);
        let mac = self
            .mac(user_id, issued_ms, state.generation)
            .finalize()
            .into_bytes();
        format!(
            "{}.{}.{}",
            B64.encode(user_id.to_string()),
            B64.encode(issued_ms.to_be_bytes()),
            B64.encode(mac)
        )
    }

    /// Splits a token without trusting it. Only the exact text [`issue`]
    /// writes is accepted: a token rewritten into another text that would
    /// still verify (`+42` or `042` for the id, another base64 spelling)
    /// would otherwise count as a different client wherever tokens are
    /// told apart.
    ///
    /// [`issue`]: TokenSigner::issue
    pub fn parse(token: &str) -> Option<ParsedToken> {
        let mut parts = token.split('.');
        let (id_part, issued_part, mac_part) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let id_text = String::from_utf8(B64.decode(id_part).ok()?).ok()?;
        let user_id: Snowflake = id_text.parse().ok()?;
        let issued: [u8; 8] = B64.decode(issued_part).ok()?.try_into().ok()?;
        let mac = B64.decode(mac_part).ok()?;
        let canonical = B64.encode(user_id.to_string()) == id_part
            && B64.encode(issued) == issued_part
            && B64.encode(&mac) == mac_part
            && mac.len() == MAC_BYTES;
        canonical.then_some(ParsedToken {
            user_id,
            issued_ms: u64::from_be_bytes(issued),
            mac,
        })
    }

    /// The remembered state of a user, if any.
    pub fn known(&self, user_id: Snowflake) -> Option<TokenState> {
        self.states
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&user_id)
            .copied()
    }

    pub fn remember(&self, user_id: Snowflake, state: TokenState) {
        self.states
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(user_id, state);
    }

    /// Checks the MAC against the user's current generation.
    pub fn verify(&self, token: &ParsedToken, state: TokenState) -> bool {
        self.mac(token.user_id, token.issued_ms, state.generation)
            .verify_slice(&token.mac)
            .is_ok()
    }
}

/// argon2id with the crate's default parameters (19 MiB, 2 passes).
pub fn hash_password(password: &str) -> ServiceResult<String> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServiceError::Internal(e.to_string()))
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: TokenState = TokenState {
        generation: 0,
        bot: false,
    };

    #[test]
    fn issued_tokens_verify_until_the_generation_moves() {
        let signer = TokenSigner::new(b"secret".to_vec());
        let token = signer.issue(Snowflake(42), USER, 1_000);
        assert_eq!(token.split('.').count(), 3);
        let parsed = TokenSigner::parse(&token).unwrap();
        assert_eq!(parsed.user_id, Snowflake(42));
        assert!(signer.verify(&parsed, USER));
        assert!(!signer.verify(
            &parsed,
            TokenState {
                generation: 1,
                bot: false
            }
        ));
        let other = TokenSigner::new(b"other".to_vec());
        assert!(!other.verify(&parsed, USER), "another server's secret");
    }

    #[test]
    fn forged_or_malformed_tokens_fail() {
        let signer = TokenSigner::new(b"secret".to_vec());
        let token = signer.issue(Snowflake(42), USER, 1_000);
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged_id = B64.encode("43");
        parts[0] = &forged_id;
        let forged = TokenSigner::parse(&parts.join(".")).unwrap();
        assert!(!signer.verify(&forged, USER));
        for bad in ["", "a.b", "a.b.c.d", "!!.??.**", "x.y.z"] {
            assert!(TokenSigner::parse(bad).is_none(), "{bad}");
        }
    }

    /// `+42` and `042` parse as 42: each spelling would be a token of its own.
    #[test]
    fn only_the_issued_text_parses() {
        let signer = TokenSigner::new(b"secret".to_vec());
        let token = signer.issue(Snowflake(42), USER, 1_000);
        assert!(TokenSigner::parse(&token).is_some());
        let parts: Vec<&str> = token.split('.').collect();
        for id in ["+42", "042", " 42"] {
            let rewritten = format!("{}.{}.{}", B64.encode(id), parts[1], parts[2]);
            assert!(TokenSigner::parse(&rewritten).is_none(), "{id}");
        }
        let padded = format!("{}=.{}.{}", parts[0], parts[1], parts[2]);
        assert!(TokenSigner::parse(&padded).is_none());
        let short_mac = format!("{}.{}.{}", parts[0], parts[1], &parts[2][..8]);
        assert!(TokenSigner::parse(&short_mac).is_none());
    }

    #[test]
    fn passwords_hash_with_argon2id() {
        let phc = hash_password("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &phc));
        assert!(!verify_password("wrong horse", &phc));
        assert!(!verify_password("x", "not a hash"));
    }
}

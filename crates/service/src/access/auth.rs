//! Tokens and passwords.
//!
//! A token is `base64url(user id) . base64url(issued ms) . base64url(mac)`,
//! three parts as Discord's. The MAC is HMAC-SHA256 over the id, the issue
//! time and the user's token generation, so checking a token needs the
//! secret and the generation, both in memory: no store read on the hot
//! path. Bumping the generation (password change, bot token reset) revokes
//! every earlier token.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Mutex;

use argon2::password_hash::{self, Output, ParamsString, PasswordHash, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
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
    /// Generation and kind of each user seen; filled on first use, and
    /// emptied of a user whose generation moved through another node.
    states: Mutex<States>,
}

#[derive(Default)]
struct States {
    users: HashMap<Snowflake, TokenState>,
    /// Counts forgettings and writes, so a state read from the store
    /// before one is not remembered after it
    /// ([`TokenSigner::remember_read`]).
    epoch: u64,
}

/// When a user's state was read, for [`TokenSigner::remember_read`].
#[derive(Debug, Clone, Copy)]
pub struct Epoch(u64);

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
            states: Mutex::new(States::default()),
        }
    }

    fn mac(&self, user_id: Snowflake, issued_ms: u64, generation: u64) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(&user_id.get().to_be_bytes());
        mac.update(&issued_ms.to_be_bytes());
        mac.update(&generation.to_be_bytes());
        mac
    }

    /// A token for `user_id` at `state`. The state is not remembered: it
    /// may be older than a revocation another node made meanwhile, so the
    /// first check reads it afresh.
    pub fn issue(&self, user_id: Snowflake, state: TokenState, issued_ms: u64) -> String {
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

    fn states(&self) -> std::sync::MutexGuard<'_, States> {
        self.states.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The remembered state of a user, if any.
    pub fn known(&self, user_id: Snowflake) -> Option<TokenState> {
        self.states().users.get(&user_id).copied()
    }

    /// Remembers a state this node has just written. A read of the store
    /// that began before the write may still bring the old state back: it
    /// is not remembered (the epoch moves, as on forgetting).
    pub fn remember(&self, user_id: Snowflake, state: TokenState) {
        let mut states = self.states();
        states.epoch += 1;
        states.users.insert(user_id, state);
    }

    /// Taken before reading a user's state from the store.
    pub fn epoch(&self) -> Epoch {
        Epoch(self.states().epoch)
    }

    /// Remembers a state read from the store since `read`, unless a user's
    /// state was forgotten meanwhile: the read may predate that revocation.
    pub fn remember_read(&self, read: Epoch, user_id: Snowflake, state: TokenState) {
        let mut states = self.states();
        if states.epoch == read.0 {
            states.users.insert(user_id, state);
        }
    }

    /// Forgets users whose generation moved elsewhere (another node
    /// revoked their tokens): their next check reads the store.
    pub fn forget(&self, users: &[Snowflake]) {
        let mut states = self.states();
        states.epoch += 1;
        for user in users {
            states.users.remove(user);
        }
    }

    /// Forgets every user: revocations may have been missed.
    pub fn forget_all(&self) {
        let mut states = self.states();
        states.epoch += 1;
        states.users.clear();
    }

    /// Checks the MAC against the user's current generation.
    pub fn verify(&self, token: &ParsedToken, state: TokenState) -> bool {
        self.mac(token.user_id, token.issued_ms, state.generation)
            .verify_slice(&token.mac)
            .is_ok()
    }
}

thread_local! {
    /// This thread's argon2 memory (19 MiB with the default parameters),
    /// allocated once and reused by every hash the thread computes. Freed
    /// and allocated again per hash, the allocator keeps several copies of
    /// it per thread; `passwords` runs hashes on a fixed set of threads, so
    /// hashing memory is that many buffers, whatever the load.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// The argon2 output of `password` under `argon2` and `salt`, computed in
/// this thread's [`MEMORY`].
fn compute(
    argon2: &Argon2<'_>,
    password: &[u8],
    salt: Salt<'_>,
    output_len: usize,
) -> password_hash::Result<Output> {
    let mut salt_bytes = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_bytes)?;
    let blocks = argon2.params().block_count();
    Output::init_with(output_len, |out| {
        MEMORY.with(|memory| {
            let mut memory = memory.borrow_mut();
            if memory.len() < blocks {
                *memory = vec![Block::default(); blocks];
            }
            let memory = &mut memory[..blocks];
            Ok(argon2.hash_password_into_with_memory(password, salt, out, memory)?)
        })
    })
}

/// argon2id with the crate's default parameters (19 MiB, 2 passes), as a
/// PHC string.
pub fn hash_password(password: &str) -> ServiceResult<String> {
    let internal = |e: password_hash::Error| ServiceError::Internal(e.to_string());
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(internal)?;
    let argon2 = Argon2::default();
    let params = argon2.params();
    let output_len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let output =
        compute(&argon2, password.as_bytes(), salt.as_salt(), output_len).map_err(internal)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(internal)?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the PHC string `phc`, with the parameters
/// it was hashed with; compared in constant time.
pub fn verify_password(password: &str, phc: &str) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (hash.salt, &hash.hash) else {
        return false;
    };
    let computed = || -> password_hash::Result<Output> {
        let algorithm = Algorithm::try_from(hash.algorithm)?;
        let version = match hash.version {
            Some(v) => Version::try_from(v)?,
            None => Version::default(),
        };
        let argon2 = Argon2::new(algorithm, version, Params::try_from(&hash)?);
        compute(&argon2, password.as_bytes(), salt, expected.len())
    };
    computed().is_ok_and(|computed| computed == *expected)
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

    /// A password change writes a new generation while a request's read of
    /// the old one is still out: the read, finishing last, must not put the
    /// old generation back, or the new token would be refused.
    #[test]
    fn a_read_older_than_a_write_is_not_remembered() {
        let signer = TokenSigner::new(b"secret".to_vec());
        let read = signer.epoch();
        let changed = TokenState {
            generation: 1,
            bot: false,
        };
        signer.remember(Snowflake(42), changed);
        signer.remember_read(read, Snowflake(42), USER);
        assert_eq!(signer.known(Snowflake(42)), Some(changed));
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

    /// Hashes computed in reused memory are the crate's own PHC strings:
    /// stored hashes keep verifying, either way round.
    #[test]
    fn hashes_match_the_crates_own() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let ours = hash_password("correct horse").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        let salt = SaltString::encode_b64(b"sixteen byte sal").unwrap();
        let theirs = Argon2::default()
            .hash_password(b"battery staple", &salt)
            .unwrap()
            .to_string();
        assert!(verify_password("battery staple", &theirs));
        assert!(!verify_password("battery stapler", &theirs));
        let small = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(1024, 1, 1, None).unwrap(),
        )
        .hash_password(b"other parameters", &salt)
        .unwrap()
        .to_string();
        assert!(verify_password("other parameters", &small));
        assert!(
            verify_password("correct horse", &ours),
            "memory reused after a smaller hash"
        );
    }
}

//! An interaction's token: `base64url("interaction:{id}:{secret}")`, so
//! the webhook routes know it by its shape and find its record by id.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use concord_model::Snowflake;

const PREFIX: &str = "interaction:";

/// A new secret and the token carrying it.
pub(crate) fn issue(id: Snowflake) -> (String, String) {
    let secret = B64.encode(rand::random::<[u8; 32]>());
    let token = B64.encode(format!("{PREFIX}{id}:{secret}"));
    (secret, token)
}

/// The interaction id and secret of an interaction token; `None` for any
/// other text (a webhook's token).
pub(crate) fn parse(token: &str) -> Option<(Snowflake, String)> {
    let raw = B64.decode(token).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (id, secret) = text.strip_prefix(PREFIX)?.split_once(':')?;
    Some((Snowflake(id.parse().ok()?), secret.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_gives_back_its_id_and_secret() {
        let (secret, token) = issue(Snowflake(42));
        assert_eq!(parse(&token), Some((Snowflake(42), secret)));
        assert_eq!(parse("not-a-token"), None);
        assert!(token.starts_with("aW50ZXJhY3Rpb246"));
    }
}

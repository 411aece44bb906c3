//! Byte layouts of ordered keys, shared by the key-value backends.
//!
//! Big-endian integers so that byte order is numeric order. Message keys
//! invert the id so that a forward scan of a partition is newest first.

use concord_model::Snowflake;

use crate::{StoreError, StoreResult};

/// The longest key made of text (a login, an invite code, a meta key) a
/// backend takes. Far above every length the service allows, far below
/// the 64 KiB at which the embedded store panics.
pub const TEXT_KEY_MAX: usize = 4096;

/// `text` as a key, or [`StoreError::KeyTooLong`]: every key made of
/// client text goes through here before it reaches a backend.
pub fn text(text: &str) -> StoreResult<&str> {
    match text.len() {
        n if n > TEXT_KEY_MAX => Err(StoreError::KeyTooLong(n)),
        _ => Ok(text),
    }
}

/// `channel_id | bucket | !message_id`: partition `(channel, bucket)`,
/// clustered by id descending.
pub fn message(channel_id: Snowflake, bucket: u64, id: Snowflake) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..8].copy_from_slice(&channel_id.get().to_be_bytes());
    k[8..16].copy_from_slice(&bucket.to_be_bytes());
    k[16..].copy_from_slice(&(!id.get()).to_be_bytes());
    k
}

/// The id stored in a message key.
pub fn message_id(key: &[u8]) -> Option<Snowflake> {
    let tail: [u8; 8] = key.get(16..24)?.try_into().ok()?;
    Some(Snowflake(!u64::from_be_bytes(tail)))
}

/// The prefix of one (channel, bucket) partition.
pub fn partition(channel_id: Snowflake, bucket: u64) -> [u8; 16] {
    pair(channel_id.get(), bucket)
}

/// Two ids as one key: `a | b`, e.g. `guild | member` or `channel | bucket`.
pub fn pair(a: u64, b: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&a.to_be_bytes());
    k[8..].copy_from_slice(&b.to_be_bytes());
    k
}

/// The second half of a [`pair`] key.
pub fn pair_second(key: &[u8]) -> Option<u64> {
    let tail: [u8; 8] = key.get(8..16)?.try_into().ok()?;
    Some(u64::from_be_bytes(tail))
}

pub fn id(id: Snowflake) -> [u8; 8] {
    id.get().to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_key_layout_is_pinned() {
        let k = message(Snowflake(0x0102030405060708), 0x11, Snowflake(0xff));
        assert_eq!(&k[..8], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(&k[8..16], &[0, 0, 0, 0, 0, 0, 0, 0x11]);
        assert_eq!(&k[16..], &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00]);
        assert_eq!(message_id(&k), Some(Snowflake(0xff)));
    }

    #[test]
    fn newer_messages_sort_first_within_a_partition() {
        let c = Snowflake(7);
        assert!(message(c, 3, Snowflake(200)) < message(c, 3, Snowflake(100)));
        assert!(message(c, 2, Snowflake(1)) < message(c, 3, Snowflake(1_000)));
        assert!(message(c, 3, Snowflake(1)).starts_with(&partition(c, 3)));
    }

    #[test]
    fn pair_layout_is_pinned() {
        let k = pair(1, 258);
        assert_eq!(k, [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 2]);
        assert_eq!(pair_second(&k), Some(258));
    }
}

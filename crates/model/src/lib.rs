//! Discord's vocabulary, shared by every layer: snowflake ids, permission
//! bits, the records Concord stores, and the JSON shapes it sends.
//!
//! Records (`records`) are what the store keeps: only what varies, nothing
//! derived. Wire shapes (`wire`) are what clients read: every field a client
//! library expects, built from records in one place. Keeping the two apart
//! lets the storage format and the protocol evolve separately.

pub mod codes;
pub mod event;
pub mod limits;
pub mod permissions;
pub mod records;
pub mod snowflake;
pub mod timestamp;
pub mod voice;
pub mod wire;

pub use permissions::Permissions;
pub use snowflake::{Snowflake, SnowflakeGenerator};

//! What thread routes read: starting a thread or a forum post.

use concord_model::Snowflake;
use serde::Deserialize;

use crate::messages::CreateMessage;

/// `POST /channels/{c}/threads` and `.../messages/{m}/threads`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct StartThread {
    pub name: Option<String>,
    pub auto_archive_duration: Option<u32>,
    pub rate_limit_per_user: Option<u32>,
    /// 10, 11 or 12; a thread not started from a message defaults to private.
    #[serde(rename = "type")]
    pub kind: Option<u8>,
    pub invitable: Option<bool>,
    /// A forum post's first message.
    pub message: Option<CreateMessage>,
    /// A forum post's tags, of its forum's.
    pub applied_tags: Option<Vec<Snowflake>>,
}

//! What message routes read: a new message, an edit, a bulk deletion.

use concord_model::Snowflake;
use serde::Deserialize;
use serde_json::Value;

use crate::input::nullable;

#[derive(Debug, Default, Deserialize)]
pub struct AllowedMentions {
    pub parse: Option<Vec<String>>,
    pub users: Option<Vec<Snowflake>>,
    pub roles: Option<Vec<Snowflake>>,
    #[serde(default)]
    pub replied_user: bool,
}

#[derive(Debug, Deserialize)]
pub struct ReferenceInput {
    pub message_id: Snowflake,
    pub channel_id: Option<Snowflake>,
    pub guild_id: Option<Snowflake>,
    pub fail_if_not_exists: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
pub struct CreateMessage {
    /// Files from a multipart request (`files[n]`), not part of the JSON.
    #[serde(skip)]
    pub uploads: Vec<crate::attachments::Upload>,
    pub content: Option<String>,
    pub nonce: Option<Value>,
    #[serde(default)]
    pub tts: bool,
    pub embeds: Option<Vec<Value>>,
    pub embed: Option<Value>,
    pub allowed_mentions: Option<AllowedMentions>,
    pub message_reference: Option<ReferenceInput>,
    pub flags: Option<u64>,
    pub components: Option<Vec<Value>>,
    #[serde(default)]
    pub enforce_nonce: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct EditMessage {
    #[serde(default, deserialize_with = "nullable")]
    pub content: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub embeds: Option<Option<Vec<Value>>>,
    #[serde(default, deserialize_with = "nullable")]
    pub flags: Option<Option<u64>>,
    #[serde(default, deserialize_with = "nullable")]
    pub components: Option<Option<Vec<Value>>>,
    pub allowed_mentions: Option<AllowedMentions>,
}

#[derive(Debug, Deserialize)]
pub struct BulkDelete {
    pub messages: Vec<Snowflake>,
}

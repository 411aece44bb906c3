//! What message routes read: a new message, an edit, a bulk deletion.

use concord_model::Snowflake;
use serde::Deserialize;
use serde_json::Value;

use crate::attachments::metadata::AttachmentRequest;
use crate::input::nullable;

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct AllowedMentions {
    pub parse: Option<Vec<String>>,
    pub users: Option<Vec<Snowflake>>,
    pub roles: Option<Vec<Snowflake>>,
    #[serde(default)]
    pub replied_user: bool,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ReferenceInput {
    pub message_id: Snowflake,
    pub channel_id: Option<Snowflake>,
    pub guild_id: Option<Snowflake>,
    pub fail_if_not_exists: Option<bool>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
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
    pub poll: Option<PollInput>,
    /// The uploaded files' names and descriptions.
    pub attachments: Option<Vec<AttachmentRequest>>,
}

/// Discord's poll create request; checked by `polls::create`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct PollInput {
    pub question: Option<PollMediaInput>,
    pub answers: Option<Vec<PollAnswerInput>>,
    /// Hours; 24 when absent. A number, not only an integer: discord.py
    /// sends `1.0`.
    pub duration: Option<f64>,
    pub allow_multiselect: Option<bool>,
    pub layout_type: Option<i64>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct PollMediaInput {
    pub text: Option<String>,
    pub emoji: Option<PollEmojiInput>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct PollAnswerInput {
    pub poll_media: Option<PollMediaInput>,
}

/// A custom emoji by `id`, or a unicode one by `name`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct PollEmojiInput {
    pub id: Option<Snowflake>,
    pub name: Option<String>,
}

/// `PUT /channels/{c}/polls/{m}/answers/@me`: the voter's whole vote,
/// answer ids as strings (as Discord's client sends them) or numbers.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct PollVoteInput {
    pub answer_ids: Vec<Value>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct EditMessage {
    /// Files an edit adds (multipart `files[n]`, where a route takes them:
    /// an interaction's responses), after those the message has.
    #[serde(skip)]
    pub uploads: Vec<crate::attachments::Upload>,
    #[serde(default, deserialize_with = "nullable")]
    pub content: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub embeds: Option<Option<Vec<Value>>>,
    #[serde(default, deserialize_with = "nullable")]
    pub flags: Option<Option<u64>>,
    #[serde(default, deserialize_with = "nullable")]
    pub components: Option<Option<Vec<Value>>>,
    pub allowed_mentions: Option<AllowedMentions>,
    /// The added files' names and descriptions.
    pub attachments: Option<Vec<AttachmentRequest>>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct BulkDelete {
    pub messages: Vec<Snowflake>,
}

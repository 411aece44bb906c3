//! Request bodies, as clients send them. Unknown fields are ignored, as
//! Discord does; types are strict, so a wrong type is a 50035 naming the field.

use concord_model::Snowflake;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Tells a field sent as `null` (`Some(None)`) from one left out (`None`).
pub fn nullable<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// `POST /channels/{c}/threads` and `.../messages/{m}/threads`.
#[derive(Debug, Default, Deserialize)]
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
}

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
    pub allowed_mentions: Option<AllowedMentions>,
}

/// `POST /users/@me/channels`: a DM with `recipient_id`, or a group DM
/// with `recipients`.
#[derive(Debug, Deserialize)]
pub struct OpenPrivateChannel {
    pub recipient_id: Option<Snowflake>,
    pub recipients: Option<Vec<Snowflake>>,
}

#[derive(Debug, Deserialize)]
pub struct BulkDelete {
    pub messages: Vec<Snowflake>,
}

/// `POST /admin/users`: the password is generated when left out.
#[derive(Debug, Deserialize)]
pub struct AdminCreateUser {
    pub username: String,
    pub email: Option<String>,
    pub password: Option<String>,
    #[serde(default)]
    pub admin: bool,
}

/// `PATCH /admin/users/{user}`
#[derive(Debug, Default, Deserialize)]
pub struct AdminPatchUser {
    pub disabled: Option<bool>,
    pub admin: Option<bool>,
}

/// `POST /admin/users/{user}/password`: generated when left out.
#[derive(Debug, Default, Deserialize)]
pub struct AdminResetPassword {
    pub password: Option<String>,
}

//! What interaction routes read: an invocation as Discord's client sends
//! it, and an application's answer.

use concord_model::Snowflake;
use serde::Deserialize;
use serde_json::Value;

/// `POST /interactions`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct CreateInteraction {
    #[serde(rename = "type")]
    pub kind: u8,
    pub application_id: Snowflake,
    pub guild_id: Option<Snowflake>,
    pub channel_id: Snowflake,
    /// The gateway session that invoked it (kept for nothing else).
    pub session_id: Option<String>,
    pub nonce: Option<Value>,
    /// The component's message (type 3).
    pub message_id: Option<Snowflake>,
    #[serde(default)]
    pub data: Value,
}

/// `POST /interactions/{id}/{token}/callback`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct InteractionCallback {
    /// Files of a multipart callback (`files[n]`), for the message it
    /// sends or updates.
    #[serde(skip)]
    pub uploads: Vec<crate::attachments::Upload>,
    #[serde(rename = "type")]
    pub kind: u8,
    #[serde(default)]
    pub data: Option<Value>,
}

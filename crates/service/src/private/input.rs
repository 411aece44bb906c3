//! What DM routes read: opening a DM or a group DM.

use concord_model::Snowflake;
use serde::Deserialize;

/// `POST /users/@me/channels`: a DM with `recipient_id`, or a group DM
/// with `recipients`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct OpenPrivateChannel {
    pub recipient_id: Option<Snowflake>,
    pub recipients: Option<Vec<Snowflake>>,
}

//! What account routes read: registration, login, the current user, bot
//! applications.

use concord_model::{Permissions, Snowflake};
use serde::Deserialize;

use crate::input::nullable;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct Register {
    pub username: Option<String>,
    pub global_name: Option<String>,
    pub email: Option<String>,
    pub password: String,
    /// A guild invite code: allows registration in `invite` mode and joins its guild.
    pub invite: Option<String>,
    /// A one-time token from an administrator (or the setup token).
    pub registration_token: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct Login {
    pub login: String,
    pub password: String,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct PatchMe {
    pub username: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub global_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub avatar: Option<Option<String>>,
    pub password: Option<String>,
    pub new_password: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CreateApplication {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct PatchApplication {
    pub description: Option<String>,
    /// Privileged intents the bot may ask for, as Discord's flag bits
    /// (`GATEWAY_PRESENCE_LIMITED` etc.).
    pub flags: Option<u64>,
    /// Where interactions are POSTed instead of the gateway; null or ""
    /// goes back to the gateway.
    #[serde(default, deserialize_with = "nullable")]
    pub interactions_endpoint_url: Option<Option<String>>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct Authorize {
    pub guild_id: Snowflake,
    #[serde(default)]
    pub permissions: Option<Permissions>,
    #[serde(default = "yes")]
    pub authorize: bool,
}

fn yes() -> bool {
    true
}

//! Request bodies of the notification routes.

use std::collections::BTreeMap;

use concord_model::Snowflake;
use serde::Deserialize;

use crate::input::nullable;

/// `PushSubscription.toJSON()` as a browser gives it.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PushSubscriptionInput {
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub expiration_time: Option<u64>,
    #[serde(default)]
    pub keys: Option<PushKeysInput>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct PushKeysInput {
    #[serde(default)]
    pub p256dh: Option<String>,
    #[serde(default)]
    pub auth: Option<String>,
}

/// `DELETE /users/@me/push-subscriptions`: which one.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct PushUnsubscribe {
    #[serde(default)]
    pub endpoint: Option<String>,
}

/// `mute_config` as Discord's client sends it.
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
pub struct MuteConfigInput {
    /// ISO 8601; `null`: until unmuted.
    #[serde(default)]
    pub end_time: Option<String>,
}

/// One channel's part of a settings PATCH.
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
pub struct ChannelOverrideInput {
    #[serde(default)]
    pub message_notifications: Option<u8>,
    #[serde(default)]
    pub muted: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    pub mute_config: Option<Option<MuteConfigInput>>,
}

/// `PATCH /users/@me/guilds/{guild}/settings`: what changes.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct PatchGuildSettings {
    #[serde(default)]
    pub message_notifications: Option<u8>,
    #[serde(default)]
    pub suppress_everyone: Option<bool>,
    #[serde(default)]
    pub suppress_roles: Option<bool>,
    #[serde(default)]
    pub muted: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    pub mute_config: Option<Option<MuteConfigInput>>,
    #[serde(default)]
    pub channel_overrides: Option<BTreeMap<Snowflake, ChannelOverrideInput>>,
}

/// `PATCH /users/@me/guilds/settings`: many guilds' changes at once, by
/// guild id (`@me`: DMs), each as the per-guild route takes it.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct PatchGuildSettingsBulk {
    #[serde(default)]
    pub guilds: BTreeMap<String, PatchGuildSettings>,
}

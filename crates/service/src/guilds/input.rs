//! What guild routes read: guilds, channels and their overwrites, roles,
//! members, bans, invites, emoji and reorders.

use concord_model::records::Overwrite;
use concord_model::{Permissions, Snowflake};
use serde::Deserialize;

use crate::input::nullable;
use crate::threads::tags::TagInput;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CreateGuild {
    pub name: String,
    #[serde(default)]
    pub icon: Option<String>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct PatchGuild {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub icon: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub system_channel_id: Option<Option<Snowflake>>,
    pub verification_level: Option<u8>,
    pub default_message_notifications: Option<u8>,
    pub explicit_content_filter: Option<u8>,
    /// Only the owner may hand the guild to another member.
    pub owner_id: Option<Snowflake>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct OverwriteInput {
    pub id: Snowflake,
    #[serde(rename = "type")]
    pub kind: u8,
    #[serde(default)]
    pub allow: Option<Permissions>,
    #[serde(default)]
    pub deny: Option<Permissions>,
}

impl OverwriteInput {
    pub fn record(&self) -> Overwrite {
        Overwrite {
            id: self.id,
            kind: self.kind,
            allow: self.allow.unwrap_or_default(),
            deny: self.deny.unwrap_or_default(),
        }
    }
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct ChannelInput {
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<u8>,
    #[serde(default, deserialize_with = "nullable")]
    pub topic: Option<Option<String>>,
    pub position: Option<i32>,
    #[serde(default, deserialize_with = "nullable")]
    pub parent_id: Option<Option<Snowflake>>,
    pub nsfw: Option<bool>,
    pub rate_limit_per_user: Option<u32>,
    pub bitrate: Option<u32>,
    pub user_limit: Option<u32>,
    #[serde(default, deserialize_with = "nullable")]
    pub rtc_region: Option<Option<String>>,
    pub permission_overwrites: Option<Vec<OverwriteInput>>,
    /// Threads only, like the three below.
    pub archived: Option<bool>,
    pub auto_archive_duration: Option<u32>,
    pub locked: Option<bool>,
    pub invitable: Option<bool>,
    /// Group DMs only: a data URI, or null to remove it.
    #[serde(default, deserialize_with = "nullable")]
    pub icon: Option<Option<String>>,
    /// Forums only: the tags its posts may carry, and its flags
    /// (REQUIRE_TAG).
    pub available_tags: Option<Vec<TagInput>>,
    pub flags: Option<u64>,
    /// A forum's posts only: their tags.
    pub applied_tags: Option<Vec<Snowflake>>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct PutOverwrite {
    #[serde(rename = "type")]
    pub kind: u8,
    #[serde(default)]
    pub allow: Option<Permissions>,
    #[serde(default)]
    pub deny: Option<Permissions>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct RoleInput {
    pub name: Option<String>,
    pub permissions: Option<Permissions>,
    pub color: Option<u32>,
    pub hoist: Option<bool>,
    pub mentionable: Option<bool>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CreateEmoji {
    pub name: String,
    /// A data URI: `data:image/png;base64,...`.
    pub image: String,
    pub roles: Option<Vec<Snowflake>>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct PatchEmoji {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub roles: Option<Option<Vec<Snowflake>>>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct CreateInvite {
    pub max_age: Option<u32>,
    pub max_uses: Option<u32>,
    #[serde(default)]
    pub temporary: bool,
    #[serde(default)]
    pub unique: bool,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct PatchMember {
    #[serde(default, deserialize_with = "nullable")]
    pub nick: Option<Option<String>>,
    pub roles: Option<Vec<Snowflake>>,
    pub mute: Option<bool>,
    pub deaf: Option<bool>,
    /// The voice channel to move the member to; `null` disconnects them.
    #[serde(default, deserialize_with = "nullable")]
    pub channel_id: Option<Option<Snowflake>>,
    /// ISO 8601; `null` lifts a timeout.
    #[serde(default, deserialize_with = "nullable")]
    pub communication_disabled_until: Option<Option<String>>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct PatchNick {
    #[serde(default, deserialize_with = "nullable")]
    pub nick: Option<Option<String>>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct CreateBan {
    pub delete_message_seconds: Option<u64>,
    /// Deprecated by Discord, still sent by older clients.
    pub delete_message_days: Option<u64>,
}

/// One entry of a bulk position change (roles or channels).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct Position {
    pub id: Snowflake,
    #[serde(default, deserialize_with = "nullable")]
    pub position: Option<Option<i32>>,
    #[serde(default, deserialize_with = "nullable")]
    pub parent_id: Option<Option<Snowflake>>,
    #[serde(default)]
    pub lock_permissions: bool,
}

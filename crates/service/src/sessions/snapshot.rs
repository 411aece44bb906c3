//! What the gateway's hub computes permissions and views from: a guild's
//! snapshot, a member, a channel's object. (A member's permissions in one
//! channel, a thread's through its parent, are access's:
//! [`Service::channel_permissions`].)

use std::collections::HashMap;

use concord_model::records::{Channel, Guild, Member, Role};
use concord_model::{Permissions, Snowflake};

use crate::access::permissions::MemberContext;
use crate::{Service, ServiceError, ServiceResult};

/// A guild, its roles and its channels (threads aside), as the gateway
/// keeps them to compute permissions in memory.
pub struct GuildSnapshot {
    pub guild: Guild,
    pub roles: Vec<Role>,
    pub channels: HashMap<Snowflake, Channel>,
}

impl GuildSnapshot {
    fn context<'a>(&'a self, member: &'a Member) -> MemberContext<'a> {
        MemberContext {
            guild: &self.guild,
            roles: &self.roles,
            member,
            now_ms: concord_model::snowflake::now_ms(),
        }
    }

    /// A member's guild-wide permissions.
    pub fn base(&self, member: &Member) -> Permissions {
        self.context(member).base()
    }

    /// A member's permissions in one of the guild's channels; `None` for a
    /// channel it does not hold (a thread, which needs its membership).
    pub fn in_channel(&self, member: &Member, channel: Snowflake) -> Option<Permissions> {
        let channel = self.channels.get(&channel)?;
        Some(self.context(member).in_channel(channel))
    }
}

impl Service {
    /// What the gateway computes members' permissions from, read once per
    /// guild until an event may change it; `None` if the guild is gone.
    pub async fn guild_snapshot(
        &self,
        guild_id: Snowflake,
    ) -> ServiceResult<Option<GuildSnapshot>> {
        let Some(guild) = self.store.guild(guild_id).await? else {
            return Ok(None);
        };
        let roles = self.store.roles(guild_id).await?;
        let channels = self.store.guild_channels(guild_id).await?;
        Ok(Some(GuildSnapshot {
            guild,
            roles,
            channels: channels.into_iter().map(|c| (c.id, c)).collect(),
        }))
    }

    /// A member of a guild, if they are one.
    pub async fn guild_member(
        &self,
        guild_id: Snowflake,
        user_id: Snowflake,
    ) -> ServiceResult<Option<Member>> {
        Ok(self.store.member(guild_id, user_id).await?)
    }

    /// A channel's object as JSON, for telling a client of a channel it may
    /// now view or no longer may; `None` if it is gone.
    pub async fn channel_object(&self, channel_id: Snowflake) -> ServiceResult<Option<String>> {
        let Some(channel) = self.store.channel(channel_id).await? else {
            return Ok(None);
        };
        let object = serde_json::to_string(&self.channel_wire(&channel).await?)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        Ok(Some(object))
    }
}

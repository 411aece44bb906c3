//! What the gateway asks of the service: who a token is, what a session
//! starts with, and what a member may see.

use std::collections::HashMap;

use concord_model::records::{Application, Channel, Guild, Member, Role};
use concord_model::{Permissions, Snowflake, wire};

use crate::access::permissions::MemberContext;
use crate::messages::read_states::ReadStateEntry;
use crate::{Caller, Service, ServiceError, ServiceResult};

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

/// What READY needs about the identifying user.
pub struct SessionStart {
    pub user: wire::CurrentUser,
    pub guild_ids: Vec<Snowflake>,
    /// The bot's application; `None` for user accounts.
    pub application: Option<Application>,
    /// The user's DMs and group DMs; bots get none in READY, as on Discord.
    pub private_channels: Vec<wire::Channel>,
    /// The user's read states; `None` for bots, which have none.
    pub read_states: Option<Vec<ReadStateEntry>>,
}

impl Service {
    pub async fn session_start(&self, caller: Caller) -> ServiceResult<SessionStart> {
        let user = self.me(caller).await?;
        let guild_ids = self.store.user_guild_ids(caller.id).await?;
        if caller.bot {
            return Ok(SessionStart {
                user,
                guild_ids,
                application: self.store.application(caller.id).await?,
                private_channels: Vec::new(),
                read_states: None,
            });
        }
        Ok(SessionStart {
            user,
            guild_ids,
            application: None,
            private_channels: self.private_channels(caller).await?,
            read_states: Some(self.read_state_entries(caller).await?),
        })
    }

    /// A member's permissions in a channel of a guild; none if either is gone.
    pub async fn channel_permissions(
        &self,
        user_id: Snowflake,
        guild_id: Snowflake,
        channel_id: Snowflake,
    ) -> ServiceResult<Permissions> {
        let (Some(guild), Some(member), Some(channel)) = (
            self.store.guild(guild_id).await?,
            self.store.member(guild_id, user_id).await?,
            self.store.channel(channel_id).await?,
        ) else {
            return Ok(Permissions::NONE);
        };
        let roles = self.store.roles(guild_id).await?;
        let now = concord_model::snowflake::now_ms();
        let ctx = MemberContext {
            guild: &guild,
            roles: &roles,
            member: &member,
            now_ms: now,
        };
        self.permissions_in(&ctx, &channel).await
    }

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

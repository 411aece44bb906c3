//! Views: a guild or a channel as one caller sees it, read once per
//! request with the caller's membership and permissions. Every guild route
//! starts with [`Service::guild_view`], every channel route with
//! [`Service::channel_view`]; what the view refuses (10004, 10003, 50001,
//! 50003) is refused the same way everywhere.

use concord_model::event::Audience;
use concord_model::records::{Channel, Guild, Member, Role};
use concord_model::snowflake::now_ms;
use concord_model::{Permissions, Snowflake, codes};

use super::permissions::{MemberContext, Rank};
use crate::{Caller, Service, ServiceError, ServiceResult, audience_of};

impl Service {
    /// The guild, its roles and the caller's membership: 10004 if the guild
    /// does not exist, 50001 if the caller is not in it.
    pub async fn guild_view(
        &self,
        caller: Caller,
        guild_id: Snowflake,
    ) -> ServiceResult<GuildView> {
        // Three reads at once: on a networked store, one round trip's wait
        // rather than three, on every request that checks a permission.
        let (guild, member, roles) = tokio::try_join!(
            self.store.guild(guild_id),
            self.store.member(guild_id, caller.id),
            self.store.roles(guild_id),
        )?;
        let guild = guild.ok_or(ServiceError::NotFound(codes::UNKNOWN_GUILD))?;
        let member = member.ok_or(ServiceError::Forbidden(codes::MISSING_ACCESS))?;
        Ok(GuildView {
            guild,
            roles,
            member,
        })
    }

    /// A channel the caller can see, with the caller's permissions there:
    /// 10003 if it does not exist, 50001 if it cannot be seen. A DM or group
    /// DM is seen by its participants only.
    pub async fn channel_view(
        &self,
        caller: Caller,
        channel_id: Snowflake,
    ) -> ServiceResult<ChannelView> {
        let channel = self
            .store
            .channel(channel_id)
            .await?
            .ok_or(ServiceError::NotFound(codes::UNKNOWN_CHANNEL))?;
        let Some(guild_id) = channel.guild_id else {
            if !channel.recipients.contains(&caller.id) {
                return Err(ServiceError::Forbidden(codes::MISSING_ACCESS));
            }
            return Ok(ChannelView {
                channel,
                guild: None,
                permissions: Permissions::PRIVATE_CHANNEL,
            });
        };
        let guild = match self.guild_view(caller, guild_id).await {
            Err(ServiceError::NotFound(_)) => {
                return Err(ServiceError::NotFound(codes::UNKNOWN_CHANNEL));
            }
            other => other?,
        };
        let permissions = self.permissions_in(&guild.context(), &channel).await?;
        if !permissions.contains(Permissions::VIEW_CHANNEL) {
            return Err(ServiceError::Forbidden(codes::MISSING_ACCESS));
        }
        Ok(ChannelView {
            channel,
            guild: Some(guild),
            permissions,
        })
    }
}

/// A guild as one member sees it.
#[derive(Debug, Clone)]
pub struct GuildView {
    pub guild: Guild,
    pub roles: Vec<Role>,
    pub member: Member,
}

impl GuildView {
    pub(crate) fn context(&self) -> MemberContext<'_> {
        MemberContext {
            guild: &self.guild,
            roles: &self.roles,
            member: &self.member,
            now_ms: now_ms(),
        }
    }

    pub fn base(&self) -> Permissions {
        self.context().base()
    }

    pub fn in_channel(&self, channel: &Channel) -> Permissions {
        self.context().in_channel(channel)
    }

    pub fn is_owner(&self) -> bool {
        self.guild.owner_id == self.member.user_id
    }

    /// 50013 unless the member holds `needed` guild-wide.
    pub fn require(&self, needed: Permissions) -> ServiceResult<()> {
        require(self.base(), needed)
    }

    /// The viewer's place in the role hierarchy: their highest role's, or
    /// the top for the owner.
    pub fn rank(&self) -> Rank {
        if self.is_owner() {
            Rank::TOP
        } else {
            self.context().top_rank()
        }
    }
}

/// A channel as one user sees it: a guild channel through their membership,
/// or a DM or group DM they are in.
#[derive(Debug, Clone)]
pub struct ChannelView {
    pub channel: Channel,
    /// `None` for DMs and group DMs.
    pub guild: Option<GuildView>,
    pub permissions: Permissions,
}

impl ChannelView {
    pub fn require(&self, needed: Permissions) -> ServiceResult<()> {
        require(self.permissions, needed)
    }

    pub fn guild_id(&self) -> Option<Snowflake> {
        self.channel.guild_id
    }

    /// 50083 in an archived thread, which takes no new content.
    pub fn require_unarchived(&self) -> ServiceResult<()> {
        match &self.channel.thread {
            Some(state) if state.archived => Err(ServiceError::BadRequest(codes::THREAD_ARCHIVED)),
            _ => Ok(()),
        }
    }

    /// The guild, for what only guild channels have: 50003 in a DM.
    pub fn guild(&self) -> ServiceResult<&GuildView> {
        self.guild
            .as_ref()
            .ok_or(ServiceError::Forbidden(codes::DM_CHANNEL))
    }

    /// The caller's membership, in a guild channel.
    pub fn member(&self) -> Option<&Member> {
        self.guild.as_ref().map(|g| &g.member)
    }

    /// `data` with the channel's `guild_id`, which DM events leave out
    /// (discord.py reads a `null` one as a guild id and fails).
    pub fn with_guild_id(&self, mut data: serde_json::Value) -> serde_json::Value {
        if let (Some(guild_id), Some(map)) = (self.channel.guild_id, data.as_object_mut()) {
            map.insert("guild_id".into(), serde_json::json!(guild_id));
        }
        data
    }

    /// Who an event about this channel's messages goes to.
    pub fn audience(&self) -> Audience {
        audience_of(&self.channel)
    }
}

pub(crate) fn require(held: Permissions, needed: Permissions) -> ServiceResult<()> {
    if held.contains(needed) {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(codes::MISSING_PERMISSIONS))
    }
}

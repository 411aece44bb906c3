//! What the gateway asks of the service: who a token is, what a session
//! starts with, and what a member may see.

use concord_model::records::Application;
use concord_model::{Permissions, Snowflake, codes, wire};

use crate::auth::TokenSigner;
use crate::permissions::MemberContext;
use crate::read_states::ReadStateEntry;
use crate::{Caller, Service, ServiceError, ServiceResult};

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
    /// A gateway token, bot or user: IDENTIFY carries it without a prefix.
    pub async fn authenticate_token(&self, token: &str) -> ServiceResult<Caller> {
        let token = token.strip_prefix("Bot ").unwrap_or(token);
        let user_id = TokenSigner::parse(token)
            .ok_or(ServiceError::Unauthorized)?
            .user_id;
        let kind = match self.store.user(user_id).await? {
            Some(u) if u.bot => crate::users::TokenKind::Bot,
            Some(_) => crate::users::TokenKind::User,
            None => return Err(ServiceError::Unauthorized),
        };
        self.authenticate(kind, token).await
    }

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

    /// The ids of a guild's channels, threads aside.
    pub async fn guild_channel_ids(&self, guild_id: Snowflake) -> ServiceResult<Vec<Snowflake>> {
        let channels = self.store.guild_channels(guild_id).await?;
        Ok(channels.iter().map(|c| c.id).collect())
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

    /// A member's guild-wide permissions; none if not a member.
    pub async fn guild_permissions(
        &self,
        user_id: Snowflake,
        guild_id: Snowflake,
    ) -> ServiceResult<Permissions> {
        let (Some(guild), Some(member)) = (
            self.store.guild(guild_id).await?,
            self.store.member(guild_id, user_id).await?,
        ) else {
            return Ok(Permissions::NONE);
        };
        let roles = self.store.roles(guild_id).await?;
        let now = concord_model::snowflake::now_ms();
        Ok(MemberContext {
            guild: &guild,
            roles: &roles,
            member: &member,
            now_ms: now,
        }
        .base())
    }

    /// Members for a gateway member request: by ids, or by name prefix
    /// (an empty prefix is everyone, up to `limit`, 0 meaning no limit).
    pub async fn request_members(
        &self,
        caller: Caller,
        guild_id: Snowflake,
        query: Option<&str>,
        limit: usize,
        user_ids: &[Snowflake],
    ) -> ServiceResult<Vec<wire::Member>> {
        if self.store.member(guild_id, caller.id).await?.is_none() {
            return Err(ServiceError::Forbidden(codes::MISSING_ACCESS));
        }
        let mut out = Vec::new();
        if !user_ids.is_empty() {
            for id in user_ids.iter().take(100) {
                if let Some(m) = self.store.member(guild_id, *id).await? {
                    out.push(self.member_wire(&m).await?);
                }
            }
            return Ok(out);
        }
        let prefix = query.unwrap_or("").to_lowercase();
        let limit = if limit == 0 { usize::MAX } else { limit };
        let mut after = Snowflake(0);
        loop {
            let page = self.store.members(guild_id, after, 1000).await?;
            let Some(last) = page.last() else { break };
            after = last.user_id;
            for m in &page {
                let member = self.member_wire(m).await?;
                let user = member.user.as_ref();
                let names = [
                    user.map(|u| u.username.as_str()),
                    user.and_then(|u| u.global_name.as_deref()),
                    m.nick.as_deref(),
                ];
                if names
                    .iter()
                    .flatten()
                    .any(|n| n.to_lowercase().starts_with(&prefix))
                {
                    out.push(member);
                    if out.len() >= limit {
                        return Ok(out);
                    }
                }
            }
        }
        Ok(out)
    }
}

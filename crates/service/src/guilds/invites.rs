//! Invites: create, look up, join through, revoke.

use concord_model::event::Audience;
use concord_model::event::EventKind;
use concord_model::records::{Invite, Member, channel_type, message_type};
use concord_model::snowflake::now_ms;
use concord_model::{Permissions, Snowflake, codes, limits, wire};
use concord_store::InviteUse;
use rand::Rng;

use super::input::CreateInvite;
use crate::error::check_range;
use crate::{Caller, FormErrors, Service, ServiceError, ServiceResult};

const CODE_LEN: usize = 8;
const CODE_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn new_code() -> String {
    let mut rng = rand::rng();
    (0..CODE_LEN)
        .map(|_| CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())] as char)
        .collect()
}

/// INVITE_* events go only to those who manage the channel.
fn to_managers(invite: &Invite) -> Audience {
    Audience::Guild {
        guild_id: invite.guild_id,
        channel_id: Some(invite.channel_id),
        required: Permissions::MANAGE_CHANNELS,
    }
}

impl Service {
    /// An invite by code, spent or not: 10006 if there is none, and for a
    /// code longer than any invite's without asking the store.
    async fn invite_record(&self, code: &str) -> ServiceResult<Invite> {
        let unknown = ServiceError::NotFound(codes::UNKNOWN_INVITE);
        if code.len() > limits::INVITE_CODE_MAX {
            return Err(unknown);
        }
        self.store.invite(code).await?.ok_or(unknown)
    }

    /// A live invite: 10006 if missing, expired or used up.
    pub(crate) async fn live_invite(&self, code: &str) -> ServiceResult<Invite> {
        match self.invite_record(code).await? {
            invite if !invite.is_spent(now_ms()) => Ok(invite),
            _ => Err(ServiceError::NotFound(codes::UNKNOWN_INVITE)),
        }
    }

    async fn invite_wire(&self, invite: &Invite, with_counts: bool) -> ServiceResult<wire::Invite> {
        let guild = self
            .store
            .guild(invite.guild_id)
            .await?
            .ok_or(ServiceError::NotFound(codes::UNKNOWN_INVITE))?;
        let channel = self
            .store
            .channel(invite.channel_id)
            .await?
            .ok_or(ServiceError::NotFound(codes::UNKNOWN_INVITE))?;
        let inviter = self.user_wire(invite.inviter_id).await?;
        let mut out = wire::Invite::new(invite, &guild, &channel, Some(inviter));
        if with_counts {
            out.approximate_member_count = Some(self.store.member_count(invite.guild_id).await?);
        }
        Ok(out)
    }

    pub async fn create_invite(
        &self,
        caller: Caller,
        channel_id: Snowflake,
        input: CreateInvite,
    ) -> ServiceResult<wire::Invite> {
        let view = self.channel_view(caller, channel_id).await?;
        let guild_id = view.guild()?.guild.id;
        view.require(Permissions::CREATE_INSTANT_INVITE)?;
        let max_age = input.max_age.unwrap_or(limits::INVITE_DEFAULT_MAX_AGE);
        let max_uses = input.max_uses.unwrap_or(0);
        let mut errors = FormErrors::new();
        check_range(
            &mut errors,
            "max_age",
            i64::from(max_age),
            0,
            i64::from(limits::INVITE_MAX_AGE),
        );
        check_range(
            &mut errors,
            "max_uses",
            i64::from(max_uses),
            0,
            i64::from(limits::INVITE_MAX_USES),
        );
        if view.channel.kind == channel_type::GUILD_CATEGORY || view.channel.is_thread() {
            errors.add(
                "channel_id",
                "CHANNEL_TYPE_INVALID",
                "Cannot invite to a category or a thread.",
            );
        }
        errors.into_result()?;
        let invite = Invite {
            code: new_code(),
            guild_id,
            channel_id,
            inviter_id: caller.id,
            created_ms: now_ms(),
            max_age,
            max_uses,
            uses: 0,
            temporary: input.temporary,
        };
        self.store.put_invite(&invite).await?;
        let out = self.invite_wire(&invite, false).await?;
        self.publish(EventKind::InviteCreate, to_managers(&invite), serde_json::json!({
            "channel_id": channel_id, "code": &invite.code, "created_at": &out.created_at,
            "guild_id": invite.guild_id, "inviter": &out.inviter, "max_age": max_age,
            "max_uses": max_uses, "temporary": invite.temporary, "uses": 0, "expires_at": &out.expires_at,
        })).await;
        Ok(out)
    }

    pub async fn invite(&self, code: &str, with_counts: bool) -> ServiceResult<wire::Invite> {
        let invite = self.live_invite(code).await?;
        self.invite_wire(&invite, with_counts).await
    }

    /// `GET /guilds/{g}/invites` (MANAGE_GUILD): the guild's live invites.
    pub async fn guild_invites(
        &self,
        caller: Caller,
        guild_id: Snowflake,
    ) -> ServiceResult<Vec<wire::Invite>> {
        let view = self.guild_view(caller, guild_id).await?;
        view.require(Permissions::MANAGE_GUILD)?;
        self.live_invites(guild_id, None).await
    }

    /// `GET /channels/{c}/invites` (MANAGE_CHANNELS): the channel's live invites.
    pub async fn channel_invites(
        &self,
        caller: Caller,
        channel_id: Snowflake,
    ) -> ServiceResult<Vec<wire::Invite>> {
        let view = self.channel_view(caller, channel_id).await?;
        let guild_id = view.guild()?.guild.id;
        view.require(Permissions::MANAGE_CHANNELS)?;
        self.live_invites(guild_id, Some(channel_id)).await
    }

    async fn live_invites(
        &self,
        guild_id: Snowflake,
        channel_id: Option<Snowflake>,
    ) -> ServiceResult<Vec<wire::Invite>> {
        let now = now_ms();
        let mut out = Vec::new();
        for invite in self.store.guild_invites(guild_id).await? {
            let wanted = channel_id.is_none_or(|c| c == invite.channel_id);
            if !wanted || invite.is_spent(now) {
                continue;
            }
            match self.invite_wire(&invite, false).await {
                Ok(out_invite) => out.push(out_invite),
                // Its channel is gone, and with it the invite's use.
                Err(ServiceError::NotFound(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Joins the guild; bots cannot, members join nothing twice. The
    /// guild's system channel says so, and its members learn the
    /// newcomer's presence. A member already in the guild uses nothing
    /// and gets the invite back, as from Discord.
    pub async fn accept_invite(&self, caller: Caller, code: &str) -> ServiceResult<wire::Invite> {
        if caller.bot {
            return Err(ServiceError::Forbidden(codes::BOTS_NOT_ALLOWED));
        }
        let mut invite = self.live_invite(code).await?;
        self.refuse_banned(invite.guild_id, caller.id).await?;
        if self
            .store
            .member(invite.guild_id, caller.id)
            .await?
            .is_none()
        {
            // The use is counted only if one is left, as one store
            // operation: concurrent joins never exceed `max_uses`.
            invite = match self.store.use_invite(code, now_ms()).await? {
                InviteUse::Admitted(invite) => invite,
                InviteUse::Exhausted | InviteUse::Unknown => {
                    return Err(ServiceError::NotFound(codes::UNKNOWN_INVITE));
                }
            };
            let member = Member::new(invite.guild_id, caller.id, now_ms());
            self.add_member(&member).await?;
            self.announce_join(invite.guild_id, caller.id).await?;
            self.introduce_presence(invite.guild_id, caller.id).await;
        }
        self.invite_wire(&invite, false).await
    }

    /// The join message (type 7) in the guild's system channel, if it has one.
    async fn announce_join(&self, guild_id: Snowflake, user_id: Snowflake) -> ServiceResult<()> {
        let guild = self.store.guild(guild_id).await?;
        let Some(channel_id) = guild.and_then(|g| g.system_channel_id) else {
            return Ok(());
        };
        match self.store.channel(channel_id).await? {
            Some(channel) => {
                self.post_notice(&channel, user_id, message_type::USER_JOIN, "", None)
                    .await
            }
            None => Ok(()),
        }
    }

    /// MANAGE_CHANNELS on its channel or MANAGE_GUILD revokes an invite.
    pub async fn delete_invite(&self, caller: Caller, code: &str) -> ServiceResult<wire::Invite> {
        let invite = self.invite_record(code).await?;
        let view = self.channel_view(caller, invite.channel_id).await?;
        let allowed = view.permissions.contains(Permissions::MANAGE_CHANNELS)
            || view.guild()?.base().contains(Permissions::MANAGE_GUILD);
        if !allowed {
            return Err(ServiceError::Forbidden(codes::MISSING_PERMISSIONS));
        }
        let out = self.invite_wire(&invite, false).await?;
        self.store.delete_invite(code).await?;
        self.publish(
            EventKind::InviteDelete,
            to_managers(&invite),
            serde_json::json!({
                "channel_id": invite.channel_id, "guild_id": invite.guild_id, "code": code,
            }),
        )
        .await;
        Ok(out)
    }
}

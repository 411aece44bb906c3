//! Building wire shapes that need more than one record (users behind ids).

use std::collections::HashMap;

use concord_model::records::{self, Member};
use concord_model::{Snowflake, wire};

use crate::{Service, ServiceResult};

impl Service {
    /// The public user behind an id; a placeholder if the user is gone.
    pub(crate) async fn user_wire(&self, id: Snowflake) -> ServiceResult<wire::User> {
        Ok(match self.store.user(id).await? {
            Some(u) => wire::User::from(&u),
            None => wire::User::from(&records::User::new(id, "Deleted User")),
        })
    }

    /// The public users behind many ids, read from the store at once; a
    /// placeholder for each one gone.
    pub(crate) async fn users_wire(
        &self,
        ids: &[Snowflake],
    ) -> ServiceResult<HashMap<Snowflake, wire::User>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let found = self.store.users(ids).await?;
        let mut users: HashMap<Snowflake, wire::User> =
            found.iter().map(|u| (u.id, wire::User::from(u))).collect();
        for id in ids {
            users
                .entry(*id)
                .or_insert_with(|| wire::User::from(&records::User::new(*id, "Deleted User")));
        }
        Ok(users)
    }

    /// Users by many ids, in the order asked.
    pub(crate) async fn users_wire_list(
        &self,
        ids: &[Snowflake],
    ) -> ServiceResult<Vec<wire::User>> {
        let users = self.users_wire(ids).await?;
        Ok(ids.iter().filter_map(|id| users.get(id).cloned()).collect())
    }

    pub(crate) async fn member_wire(&self, member: &Member) -> ServiceResult<wire::Member> {
        let user = self.user_wire(member.user_id).await?;
        Ok(wire::Member::new(member, Some(user)))
    }

    /// Many members with their users, read from the store at once.
    pub(crate) async fn members_wire(
        &self,
        members: &[Member],
    ) -> ServiceResult<Vec<wire::Member>> {
        let ids: Vec<Snowflake> = members.iter().map(|m| m.user_id).collect();
        let users = self.users_wire(&ids).await?;
        Ok(members
            .iter()
            .map(|m| wire::Member::new(m, users.get(&m.user_id).cloned()))
            .collect())
    }

    /// The GUILD_CREATE payload of a guild for one of its members: with
    /// `all_members`, every member unless the guild is large, else only them.
    /// A person gets only the channels they can view; a bot gets them all.
    pub async fn guild_create(
        &self,
        guild_id: Snowflake,
        user_id: Snowflake,
        large_threshold: u64,
        all_members: bool,
    ) -> ServiceResult<Option<wire::GuildCreate>> {
        let Some(guild) = self.store.guild(guild_id).await? else {
            return Ok(None);
        };
        let Some(me) = self.store.member(guild_id, user_id).await? else {
            return Ok(None);
        };
        let roles = self.store.roles(guild_id).await?;
        let member_count = self.store.member_count(guild_id).await?;
        let large = member_count > large_threshold;
        let mut listed = vec![me.clone()];
        if all_members && !large {
            let all = self
                .store
                .members(guild_id, Snowflake(0), large_threshold as usize)
                .await?;
            listed.extend(all.into_iter().filter(|m| m.user_id != user_id));
        }
        let members = self.members_wire(&listed).await?;
        // The presences of the members listed (all of them in a small
        // guild, with the presence intent), offline ones left out.
        let presences = if all_members && !large {
            let ids: Vec<Snowflake> = members
                .iter()
                .filter_map(|m| Some(m.user.as_ref()?.id))
                .collect();
            self.listed_presences(&ids).await
        } else {
            Vec::new()
        };
        let view = crate::GuildView {
            guild: guild.clone(),
            roles: roles.clone(),
            member: me.clone(),
        };
        let bot = self.store.user(user_id).await?.is_some_and(|u| u.bot);
        let mut channels = Vec::new();
        for c in self.store.guild_channels(guild_id).await? {
            if shows_channel(bot, &view, &c) {
                channels.push(self.channel_wire(&c).await?);
            }
        }
        let mut threads = Vec::new();
        let active = |t: &records::Channel| t.thread.as_ref().is_some_and(|s| !s.archived);
        for visible in self.visible_threads(&view, active).await? {
            let mut out = self.channel_wire(&visible.thread).await?;
            out.set_thread_member(visible.joined.as_ref().map(wire::ThreadMember::nested));
            threads.push(out);
        }
        let mut guild_wire = wire::Guild::new(&guild, &roles);
        guild_wire.emojis = self.emoji_list(guild_id).await?;
        Ok(Some(wire::GuildCreate {
            guild: guild_wire,
            joined_at: concord_model::timestamp::iso8601(me.joined_at_ms),
            large,
            unavailable: false,
            member_count,
            members,
            channels,
            threads,
            presences,
            voice_states: vec![],
            stage_instances: vec![],
            guild_scheduled_events: vec![],
            soundboard_sounds: vec![],
        }))
    }

    /// A channel with its newest message id.
    pub(crate) async fn channel_wire(&self, c: &records::Channel) -> ServiceResult<wire::Channel> {
        let last = if records::channel_type::is_text(c.kind) {
            self.latest_messages(c.id, 1).await?.first().map(|m| m.id)
        } else {
            None
        };
        Ok(wire::Channel::new(c, last))
    }
}

/// Whether a member's gateway state lists a guild channel: a bot's lists
/// every channel of its guilds (bot libraries keep a full channel cache and
/// check permissions themselves), a person's only those they can view. The
/// gateway's hub keeps a person's view current by the same rule.
fn shows_channel(bot: bool, view: &crate::GuildView, channel: &records::Channel) -> bool {
    bot || view
        .in_channel(channel)
        .contains(concord_model::Permissions::VIEW_CHANNEL)
}

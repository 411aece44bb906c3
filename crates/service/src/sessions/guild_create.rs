//! GUILD_CREATE: a guild as one of its members' sessions (and a new
//! member or a new guild's owner) first receives it.

use concord_model::records;
use concord_model::{Snowflake, wire};

use crate::{GuildView, Service, ServiceResult};

impl Service {
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
        let view = GuildView {
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
        let voice_states = self
            .listed_voice_states(guild_id)
            .await
            .iter()
            .filter_map(|s| serde_json::to_value(s).ok())
            .collect();
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
            voice_states,
            stage_instances: vec![],
            guild_scheduled_events: vec![],
            soundboard_sounds: vec![],
        }))
    }
}

/// Whether a member's gateway state lists a guild channel: a bot's lists
/// every channel of its guilds (bot libraries keep a full channel cache and
/// check permissions themselves), a person's only those they can view. The
/// gateway's hub keeps a person's view current by the same rule.
fn shows_channel(bot: bool, view: &GuildView, channel: &records::Channel) -> bool {
    bot || view
        .in_channel(channel)
        .contains(concord_model::Permissions::VIEW_CHANNEL)
}

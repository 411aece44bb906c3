//! `GET /channels/{id}/application-command-index`: what Discord's client
//! reads to list the commands a person may use in a channel when they
//! type `/`. The applications are the bots among the guild's members or,
//! in a DM, the bot at the other end; their global and this guild's commands are
//! listed when the invocation rule (`may_invoke`) lets this person use
//! them here, so the list never offers what `POST /interactions` refuses.

use concord_model::wire::{ApplicationCommand, Localized};
use concord_model::{Snowflake, records::channel_type};
use serde_json::{Value, json};

use super::invoke::context_of;
use crate::{Caller, ChannelView, Service, ServiceResult};

/// Members read per store call while looking for a guild's bots.
const MEMBER_PAGE: usize = 1000;

impl Service {
    /// The applications usable in the channel and their commands the
    /// caller may invoke there, in the reader's locale.
    pub async fn command_index(
        &self,
        caller: Caller,
        channel_id: Snowflake,
        locale: Option<&str>,
    ) -> ServiceResult<Value> {
        let view = self.channel_view(caller, channel_id).await?;
        let mut applications = Vec::new();
        let mut commands = Vec::new();
        for bot_id in self.channel_bots(&view).await? {
            let Some(bot) = self.store.user(bot_id).await? else {
                continue;
            };
            let context = context_of(&view, bot_id);
            let mut usable = Vec::new();
            // Global commands, then the guild's own.
            let scopes = std::iter::once(None).chain(view.guild_id().map(Some));
            for scope in scopes {
                for command in self.store.commands(bot_id, scope).await? {
                    if self.may_invoke(&view, context, &command).await.is_ok() {
                        usable.push(ApplicationCommand::new(&command, Localized::For(locale)));
                    }
                }
            }
            if usable.is_empty() {
                continue;
            }
            applications.push(json!({
                "id": bot.id,
                "name": bot.username,
                "icon": bot.avatar,
                "description": "",
                "bot_id": bot.id,
            }));
            commands.extend(usable);
        }
        Ok(json!({
            "applications": applications,
            "application_commands": commands,
            "version": "0",
        }))
    }

    /// The bots that take interactions in the channel: a guild's bot
    /// members (read a page of members at a time; the client keeps the
    /// index a while rather than asking on every key), or the bot a DM is
    /// with.
    async fn channel_bots(&self, view: &ChannelView) -> ServiceResult<Vec<Snowflake>> {
        let Some(guild) = &view.guild else {
            if view.channel.kind != channel_type::DM {
                return Ok(Vec::new());
            }
            return self.bots_among(&view.channel.recipients).await;
        };
        let mut bots = Vec::new();
        let mut after = Snowflake(0);
        loop {
            let page = self
                .store
                .members(guild.guild.id, after, MEMBER_PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            after = last.user_id;
            let ids: Vec<Snowflake> = page.iter().map(|m| m.user_id).collect();
            bots.extend(self.bots_among(&ids).await?);
            if page.len() < MEMBER_PAGE {
                break;
            }
        }
        Ok(bots)
    }

    async fn bots_among(&self, ids: &[Snowflake]) -> ServiceResult<Vec<Snowflake>> {
        let users = self.store.users(ids).await?;
        Ok(users.into_iter().filter(|u| u.bot).map(|u| u.id).collect())
    }
}

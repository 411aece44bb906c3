//! Read states: how far each user has read each channel. Acks move them;
//! user sessions get them in READY with their unread mentions counted
//! then, so a message send never writes anything per mentioned user.

use concord_model::event::{Audience, EventKind};
use concord_model::records::ReadState;
use concord_model::snowflake::now_ms;
use concord_model::{Permissions, Snowflake, codes};
use serde::Serialize;

use crate::notifications::settings::{Reason, counts_mention};
use crate::{Caller, Service, ServiceError, ServiceResult};

/// Messages after an ack looked at when counting unread mentions.
const MENTION_SCAN: usize = 100;

/// What an ack answers, as Discord does.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct AckToken {
    pub token: Option<String>,
}

/// One channel's read state as READY gives it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ReadStateEntry {
    /// The channel.
    pub id: Snowflake,
    pub last_message_id: Snowflake,
    /// Unread messages that mention the user (or everyone), up to 100.
    pub mention_count: usize,
    pub last_pin_timestamp: Option<String>,
}

impl Service {
    /// Marks a channel read up to `message_id`, for every session of the user.
    pub async fn ack(
        &self,
        caller: Caller,
        channel_id: Snowflake,
        message_id: Snowflake,
    ) -> ServiceResult<AckToken> {
        if caller.bot {
            return Err(ServiceError::Forbidden(codes::BOTS_NOT_ALLOWED));
        }
        let view = self.text_channel(caller, channel_id).await?;
        view.require(Permissions::READ_MESSAGE_HISTORY)?;
        let state = ReadState {
            user_id: caller.id,
            channel_id,
            last_message_id: message_id,
        };
        self.store.put_read_state(&state).await?;
        let data = view.with_guild_id(serde_json::json!({
            "channel_id": channel_id,
            "message_id": message_id,
            "mention_count": 0,
            "version": now_ms(),
        }));
        self.publish(
            EventKind::MessageAck,
            Audience::Users(vec![caller.id]),
            data,
        )
        .await;
        Ok(AckToken { token: None })
    }

    /// The user's read states in channels they can still read.
    /// Mentions count as the user's notification settings say
    /// ([`counts_mention`]).
    pub async fn read_state_entries(&self, caller: Caller) -> ServiceResult<Vec<ReadStateEntry>> {
        let mut entries = Vec::new();
        let settings = self.store.user_guild_settings(caller.id).await?;
        for state in self.store.read_states(caller.id).await? {
            let view = match self.channel_view(caller, state.channel_id).await {
                Ok(view) if view.permissions.contains(Permissions::READ_MESSAGE_HISTORY) => view,
                _ => continue,
            };
            let unread = self
                .store
                .messages_after(state.channel_id, state.last_message_id, MENTION_SCAN)
                .await?;
            let guild_id = view.guild_id();
            let here = settings.iter().find(|s| s.guild_id == guild_id);
            let default = view
                .guild
                .as_ref()
                .map_or(0, |g| g.guild.default_message_notifications);
            let channels = [Some(view.channel.id), view.channel.parent_id];
            let channels: Vec<Snowflake> = channels.into_iter().flatten().collect();
            let mention_count = unread
                .iter()
                .filter(|m| m.author_id != caller.id)
                .filter_map(|m| match () {
                    () if m.mentions.contains(&caller.id) => Some(Reason::Mention),
                    () if m.mention_everyone => Some(Reason::Everyone),
                    () => None,
                })
                .filter(|reason| counts_mention(here, default, &channels, *reason))
                .count();
            entries.push(ReadStateEntry {
                id: state.channel_id,
                last_message_id: state.last_message_id,
                mention_count,
                last_pin_timestamp: None,
            });
        }
        Ok(entries)
    }
}

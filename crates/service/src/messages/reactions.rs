//! Reactions: unicode emoji on messages, counted on the message row.

use concord_model::event::EventKind;
use concord_model::wire::{self, PartialEmoji};
use concord_model::{Permissions, Snowflake, codes, limits};
use serde_json::json;

use crate::{Caller, ChannelView, Service, ServiceError, ServiceResult};

/// Distinct emoji a message may carry.
const MAX_EMOJI_PER_MESSAGE: usize = 20;

/// The id of a custom emoji given as `name:id`.
fn custom_emoji_id(emoji: &str) -> Option<Snowflake> {
    let (name, id) = emoji.split_once(':')?;
    let word = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    word.then(|| id.parse().ok()).flatten()
}

/// An emoji as a path segment gives it: unicode (no ASCII in it), or a
/// custom one as `name:id`.
fn check_emoji(emoji: &str) -> ServiceResult<()> {
    let fits = !emoji.is_empty() && emoji.len() <= limits::REACTION_EMOJI_MAX_BYTES;
    let unicode = !emoji.chars().any(|c| c.is_ascii());
    if fits && (unicode || custom_emoji_id(emoji).is_some()) {
        Ok(())
    } else {
        Err(ServiceError::NotFound(codes::UNKNOWN_EMOJI))
    }
}

impl Service {
    /// A message the caller may read in a channel it sees.
    async fn reactable(
        &self,
        caller: Caller,
        channel_id: Snowflake,
        message_id: Snowflake,
    ) -> ServiceResult<(ChannelView, concord_model::records::Message)> {
        let view = self.channel_view(caller, channel_id).await?;
        view.require(Permissions::READ_MESSAGE_HISTORY)?;
        let message = self
            .store
            .message(channel_id, message_id)
            .await?
            .ok_or(ServiceError::NotFound(codes::UNKNOWN_MESSAGE))?;
        Ok((view, message))
    }

    /// Refreshes the cached row after its counts changed.
    async fn recount(&self, channel_id: Snowflake, message_id: Snowflake) -> ServiceResult<()> {
        if let Some(message) = self.store.message(channel_id, message_id).await? {
            self.messages.cache.updated(&message).await;
        }
        Ok(())
    }

    /// Reacts as the caller: ADD_REACTIONS is needed to bring a new emoji.
    pub async fn add_reaction(
        &self,
        caller: Caller,
        channel_id: Snowflake,
        message_id: Snowflake,
        emoji: &str,
    ) -> ServiceResult<()> {
        check_emoji(emoji)?;
        let (view, message) = self.reactable(caller, channel_id, message_id).await?;
        view.require_unarchived()?;
        if let Some(id) = custom_emoji_id(emoji) {
            // A custom emoji must be one of this guild's.
            let guild_id = view
                .guild_id()
                .ok_or(ServiceError::NotFound(codes::UNKNOWN_EMOJI))?;
            self.find_emoji(guild_id, id).await?;
        }
        let known = message.reactions.iter().any(|r| r.emoji == emoji);
        if !known {
            view.require(Permissions::ADD_REACTIONS)?;
            if message.reactions.len() >= MAX_EMOJI_PER_MESSAGE {
                return Err(ServiceError::LimitReached(codes::MAX_REACTIONS));
            }
        }
        if self
            .store
            .add_reaction(channel_id, message_id, emoji, caller.id)
            .await?
            != Some(true)
        {
            return Ok(());
        }
        self.recount(channel_id, message_id).await?;
        let mut data = view.with_guild_id(json!({
            "user_id": caller.id,
            "channel_id": channel_id,
            "message_id": message_id,
            "emoji": PartialEmoji::parse(emoji),
            "message_author_id": message.author_id,
            "burst": false,
            "burst_colors": [],
            "type": 0,
        }));
        if let Some(member) = view.member() {
            let user = self.user_wire(caller.id).await?;
            data["member"] = json!(wire::Member::new(member, Some(user)));
        }
        self.publish(EventKind::MessageReactionAdd, view.audience(), data)
            .await;
        Ok(())
    }

    /// Removes the caller's reaction, or with `user`, someone else's (MANAGE_MESSAGES).
    pub async fn remove_reaction(
        &self,
        caller: Caller,
        channel_id: Snowflake,
        message_id: Snowflake,
        emoji: &str,
        user: Option<Snowflake>,
    ) -> ServiceResult<()> {
        check_emoji(emoji)?;
        let (view, _) = self.reactable(caller, channel_id, message_id).await?;
        let user_id = user.unwrap_or(caller.id);
        if user_id != caller.id {
            view.require(Permissions::MANAGE_MESSAGES)?;
        }
        if !self
            .store
            .remove_reaction(channel_id, message_id, emoji, user_id)
            .await?
        {
            return Ok(());
        }
        self.recount(channel_id, message_id).await?;
        let data = view.with_guild_id(json!({
            "user_id": user_id,
            "channel_id": channel_id,
            "message_id": message_id,
            "emoji": PartialEmoji::parse(emoji),
            "burst": false,
            "type": 0,
        }));
        self.publish(EventKind::MessageReactionRemove, view.audience(), data)
            .await;
        Ok(())
    }

    /// Who reacted with `emoji`, by user id.
    pub async fn reaction_users(
        &self,
        caller: Caller,
        channel_id: Snowflake,
        message_id: Snowflake,
        emoji: &str,
        after: Snowflake,
        limit: usize,
    ) -> ServiceResult<Vec<wire::User>> {
        check_emoji(emoji)?;
        self.reactable(caller, channel_id, message_id).await?;
        let ids = self
            .store
            .reaction_users(channel_id, message_id, emoji, after, limit)
            .await?;
        self.users_wire_list(&ids).await
    }

    /// Removes every reaction, or every one with `emoji` (MANAGE_MESSAGES).
    pub async fn clear_reactions(
        &self,
        caller: Caller,
        channel_id: Snowflake,
        message_id: Snowflake,
        emoji: Option<&str>,
    ) -> ServiceResult<()> {
        if let Some(emoji) = emoji {
            check_emoji(emoji)?;
        }
        let (view, _) = self.reactable(caller, channel_id, message_id).await?;
        view.require(Permissions::MANAGE_MESSAGES)?;
        let Some(message) = self
            .store
            .clear_reactions(channel_id, message_id, emoji)
            .await?
        else {
            return Err(ServiceError::NotFound(codes::UNKNOWN_MESSAGE));
        };
        self.messages.cache.updated(&message).await;
        let mut data =
            view.with_guild_id(json!({ "channel_id": channel_id, "message_id": message_id }));
        let kind = match emoji {
            Some(emoji) => {
                data["emoji"] = json!(PartialEmoji::parse(emoji));
                EventKind::MessageReactionRemoveEmoji
            }
            None => EventKind::MessageReactionRemoveAll,
        };
        self.publish(kind, view.audience(), data).await;
        Ok(())
    }

    /// Marks the reactions the reader made (`me`) in messages about to be returned.
    pub(crate) async fn mark_own_reactions(
        &self,
        reader: Snowflake,
        messages: &mut [wire::Message],
    ) -> ServiceResult<()> {
        for message in messages {
            let (channel, id) = (message.channel_id, message.id);
            for reaction in message.reactions.iter_mut().flatten() {
                let emoji = match reaction.emoji.id {
                    Some(emoji_id) => format!("{}:{emoji_id}", reaction.emoji.name),
                    None => reaction.emoji.name.clone(),
                };
                reaction.me = self.store.has_reacted(channel, id, &emoji, reader).await?;
            }
        }
        Ok(())
    }
}

//! The mentions inbox: the recent messages that mention a person (them,
//! a role they hold, or @everyone/@here in a guild of theirs), newest
//! first, from the channels they can still read.
//!
//! Storage: an index in the store ([`concord_store::MentionStore`]) with
//! one entry per message and target, written before the message itself
//! (so a crash in between leaves an entry without a message, which reads
//! skip, never a message missing from the inbox), never per member of a
//! mentioned role or guild: a send costs its mention count in writes. The
//! search index was the other candidate, but it is derived, lags behind
//! (most on the nodes that follow it), and does not hold role or
//! @everyone mentions. Every node reads the same store, so nothing here is
//! process-local.
//!
//! The index is a hint: each entry's message is read back and kept only
//! if it still exists, still mentions the reader and the reader may read
//! its channel (VIEW_CHANNEL and READ_MESSAGE_HISTORY, through the
//! channel's view). Deleting a message drops its entries; those of a
//! deleted channel or guild stay behind and are skipped.
//!
//! Bounded work: the store reads at most a page per target (the reader,
//! their roles, their guilds), and a request reads at most
//! [`MAX_ROUNDS`] pages of candidates; a page cut short by that bound is
//! continued with `before`.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use concord_model::records::Message;
use concord_model::{Permissions, Snowflake, codes, wire};
use concord_store::mentions::{EPHEMERAL, mentions_of};
use concord_store::{MentionTarget, Mentioned};

use crate::{Caller, ChannelView, Service, ServiceError, ServiceResult};

/// Discord's page bounds for the inbox.
pub const DEFAULT_LIMIT: usize = 25;
pub const MAX_LIMIT: usize = 100;
/// Pages of candidates one request reads at most.
pub const MAX_ROUNDS: usize = 3;

/// `GET /users/@me/mentions` as the API parsed it.
#[derive(Debug, Clone)]
pub struct MentionsQuery {
    pub limit: usize,
    pub before: Option<Snowflake>,
    /// Include mentions of roles the reader holds.
    pub roles: bool,
    /// Include @everyone and @here.
    pub everyone: bool,
    /// Only this guild's channels.
    pub guild_id: Option<Snowflake>,
}

impl Default for MentionsQuery {
    fn default() -> Self {
        MentionsQuery {
            limit: DEFAULT_LIMIT,
            before: None,
            roles: true,
            everyone: true,
            guild_id: None,
        }
    }
}

/// Whether `message`, read in `view`, mentions `reader` in a way the query
/// counts: the one rule both the index's hints and the reads answer to.
fn mentions_reader(
    message: &Message,
    view: &ChannelView,
    reader: Snowflake,
    q: &MentionsQuery,
) -> bool {
    if message.flags & EPHEMERAL != 0 {
        return false;
    }
    let held = view
        .member()
        .map(|m| m.roles.as_slice())
        .unwrap_or_default();
    message.mentions.contains(&reader)
        || (q.roles && message.mention_roles.iter().any(|r| held.contains(r)))
        || (q.everyone && message.mention_everyone && view.guild.is_some())
}

impl Service {
    /// Adds a message's entries to the inbox index; called before the
    /// message (or its edit) is written.
    pub(crate) async fn index_mentions(&self, message: &Message) -> ServiceResult<()> {
        let entries = mentions_of(message);
        if !entries.is_empty() {
            self.store.put_mentions(&entries).await?;
        }
        Ok(())
    }

    /// Drops deleted messages' entries. The message is gone already and
    /// reads skip entries without one, so a failure here is only logged.
    pub(crate) async fn forget_mentions(&self, deleted: &[Message]) {
        let entries: Vec<_> = deleted.iter().flat_map(mentions_of).collect();
        if entries.is_empty() {
            return;
        }
        if let Err(e) = self.store.delete_mentions(&entries).await {
            tracing::warn!(error = %e, "dropping deleted messages' mentions failed");
        }
    }

    /// What the reader's inbox is looked up under: them, and per guild of
    /// theirs (or only the one asked for) the roles they hold and the
    /// guild's @everyone, as the query asks.
    async fn mention_targets(
        &self,
        reader: Snowflake,
        q: &MentionsQuery,
    ) -> ServiceResult<Vec<MentionTarget>> {
        let mut targets = vec![MentionTarget::User(reader)];
        if !(q.roles || q.everyone) {
            return Ok(targets);
        }
        let guilds = match q.guild_id {
            Some(guild_id) => vec![guild_id],
            None => self.store.user_guild_ids(reader).await?,
        };
        for guild_id in guilds {
            let Some(member) = self.store.member(guild_id, reader).await? else {
                continue;
            };
            if q.roles {
                targets.extend(member.roles.iter().copied().map(MentionTarget::Role));
            }
            if q.everyone {
                targets.push(MentionTarget::Everyone(guild_id));
            }
        }
        Ok(targets)
    }

    /// The reader's view of a channel, or `None` where they may not read
    /// its history (or it is gone).
    async fn readable_view(
        &self,
        caller: Caller,
        channel_id: Snowflake,
    ) -> ServiceResult<Option<ChannelView>> {
        match self.text_channel(caller, channel_id).await {
            Ok(view) if view.permissions.contains(Permissions::READ_MESSAGE_HISTORY) => {
                Ok(Some(view))
            }
            Ok(_)
            | Err(
                ServiceError::NotFound(_)
                | ServiceError::Forbidden(_)
                | ServiceError::BadRequest(_),
            ) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The message behind an index entry, if it still counts for the reader.
    async fn inbox_message(
        &self,
        caller: Caller,
        entry: Mentioned,
        q: &MentionsQuery,
        views: &mut HashMap<Snowflake, Option<ChannelView>>,
    ) -> ServiceResult<Option<Message>> {
        let view = match views.entry(entry.channel_id) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(slot) => slot.insert(self.readable_view(caller, entry.channel_id).await?),
        };
        let Some(view) = view.as_ref() else {
            return Ok(None);
        };
        if q.guild_id.is_some() && view.guild_id() != q.guild_id {
            return Ok(None);
        }
        let message = self
            .store
            .message(entry.channel_id, entry.message_id)
            .await?;
        Ok(message.filter(|m| mentions_reader(m, view, caller.id, q)))
    }

    /// `GET /users/@me/mentions`: the caller's recent mentions, newest
    /// first. People only (20001 for bots, as on Discord).
    pub async fn recent_mentions(
        &self,
        caller: Caller,
        mut q: MentionsQuery,
    ) -> ServiceResult<Vec<wire::Message>> {
        if caller.bot {
            return Err(ServiceError::Forbidden(codes::BOTS_NOT_ALLOWED));
        }
        q.limit = q.limit.clamp(1, MAX_LIMIT);
        let targets = self.mention_targets(caller.id, &q).await?;
        let mut views = HashMap::new();
        let mut found = Vec::new();
        let mut before = q.before;
        for _ in 0..MAX_ROUNDS {
            let page = self
                .store
                .mentions(caller.id, &targets, before, q.limit)
                .await?;
            for entry in &page {
                if found.len() == q.limit {
                    break;
                }
                if let Some(message) = self.inbox_message(caller, *entry, &q, &mut views).await? {
                    found.push(message);
                }
            }
            match page.last() {
                Some(last) if page.len() == q.limit && found.len() < q.limit => {
                    before = Some(last.message_id);
                }
                _ => break,
            }
        }
        self.render_messages(&found).await
    }

    /// `DELETE /users/@me/mentions/{message_id}`: takes a message out of the
    /// caller's inbox (on every node: the store keeps it). Dismissing a
    /// message not in the inbox is no error, as on Discord.
    pub async fn dismiss_mention(
        &self,
        caller: Caller,
        message_id: Snowflake,
    ) -> ServiceResult<()> {
        if caller.bot {
            return Err(ServiceError::Forbidden(codes::BOTS_NOT_ALLOWED));
        }
        self.store.dismiss_mention(caller.id, message_id).await?;
        Ok(())
    }
}

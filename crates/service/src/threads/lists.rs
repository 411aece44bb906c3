//! Lists of threads: what a member sees, active and archived, and the
//! THREAD_LIST_SYNC sent when a channel's viewers may have changed.

use std::collections::HashMap;

use concord_model::records::{Channel, ThreadMember, channel_type};
use concord_model::{Permissions, Snowflake, wire};
use serde::Serialize;

use crate::messages::pins::time_cursor;
use crate::{Caller, FormErrors, GuildView, Service, ServiceError, ServiceResult, to_channel};
use concord_model::event::EventKind;

/// Threads with the caller's memberships among them, as the list routes answer.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ThreadList {
    pub threads: Vec<wire::Channel>,
    pub members: Vec<wire::ThreadMember>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_more: Option<bool>,
}

/// Which archived threads of a channel to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Archived {
    Public,
    Private,
    /// Private ones the caller is a member of.
    JoinedPrivate,
}

/// A thread as one member sees it.
pub(crate) struct VisibleThread {
    pub thread: Channel,
    /// The member's own membership, if they follow it.
    pub joined: Option<ThreadMember>,
    pub permissions: Permissions,
}

impl Service {
    /// The guild's threads the member can see, with their memberships and
    /// permissions there, parents looked up once.
    pub(crate) async fn visible_threads(
        &self,
        guild: &GuildView,
        keep: impl Fn(&Channel) -> bool,
    ) -> ServiceResult<Vec<VisibleThread>> {
        let parents: HashMap<Snowflake, Channel> = self
            .store
            .guild_channels(guild.guild.id)
            .await?
            .into_iter()
            .map(|c| (c.id, c))
            .collect();
        let user = guild.member.user_id;
        let ctx = guild.context();
        let mut out = Vec::new();
        for thread in self.store.guild_threads(guild.guild.id).await? {
            let Some(parent) = thread.parent_id.and_then(|p| parents.get(&p)) else {
                continue;
            };
            if !keep(&thread) {
                continue;
            }
            let joined = self.store.thread_member(thread.id, user).await?;
            let private = thread.kind == channel_type::PRIVATE_THREAD;
            let permissions = ctx.in_thread(parent, private, joined.is_some());
            if permissions.contains(Permissions::VIEW_CHANNEL) {
                out.push(VisibleThread {
                    thread,
                    joined,
                    permissions,
                });
            }
        }
        Ok(out)
    }

    async fn thread_list(
        &self,
        threads: Vec<VisibleThread>,
        has_more: Option<bool>,
    ) -> ServiceResult<ThreadList> {
        let mut list = ThreadList {
            threads: Vec::new(),
            members: Vec::new(),
            has_more,
        };
        for VisibleThread { thread, joined, .. } in threads {
            list.threads.push(self.channel_wire(&thread).await?);
            list.members
                .extend(joined.as_ref().map(wire::ThreadMember::new));
        }
        Ok(list)
    }

    /// `GET /guilds/{g}/threads/active`.
    pub async fn active_threads(
        &self,
        caller: Caller,
        guild_id: Snowflake,
    ) -> ServiceResult<ThreadList> {
        let guild = self.guild_view(caller, guild_id).await?;
        let threads = self
            .visible_threads(&guild, |t| t.thread.as_ref().is_some_and(|s| !s.archived))
            .await?;
        self.thread_list(threads, None).await
    }

    /// The archived-thread lists of a channel, newest archived first,
    /// before `before` (an ISO 8601 time; for [`Archived::JoinedPrivate`]
    /// a thread id).
    pub async fn archived_threads(
        &self,
        caller: Caller,
        channel_id: Snowflake,
        which: Archived,
        before: Option<&str>,
        limit: usize,
    ) -> ServiceResult<ThreadList> {
        let parent = self.channel_view(caller, channel_id).await?;
        let guild = parent.guild()?;
        let needed = match which {
            Archived::Private => Permissions::READ_MESSAGE_HISTORY | Permissions::MANAGE_THREADS,
            _ => Permissions::READ_MESSAGE_HISTORY,
        };
        parent.require(needed)?;
        let (before_ms, before_id) = match which {
            Archived::JoinedPrivate => {
                let id = before
                    .map(|b| {
                        b.parse::<Snowflake>().map_err(|_| {
                            ServiceError::InvalidForm(FormErrors::single(
                                "before",
                                "NUMBER_TYPE_COERCE",
                                format!("Value \"{b}\" is not snowflake."),
                            ))
                        })
                    })
                    .transpose()?;
                (None, id)
            }
            _ => (time_cursor(before)?, None),
        };
        let private = which != Archived::Public;
        let mut threads = self
            .visible_threads(guild, |t| {
                let Some(s) = &t.thread else { return false };
                s.archived
                    && t.parent_id == Some(channel_id)
                    && (t.kind == channel_type::PRIVATE_THREAD) == private
                    && before_ms.is_none_or(|b| s.archive_ms < b)
                    && before_id.is_none_or(|b| t.id < b)
            })
            .await?;
        if which == Archived::JoinedPrivate {
            threads.retain(|t| t.joined.is_some());
            threads.sort_by_key(|t| std::cmp::Reverse(t.thread.id));
        } else {
            threads
                .sort_by_key(|t| std::cmp::Reverse(t.thread.thread.as_ref().map(|s| s.archive_ms)));
        }
        let has_more = threads.len() > limit;
        threads.truncate(limit);
        self.thread_list(threads, Some(has_more)).await
    }

    /// THREAD_LIST_SYNC for a channel whose viewers may have changed: its
    /// active threads, to everyone who now sees it.
    pub(crate) async fn sync_thread_list(&self, channel: &Channel) -> ServiceResult<()> {
        let Some(guild_id) = channel.guild_id else {
            return Ok(());
        };
        let mut threads = Vec::new();
        for t in self.store.guild_threads(guild_id).await? {
            let active = t.thread.as_ref().is_some_and(|s| !s.archived);
            if active && t.parent_id == Some(channel.id) && t.kind != channel_type::PRIVATE_THREAD {
                threads.push(self.channel_wire(&t).await?);
            }
        }
        if threads.is_empty() {
            return Ok(());
        }
        let data = serde_json::json!({
            "guild_id": guild_id,
            "channel_ids": [channel.id],
            "threads": threads,
            "members": [],
        });
        self.publish(
            EventKind::ThreadListSync,
            to_channel(guild_id, channel.id),
            data,
        )
        .await;
        Ok(())
    }

    /// THREAD_LIST_SYNC for a member whose roles changed, so who may see
    /// what may have too: every active thread of the guild they now see,
    /// with their memberships (no `channel_ids`: the whole guild).
    pub(crate) async fn sync_threads_for(
        &self,
        guild_id: Snowflake,
        user_id: Snowflake,
    ) -> ServiceResult<()> {
        let member = Caller {
            id: user_id,
            bot: false,
        };
        let guild = self.guild_view(member, guild_id).await?;
        let active = |t: &Channel| t.thread.as_ref().is_some_and(|s| !s.archived);
        let threads = self.visible_threads(&guild, active).await?;
        let list = self.thread_list(threads, None).await?;
        let data = serde_json::json!({
            "guild_id": guild_id,
            "threads": list.threads,
            "members": list.members,
        });
        self.publish(
            EventKind::ThreadListSync,
            concord_model::event::Audience::Users(vec![user_id]),
            data,
        )
        .await;
        Ok(())
    }
}

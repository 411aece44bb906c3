//! Who hears of a new message by push, and what they are shown. A person
//! is pushed to for a DM or group DM they are in, a mention of them or of
//! a role of theirs, @everyone, or a reply to their message; never for
//! their own, never where they cannot view the channel, never while a
//! session of theirs is live and not away (they see it there), and only as their
//! settings ([`super::settings::lets_through`]) allow.

use std::collections::BTreeMap;

use concord_model::records::{Channel, Message, QueuedPush, message_type};
use concord_model::snowflake::now_ms;
use concord_model::{Permissions, Snowflake};
use concord_realtime::presence::Status;
use serde_json::json;

use super::settings::{Reason, lets_through};
use crate::access::permissions::MemberContext;
use crate::{Service, ServiceResult};

/// A stored message waiting for its pushes to be decided.
#[derive(Debug)]
pub struct Notice {
    pub(crate) channel: Channel,
    pub(crate) message: Message,
}

/// Members walked for @everyone or a role mention at most: past that, a
/// guild is too large for pushes to everyone in it.
const MEMBERS_MAX: usize = 1000;
/// What a notification shows of the message's text, in characters.
pub const BODY_MAX: usize = 200;

/// `text` cut to `max` characters, the cut marked with an ellipsis.
fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some(_) => {
            let kept: String = text.chars().take(max - 1).collect();
            format!("{kept}…")
        }
    }
}

impl Service {
    /// Hands a stored message to this node's intake, never waiting: the
    /// sender's request does not wait for pushes. A full intake drops it.
    pub(crate) fn notice_message(&self, channel: &Channel, message: &Message) {
        if !matches!(message.kind, message_type::DEFAULT | message_type::REPLY) {
            return;
        }
        let notice = Notice {
            channel: channel.clone(),
            message: message.clone(),
        };
        if self.notifications.intake.try_send(notice).is_err() {
            metrics::counter!("concord_push_notices_dropped_total").increment(1);
        }
    }

    /// Who may hear of the message, each with their strongest reason.
    async fn candidates(&self, notice: &Notice) -> ServiceResult<BTreeMap<Snowflake, Reason>> {
        let (channel, message) = (&notice.channel, &notice.message);
        let mut who: BTreeMap<Snowflake, Reason> = BTreeMap::new();
        let mut add = |user: Snowflake, reason: Reason| {
            let entry = who.entry(user).or_insert(reason);
            *entry = (*entry).min(reason);
        };
        let Some(guild_id) = channel.guild_id else {
            for user in &channel.recipients {
                add(*user, Reason::Direct);
            }
            who.remove(&message.author_id);
            return Ok(who);
        };
        for user in &message.mentions {
            add(*user, Reason::Mention);
        }
        if let Some(reference) = &message.message_reference
            && let Some(replied) = self
                .store
                .message(reference.channel_id, reference.message_id)
                .await?
            && replied.webhook.is_none()
        {
            add(replied.author_id, Reason::Reply);
        }
        // @here reaches those online, whom a push does not need to reach.
        let everyone = message.mention_everyone && message.content.contains("@everyone");
        if everyone || !message.mention_roles.is_empty() {
            let mut after = Snowflake(0);
            let mut seen = 0;
            while seen < MEMBERS_MAX {
                let page = self.store.members(guild_id, after, 200).await?;
                for member in &page {
                    if member
                        .roles
                        .iter()
                        .any(|r| message.mention_roles.contains(r))
                    {
                        add(member.user_id, Reason::RoleMention);
                    } else if everyone {
                        add(member.user_id, Reason::Everyone);
                    }
                }
                seen += page.len();
                match page.last() {
                    Some(last) if page.len() == 200 => after = last.user_id,
                    _ => break,
                }
            }
        }
        who.remove(&message.author_id);
        Ok(who)
    }

    /// The pushes a new message calls for, one per subscription of each
    /// person who should hear of it now, due at once.
    pub async fn pushes_for(&self, notice: &Notice) -> ServiceResult<Vec<QueuedPush>> {
        let (channel, message) = (&notice.channel, &notice.message);
        let mut who = self.candidates(notice).await?;
        // Those without a browser subscribed are out before anything else is read.
        let mut subscriptions = BTreeMap::new();
        for user in who.keys() {
            let theirs = self.store.push_subscriptions(*user).await?;
            if !theirs.is_empty() {
                subscriptions.insert(*user, theirs);
            }
        }
        who.retain(|user, _| subscriptions.contains_key(user));
        if who.is_empty() {
            return Ok(Vec::new());
        }
        // A live session shows the message there, unless its client says
        // its person is away: `afk`, which the presence seam shows only
        // when every live session of theirs says it. An invisible person
        // reads as offline here.
        let users: Vec<Snowflake> = who.keys().copied().collect();
        let presences = (self.realtime.presence.get_many(&users).await)
            .map_err(|e| crate::ServiceError::Unavailable(e.to_string()))?;
        for (user, presence) in users.iter().zip(&presences) {
            if presence.status != Status::Offline && !presence.afk {
                who.remove(user);
            }
        }
        let now = now_ms();
        let mut guild_default = concord_model::records::notify_level::ALL_MESSAGES;
        // The channel, then its parents: a thread follows its channel's settings.
        let mut lineage = vec![channel.id];
        if let Some(guild_id) = channel.guild_id {
            let Some(guild) = self.store.guild(guild_id).await? else {
                return Ok(Vec::new());
            };
            guild_default = guild.default_message_notifications;
            let roles = self.store.roles(guild_id).await?;
            let users: Vec<Snowflake> = who.keys().copied().collect();
            let members = self.store.members_by_ids(guild_id, &users).await?;
            let mut viewers = Vec::new();
            for member in &members {
                let ctx = MemberContext {
                    guild: &guild,
                    roles: &roles,
                    member,
                    now_ms: now,
                };
                let allowed = self.permissions_in(&ctx, channel).await?;
                if allowed.contains(Permissions::VIEW_CHANNEL) {
                    viewers.push(member.user_id);
                }
            }
            who.retain(|user, _| viewers.contains(user));
            let mut parent = channel.parent_id;
            while let Some(id) = parent.filter(|_| lineage.len() < 3) {
                lineage.push(id);
                parent = self.store.channel(id).await?.and_then(|c| c.parent_id);
            }
        }
        let mut allowed = Vec::new();
        for (user, reason) in &who {
            let settings = self.store.user_guild_settings(*user).await?;
            let here = settings.iter().find(|s| s.guild_id == channel.guild_id);
            if lets_through(here, guild_default, &lineage, *reason, now) {
                allowed.push((*user, *reason));
            }
        }
        if allowed.is_empty() {
            return Ok(Vec::new());
        }
        let payload = self.push_payload(channel, message).await?;
        let mut pushes = Vec::new();
        for (user, reason) in allowed {
            let urgency = match reason {
                Reason::Direct | Reason::Mention | Reason::RoleMention => "high",
                Reason::Reply | Reason::Everyone => "normal",
            };
            for subscription in subscriptions.remove(&user).unwrap_or_default() {
                pushes.push(QueuedPush {
                    id: self.next_id(),
                    due_ms: now,
                    attempts: 0,
                    user_id: user,
                    endpoint: subscription.endpoint,
                    urgency: urgency.into(),
                    payload: payload.clone(),
                });
            }
        }
        Ok(pushes)
    }

    /// What the browser shows: `{type, guild_id?, channel_id, message_id,
    /// title, body, icon?}`, the title naming the author and channel, the
    /// body the text cut to [`BODY_MAX`] characters.
    async fn push_payload(&self, channel: &Channel, message: &Message) -> ServiceResult<String> {
        let user = self.store.users(&[message.author_id]).await?.pop();
        let nick = match (channel.guild_id, &message.webhook) {
            (Some(guild_id), None) => self
                .store
                .member(guild_id, message.author_id)
                .await?
                .and_then(|m| m.nick),
            _ => None,
        };
        let author = match (&message.webhook, nick, &user) {
            (Some(webhook), _, _) => webhook.username.clone(),
            (None, Some(nick), _) => nick,
            (None, None, Some(user)) => user.global_name.clone().unwrap_or(user.username.clone()),
            (None, None, None) => "Someone".into(),
        };
        let title = match (channel.guild_id, channel.name.as_str()) {
            (Some(_), name) => format!("{author} (#{name})"),
            (None, "") => author,
            (None, name) => format!("{author} ({name})"),
        };
        let body = match message.content.trim() {
            "" if message.poll.is_some() => "Sent a poll".to_owned(),
            "" if !message.attachments.is_empty() => "Sent an attachment".to_owned(),
            text => cut(text, BODY_MAX),
        };
        let mut payload = json!({
            "type": "message",
            "channel_id": channel.id,
            "message_id": message.id,
            "title": title,
            "body": body,
        });
        if let Some(guild_id) = channel.guild_id {
            payload["guild_id"] = json!(guild_id);
        }
        if message.webhook.is_none()
            && let Some(hash) = user.and_then(|u| u.avatar)
        {
            let base = &self.config.public_base;
            payload["icon"] = json!(format!("{base}/avatars/{}/{hash}.png", message.author_id));
        }
        Ok(payload.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_cut_to_their_length_in_characters() {
        assert_eq!(cut("short", BODY_MAX), "short");
        let exact = "é".repeat(BODY_MAX);
        assert_eq!(cut(&exact, BODY_MAX), exact);
        let long = "é".repeat(BODY_MAX + 1);
        let shown = cut(&long, BODY_MAX);
        assert_eq!(shown.chars().count(), BODY_MAX);
        assert!(shown.ends_with('…'));
    }
}

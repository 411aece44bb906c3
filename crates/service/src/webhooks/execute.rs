//! Executing a webhook: a message posted as the webhook, under the name
//! and avatar the request gives, checked and delivered as any message
//! (history, search, MESSAGE_CREATE); and the webhook's own messages read,
//! edited and deleted through its token.

use concord_model::records::{Channel, Member, Message, Webhook, WebhookAuthor, channel_type};
use concord_model::{Permissions, Snowflake, codes, wire};
use serde_json::Value;

use super::input::{ExecuteOptions, ExecuteWebhook};
use crate::interactions::WebhookMessageId;
use crate::messages::EditMessage;
use crate::{Caller, ChannelView, FormErrors, GuildView, Service, ServiceError, ServiceResult};

/// What a webhook may do where it posts: send (with files, embeds, TTS
/// and polls) and mention anyone, as Discord's webhooks may.
const WEBHOOK_PERMISSIONS: Permissions = Permissions(
    Permissions::VIEW_CHANNEL.0
        | Permissions::SEND_MESSAGES.0
        | Permissions::SEND_MESSAGES_IN_THREADS.0
        | Permissions::SEND_TTS_MESSAGES.0
        | Permissions::EMBED_LINKS.0
        | Permissions::ATTACH_FILES.0
        | Permissions::READ_MESSAGE_HISTORY.0
        | Permissions::MENTION_EVERYONE.0
        | Permissions::SEND_POLLS.0,
);

/// Longest `avatar_url` kept.
const AVATAR_URL_MAX: usize = 2048;

/// The one dispatch rule of `/webhooks/{id}/{token}`: an interaction's
/// token (its id then an application's, never a webhook's) is tried
/// first, by its shape; any other token opens a webhook.
fn is_interaction(token: &str) -> bool {
    crate::interactions::token::parse(token).is_some()
}

/// The one rule of a webhook's components (an interaction's token is an
/// application's, which may send any): ignored unless the request asks
/// `with_components`, and then link buttons alone.
fn webhook_components(
    components: Option<Vec<Value>>,
    with_components: bool,
) -> ServiceResult<Option<Vec<Value>>> {
    if !with_components {
        return Ok(None);
    }
    if let Some(components) = &components {
        let mut errors = FormErrors::new();
        crate::messages::check_non_interactive_components(&mut errors, "components", components);
        errors.into_result()?;
    }
    Ok(components)
}

impl Service {
    /// `POST /webhooks/{id}/{token}`: the message when `wait`, else `None`.
    pub async fn execute_webhook(
        &self,
        id: Snowflake,
        token: &str,
        options: ExecuteOptions,
        mut input: ExecuteWebhook,
    ) -> ServiceResult<Option<wire::Message>> {
        if is_interaction(token) {
            let (message, _, _) = input.message();
            let out = self.interaction_follow_up(id, token, message).await?;
            return Ok(Some(out));
        }
        let webhook = self.opened_webhook(id, token).await?;
        let thread_name = input.thread_name.clone();
        let applied_tags = input.applied_tags.take();
        let view = self.webhook_view(&webhook, options.thread_id).await?;
        let forum = view.channel.kind == channel_type::GUILD_FORUM;
        // A service's format posts into no forum, not even into one of its
        // posts (`thread_id`), as Discord's do.
        if options.service && self.webhook_in_forum(&webhook).await? {
            return Err(ServiceError::BadRequest(codes::WEBHOOK_SERVICE_IN_FORUM));
        }
        // A forum holds posts alone: a message goes into one of them, or
        // starts one.
        let code = match (&thread_name, options.thread_id) {
            (Some(_), Some(_)) => Some(codes::WEBHOOK_FORUM_THREAD_AND_NAME),
            (Some(_), None) if !forum => Some(codes::WEBHOOK_THREAD_NOT_IN_FORUM),
            (None, None) if forum => Some(codes::WEBHOOK_FORUM_THREAD_REQUIRED),
            _ => None,
        };
        if let Some(code) = code {
            return Err(ServiceError::BadRequest(code));
        }
        let (mut message, username, avatar_url) = input.message();
        message.components = webhook_components(message.components, options.with_components)?;
        let mut errors = FormErrors::new();
        if let Some(username) = &username {
            super::check_name(&mut errors, "username", username);
        }
        if avatar_url
            .as_ref()
            .is_some_and(|u| u.len() > AVATAR_URL_MAX)
        {
            let message = format!("Must be {AVATAR_URL_MAX} or fewer in length.");
            errors.add("avatar_url", "BASE_TYPE_MAX_LENGTH", message);
        }
        errors.into_result()?;
        let poster = Caller {
            id: webhook.id,
            bot: true,
        };
        let author = WebhookAuthor {
            username: username.map_or(webhook.name, |u| u.trim().to_owned()),
            avatar: webhook.avatar.filter(|_| avatar_url.is_none()),
            avatar_url,
        };
        let out = match thread_name {
            Some(name) => {
                let post = self
                    .open_webhook_post(poster, &view, name, applied_tags)
                    .await?;
                let post_view = self.poster_view(post).await?;
                let post_view = post_view.ok_or(ServiceError::NotFound(codes::UNKNOWN_CHANNEL))?;
                let composed = self.compose_message(&post_view, poster, message).await;
                let composed = composed.map(|m| Message {
                    webhook: Some(author),
                    ..m
                });
                self.first_post_message(&view, &post_view, composed).await?
            }
            None => {
                let view = self.reopen_for_message(view).await?;
                let mut composed = self.compose_message(&view, poster, message).await?;
                composed.webhook = Some(author);
                self.deliver_message(&view, composed, None).await?
            }
        };
        Ok(options.wait.then_some(out))
    }

    async fn webhook_in_forum(&self, webhook: &Webhook) -> ServiceResult<bool> {
        let channel = self.store.channel(webhook.channel_id).await?;
        Ok(channel.is_some_and(|c| c.kind == channel_type::GUILD_FORUM))
    }

    /// `GET /webhooks/{id}/{token}/messages/{message_id}`.
    pub async fn webhook_message(
        &self,
        id: Snowflake,
        token: &str,
        message_id: WebhookMessageId,
        thread_id: Option<Snowflake>,
    ) -> ServiceResult<wire::Message> {
        if is_interaction(token) {
            return self.interaction_response(id, token, message_id).await;
        }
        let (_, message) = self.webhooks_own(id, token, message_id, thread_id).await?;
        self.render_message(&message).await
    }

    /// `PATCH /webhooks/{id}/{token}/messages/{message_id}`.
    pub async fn edit_webhook_message(
        &self,
        id: Snowflake,
        token: &str,
        message_id: WebhookMessageId,
        options: ExecuteOptions,
        mut input: EditMessage,
    ) -> ServiceResult<wire::Message> {
        if is_interaction(token) {
            return self
                .edit_interaction_response(id, token, message_id, input)
                .await;
        }
        input.components = match input.components {
            Some(components) if options.with_components => {
                Some(webhook_components(components, true)?)
            }
            _ => None,
        };
        let thread_id = options.thread_id;
        let (view, message) = self.webhooks_own(id, token, message_id, thread_id).await?;
        view.require_unarchived()?;
        self.apply_message_edit(&view, &message, input).await
    }

    /// `DELETE /webhooks/{id}/{token}/messages/{message_id}`.
    pub async fn delete_webhook_message(
        &self,
        id: Snowflake,
        token: &str,
        message_id: WebhookMessageId,
        thread_id: Option<Snowflake>,
    ) -> ServiceResult<()> {
        if is_interaction(token) {
            return self
                .delete_interaction_response(id, token, message_id)
                .await;
        }
        let (view, message) = self.webhooks_own(id, token, message_id, thread_id).await?;
        self.remove_message(&view, message.id).await
    }

    /// A message the webhook posted, in its channel or the thread named;
    /// 10008 for any other.
    async fn webhooks_own(
        &self,
        id: Snowflake,
        token: &str,
        message_id: WebhookMessageId,
        thread_id: Option<Snowflake>,
    ) -> ServiceResult<(ChannelView, Message)> {
        let WebhookMessageId::Id(message_id) = message_id else {
            return Err(ServiceError::NotFound(codes::UNKNOWN_MESSAGE));
        };
        let webhook = self.opened_webhook(id, token).await?;
        let view = self.webhook_view(&webhook, thread_id).await?;
        let message = self.message_record(view.channel.id, message_id).await?;
        if message.author_id != webhook.id || message.webhook.is_none() {
            return Err(ServiceError::NotFound(codes::UNKNOWN_MESSAGE));
        }
        Ok((view, message))
    }

    /// The webhook's channel (or `thread_id`, a thread of it) as the
    /// webhook sees it: 10003 for a thread elsewhere.
    async fn webhook_view(
        &self,
        webhook: &Webhook,
        thread_id: Option<Snowflake>,
    ) -> ServiceResult<ChannelView> {
        let target = thread_id.unwrap_or(webhook.channel_id);
        let channel = self
            .store
            .channel(target)
            .await?
            .filter(|c| match thread_id {
                Some(_) => c.is_thread() && c.parent_id == Some(webhook.channel_id),
                None => true,
            })
            .ok_or(ServiceError::NotFound(codes::UNKNOWN_CHANNEL))?;
        self.poster_view(channel)
            .await?
            .ok_or(ServiceError::NotFound(codes::UNKNOWN_WEBHOOK))
    }

    /// A channel as a poster that is no member sees it (a webhook, an
    /// application answering an interaction): the guild's roles, so its
    /// messages mention roles, and [`WEBHOOK_PERMISSIONS`]. The view's
    /// member is nobody (id 0), so no event about its messages carries a
    /// member and it joins no thread. `None` if a guild channel's guild is
    /// gone.
    pub(crate) async fn poster_view(&self, channel: Channel) -> ServiceResult<Option<ChannelView>> {
        let Some(guild_id) = channel.guild_id else {
            return Ok(Some(ChannelView {
                channel,
                guild: None,
                permissions: WEBHOOK_PERMISSIONS,
            }));
        };
        let Some(guild) = self.store.guild(guild_id).await? else {
            return Ok(None);
        };
        let roles = self.store.roles(guild_id).await?;
        let nobody = Member::new(guild_id, Snowflake(0), 0);
        Ok(Some(ChannelView {
            channel,
            guild: Some(GuildView {
                guild,
                roles,
                member: nobody,
            }),
            permissions: WEBHOOK_PERMISSIONS,
        }))
    }
}

//! Incoming webhooks: a channel's posters without an account, opened by a
//! secret token. Managing them (create, list, edit, delete) needs
//! MANAGE_WEBHOOKS, or the token itself for the one it opens; executing
//! needs only the token (`execute`), also in Slack's and GitHub's shapes
//! (`slack`, `github`). The request bodies are in `input`.
//!
//! The token is the only secret in a webhook URL: 68 random URL-safe
//! characters, compared in constant time and never logged (nothing logs
//! a request's path, and no error here carries it).
//!
//! Depends on access (views, permissions), guilds (the audit log),
//! messages (composing, delivering, editing and deleting the webhook's
//! messages, as any message) and threads (posting in a thread of the
//! webhook's channel).

mod execute;
mod github;
pub mod input;
mod slack;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use concord_model::event::EventKind;
use concord_model::records::{Channel, Webhook, channel_type};
use concord_model::{Permissions, Snowflake, codes, wire};
use serde_json::json;

pub use github::github_message;
pub use input::{CreateWebhook, ExecuteOptions, ExecuteWebhook, ModifyWebhook};
pub use slack::slack_message;

use crate::attachments::images::image_edit;
use crate::guilds::audit::{Details, action, change};
use crate::{Caller, FormErrors, Service, ServiceError, ServiceResult, to_channel};

/// Discord's cap per channel.
const WEBHOOKS_PER_CHANNEL: usize = 15;
/// Longest name (and `username` override), in characters.
const NAME_MAX: usize = 80;

/// A new token: 51 random bytes, 68 URL-safe characters.
fn new_token() -> String {
    B64.encode(rand::random::<[u8; 51]>())
}

/// Whether `given` is `token`, taking the same time wherever they differ.
pub(crate) fn same_token(given: &str, token: &str) -> bool {
    let (given, token) = (given.as_bytes(), token.as_bytes());
    let differ = given
        .iter()
        .zip(token)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    std::hint::black_box(differ) == 0 && given.len() == token.len()
}

/// Discord's rule for a webhook's name and a `username` override: 1 to
/// 80 characters, never naming Discord or Clyde.
pub(crate) fn check_name(errors: &mut FormErrors, field: &str, name: &str) {
    let length = name.trim().chars().count();
    if !(1..=NAME_MAX).contains(&length) {
        errors.add(
            field,
            "BASE_TYPE_BAD_LENGTH",
            format!("Must be between 1 and {NAME_MAX} in length."),
        );
    }
    let lower = name.to_lowercase();
    for word in ["discord", "clyde"] {
        if lower.contains(word) {
            errors.add(
                field,
                "USERNAME_INVALID_CONTAINS",
                format!("Username cannot contain \"{word}\""),
            );
        }
    }
}

/// What a webhook may be created in: a guild's text, announcement,
/// voice or forum channel (not a thread: it posts in threads by id).
fn takes_webhooks(channel: &Channel) -> bool {
    channel.guild_id.is_some()
        && !channel.is_thread()
        && (channel_type::is_text(channel.kind)
            || matches!(channel.kind, channel_type::GUILD_FORUM))
}

impl Service {
    /// `POST /channels/{id}/webhooks`.
    pub async fn create_webhook(
        &self,
        caller: Caller,
        channel_id: Snowflake,
        input: CreateWebhook,
    ) -> ServiceResult<wire::Webhook> {
        let view = self.channel_view(caller, channel_id).await?;
        let guild_id = view.guild()?.guild.id;
        view.require(Permissions::MANAGE_WEBHOOKS)?;
        if !takes_webhooks(&view.channel) {
            return Err(ServiceError::BadRequest(codes::CHANNEL_TYPE_INVALID));
        }
        let mut errors = FormErrors::new();
        check_name(&mut errors, "name", &input.name);
        let avatar = image_edit("avatar", input.avatar.map(Some), &mut errors);
        errors.into_result()?;
        if self.store.channel_webhooks(channel_id).await?.len() >= WEBHOOKS_PER_CHANNEL {
            return Err(ServiceError::LimitReached(codes::MAX_WEBHOOKS));
        }
        let avatar = self.stage_image(avatar).await?;
        let mut webhook = Webhook {
            id: self.next_id(),
            guild_id,
            channel_id,
            user_id: caller.id,
            name: input.name.trim().to_owned(),
            avatar: None,
            avatar_blob: None,
            token: new_token(),
        };
        if let Some(staged) = &avatar {
            staged.apply(&mut webhook.avatar, &mut webhook.avatar_blob);
        }
        self.store.create_webhook(&webhook).await?;
        self.settle_image(avatar, None).await?;
        self.webhooks_changed(guild_id, channel_id).await;
        let details = Details {
            changes: vec![
                change("name", None::<()>, &webhook.name),
                change("type", None::<()>, 1),
                change("channel_id", None::<()>, channel_id),
            ],
            ..Details::on(webhook.id)
        };
        self.audit(guild_id, caller, action::WEBHOOK_CREATE, details)
            .await?;
        self.webhook_managed(&webhook).await
    }

    /// `GET /channels/{id}/webhooks`.
    pub async fn channel_webhooks(
        &self,
        caller: Caller,
        channel_id: Snowflake,
    ) -> ServiceResult<Vec<wire::Webhook>> {
        let view = self.channel_view(caller, channel_id).await?;
        view.guild()?;
        view.require(Permissions::MANAGE_WEBHOOKS)?;
        let webhooks = self.store.channel_webhooks(channel_id).await?;
        self.webhooks_managed(&webhooks).await
    }

    /// `GET /guilds/{id}/webhooks`.
    pub async fn guild_webhooks(
        &self,
        caller: Caller,
        guild_id: Snowflake,
    ) -> ServiceResult<Vec<wire::Webhook>> {
        let guild = self.guild_view(caller, guild_id).await?;
        guild.require(Permissions::MANAGE_WEBHOOKS)?;
        let webhooks = self.store.guild_webhooks(guild_id).await?;
        self.webhooks_managed(&webhooks).await
    }

    /// `GET /webhooks/{id}`.
    pub async fn webhook(&self, caller: Caller, id: Snowflake) -> ServiceResult<wire::Webhook> {
        let webhook = self.managed_webhook(caller, id).await?;
        self.webhook_managed(&webhook).await
    }

    /// `GET /webhooks/{id}/{token}`: without its creator or token.
    pub async fn webhook_by_token(
        &self,
        id: Snowflake,
        token: &str,
    ) -> ServiceResult<wire::Webhook> {
        Ok(wire::Webhook::new(&self.opened_webhook(id, token).await?))
    }

    /// `PATCH /webhooks/{id}`: name, avatar, and the channel it posts in
    /// (MANAGE_WEBHOOKS there too).
    pub async fn modify_webhook(
        &self,
        caller: Caller,
        id: Snowflake,
        input: ModifyWebhook,
    ) -> ServiceResult<wire::Webhook> {
        let old = self.managed_webhook(caller, id).await?;
        if let Some(channel_id) = input.channel_id.filter(|c| *c != old.channel_id) {
            let view = self.channel_view(caller, channel_id).await?;
            view.require(Permissions::MANAGE_WEBHOOKS)?;
            if !takes_webhooks(&view.channel) || view.channel.guild_id != Some(old.guild_id) {
                return Err(ServiceError::BadRequest(codes::CHANNEL_TYPE_INVALID));
            }
        }
        let new = self.changed_webhook(&old, input).await?;
        let changes = [
            ("name", json!(old.name), json!(new.name)),
            ("avatar_hash", json!(old.avatar), json!(new.avatar)),
            ("channel_id", json!(old.channel_id), json!(new.channel_id)),
        ];
        let details = Details {
            changes: changes
                .into_iter()
                .filter(|(_, before, after)| before != after)
                .map(|(key, before, after)| change(key, before, after))
                .collect(),
            ..Details::on(id)
        };
        self.audit(old.guild_id, caller, action::WEBHOOK_UPDATE, details)
            .await?;
        self.webhook_managed(&new).await
    }

    /// `PATCH /webhooks/{id}/{token}`: name and avatar only.
    pub async fn modify_webhook_by_token(
        &self,
        id: Snowflake,
        token: &str,
        input: ModifyWebhook,
    ) -> ServiceResult<wire::Webhook> {
        let old = self.opened_webhook(id, token).await?;
        let input = ModifyWebhook {
            channel_id: None,
            ..input
        };
        let new = self.changed_webhook(&old, input).await?;
        Ok(wire::Webhook::new(&new))
    }

    /// `DELETE /webhooks/{id}`.
    pub async fn delete_webhook(&self, caller: Caller, id: Snowflake) -> ServiceResult<()> {
        let webhook = self.managed_webhook(caller, id).await?;
        if self.remove_webhook(&webhook).await? {
            let details = Details {
                changes: vec![
                    change("name", &webhook.name, None::<()>),
                    change("type", 1, None::<()>),
                    change("channel_id", webhook.channel_id, None::<()>),
                ],
                ..Details::on(id)
            };
            self.audit(webhook.guild_id, caller, action::WEBHOOK_DELETE, details)
                .await?;
        }
        Ok(())
    }

    /// `DELETE /webhooks/{id}/{token}`.
    pub async fn delete_webhook_by_token(&self, id: Snowflake, token: &str) -> ServiceResult<()> {
        let webhook = self.opened_webhook(id, token).await?;
        self.remove_webhook(&webhook).await?;
        Ok(())
    }

    /// The webhook, if the caller may manage it (MANAGE_WEBHOOKS in its
    /// channel); 10015 if there is none.
    async fn managed_webhook(&self, caller: Caller, id: Snowflake) -> ServiceResult<Webhook> {
        let webhook = self
            .store
            .webhook(id)
            .await?
            .ok_or(ServiceError::NotFound(codes::UNKNOWN_WEBHOOK))?;
        let view = self.channel_view(caller, webhook.channel_id).await?;
        view.require(Permissions::MANAGE_WEBHOOKS)?;
        Ok(webhook)
    }

    /// The webhook `token` opens: 10015 for an unknown id, 401 with 50027
    /// for a wrong token, as Discord answers (ids are no secret).
    pub(crate) async fn opened_webhook(
        &self,
        id: Snowflake,
        token: &str,
    ) -> ServiceResult<Webhook> {
        match self.store.webhook(id).await? {
            Some(webhook) if same_token(token, &webhook.token) => Ok(webhook),
            Some(_) => Err(ServiceError::InvalidToken(codes::INVALID_WEBHOOK_TOKEN)),
            None => Err(ServiceError::NotFound(codes::UNKNOWN_WEBHOOK)),
        }
    }

    /// Writes an edit (never recreating a deleted webhook) and tells both
    /// channels' members when it moved.
    async fn changed_webhook(&self, old: &Webhook, input: ModifyWebhook) -> ServiceResult<Webhook> {
        let mut errors = FormErrors::new();
        let mut new = old.clone();
        if let Some(name) = input.name {
            check_name(&mut errors, "name", &name);
            new.name = name.trim().to_owned();
        }
        let avatar = image_edit("avatar", input.avatar, &mut errors);
        if let Some(channel_id) = input.channel_id {
            new.channel_id = channel_id;
        }
        errors.into_result()?;
        let avatar = self.stage_image(avatar).await?;
        if let Some(staged) = &avatar {
            staged.apply(&mut new.avatar, &mut new.avatar_blob);
        }
        if !self.store.update_webhook(&new).await? {
            return Err(ServiceError::NotFound(codes::UNKNOWN_WEBHOOK));
        }
        self.settle_image(avatar, old.avatar_blob.as_deref())
            .await?;
        self.webhooks_changed(new.guild_id, new.channel_id).await;
        if new.channel_id != old.channel_id {
            self.webhooks_changed(old.guild_id, old.channel_id).await;
        }
        Ok(new)
    }

    /// Deletes it; whether this call did.
    async fn remove_webhook(&self, webhook: &Webhook) -> ServiceResult<bool> {
        let removed = self.store.delete_webhook(webhook.id).await?.is_some();
        if removed {
            self.release_image(webhook.avatar_blob.as_deref()).await?;
            self.webhooks_changed(webhook.guild_id, webhook.channel_id)
                .await;
        }
        Ok(removed)
    }

    /// WEBHOOKS_UPDATE to those who can see the channel.
    async fn webhooks_changed(&self, guild_id: Snowflake, channel_id: Snowflake) {
        let data = json!({ "guild_id": guild_id, "channel_id": channel_id });
        self.publish(
            EventKind::WebhooksUpdate,
            to_channel(guild_id, channel_id),
            data,
        )
        .await;
    }

    async fn webhook_managed(&self, webhook: &Webhook) -> ServiceResult<wire::Webhook> {
        let mut out = self.webhooks_managed(std::slice::from_ref(webhook)).await?;
        Ok(out.remove(0))
    }

    /// Webhooks with their creators (read at once), tokens and URLs.
    async fn webhooks_managed(&self, webhooks: &[Webhook]) -> ServiceResult<Vec<wire::Webhook>> {
        let creators: Vec<Snowflake> = webhooks.iter().map(|w| w.user_id).collect();
        let users = self.users_wire(&creators).await?;
        let api_base = format!("{}/api/v10", self.config.public_base);
        Ok(webhooks
            .iter()
            .map(|w| wire::Webhook::managed(w, users[&w.user_id].clone(), &api_base))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_and_url_safe() {
        let token = new_token();
        assert_eq!(token.len(), 68);
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(token, new_token());
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abd", "abc"));
        assert!(!same_token("ab", "abc"));
        assert!(!same_token("abcd", "abc"));
        assert!(!same_token("", "abc"));
    }

    #[test]
    fn names_follow_discords_rule() {
        let refused = |name: &str| {
            let mut errors = FormErrors::new();
            check_name(&mut errors, "name", name);
            !errors.is_empty()
        };
        assert!(!refused("CI"));
        assert!(refused(""));
        assert!(refused(&"x".repeat(81)));
        assert!(refused("my Discord hook"));
        assert!(refused("clyde"));
    }
}

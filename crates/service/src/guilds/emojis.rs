//! Custom emoji: per guild, uploaded as data URIs, served by id. Every
//! change announces the guild's whole list (GUILD_EMOJIS_UPDATE), as
//! Discord does.

use concord_model::event::EventKind;
use concord_model::records::Emoji;
use concord_model::{Permissions, Snowflake, codes, wire};

use super::audit::{Details, action, change};
use super::input::{CreateEmoji, PatchEmoji};
use crate::attachments::images::{decode_image, image_type};
use crate::{Caller, FormErrors, GuildView, Service, ServiceError, ServiceResult, to_guild};

/// Static emoji a guild may have.
pub const EMOJIS_PER_GUILD: usize = 50;
/// Largest emoji image, in bytes.
pub const EMOJI_IMAGE_MAX: usize = 256 * 1024;

/// 2 to 32 letters, digits and underscores.
fn check_name(name: &str, errors: &mut FormErrors) {
    let valid = (2..=32).contains(&name.chars().count())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        let message = "Must be 2 to 32 letters, numbers or underscores.";
        errors.add("name", "BASE_TYPE_BAD_LENGTH", message);
    }
}

/// Roles must be the guild's own.
fn check_roles(guild: &GuildView, roles: &[Snowflake], errors: &mut FormErrors) {
    if !roles.iter().all(|r| guild.roles.iter().any(|g| g.id == *r)) {
        errors.add("roles", "INVALID_ROLE", "Unknown role.");
    }
}

impl Service {
    async fn emoji_wire(&self, guild: &GuildView, e: &Emoji) -> ServiceResult<wire::Emoji> {
        let mut out = self.emojis_wire(guild, std::slice::from_ref(e)).await?;
        Ok(out.remove(0))
    }

    /// Emoji with their uploaders (read at once) for those who manage them.
    async fn emojis_wire(
        &self,
        guild: &GuildView,
        emojis: &[Emoji],
    ) -> ServiceResult<Vec<wire::Emoji>> {
        let managing = guild.base().contains(Permissions::MANAGE_GUILD_EXPRESSIONS);
        let uploaders: Vec<Snowflake> = match managing {
            true => emojis.iter().map(|e| e.user_id).collect(),
            false => Vec::new(),
        };
        let users = self.users_wire(&uploaders).await?;
        Ok(emojis
            .iter()
            .map(|e| wire::Emoji::new(e, users.get(&e.user_id).cloned()))
            .collect())
    }

    /// Every emoji of the guild as the list events and GUILD_CREATE carry.
    pub(crate) async fn emoji_list(&self, guild_id: Snowflake) -> ServiceResult<Vec<wire::Emoji>> {
        let emojis = self.store.emojis(guild_id).await?;
        Ok(emojis.iter().map(|e| wire::Emoji::new(e, None)).collect())
    }

    async fn emojis_changed(&self, guild_id: Snowflake) -> ServiceResult<()> {
        let data = serde_json::json!({
            "guild_id": guild_id,
            "emojis": self.emoji_list(guild_id).await?,
        });
        self.publish(EventKind::GuildEmojisUpdate, to_guild(guild_id), data)
            .await;
        Ok(())
    }

    pub(crate) async fn find_emoji(
        &self,
        guild_id: Snowflake,
        id: Snowflake,
    ) -> ServiceResult<Emoji> {
        let emojis = self.store.emojis(guild_id).await?;
        emojis
            .into_iter()
            .find(|e| e.id == id)
            .ok_or(ServiceError::NotFound(codes::UNKNOWN_EMOJI))
    }

    pub async fn emojis(
        &self,
        caller: Caller,
        guild_id: Snowflake,
    ) -> ServiceResult<Vec<wire::Emoji>> {
        let guild = self.guild_view(caller, guild_id).await?;
        let emojis = self.store.emojis(guild_id).await?;
        self.emojis_wire(&guild, &emojis).await
    }

    pub async fn emoji(
        &self,
        caller: Caller,
        guild_id: Snowflake,
        id: Snowflake,
    ) -> ServiceResult<wire::Emoji> {
        let guild = self.guild_view(caller, guild_id).await?;
        let emoji = self.find_emoji(guild_id, id).await?;
        self.emoji_wire(&guild, &emoji).await
    }

    /// CREATE_GUILD_EXPRESSIONS (or MANAGE_GUILD_EXPRESSIONS) uploads one.
    pub async fn create_emoji(
        &self,
        caller: Caller,
        guild_id: Snowflake,
        input: CreateEmoji,
    ) -> ServiceResult<wire::Emoji> {
        let guild = self.guild_view(caller, guild_id).await?;
        let base = guild.base();
        if !base.contains(Permissions::CREATE_GUILD_EXPRESSIONS) {
            guild.require(Permissions::MANAGE_GUILD_EXPRESSIONS)?;
        }
        let mut errors = FormErrors::new();
        check_name(&input.name, &mut errors);
        let roles = input.roles.unwrap_or_default();
        check_roles(&guild, &roles, &mut errors);
        let image = decode_image("image", &input.image, EMOJI_IMAGE_MAX, &mut errors);
        errors.into_result()?;
        let Some(image) = image else {
            return Err(ServiceError::Internal("image checked above".into()));
        };
        if self.store.emojis(guild_id).await?.len() >= EMOJIS_PER_GUILD {
            return Err(ServiceError::LimitReached(codes::MAX_EMOJIS));
        }
        let emoji = Emoji {
            id: self.next_id(),
            guild_id,
            name: input.name,
            roles,
            user_id: caller.id,
            animated: image.content_type == "image/gif",
            content_type: image.content_type.to_owned(),
        };
        self.store.put_emoji(&emoji, Some(&image.bytes)).await?;
        self.emojis_changed(guild_id).await?;
        let mut details = Details::on(emoji.id);
        details
            .changes
            .push(change("name", None::<()>, &emoji.name));
        self.audit(guild_id, caller, action::EMOJI_CREATE, details)
            .await?;
        self.emoji_wire(&guild, &emoji).await
    }

    /// MANAGE_GUILD_EXPRESSIONS, or its uploader with CREATE_GUILD_EXPRESSIONS.
    async fn editable_emoji(
        &self,
        caller: Caller,
        guild_id: Snowflake,
        id: Snowflake,
    ) -> ServiceResult<(GuildView, Emoji)> {
        let guild = self.guild_view(caller, guild_id).await?;
        let emoji = self.find_emoji(guild_id, id).await?;
        let own = emoji.user_id == caller.id
            && guild.base().contains(Permissions::CREATE_GUILD_EXPRESSIONS);
        if !own {
            guild.require(Permissions::MANAGE_GUILD_EXPRESSIONS)?;
        }
        Ok((guild, emoji))
    }

    pub async fn patch_emoji(
        &self,
        caller: Caller,
        guild_id: Snowflake,
        id: Snowflake,
        input: PatchEmoji,
    ) -> ServiceResult<wire::Emoji> {
        let (guild, mut emoji) = self.editable_emoji(caller, guild_id, id).await?;
        let mut errors = FormErrors::new();
        if let Some(name) = input.name {
            check_name(&name, &mut errors);
            emoji.name = name;
        }
        if let Some(roles) = input.roles {
            emoji.roles = roles.unwrap_or_default();
            check_roles(&guild, &emoji.roles, &mut errors);
        }
        errors.into_result()?;
        self.store.put_emoji(&emoji, None).await?;
        self.emojis_changed(guild_id).await?;
        self.audit(guild_id, caller, action::EMOJI_UPDATE, Details::on(id))
            .await?;
        self.emoji_wire(&guild, &emoji).await
    }

    pub async fn delete_emoji(
        &self,
        caller: Caller,
        guild_id: Snowflake,
        id: Snowflake,
    ) -> ServiceResult<()> {
        self.editable_emoji(caller, guild_id, id).await?;
        self.store.delete_emoji(guild_id, id).await?;
        self.emojis_changed(guild_id).await?;
        self.audit(guild_id, caller, action::EMOJI_DELETE, Details::on(id))
            .await
    }

    /// An emoji's image and content type, for anyone with its URL.
    pub async fn emoji_image(&self, id: Snowflake) -> ServiceResult<(String, Vec<u8>)> {
        let bytes = self
            .store
            .emoji_image(id)
            .await?
            .ok_or(ServiceError::NotFound(codes::UNKNOWN_EMOJI))?;
        let kind = image_type(&bytes);
        Ok((kind.to_owned(), bytes))
    }
}

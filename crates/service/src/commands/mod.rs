//! Application commands: an application's global commands and its
//! commands in each guild (create-or-replace by type and name, read,
//! edit, delete, bulk overwrite keeping the ids of commands that stay),
//! and who may use them in a guild (command permissions).
//!
//! Only the application's own bot manages its commands (anyone else gets
//! 20012, as Discord answers a token of another application); a guild's
//! commands also need the bot in the guild (50001). Discord's rules for the
//! bodies are in `validate`, the bodies themselves in `input`. Permissions
//! are read by the bot (or a member who manages the guild) and edited
//! only by a member holding MANAGE_GUILD and MANAGE_ROLES: Discord
//! refuses bot tokens there (20001); each edit announces
//! APPLICATION_COMMAND_PERMISSIONS_UPDATE to the application's bot.
//!
//! What interactions need is in the records: a command by id
//! (`CommandStore::command`), its `default_member_permissions`,
//! `Command::allowed_contexts` and `Command::allowed_integration_types`.
//!
//! Depends on access (guild views, permissions) only.

pub mod input;
mod validate;

use std::collections::HashSet;

use concord_model::event::EventKind;
use concord_model::records::{Command, CommandPermissions};
use concord_model::wire::{ApplicationCommand, Localized};
use concord_model::{Permissions, Snowflake, codes};
use concord_store::{CommandCreate, CommandUpdate};

pub use input::{CommandInput, EditCommandPermissions};
pub use validate::LOCALES;

use crate::{Caller, FormErrors, Service, ServiceError, ServiceResult};

/// How a list of commands shows localizations: whole dictionaries when
/// asked (`with_localizations`), else the reader's locale's text only.
#[derive(Debug, Clone, Default)]
pub struct ListLocalization {
    pub with_localizations: bool,
    /// From `X-Discord-Locale`, else `Accept-Language`.
    pub locale: Option<String>,
}

/// A command as every route but the lists shows it.
fn full(command: &Command) -> ApplicationCommand {
    ApplicationCommand::new(command, Localized::Full)
}

/// Anyone but the application's own bot is refused its commands.
fn require_own_bot(caller: Caller, application_id: Snowflake) -> ServiceResult<()> {
    if caller.bot && caller.id == application_id {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(
            codes::NOT_AUTHORIZED_FOR_APPLICATION,
        ))
    }
}

/// The duplicate error Discord gives a second command of one type and
/// name.
fn duplicate(errors: &mut FormErrors, path: &str) {
    errors.add(
        path,
        "APPLICATION_COMMANDS_DUPLICATE_NAME",
        "Application command names must be unique",
    );
}

impl Service {
    /// The caller may manage the application's commands in this scope:
    /// its own bot, in the guild for a guild's commands.
    async fn command_scope(
        &self,
        caller: Caller,
        application_id: Snowflake,
        guild_id: Option<Snowflake>,
    ) -> ServiceResult<()> {
        require_own_bot(caller, application_id)?;
        if let Some(guild_id) = guild_id {
            self.require_application_in(guild_id, application_id)
                .await?;
        }
        Ok(())
    }

    /// 50001 unless the application's bot is a member of the guild.
    async fn require_application_in(
        &self,
        guild_id: Snowflake,
        application_id: Snowflake,
    ) -> ServiceResult<()> {
        match self.store.member(guild_id, application_id).await? {
            Some(_) => Ok(()),
            None => Err(ServiceError::Forbidden(codes::MISSING_ACCESS)),
        }
    }

    /// The application's command `id` in this scope, else 10063.
    async fn scoped_command(
        &self,
        application_id: Snowflake,
        guild_id: Option<Snowflake>,
        id: Snowflake,
    ) -> ServiceResult<Command> {
        match self.store.command(id).await? {
            Some(c) if c.application_id == application_id && c.guild_id == guild_id => Ok(c),
            _ => Err(ServiceError::NotFound(codes::UNKNOWN_APPLICATION_COMMAND)),
        }
    }

    /// `GET /applications/{id}/commands` and `.../guilds/{id}/commands`.
    pub async fn application_commands(
        &self,
        caller: Caller,
        application_id: Snowflake,
        guild_id: Option<Snowflake>,
        localization: &ListLocalization,
    ) -> ServiceResult<Vec<ApplicationCommand>> {
        self.command_scope(caller, application_id, guild_id).await?;
        let commands = self.store.commands(application_id, guild_id).await?;
        let localized = match localization.with_localizations {
            true => Localized::Full,
            false => Localized::For(localization.locale.as_deref()),
        };
        Ok(commands
            .iter()
            .map(|c| ApplicationCommand::new(c, localized))
            .collect())
    }

    /// `POST`: creates the command, or replaces the one of the same type
    /// and name (keeping its id); whether it was created.
    pub async fn create_application_command(
        &self,
        caller: Caller,
        application_id: Snowflake,
        guild_id: Option<Snowflake>,
        input: CommandInput,
    ) -> ServiceResult<(ApplicationCommand, bool)> {
        self.command_scope(caller, application_id, guild_id).await?;
        let mut errors = FormErrors::new();
        let command = validate::command(&input, guild_id, "", &mut errors);
        errors.into_result()?;
        let command = Command {
            id: self.next_id(),
            application_id,
            version: self.next_id(),
            ..command
        };
        let max = validate::max_of_kind(command.kind);
        match self.store.create_command(&command, max).await? {
            CommandCreate::Created(c) => Ok((full(&c), true)),
            CommandCreate::Replaced(c) => Ok((full(&c), false)),
            CommandCreate::LimitReached => {
                Err(ServiceError::LimitReached(codes::MAX_APPLICATION_COMMANDS))
            }
        }
    }

    /// `GET .../commands/{id}`.
    pub async fn application_command(
        &self,
        caller: Caller,
        application_id: Snowflake,
        guild_id: Option<Snowflake>,
        id: Snowflake,
    ) -> ServiceResult<ApplicationCommand> {
        self.command_scope(caller, application_id, guild_id).await?;
        let command = self.scoped_command(application_id, guild_id, id).await?;
        Ok(full(&command))
    }

    /// `PATCH .../commands/{id}`: the fields given replace the command's;
    /// its type stays. The version changes when the definition does.
    pub async fn edit_application_command(
        &self,
        caller: Caller,
        application_id: Snowflake,
        guild_id: Option<Snowflake>,
        id: Snowflake,
        patch: CommandInput,
    ) -> ServiceResult<ApplicationCommand> {
        self.command_scope(caller, application_id, guild_id).await?;
        let old = self.scoped_command(application_id, guild_id, id).await?;
        let current: CommandInput = serde_json::to_value(&old)
            .and_then(serde_json::from_value)
            .map_err(|e| ServiceError::Internal(format!("command {id} as input: {e}")))?;
        let mut errors = FormErrors::new();
        let edited = validate::command(&current.patched(patch), guild_id, "", &mut errors);
        if edited.name != old.name {
            let scope = self.store.commands(application_id, guild_id).await?;
            let taken = scope
                .iter()
                .any(|c| c.id != id && c.kind == edited.kind && c.name == edited.name);
            if taken {
                duplicate(&mut errors, "name");
            }
        }
        errors.into_result()?;
        let edited = Command {
            id,
            application_id,
            version: old.version,
            ..edited
        };
        let edited = match edited.same_definition(&old) {
            true => edited,
            false => Command {
                version: self.next_id(),
                ..edited
            },
        };
        match self.store.update_command(&edited).await? {
            CommandUpdate::Updated => Ok(full(&edited)),
            CommandUpdate::Gone => Err(ServiceError::NotFound(codes::UNKNOWN_APPLICATION_COMMAND)),
            // Taken meanwhile by another rename or a create.
            CommandUpdate::NameTaken => {
                let mut errors = FormErrors::new();
                duplicate(&mut errors, "name");
                Err(ServiceError::InvalidForm(errors))
            }
        }
    }

    /// `DELETE .../commands/{id}`.
    pub async fn delete_application_command(
        &self,
        caller: Caller,
        application_id: Snowflake,
        guild_id: Option<Snowflake>,
        id: Snowflake,
    ) -> ServiceResult<()> {
        self.command_scope(caller, application_id, guild_id).await?;
        self.scoped_command(application_id, guild_id, id).await?;
        match self.store.delete_command(id).await? {
            Some(_) => Ok(()),
            None => Err(ServiceError::NotFound(codes::UNKNOWN_APPLICATION_COMMAND)),
        }
    }

    /// `PUT .../commands`: the scope's commands become `inputs`, at once;
    /// a command of the same type and name as one before keeps its id.
    pub async fn overwrite_application_commands(
        &self,
        caller: Caller,
        application_id: Snowflake,
        guild_id: Option<Snowflake>,
        inputs: Vec<CommandInput>,
    ) -> ServiceResult<Vec<ApplicationCommand>> {
        self.command_scope(caller, application_id, guild_id).await?;
        let mut errors = FormErrors::new();
        let mut seen = HashSet::new();
        let mut commands = Vec::with_capacity(inputs.len());
        for (i, input) in inputs.iter().enumerate() {
            let prefix = format!("{i}.");
            let command = validate::command(input, guild_id, &prefix, &mut errors);
            if !seen.insert((command.kind, command.name.clone())) {
                duplicate(&mut errors, &i.to_string());
            }
            commands.push(Command {
                id: self.next_id(),
                application_id,
                version: self.next_id(),
                ..command
            });
        }
        errors.into_result()?;
        for kind in seen.iter().map(|(kind, _)| *kind) {
            let of_kind = commands.iter().filter(|c| c.kind == kind).count();
            if of_kind > validate::max_of_kind(kind) {
                return Err(ServiceError::LimitReached(codes::MAX_APPLICATION_COMMANDS));
            }
        }
        let stored = self
            .store
            .overwrite_commands(application_id, guild_id, &commands)
            .await?;
        Ok(stored.iter().map(full).collect())
    }

    /// Whether the caller may read the application's command permissions
    /// in the guild: its bot, or a member who manages the guild.
    async fn command_permissions_reader(
        &self,
        caller: Caller,
        application_id: Snowflake,
        guild_id: Snowflake,
    ) -> ServiceResult<()> {
        if caller.bot {
            return self
                .command_scope(caller, application_id, Some(guild_id))
                .await;
        }
        let view = self.guild_view(caller, guild_id).await?;
        view.require(Permissions::MANAGE_GUILD)?;
        self.require_application_in(guild_id, application_id).await
    }

    /// The application's permissions in the guild whose target (one of
    /// its commands there or global, or the application) still exists.
    async fn live_command_permissions(
        &self,
        application_id: Snowflake,
        guild_id: Snowflake,
    ) -> ServiceResult<Vec<CommandPermissions>> {
        let all = self
            .store
            .command_permissions(guild_id, application_id)
            .await?;
        let mut live = Vec::with_capacity(all.len());
        for permissions in all {
            if self
                .permission_target(application_id, guild_id, permissions.id)
                .await
                .is_ok()
            {
                live.push(permissions);
            }
        }
        Ok(live)
    }

    /// What command permissions may be about: the application itself
    /// (all its commands), or one of its commands in the guild or global.
    async fn permission_target(
        &self,
        application_id: Snowflake,
        guild_id: Snowflake,
        id: Snowflake,
    ) -> ServiceResult<()> {
        if id == application_id {
            return Ok(());
        }
        match self.store.command(id).await? {
            Some(c)
                if c.application_id == application_id
                    && c.guild_id.is_none_or(|g| g == guild_id) =>
            {
                Ok(())
            }
            _ => Err(ServiceError::NotFound(codes::UNKNOWN_APPLICATION_COMMAND)),
        }
    }

    /// `GET .../guilds/{id}/commands/permissions`.
    pub async fn guild_command_permissions(
        &self,
        caller: Caller,
        application_id: Snowflake,
        guild_id: Snowflake,
    ) -> ServiceResult<Vec<CommandPermissions>> {
        self.command_permissions_reader(caller, application_id, guild_id)
            .await?;
        self.live_command_permissions(application_id, guild_id)
            .await
    }

    /// `GET .../guilds/{id}/commands/{id}/permissions`: 10066 when none
    /// are set for it.
    pub async fn command_permissions(
        &self,
        caller: Caller,
        application_id: Snowflake,
        guild_id: Snowflake,
        id: Snowflake,
    ) -> ServiceResult<CommandPermissions> {
        self.command_permissions_reader(caller, application_id, guild_id)
            .await?;
        self.permission_target(application_id, guild_id, id).await?;
        let all = self
            .live_command_permissions(application_id, guild_id)
            .await?;
        all.into_iter()
            .find(|p| p.id == id)
            .ok_or(ServiceError::NotFound(
                codes::UNKNOWN_APPLICATION_COMMAND_PERMISSIONS,
            ))
    }

    /// Each overwrite names something of the guild: one of its roles
    /// (@everyone is the guild's id), one of its members, or one of its
    /// channels other than threads (all of them: the guild's id less one),
    /// else 50035 at its `id`.
    async fn check_permission_targets(
        &self,
        view: &crate::GuildView,
        overwrites: &[concord_model::records::CommandPermission],
    ) -> ServiceResult<()> {
        let guild_id = view.guild.id;
        let all_channels = Snowflake(guild_id.0.wrapping_sub(1));
        let mut errors = FormErrors::new();
        for (i, p) in overwrites.iter().enumerate() {
            let (known, code, message) = match p.kind {
                1 => (
                    view.roles.iter().any(|r| r.id == p.id),
                    "APPLICATION_COMMAND_PERMISSIONS_UNKNOWN_ROLE",
                    "Unknown role.",
                ),
                2 => (
                    self.store.member(guild_id, p.id).await?.is_some(),
                    "APPLICATION_COMMAND_PERMISSIONS_UNKNOWN_USER",
                    "Unknown user.",
                ),
                _ => (
                    p.id == all_channels
                        || self
                            .store
                            .channel(p.id)
                            .await?
                            .is_some_and(|c| c.guild_id == Some(guild_id) && !c.is_thread()),
                    "APPLICATION_COMMAND_PERMISSIONS_UNKNOWN_CHANNEL",
                    "Unknown channel.",
                ),
            };
            if !known {
                errors.add(&format!("permissions.{i}.id"), code, message);
            }
        }
        errors.into_result()
    }

    /// `PUT .../guilds/{id}/commands/{id}/permissions`: replaces them.
    /// Discord takes only a user's token here: bots get 20001.
    pub async fn edit_command_permissions(
        &self,
        caller: Caller,
        application_id: Snowflake,
        guild_id: Snowflake,
        id: Snowflake,
        input: EditCommandPermissions,
    ) -> ServiceResult<CommandPermissions> {
        if caller.bot {
            return Err(ServiceError::Forbidden(codes::BOTS_NOT_ALLOWED));
        }
        let view = self.guild_view(caller, guild_id).await?;
        view.require(Permissions::MANAGE_GUILD | Permissions::MANAGE_ROLES)?;
        self.require_application_in(guild_id, application_id)
            .await?;
        self.permission_target(application_id, guild_id, id).await?;
        let permissions = CommandPermissions {
            id,
            application_id,
            guild_id,
            permissions: validate::permissions(&input)?,
        };
        self.check_permission_targets(&view, &permissions.permissions)
            .await?;
        self.store.put_command_permissions(&permissions).await?;
        self.publish(
            EventKind::ApplicationCommandPermissionsUpdate,
            concord_model::event::Audience::Users(vec![application_id]),
            &permissions,
        )
        .await;
        Ok(permissions)
    }
}

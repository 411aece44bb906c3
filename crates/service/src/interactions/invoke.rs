//! `POST /interactions`: a person invokes a command, uses a component or
//! submits a modal. Checked here (the command in this guild or global,
//! its contexts, USE_APPLICATION_COMMANDS and `default_member_permissions`
//! in the channel, the bot in the guild; the component on the
//! application's message; the modal the application opened for this
//! person), then delivered: the whole interaction to the application's
//! bot, `{id, nonce}` to the invoker, and the deadline watched.

use std::sync::Arc;

use concord_model::event::{Audience, EventKind};
use concord_model::records::{
    Command, CommandPermission, CommandPermissions, integration_type, interaction_context,
};
use concord_model::{Permissions, Snowflake, codes, wire};
use serde_json::{Value, json};

use super::input::CreateInteraction;
use super::interaction_type::*;
use super::{Interaction, bad, token};
use crate::{Caller, ChannelView, Service, ServiceError, ServiceResult};

/// A button component.
const BUTTON: u64 = 2;

/// Option types naming what `resolved` carries.
const USER: u64 = 6;
const CHANNEL: u64 = 7;
const ROLE: u64 = 8;
const MENTIONABLE: u64 = 9;

/// What was invoked, as checked.
struct Invoked {
    data: Value,
    command: Option<Command>,
    message: Option<Value>,
    message_id: Option<Snowflake>,
}

impl Service {
    /// Accepts an interaction (answered 204): the application's bot hears
    /// of it at once and must answer within 3 seconds.
    pub async fn create_interaction(
        self: &Arc<Self>,
        caller: Caller,
        input: CreateInteraction,
    ) -> ServiceResult<()> {
        if caller.bot {
            return Err(ServiceError::Forbidden(codes::BOTS_NOT_ALLOWED));
        }
        if !matches!(
            input.kind,
            APPLICATION_COMMAND
                | MESSAGE_COMPONENT
                | APPLICATION_COMMAND_AUTOCOMPLETE
                | MODAL_SUBMIT
        ) {
            return bad(
                "type",
                "BASE_TYPE_CHOICES",
                "Value must be one of (2, 3, 4, 5).",
            );
        }
        if !input.data.is_object() {
            return bad(
                "data",
                "DICT_TYPE_CONVERT",
                "Only dictionaries may be used in a DictType",
            );
        }
        let view = self.channel_view(caller, input.channel_id).await?;
        if input.guild_id.is_some() && input.guild_id != view.guild_id() {
            return bad(
                "guild_id",
                "INTERACTION_CHANNEL_MISMATCH",
                "The channel is not in this guild.",
            );
        }
        let app = input.application_id;
        let bot = self
            .store
            .user(app)
            .await?
            .filter(|u| u.bot)
            .ok_or(ServiceError::NotFound(codes::UNKNOWN_APPLICATION))?;
        let context = context_of(&view, bot.id);
        let app_permissions = match view.guild_id() {
            Some(guild_id) => {
                if self.store.member(guild_id, bot.id).await?.is_none() {
                    return Err(ServiceError::Forbidden(codes::MISSING_ACCESS));
                }
                let bot_view = self
                    .channel_view(
                        Caller {
                            id: bot.id,
                            bot: true,
                        },
                        view.channel.id,
                    )
                    .await;
                bot_view.map_or(Permissions::NONE, |v| v.permissions)
            }
            None => Permissions::NONE,
        };
        let invoked = match input.kind {
            APPLICATION_COMMAND | APPLICATION_COMMAND_AUTOCOMPLETE => {
                self.invoked_command(&view, context, &input).await?
            }
            MESSAGE_COMPONENT => self.invoked_component(caller, &view, &input).await?,
            _ => self.invoked_modal(caller, &input).await?,
        };
        let id = self.next_id();
        let (secret, token) = token::issue(id);
        let interaction = Interaction {
            id,
            kind: input.kind,
            application_id: app,
            secret,
            user_id: caller.id,
            guild_id: view.guild_id(),
            user_install: context == interaction_context::PRIVATE_CHANNEL,
            channel_id: view.channel.id,
            nonce: input.nonce.clone(),
            command_name: invoked.command.as_ref().map(|c| c.name.clone()),
            command_type: invoked.command.as_ref().map(|c| c.kind),
            message_id: invoked.message_id,
            original: None,
            original_ephemeral: false,
            ephemeral: Vec::new(),
            modal: None,
        };
        self.remember_interaction(&interaction).await?;
        let mut payload = json!({
            "id": id,
            "application_id": app,
            "type": input.kind,
            "data": invoked.data,
            "channel_id": view.channel.id,
            "token": token,
            "version": 1,
            "app_permissions": app_permissions.0.to_string(),
            "locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": wire::authorizing_integration_owners(
                interaction.guild_id,
                interaction.user_install,
                caller.id,
            ),
            "context": context,
            "attachment_size_limit": self.config.attachment_max_bytes,
        });
        let mut channel =
            serde_json::to_value(self.channel_wire(&view.channel).await?).unwrap_or_default();
        channel["permissions"] = json!(view.permissions.0.to_string());
        payload["channel"] = channel;
        match &view.guild {
            Some(guild) => {
                let mut member = serde_json::to_value(self.member_wire(&guild.member).await?)
                    .unwrap_or_default();
                member["permissions"] = json!(view.permissions.0.to_string());
                payload["member"] = member;
                payload["guild_id"] = json!(guild.guild.id);
                payload["guild_locale"] = json!("en-US");
                payload["guild"] =
                    json!({ "id": guild.guild.id, "locale": "en-US", "features": [] });
            }
            None => {
                payload["user"] =
                    serde_json::to_value(self.user_wire(caller.id).await?).unwrap_or_default()
            }
        }
        if let Some(message) = invoked.message {
            payload["message"] = message;
        }
        let endpoint = self
            .store
            .application(app)
            .await?
            .and_then(|a| a.interactions_endpoint_url);
        match endpoint {
            Some(url) => self.deliver_over_http(url, &interaction, token, payload),
            None => {
                self.publish(
                    EventKind::InteractionCreate,
                    Audience::Users(vec![app]),
                    payload,
                )
                .await
            }
        }
        if input.kind != APPLICATION_COMMAND_AUTOCOMPLETE {
            let data = json!({ "id": id, "nonce": input.nonce });
            self.publish(EventKind::InteractionCreate, interaction.invoker(), data)
                .await;
        }
        self.watch_deadline(&interaction);
        Ok(())
    }

    /// A command of the application for this channel, the invoker allowed
    /// to use it; its data as the bot reads it, with `resolved`.
    async fn invoked_command(
        &self,
        view: &ChannelView,
        context: u8,
        input: &CreateInteraction,
    ) -> ServiceResult<Invoked> {
        let unknown = ServiceError::NotFound(codes::UNKNOWN_APPLICATION_COMMAND);
        let Some(command_id) = input
            .data
            .get("id")
            .and_then(|v| v.as_str())
            .and_then(|v| v.parse().ok())
        else {
            return bad("data.id", "BASE_TYPE_REQUIRED", "This field is required");
        };
        let command = self
            .store
            .command(Snowflake(command_id))
            .await?
            .filter(|c| c.application_id == input.application_id)
            .filter(|c| c.guild_id.is_none() || c.guild_id == view.guild_id())
            .ok_or(unknown)?;
        if input.kind == APPLICATION_COMMAND_AUTOCOMPLETE && command.kind != 1 {
            return Err(ServiceError::NotFound(codes::UNKNOWN_APPLICATION_COMMAND));
        }
        self.may_invoke(view, context, &command).await?;
        let mut data = json!({
            "id": command.id,
            "name": command.name,
            "type": command.kind,
            "options": input.data.get("options").cloned().unwrap_or(json!([])),
        });
        if let Some(guild_id) = command.guild_id {
            data["guild_id"] = json!(guild_id);
        }
        if let Some(target) = input.data.get("target_id") {
            data["target_id"] = target.clone();
        }
        let resolved = self.resolved(view, &input.data).await?;
        if resolved.as_object().is_some_and(|r| !r.is_empty()) {
            data["resolved"] = resolved;
        }
        Ok(Invoked {
            data,
            command: Some(command),
            message: None,
            message_id: None,
        })
    }

    /// The rule of who may invoke `command` here: its contexts and
    /// installation types, then in a guild USE_APPLICATION_COMMANDS and
    /// the command permissions (else `default_member_permissions`). The
    /// command index lists what passes it.
    pub(super) async fn may_invoke(
        &self,
        view: &ChannelView,
        context: u8,
        command: &Command,
    ) -> ServiceResult<()> {
        if !command.allowed_contexts().contains(&context) {
            return Err(ServiceError::Forbidden(codes::MISSING_ACCESS));
        }
        let installed = match context {
            interaction_context::PRIVATE_CHANNEL => integration_type::USER_INSTALL,
            _ => integration_type::GUILD_INSTALL,
        };
        if !command.allowed_integration_types().contains(&installed) {
            return Err(ServiceError::Forbidden(codes::MISSING_ACCESS));
        }
        if let Some(guild) = &view.guild {
            view.require(Permissions::USE_APPLICATION_COMMANDS)?;
            let overwrites = self
                .store
                .command_permissions(guild.guild.id, command.application_id)
                .await?;
            let member = Invoker {
                user_id: guild.member.user_id,
                roles: &guild.member.roles,
                guild_id: guild.guild.id,
                channel_id: view
                    .channel
                    .parent_id
                    .filter(|_| view.channel.is_thread())
                    .unwrap_or(view.channel.id),
                permissions: view.permissions,
            };
            if !member.may_use(command, &overwrites) {
                return Err(ServiceError::Forbidden(codes::MISSING_PERMISSIONS));
            }
        }
        Ok(())
    }

    /// A component of the application's message in this channel (or of
    /// an ephemeral one shown to the invoker).
    async fn invoked_component(
        &self,
        caller: Caller,
        view: &ChannelView,
        input: &CreateInteraction,
    ) -> ServiceResult<Invoked> {
        let unknown = ServiceError::NotFound(codes::UNKNOWN_MESSAGE);
        let Some(message_id) = input.message_id else {
            return bad("message_id", "BASE_TYPE_REQUIRED", "This field is required");
        };
        let message = match self.store.message(view.channel.id, message_id).await? {
            Some(message) => message,
            None => match self.ephemeral_message(message_id).await? {
                Some(e) if e.user_id == caller.id && e.message.channel_id == view.channel.id => {
                    e.message
                }
                _ => return Err(unknown),
            },
        };
        if message.author_id != input.application_id {
            return Err(unknown);
        }
        let custom_id = input
            .data
            .get("custom_id")
            .and_then(Value::as_str)
            .unwrap_or("");
        let kind = input.data.get("component_type").and_then(Value::as_u64);
        let Some(component) = find_component(&message.components, custom_id) else {
            return bad(
                "data.custom_id",
                "COMPONENT_CUSTOM_ID_INVALID",
                "Unknown component.",
            );
        };
        if kind.is_none() || component.get("type").and_then(Value::as_u64) != kind {
            return bad(
                "data.component_type",
                "COMPONENT_TYPE_INVALID",
                "Component type mismatch.",
            );
        }
        if component.get("disabled").and_then(Value::as_bool) == Some(true) {
            return bad(
                "data.custom_id",
                "COMPONENT_DISABLED",
                "This component is disabled.",
            );
        }
        let mut data = json!({ "custom_id": custom_id, "component_type": kind });
        if kind != Some(BUTTON) {
            let values = chosen(component, input.data.get("values"))?;
            data["values"] = json!(values);
        }
        let rendered = self.render_message(&message).await?;
        Ok(Invoked {
            data,
            command: None,
            message: Some(serde_json::to_value(rendered).unwrap_or_default()),
            message_id: Some(message_id),
        })
    }

    /// A modal the application opened for this person, submitted once.
    async fn invoked_modal(
        &self,
        caller: Caller,
        input: &CreateInteraction,
    ) -> ServiceResult<Invoked> {
        let custom_id = input
            .data
            .get("custom_id")
            .and_then(Value::as_str)
            .unwrap_or("");
        let modal = self.take_modal(input.application_id, caller.id, custom_id);
        let Some(raw) = modal.await? else {
            return bad(
                "data.custom_id",
                "COMPONENT_CUSTOM_ID_INVALID",
                "Unknown modal.",
            );
        };
        let message_id: Option<Snowflake> = serde_json::from_slice(&raw).ok().flatten();
        let data = json!({
            "custom_id": custom_id,
            "components": input.data.get("components").cloned().unwrap_or(json!([])),
        });
        Ok(Invoked {
            data,
            command: None,
            message: None,
            message_id,
        })
    }

    /// The users, members, roles and channels the options name, as
    /// Discord resolves them for the bot.
    async fn resolved(&self, view: &ChannelView, data: &Value) -> ServiceResult<Value> {
        let mut named: Vec<(u64, Snowflake)> = Vec::new();
        collect_options(data.get("options"), &mut named);
        if let Some(target) = data
            .get("target_id")
            .and_then(Value::as_str)
            .and_then(|t| t.parse().ok())
        {
            // A user command's target is a user; a message command's, a message.
            match data.get("type").and_then(Value::as_u64) {
                Some(2) => named.push((USER, Snowflake(target))),
                Some(3) => {
                    if let Some(message) = self
                        .store
                        .message(view.channel.id, Snowflake(target))
                        .await?
                    {
                        let rendered = self.render_message(&message).await?;
                        return Ok(json!({ "messages": { target.to_string(): rendered } }));
                    }
                }
                _ => {}
            }
        }
        let mut out = serde_json::Map::new();
        let roles = view
            .guild
            .as_ref()
            .map(|g| g.roles.as_slice())
            .unwrap_or(&[]);
        let mut users = serde_json::Map::new();
        let mut members = serde_json::Map::new();
        let mut found_roles = serde_json::Map::new();
        let mut channels = serde_json::Map::new();
        for (kind, id) in named {
            if matches!(kind, ROLE | MENTIONABLE)
                && let Some(role) = roles.iter().find(|r| r.id == id)
            {
                let role = wire::Role::from(role);
                found_roles.insert(
                    id.to_string(),
                    serde_json::to_value(role).unwrap_or_default(),
                );
                continue;
            }
            if matches!(kind, USER | MENTIONABLE)
                && let Some(user) = self.store.user(id).await?
            {
                let wire_user = self.user_wire(user.id).await?;
                users.insert(
                    id.to_string(),
                    serde_json::to_value(wire_user).unwrap_or_default(),
                );
                if let Some(guild_id) = view.guild_id()
                    && let Some(member) = self.store.member(guild_id, id).await?
                {
                    let mut m =
                        serde_json::to_value(wire::Member::new(&member, None)).unwrap_or_default();
                    if let Some(m) = m.as_object_mut() {
                        m.remove("user");
                    }
                    members.insert(id.to_string(), m);
                }
            }
            if kind == CHANNEL
                && let Some(channel) = self.store.channel(id).await?
                && channel.guild_id == view.guild_id()
            {
                let wire = self.channel_wire(&channel).await?;
                channels.insert(
                    id.to_string(),
                    serde_json::to_value(wire).unwrap_or_default(),
                );
            }
        }
        for (key, map) in [
            ("users", users),
            ("members", members),
            ("roles", found_roles),
            ("channels", channels),
        ] {
            if !map.is_empty() {
                out.insert(key.to_owned(), Value::Object(map));
            }
        }
        Ok(Value::Object(out))
    }
}

/// Who invokes a guild's command, where, as command permissions read it.
struct Invoker<'a> {
    user_id: Snowflake,
    roles: &'a [Snowflake],
    guild_id: Snowflake,
    /// A thread's parent: command permissions name channels.
    channel_id: Snowflake,
    permissions: Permissions,
}

impl Invoker<'_> {
    /// Command permissions, then `default_member_permissions`. The
    /// command's own overwrites come before the application's (kept under
    /// its id); a channel's (or all channels', `guild_id - 1`) deny
    /// refuses; a user's overwrite decides, else the member's roles (an
    /// allowed one wins), else @everyone's (the guild's id); with none,
    /// `default_member_permissions` ("0": administrators only). An
    /// administrator may always.
    fn may_use(&self, command: &Command, overwrites: &[CommandPermissions]) -> bool {
        if self.permissions.contains(Permissions::ADMINISTRATOR) {
            return true;
        }
        let levels: Vec<&[CommandPermission]> = [command.id, command.application_id]
            .iter()
            .filter_map(|id| overwrites.iter().find(|o| o.id == *id))
            .map(|o| o.permissions.as_slice())
            .collect();
        let all_channels = Snowflake(self.guild_id.0.wrapping_sub(1));
        let channel = levels.iter().find_map(|level| {
            let of = |id| level.iter().find(|p| p.kind == 3 && p.id == id);
            of(self.channel_id)
                .or_else(|| of(all_channels))
                .map(|p| p.permission)
        });
        if channel == Some(false) {
            return false;
        }
        let member = levels.iter().find_map(|level| {
            if let Some(user) = level.iter().find(|p| p.kind == 2 && p.id == self.user_id) {
                return Some(user.permission);
            }
            let roles: Vec<bool> = level
                .iter()
                .filter(|p| p.kind == 1 && self.roles.contains(&p.id))
                .map(|p| p.permission)
                .collect();
            if !roles.is_empty() {
                return Some(roles.contains(&true));
            }
            level
                .iter()
                .find(|p| p.kind == 1 && p.id == self.guild_id)
                .map(|p| p.permission)
        });
        match (member, command.default_member_permissions) {
            (Some(decided), _) => decided,
            (None, None) => true,
            (None, Some(needed)) => {
                needed != Permissions::NONE && self.permissions.contains(needed)
            }
        }
    }
}

/// Where the interaction happens: a guild, the invoker's DM with the
/// bot, or another private channel.
pub(super) fn context_of(view: &ChannelView, bot: Snowflake) -> u8 {
    match view.guild {
        Some(_) => interaction_context::GUILD,
        None if view.channel.kind == concord_model::records::channel_type::DM
            && view.channel.recipients.contains(&bot) =>
        {
            interaction_context::BOT_DM
        }
        None => interaction_context::PRIVATE_CHANNEL,
    }
}

/// A select's chosen values: between its `min_values` (default 1) and
/// `max_values` (default 1), each one of its options for a string select,
/// else an id.
fn chosen(select: &Value, values: Option<&Value>) -> ServiceResult<Vec<String>> {
    let values: Vec<String> = values
        .and_then(Value::as_array)
        .map(|v| {
            v.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let bound = |field: &str| select.get(field).and_then(Value::as_u64).unwrap_or(1) as usize;
    if !(bound("min_values")..=bound("max_values")).contains(&values.len()) {
        return bad(
            "data.values",
            "BASE_TYPE_BAD_LENGTH",
            "Not as many values as the select takes.",
        );
    }
    let allowed = |value: &String| match select.get("options").and_then(Value::as_array) {
        Some(options) => options
            .iter()
            .any(|o| o.get("value").and_then(Value::as_str) == Some(value)),
        None => value.parse::<u64>().is_ok(),
    };
    if !values.iter().all(allowed) {
        return bad(
            "data.values",
            "COMPONENT_VALUE_INVALID",
            "Not an option of the select.",
        );
    }
    Ok(values)
}

/// The (type, id) of every option naming a user, channel, role or
/// mentionable, through subcommands.
fn collect_options(options: Option<&Value>, out: &mut Vec<(u64, Snowflake)>) {
    for option in options.and_then(Value::as_array).into_iter().flatten() {
        let kind = option.get("type").and_then(Value::as_u64).unwrap_or(0);
        if matches!(kind, USER | CHANNEL | ROLE | MENTIONABLE)
            && let Some(id) = option
                .get("value")
                .and_then(Value::as_str)
                .and_then(|v| v.parse().ok())
        {
            out.push((kind, Snowflake(id)));
        }
        collect_options(option.get("options"), out);
    }
}

/// The component with `custom_id`, however deep in the rows.
pub(super) fn find_component<'a>(components: &'a [Value], custom_id: &str) -> Option<&'a Value> {
    components.iter().find_map(|c| {
        if !custom_id.is_empty() && c.get("custom_id").and_then(Value::as_str) == Some(custom_id) {
            return Some(c);
        }
        let inner = c.get("components").and_then(Value::as_array)?;
        find_component(inner, custom_id)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUILD: Snowflake = Snowflake(1000);
    const APP: Snowflake = Snowflake(7);
    const COMMAND: Snowflake = Snowflake(70);
    const ROLE: Snowflake = Snowflake(5);

    fn command(default: Option<Permissions>) -> Command {
        let body = json!({ "id": COMMAND, "application_id": APP, "type": 1, "name": "c",
            "description": "d", "version": COMMAND });
        let mut command: Command = serde_json::from_value(body).unwrap();
        command.default_member_permissions = default;
        command
    }

    fn set(id: Snowflake, permissions: &[(u8, Snowflake, bool)]) -> CommandPermissions {
        CommandPermissions {
            id,
            application_id: APP,
            guild_id: GUILD,
            permissions: permissions
                .iter()
                .map(|&(kind, id, permission)| CommandPermission {
                    id,
                    kind,
                    permission,
                })
                .collect(),
        }
    }

    fn member(roles: &[Snowflake], permissions: Permissions) -> Invoker<'_> {
        Invoker {
            user_id: Snowflake(9),
            roles,
            guild_id: GUILD,
            channel_id: Snowflake(20),
            permissions,
        }
    }

    #[test]
    fn overwrites_decide_before_default_member_permissions() {
        let plain = member(&[ROLE], Permissions::NONE);
        let managers = command(Some(Permissions::MANAGE_GUILD));
        assert!(!plain.may_use(&managers, &[]));
        // A role of theirs allowed on the command opens it.
        assert!(plain.may_use(&managers, &[set(COMMAND, &[(1, ROLE, true)])]));
        // The user's own overwrite beats their roles.
        let denied = set(COMMAND, &[(1, ROLE, true), (2, Snowflake(9), false)]);
        assert!(!plain.may_use(&managers, &[denied]));
        // The command's own overwrites come before the application's.
        let both = [
            set(APP, &[(1, GUILD, false)]),
            set(COMMAND, &[(1, GUILD, true)]),
        ];
        assert!(plain.may_use(&command(None), &both));
        assert!(!plain.may_use(&command(None), &both[..1]));
        // A channel denied (or all of them) refuses.
        assert!(!plain.may_use(
            &command(None),
            &[set(COMMAND, &[(3, Snowflake(20), false)])]
        ));
        assert!(!plain.may_use(&command(None), &[set(APP, &[(3, Snowflake(999), false)])]));
        // "0" is for administrators, who may always.
        assert!(!plain.may_use(&command(Some(Permissions::NONE)), &[]));
        let admin = member(&[], Permissions::ADMINISTRATOR);
        assert!(admin.may_use(
            &command(Some(Permissions::NONE)),
            &[set(COMMAND, &[(1, GUILD, false)])]
        ));
    }
}

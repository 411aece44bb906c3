//! The bodies of the command routes, as clients send them: every field
//! optional here (Discord's rules, with their error paths, are in
//! `validate`), `null` told from absent where an edit needs it.

use concord_model::records::Localizations;
use concord_model::{Permissions, Snowflake};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::input::nullable;

/// A command as created (`POST`), in a bulk overwrite (`PUT`), or the
/// fields an edit (`PATCH`) changes.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CommandInput {
    /// In a bulk overwrite: the id the client knows it by (the command of
    /// the same type and name keeps its id in any case).
    #[serde(default, skip_serializing)]
    pub id: Option<Snowflake>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub name_localizations: Option<Option<Localizations>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub description_localizations: Option<Option<Localizations>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub options: Option<Option<Vec<OptionInput>>>,
    /// A permission set as a decimal string or an integer; `null` for
    /// everyone.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub default_member_permissions: Option<Option<Permissions>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub dm_permission: Option<Option<bool>>,
    /// Replaced by `default_member_permissions`; accepted and ignored.
    #[serde(default, skip_serializing)]
    pub default_permission: Option<Value>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub nsfw: Option<Option<bool>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub contexts: Option<Option<Vec<u8>>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub integration_types: Option<Option<Vec<u8>>>,
    /// Only for entry point commands, which are refused.
    #[serde(default, skip_serializing)]
    pub handler: Option<Value>,
}

impl CommandInput {
    /// `self` with every field `patch` gives replacing this one's: an
    /// edit is validated as the whole command it leaves.
    pub(crate) fn patched(self, patch: CommandInput) -> CommandInput {
        CommandInput {
            id: self.id,
            kind: self.kind,
            name: patch.name.or(self.name),
            name_localizations: patch.name_localizations.or(self.name_localizations),
            description: patch.description.or(self.description),
            description_localizations: patch
                .description_localizations
                .or(self.description_localizations),
            options: patch.options.or(self.options),
            default_member_permissions: patch
                .default_member_permissions
                .or(self.default_member_permissions),
            dm_permission: patch.dm_permission.or(self.dm_permission),
            default_permission: None,
            nsfw: patch.nsfw.or(self.nsfw),
            contexts: patch.contexts.or(self.contexts),
            integration_types: patch.integration_types.or(self.integration_types),
            handler: patch.handler,
        }
    }
}

/// A command's option, subcommand or group.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OptionInput {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_localizations: Option<Localizations>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description_localizations: Option<Localizations>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<ChoiceInput>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<OptionInput>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_types: Option<Vec<u8>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_value: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_value: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autocomplete: Option<bool>,
}

/// One of an option's choices.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChoiceInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_localizations: Option<Localizations>,
    #[serde(default)]
    pub value: Value,
}

/// `PUT .../commands/{id}/permissions`.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct EditCommandPermissions {
    #[serde(default)]
    pub permissions: Option<Vec<PermissionInput>>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct PermissionInput {
    pub id: Snowflake,
    #[serde(rename = "type")]
    pub kind: u8,
    pub permission: bool,
}

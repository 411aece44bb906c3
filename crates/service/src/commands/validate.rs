//! Discord's rules for an application command, all in one place: a body
//! (`input::CommandInput`) becomes a [`Command`] or 50035 field errors
//! nested by path as Discord nests them (`options.0.name`, and
//! `3.options.0.name` for the fourth command of a bulk overwrite).
//!
//! Names of chat-input commands and of every option match Discord's
//! pattern and are lower case where a letter has a lower case; user and
//! message commands may use any text. Descriptions are 1-100 characters
//! (none for user and message commands); at most 25 options per level,
//! 25 choices per option; subcommands only at the top or in a group,
//! groups only at the top; required options before optional ones;
//! autocomplete never with choices; localizations keyed by Discord's
//! locales; and at most 8000 characters of text per command. A command
//! permissions edit holds at most 100 overwrites of a known type.

use std::collections::HashSet;
use std::sync::LazyLock;

use concord_model::Snowflake;
use concord_model::records::{
    Command, CommandChoice, CommandOption, CommandPermission, Localizations, command_type,
    option_type,
};
use regex::Regex;
use serde_json::{Number, Value};

use super::input::{ChoiceInput, CommandInput, EditCommandPermissions, OptionInput};
use crate::{FormErrors, ServiceError, ServiceResult};

/// Longest name of a command, option, in characters.
const NAME_MAX: usize = 32;
const DESCRIPTION_MAX: usize = 100;
const OPTIONS_MAX: usize = 25;
const CHOICES_MAX: usize = 25;
/// Longest choice name, and string choice value.
const CHOICE_TEXT_MAX: usize = 100;
/// Bound of `min_length` and `max_length`.
const LENGTH_MAX: i64 = 6000;
/// The most text a command may hold: names, descriptions and choice
/// values, counting each field's longest localization.
const SIZE_MAX: usize = 8000;
/// Integers and numbers stay within ±2^53.
const NUMBER_BOUND: f64 = 9_007_199_254_740_992.0;

/// Discord's locales, the keys a localization may use.
pub const LOCALES: &[&str] = &[
    "id", "da", "de", "en-GB", "en-US", "es-ES", "es-419", "fr", "hr", "it", "lt", "hu", "nl",
    "no", "pl", "pt-BR", "ro", "fi", "sv-SE", "vi", "tr", "cs", "el", "bg", "ru", "uk", "hi", "th",
    "zh-CN", "ja", "zh-TW", "ko",
];

/// Channel types a `CHANNEL` option may be restricted to.
const CHANNEL_TYPES: &[u8] = &[0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15, 16];

/// Overwrites one command's permissions in a guild may hold.
const PERMISSIONS_MAX: usize = 100;

/// The most commands of each type an application may have in one scope.
pub(crate) fn max_of_kind(kind: u8) -> usize {
    match kind {
        command_type::CHAT_INPUT => 100,
        command_type::USER | command_type::MESSAGE => 15,
        _ => 0,
    }
}

static CHAT_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$").expect("the name pattern")
});

/// A path under `at` (`""`, or `"3."` in a bulk overwrite).
fn at(at: &str, field: &str) -> String {
    format!("{at}{field}")
}

fn bad_length(errors: &mut FormErrors, path: &str, min: usize, max: usize) {
    let message = format!("Must be between {min} and {max} in length.");
    errors.add(path, "BASE_TYPE_BAD_LENGTH", message);
}

fn too_many(errors: &mut FormErrors, path: &str, max: usize) {
    let message = format!("Must be {max} or fewer in length.");
    errors.add(path, "BASE_TYPE_MAX_LENGTH", message);
}

fn required(errors: &mut FormErrors, path: &str) {
    errors.add(path, "BASE_TYPE_REQUIRED", "This field is required");
}

fn choices_of(errors: &mut FormErrors, path: &str, allowed: &[u8]) {
    let list: Vec<String> = allowed.iter().map(u8::to_string).collect();
    let message = format!("Value must be one of {{{}}}.", list.join(", "));
    errors.add(path, "BASE_TYPE_CHOICES", message);
}

/// A chat-input or option name: Discord's pattern, in lower case.
fn check_chat_name(errors: &mut FormErrors, path: &str, name: &str) {
    let length = name.chars().count();
    if !(1..=NAME_MAX).contains(&length) {
        bad_length(errors, path, 1, NAME_MAX);
    } else if !CHAT_NAME.is_match(name) || name.to_lowercase() != name {
        errors.add(
            path,
            "APPLICATION_COMMAND_INVALID_NAME",
            "Command name is invalid",
        );
    }
}

/// Any text of `min..=max` characters.
fn check_text(errors: &mut FormErrors, path: &str, text: &str, min: usize, max: usize) {
    if !(min..=max).contains(&text.chars().count()) {
        bad_length(errors, path, min, max);
    }
}

/// A localization dictionary: Discord's locales as keys, each value
/// checked as the field it localizes.
fn check_localizations(
    errors: &mut FormErrors,
    path: &str,
    localizations: &Option<Localizations>,
    check: impl Fn(&mut FormErrors, &str, &str),
) {
    for (locale, text) in localizations.iter().flatten() {
        let path = format!("{path}.{locale}");
        if LOCALES.contains(&locale.as_str()) {
            check(errors, &path, text);
        } else {
            let message = format!("Value must be one of {{{}}}.", LOCALES.join(", "));
            errors.add(&path, "BASE_TYPE_CHOICES", message);
        }
    }
}

/// Drops empty dictionaries: they localize nothing.
fn localizations(l: &Option<Localizations>) -> Option<Localizations> {
    l.clone().filter(|l| !l.is_empty())
}

/// The command `input` describes, in `guild_id` (none: global), with
/// placeholder id, application and version the caller sets; `errors`
/// gets every rule it breaks, under `prefix`.
pub(crate) fn command(
    input: &CommandInput,
    guild_id: Option<Snowflake>,
    prefix: &str,
    errors: &mut FormErrors,
) -> Command {
    let kind = input.kind.unwrap_or(command_type::CHAT_INPUT);
    let chat = kind == command_type::CHAT_INPUT;
    if !matches!(
        kind,
        command_type::CHAT_INPUT | command_type::USER | command_type::MESSAGE
    ) {
        // Entry point commands need an Activity, which no application
        // here has.
        choices_of(errors, &at(prefix, "type"), &[1, 2, 3]);
    }

    let name = input.name.clone().unwrap_or_default();
    let name_path = at(prefix, "name");
    let check_name = |errors: &mut FormErrors, path: &str, name: &str| {
        if chat {
            check_chat_name(errors, path, name);
        } else {
            check_text(errors, path, name, 1, NAME_MAX);
        }
    };
    match &input.name {
        None => required(errors, &name_path),
        Some(name) => check_name(errors, &name_path, name),
    }
    let name_localizations = input.name_localizations.clone().flatten();
    let path = at(prefix, "name_localizations");
    check_localizations(errors, &path, &name_localizations, check_name);

    let description = input.description.clone().flatten().unwrap_or_default();
    let description_localizations = input.description_localizations.clone().flatten();
    let path = at(prefix, "description");
    let localized_path = at(prefix, "description_localizations");
    if chat {
        check_text(errors, &path, &description, 1, DESCRIPTION_MAX);
        check_localizations(
            errors,
            &localized_path,
            &description_localizations,
            |errors, path, text| check_text(errors, path, text, 1, DESCRIPTION_MAX),
        );
    } else {
        // User and message commands have no description.
        check_text(errors, &path, &description, 0, 0);
        if description_localizations
            .as_ref()
            .is_some_and(|l| !l.is_empty())
        {
            too_many(errors, &localized_path, 0);
        }
    }

    let given = input.options.clone().flatten().unwrap_or_default();
    let options_path = at(prefix, "options");
    let options = if chat {
        options(&given, Level::Top, &options_path, errors)
    } else {
        if !given.is_empty() {
            too_many(errors, &options_path, 0);
        }
        Vec::new()
    };

    // Contexts and installation types apply to global commands only.
    let global = guild_id.is_none();
    let contexts = input.contexts.clone().flatten().filter(|_| global);
    check_set(errors, &at(prefix, "contexts"), &contexts, &[0, 1, 2]);
    let integration_types = input.integration_types.clone().flatten().filter(|_| global);
    let path = at(prefix, "integration_types");
    check_set(errors, &path, &integration_types, &[0, 1]);

    let command = Command {
        id: Snowflake(0),
        application_id: Snowflake(0),
        guild_id,
        kind,
        name,
        name_localizations: localizations(&name_localizations),
        description,
        description_localizations: localizations(&description_localizations),
        options,
        default_member_permissions: input.default_member_permissions.flatten(),
        dm_permission: input.dm_permission.flatten().unwrap_or(true),
        nsfw: input.nsfw.flatten().unwrap_or(false),
        contexts,
        integration_types,
        version: Snowflake(0),
    };
    if size(&command) > SIZE_MAX {
        errors.add(
            prefix.trim_end_matches('.'),
            "APPLICATION_COMMAND_TOO_LARGE",
            format!("Command exceeds maximum size ({SIZE_MAX})"),
        );
    }
    command
}

/// A list of enumerated values: each one of `allowed`, none twice, and
/// not empty.
fn check_set(errors: &mut FormErrors, path: &str, values: &Option<Vec<u8>>, allowed: &[u8]) {
    let Some(values) = values else { return };
    if values.is_empty() {
        let message = "Must be 1 or more in length.";
        errors.add(path, "BASE_TYPE_MIN_LENGTH", message);
    }
    let mut seen = HashSet::new();
    for (i, value) in values.iter().enumerate() {
        let path = format!("{path}.{i}");
        if !allowed.contains(value) {
            choices_of(errors, &path, allowed);
        } else if !seen.insert(*value) {
            errors.add(
                &path,
                "BASE_TYPE_DUPLICATE",
                "Duplicate values are not allowed.",
            );
        }
    }
}

/// Where a list of options sits, which says what it may hold.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    /// A command's own options: subcommands and groups, or parameters.
    Top,
    /// A group's: subcommands only.
    Group,
    /// A subcommand's: parameters only.
    Subcommand,
}

fn is_subcommand_kind(kind: Option<u8>) -> bool {
    matches!(
        kind,
        Some(option_type::SUB_COMMAND | option_type::SUB_COMMAND_GROUP)
    )
}

fn options(
    given: &[OptionInput],
    level: Level,
    path: &str,
    errors: &mut FormErrors,
) -> Vec<CommandOption> {
    if given.len() > OPTIONS_MAX {
        too_many(errors, path, OPTIONS_MAX);
    }
    let top_has_subcommands = given.first().is_some_and(|o| is_subcommand_kind(o.kind));
    let mut names = HashSet::new();
    let mut optional_seen = false;
    let mut kept = Vec::with_capacity(given.len());
    for (i, input) in given.iter().enumerate() {
        let here = format!("{path}.{i}");
        let allowed = match level {
            Level::Top => is_subcommand_kind(input.kind) == top_has_subcommands,
            Level::Group => input.kind == Some(option_type::SUB_COMMAND),
            Level::Subcommand => !is_subcommand_kind(input.kind),
        };
        if input.kind.is_some() && !allowed {
            errors.add(
                &here,
                "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                "Sub-command and sub-command group option types are mutually exclusive to all other types",
            );
        }
        if let Some(name) = &input.name
            && !names.insert(name.clone())
        {
            errors.add(
                &format!("{here}.name"),
                "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
                "Option names must be unique",
            );
        }
        if !is_subcommand_kind(input.kind) {
            let required = input.required.unwrap_or(false);
            if required && optional_seen {
                errors.add(
                    &here,
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                );
            }
            optional_seen |= !required;
        }
        kept.push(option(input, &here, errors));
    }
    kept
}

fn option(input: &OptionInput, path: &str, errors: &mut FormErrors) -> CommandOption {
    use option_type::*;
    let field = |name: &str| format!("{path}.{name}");
    let kind = input.kind.unwrap_or(0);
    match input.kind {
        None => required(errors, &field("type")),
        Some(SUB_COMMAND..=ATTACHMENT) => {}
        Some(_) => choices_of(errors, &field("type"), &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
    }
    match &input.name {
        None => required(errors, &field("name")),
        Some(name) => check_chat_name(errors, &field("name"), name),
    }
    check_localizations(
        errors,
        &field("name_localizations"),
        &input.name_localizations,
        check_chat_name,
    );
    match &input.description {
        None => required(errors, &field("description")),
        Some(text) => check_text(errors, &field("description"), text, 1, DESCRIPTION_MAX),
    }
    check_localizations(
        errors,
        &field("description_localizations"),
        &input.description_localizations,
        |errors, path, text| check_text(errors, path, text, 1, DESCRIPTION_MAX),
    );

    let subcommand = matches!(kind, SUB_COMMAND | SUB_COMMAND_GROUP);
    let mut required = input.required.unwrap_or(false);
    if subcommand && required {
        errors.add(
            &field("required"),
            "APPLICATION_COMMAND_REQUIRED_INVALID",
            "Required cannot be configured for this type of option",
        );
        required = false;
    }

    let nested = input.options.clone().unwrap_or_default();
    let options = match kind {
        SUB_COMMAND => options(&nested, Level::Subcommand, &field("options"), errors),
        SUB_COMMAND_GROUP => options(&nested, Level::Group, &field("options"), errors),
        _ => {
            if !nested.is_empty() {
                too_many(errors, &field("options"), 0);
            }
            Vec::new()
        }
    };

    let takes_choices = matches!(kind, STRING | INTEGER | NUMBER);
    let given_choices = input.choices.clone().unwrap_or_default();
    let choices = if takes_choices {
        choices(kind, &given_choices, &field("choices"), errors)
    } else {
        if !given_choices.is_empty() {
            too_many(errors, &field("choices"), 0);
        }
        Vec::new()
    };
    let autocomplete = input.autocomplete.unwrap_or(false);
    if autocomplete && !takes_choices {
        errors.add(
            &field("autocomplete"),
            "APPLICATION_COMMAND_AUTOCOMPLETE_INVALID",
            "Autocomplete can only be enabled for string, integer and number options",
        );
    } else if autocomplete && !choices.is_empty() {
        errors.add(
            &field("autocomplete"),
            "APPLICATION_COMMAND_AUTOCOMPLETE_INVALID",
            "Autocomplete and choices are mutually exclusive",
        );
    }

    let channel_types = input.channel_types.clone().unwrap_or_default();
    if kind == CHANNEL {
        for (i, t) in channel_types.iter().enumerate() {
            if !CHANNEL_TYPES.contains(t) {
                choices_of(errors, &field(&format!("channel_types.{i}")), CHANNEL_TYPES);
            }
        }
    }

    let numeric = matches!(kind, INTEGER | NUMBER);
    let min_value = bound(kind, &input.min_value, &field("min_value"), errors);
    let max_value = bound(kind, &input.max_value, &field("max_value"), errors);
    if let (Some(min), Some(max)) = (&min_value, &max_value)
        && min.as_f64() > max.as_f64()
    {
        let message = format!("Must be greater than or equal to {min}.");
        errors.add(&field("max_value"), "NUMBER_TYPE_MIN", message);
    }

    let min_length = length(&input.min_length, 0, &field("min_length"), errors);
    let max_length = length(&input.max_length, 1, &field("max_length"), errors);
    if let (Some(min), Some(max)) = (min_length, max_length)
        && min > max
    {
        let message = format!("Int value should be greater than or equal to {min}.");
        errors.add(&field("max_length"), "NUMBER_TYPE_MIN", message);
    }

    CommandOption {
        kind,
        name: input.name.clone().unwrap_or_default(),
        name_localizations: localizations(&input.name_localizations),
        description: input.description.clone().unwrap_or_default(),
        description_localizations: localizations(&input.description_localizations),
        required,
        choices,
        options,
        channel_types: if kind == CHANNEL {
            channel_types
        } else {
            Vec::new()
        },
        min_value: min_value.filter(|_| numeric),
        max_value: max_value.filter(|_| numeric),
        min_length: min_length.filter(|_| kind == STRING),
        max_length: max_length.filter(|_| kind == STRING),
        autocomplete: autocomplete && takes_choices,
    }
}

fn choices(
    kind: u8,
    given: &[ChoiceInput],
    path: &str,
    errors: &mut FormErrors,
) -> Vec<CommandChoice> {
    if given.len() > CHOICES_MAX {
        too_many(errors, path, CHOICES_MAX);
    }
    given
        .iter()
        .enumerate()
        .map(|(i, choice)| {
            let field = |name: &str| format!("{path}.{i}.{name}");
            match &choice.name {
                None => required(errors, &field("name")),
                Some(name) => check_text(errors, &field("name"), name, 1, CHOICE_TEXT_MAX),
            }
            check_localizations(
                errors,
                &field("name_localizations"),
                &choice.name_localizations,
                |errors, path, text| check_text(errors, path, text, 1, CHOICE_TEXT_MAX),
            );
            let value_path = field("value");
            match (&choice.value, kind) {
                (Value::String(text), option_type::STRING) => {
                    check_text(errors, &value_path, text, 1, CHOICE_TEXT_MAX)
                }
                (Value::Null, _) => required(errors, &value_path),
                (value, option_type::STRING) => errors.add(
                    &value_path,
                    "STRING_TYPE_CONVERT",
                    format!("Could not interpret \"{value}\" as string."),
                ),
                (value, kind) => {
                    bound(kind, &Some(value.clone()), &value_path, errors);
                }
            }
            CommandChoice {
                name: choice.name.clone().unwrap_or_default(),
                name_localizations: localizations(&choice.name_localizations),
                value: choice.value.clone(),
            }
        })
        .collect()
}

/// A number an `INTEGER` (whole) or `NUMBER` option holds: within ±2^53.
fn bound(kind: u8, value: &Option<Value>, path: &str, errors: &mut FormErrors) -> Option<Number> {
    let value = value.as_ref().filter(|v| !v.is_null())?;
    let number = match value {
        Value::Number(n) => n.clone(),
        other => {
            let what = if kind == option_type::INTEGER {
                "int"
            } else {
                "a valid number"
            };
            let message = format!("Value \"{other}\" is not {what}.");
            errors.add(path, "NUMBER_TYPE_COERCE", message);
            return None;
        }
    };
    let as_float = number.as_f64().unwrap_or(f64::INFINITY);
    if kind == option_type::INTEGER && !(number.is_i64() || number.is_u64()) {
        let message = format!("Value \"{number}\" is not int.");
        errors.add(path, "NUMBER_TYPE_COERCE", message);
        None
    } else if as_float.abs() > NUMBER_BOUND {
        let message = format!("Int value should be less than or equal to {NUMBER_BOUND}.");
        errors.add(path, "NUMBER_TYPE_MAX", message);
        None
    } else {
        Some(number)
    }
}

/// `min_length` or `max_length`: within `min..=6000`.
fn length(value: &Option<i64>, min: i64, path: &str, errors: &mut FormErrors) -> Option<u16> {
    let value = (*value)?;
    if value < min {
        let message = format!("Int value should be greater than or equal to {min}.");
        errors.add(path, "NUMBER_TYPE_MIN", message);
        None
    } else if value > LENGTH_MAX {
        let message = format!("Int value should be less than or equal to {LENGTH_MAX}.");
        errors.add(path, "NUMBER_TYPE_MAX", message);
        None
    } else {
        u16::try_from(value).ok()
    }
}

/// How much text a command holds, as Discord counts it against 8000: each
/// name and description (its longest localization, if longer), each
/// choice's name and value, through every option.
pub(crate) fn size(command: &Command) -> usize {
    fn longest(text: &str, l: &Option<Localizations>) -> usize {
        let localized = l.iter().flatten().map(|(_, t)| t.chars().count());
        localized.fold(text.chars().count(), usize::max)
    }
    fn of_options(options: &[CommandOption]) -> usize {
        options
            .iter()
            .map(|o| {
                let choices: usize = o
                    .choices
                    .iter()
                    .map(|c| {
                        let value = match &c.value {
                            Value::String(s) => s.chars().count(),
                            other => other.to_string().len(),
                        };
                        longest(&c.name, &c.name_localizations) + value
                    })
                    .sum();
                longest(&o.name, &o.name_localizations)
                    + longest(&o.description, &o.description_localizations)
                    + choices
                    + of_options(&o.options)
            })
            .sum()
    }
    longest(&command.name, &command.name_localizations)
        + longest(&command.description, &command.description_localizations)
        + of_options(&command.options)
}

/// A command permissions edit: a list of at most 100 overwrites, each a
/// role (1), user (2) or channel (3).
pub(crate) fn permissions(input: &EditCommandPermissions) -> ServiceResult<Vec<CommandPermission>> {
    let mut errors = FormErrors::new();
    let Some(given) = &input.permissions else {
        required(&mut errors, "permissions");
        return Err(ServiceError::InvalidForm(errors));
    };
    if given.len() > PERMISSIONS_MAX {
        too_many(&mut errors, "permissions", PERMISSIONS_MAX);
    }
    for (i, p) in given.iter().enumerate() {
        if !(1..=3).contains(&p.kind) {
            choices_of(&mut errors, &format!("permissions.{i}.type"), &[1, 2, 3]);
        }
    }
    errors.into_result()?;
    Ok(given
        .iter()
        .map(|p| CommandPermission {
            id: p.id,
            kind: p.kind,
            permission: p.permission,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors_of(body: serde_json::Value) -> serde_json::Value {
        let input: CommandInput = serde_json::from_value(body).unwrap();
        let mut errors = FormErrors::new();
        command(&input, None, "", &mut errors);
        errors.to_json()
    }

    #[test]
    fn chat_input_names_follow_discords_pattern() {
        for good in [
            "ping",
            "a-b_c",
            "día",
            "日本語",
            "नमस्ते",
            "สวัสดี",
            "it's",
            "x1",
        ] {
            let errors = errors_of(serde_json::json!({"name": good, "description": "d"}));
            assert_eq!(errors, serde_json::json!({}), "{good}");
        }
        for bad in ["Ping", "with space", "a.b", "", "emoji😀", &"x".repeat(33)] {
            let errors = errors_of(serde_json::json!({"name": bad, "description": "d"}));
            assert!(errors["name"]["_errors"].is_array(), "{bad}: {errors}");
        }
        // User and message commands take any text.
        let errors = errors_of(serde_json::json!({"name": "High Five!", "type": 2}));
        assert_eq!(errors, serde_json::json!({}));
    }

    #[test]
    fn size_counts_the_longest_localization() {
        let input: CommandInput = serde_json::from_value(serde_json::json!({
            "name": "abc",
            "name_localizations": {"fr": "abcdef"},
            "description": "12345",
            "options": [{"type": 3, "name": "o", "description": "dd",
                "choices": [{"name": "n", "value": "vvv"}]}],
        }))
        .unwrap();
        let mut errors = FormErrors::new();
        let c = command(&input, None, "", &mut errors);
        assert!(errors.is_empty());
        assert_eq!(size(&c), 6 + 5 + 1 + 2 + 1 + 3);
    }
}

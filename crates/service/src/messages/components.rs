//! Message components as Discord checks them before keeping them as sent:
//! up to 5 action rows, each holding up to 5 buttons or one select (or, in
//! a modal, one text input); buttons by style (1 to 4 with a `custom_id`,
//! 5 a link with a `url`, 6 a premium button with a `sku_id`); selects
//! (string, user, role, mentionable, channel) with a `custom_id`, 0 to 25
//! values and, for strings, 1 to 25 options; every `custom_id` of 1 to 100
//! characters and unique in the message.

use std::collections::HashSet;

use serde_json::Value;

use crate::FormErrors;

const ACTION_ROW: u64 = 1;
const BUTTON: u64 = 2;
const STRING_SELECT: u64 = 3;
const TEXT_INPUT: u64 = 4;
const LINK: u64 = 5;
const PREMIUM: u64 = 6;

fn kind(component: &Value) -> Option<u64> {
    component.get("type").and_then(Value::as_u64)
}

fn is_select(kind: Option<u64>) -> bool {
    matches!(kind, Some(3 | 5..=8))
}

fn text<'a>(component: &'a Value, field: &str) -> Option<&'a str> {
    component.get(field).and_then(Value::as_str)
}

/// A message's `components` (at `prefix`, `components` or
/// `data.components`); `modal` for a modal's, which hold text inputs only.
pub(crate) fn check(errors: &mut FormErrors, prefix: &str, components: &[Value], modal: bool) {
    if components.len() > 5 {
        errors.add(
            prefix,
            "BASE_TYPE_MAX_LENGTH",
            "Must be 5 or fewer in length.",
        );
    }
    let mut ids = HashSet::new();
    for (i, row) in components.iter().enumerate() {
        let path = format!("{prefix}.{i}");
        if kind(row) != Some(ACTION_ROW) {
            let message = "Value of field \"type\" must be one of (1,).";
            errors.add(&format!("{path}.type"), "UNION_TYPE_CHOICES", message);
            continue;
        }
        let children = row.get("components").and_then(Value::as_array);
        let Some(children) = children.filter(|c| !c.is_empty()) else {
            errors.add(
                &format!("{path}.components"),
                "BASE_TYPE_REQUIRED",
                "This field is required",
            );
            continue;
        };
        let wide = children
            .iter()
            .any(|c| is_select(kind(c)) || kind(c) == Some(TEXT_INPUT));
        if children.len() > 5 || (wide && children.len() > 1) {
            let message = "The specified component exceeds the maximum width";
            errors.add(
                &format!("{path}.components"),
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                message,
            );
        }
        for (j, component) in children.iter().enumerate() {
            let path = format!("{path}.components.{j}");
            match kind(component) {
                Some(TEXT_INPUT) if modal => text_input(errors, &path, component, &mut ids),
                Some(BUTTON) if !modal => button(errors, &path, component, &mut ids),
                k if is_select(k) && !modal => select(errors, &path, component, &mut ids),
                _ => errors.add(
                    &format!("{path}.type"),
                    "UNION_TYPE_CHOICES",
                    "Invalid component type.",
                ),
            }
        }
    }
}

/// What a webhook no application owns may send (`components` at
/// `prefix`): nothing anyone interacts with, so link buttons alone; every
/// other component of a row is refused at its path.
pub(crate) fn check_non_interactive(errors: &mut FormErrors, prefix: &str, components: &[Value]) {
    for (i, row) in components.iter().enumerate() {
        let children = row.get("components").and_then(Value::as_array);
        for (j, component) in children.into_iter().flatten().enumerate() {
            let link = kind(component) == Some(BUTTON)
                && component.get("style").and_then(Value::as_u64) == Some(LINK);
            if !link {
                errors.add(
                    &format!("{prefix}.{i}.components.{j}"),
                    "COMPONENT_INTERACTIVE_NOT_ALLOWED",
                    "Only non-interactive components may be sent by this webhook.",
                );
            }
        }
    }
}

/// A `custom_id` of 1 to 100 characters, unique in the message.
fn custom_id(errors: &mut FormErrors, path: &str, component: &Value, ids: &mut HashSet<String>) {
    let path = format!("{path}.custom_id");
    match text(component, "custom_id") {
        None => errors.add(&path, "BASE_TYPE_REQUIRED", "This field is required"),
        Some(id) if id.is_empty() || id.chars().count() > 100 => errors.add(
            &path,
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 100 in length.",
        ),
        Some(id) if !ids.insert(id.to_owned()) => errors.add(
            &path,
            "COMPONENT_CUSTOM_ID_DUPLICATED",
            "Component custom id cannot be duplicated",
        ),
        Some(_) => {}
    }
}

fn at_most(errors: &mut FormErrors, path: &str, component: &Value, field: &str, max: usize) {
    if text(component, field).is_some_and(|t| t.chars().count() > max) {
        let message = format!("Must be {max} or fewer in length.");
        errors.add(&format!("{path}.{field}"), "BASE_TYPE_MAX_LENGTH", message);
    }
}

fn button(errors: &mut FormErrors, path: &str, component: &Value, ids: &mut HashSet<String>) {
    at_most(errors, path, component, "label", 80);
    match component.get("style").and_then(Value::as_u64) {
        Some(1..=4) => custom_id(errors, path, component, ids),
        Some(LINK) => {
            if text(component, "url").is_none_or(|u| u.is_empty() || u.len() > 512) {
                errors.add(
                    &format!("{path}.url"),
                    "BASE_TYPE_REQUIRED",
                    "This field is required",
                );
            }
            if component.get("custom_id").is_some() {
                let message = "A link button cannot have a custom id";
                errors.add(
                    &format!("{path}.custom_id"),
                    "BUTTON_COMPONENT_CUSTOM_ID_WITH_URL",
                    message,
                );
            }
        }
        Some(PREMIUM) => {
            if component.get("sku_id").is_none() {
                errors.add(
                    &format!("{path}.sku_id"),
                    "BASE_TYPE_REQUIRED",
                    "This field is required",
                );
            }
        }
        _ => errors.add(
            &format!("{path}.style"),
            "BASE_TYPE_CHOICES",
            "Value must be one of (1, 2, 3, 4, 5, 6).",
        ),
    }
}

fn select(errors: &mut FormErrors, path: &str, component: &Value, ids: &mut HashSet<String>) {
    custom_id(errors, path, component, ids);
    at_most(errors, path, component, "placeholder", 150);
    let bound = |field: &str, min: u64| {
        component
            .get(field)
            .map(|v| v.as_u64().filter(|n| (min..=25).contains(n)))
    };
    let (least, most) = (bound("min_values", 0), bound("max_values", 1));
    for (field, value) in [("min_values", least), ("max_values", most)] {
        if value == Some(None) {
            let message = "Must be between 0 and 25.";
            errors.add(&format!("{path}.{field}"), "NUMBER_TYPE_MAX", message);
        }
    }
    let options = component.get("options").and_then(Value::as_array);
    if kind(component) == Some(STRING_SELECT) {
        match options {
            Some(options) if (1..=25).contains(&options.len()) => {
                for (k, option) in options.iter().enumerate() {
                    let path = format!("{path}.options.{k}");
                    for field in ["label", "value"] {
                        if text(option, field).is_none_or(|t| t.is_empty()) {
                            let message = "This field is required";
                            errors.add(&format!("{path}.{field}"), "BASE_TYPE_REQUIRED", message);
                        }
                        at_most(errors, &path, option, field, 100);
                    }
                }
                let most = most.flatten().unwrap_or(1) as usize;
                if most > options.len() {
                    let message = "max_values exceeds the number of options";
                    errors.add(
                        &format!("{path}.max_values"),
                        "SELECT_COMPONENT_TOO_MANY_VALUES",
                        message,
                    );
                }
            }
            _ => errors.add(
                &format!("{path}.options"),
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 25 in length.",
            ),
        }
    }
    if let (Some(Some(least)), Some(Some(most))) = (least, most)
        && least > most
    {
        let message = "min_values cannot exceed max_values";
        errors.add(
            &format!("{path}.min_values"),
            "SELECT_COMPONENT_MIN_GREATER_THAN_MAX",
            message,
        );
    }
}

fn text_input(errors: &mut FormErrors, path: &str, component: &Value, ids: &mut HashSet<String>) {
    custom_id(errors, path, component, ids);
    if text(component, "label").is_none_or(|l| l.is_empty()) {
        errors.add(
            &format!("{path}.label"),
            "BASE_TYPE_REQUIRED",
            "This field is required",
        );
    }
    at_most(errors, path, component, "label", 45);
    if !matches!(component.get("style").and_then(Value::as_u64), Some(1 | 2)) {
        errors.add(
            &format!("{path}.style"),
            "BASE_TYPE_CHOICES",
            "Value must be one of (1, 2).",
        );
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn codes(components: Value, modal: bool) -> Vec<(String, String)> {
        let mut errors = FormErrors::new();
        check(
            &mut errors,
            "components",
            components.as_array().unwrap(),
            modal,
        );
        let body = errors.to_json();
        let mut out = Vec::new();
        collect(&body, String::new(), &mut out);
        out.sort();
        out
    }

    fn collect(node: &Value, path: String, out: &mut Vec<(String, String)>) {
        let Some(map) = node.as_object() else { return };
        for (key, value) in map {
            if key == "_errors" {
                for e in value.as_array().into_iter().flatten() {
                    out.push((path.clone(), e["code"].as_str().unwrap_or("").to_owned()));
                }
            } else {
                let next = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                collect(value, next, out);
            }
        }
    }

    #[test]
    fn rows_of_buttons_and_selects_pass() {
        let row = json!([
            { "type": 1, "components": [
                { "type": 2, "style": 1, "label": "Go", "custom_id": "go" },
                { "type": 2, "style": 5, "label": "Docs", "url": "https://example.org" }
            ]},
            { "type": 1, "components": [
                { "type": 3, "custom_id": "pick", "max_values": 2,
                  "options": [{ "label": "A", "value": "a" }, { "label": "B", "value": "b" }] }
            ]},
            { "type": 1, "components": [{ "type": 5, "custom_id": "who" }] }
        ]);
        assert_eq!(codes(row, false), vec![]);
        let modal = json!([{ "type": 1, "components": [
            { "type": 4, "custom_id": "name", "label": "Name", "style": 1 }
        ]}]);
        assert_eq!(codes(modal, true), vec![]);
    }

    #[test]
    fn what_discord_refuses() {
        let bad = json!([
            { "type": 2, "style": 1, "custom_id": "loose" },
            { "type": 1, "components": [
                { "type": 2, "style": 1, "custom_id": "same" },
                { "type": 2, "style": 2, "custom_id": "same" },
                { "type": 2, "style": 5, "custom_id": "x" },
                { "type": 3, "custom_id": "pick", "options": [] }
            ]}
        ]);
        let found = codes(bad, false);
        let has = |path: &str, code: &str| found.contains(&(path.to_owned(), code.to_owned()));
        assert!(has("components.0.type", "UNION_TYPE_CHOICES"), "{found:?}");
        assert!(
            has("components.1.components", "COMPONENT_LAYOUT_WIDTH_EXCEEDED"),
            "{found:?}"
        );
        assert!(
            has(
                "components.1.components.1.custom_id",
                "COMPONENT_CUSTOM_ID_DUPLICATED"
            ),
            "{found:?}"
        );
        assert!(
            has("components.1.components.2.url", "BASE_TYPE_REQUIRED"),
            "{found:?}"
        );
        assert!(
            has("components.1.components.3.options", "BASE_TYPE_BAD_LENGTH"),
            "{found:?}"
        );
        // A message holds no text input; a modal nothing else.
        let input = json!([{ "type": 1, "components": [{ "type": 4, "custom_id": "t", "label": "T", "style": 1 }] }]);
        assert!(!codes(input.clone(), false).is_empty());
        assert!(codes(input, true).is_empty());
    }
}

//! `POST /webhooks/{id}/{token}/slack`: Slack's incoming-webhook body
//! (`text`, `username`, `icon_url`, `attachments`) as a Discord message:
//! the text as content (Slack's `<url|label>` links as Markdown links),
//! each attachment as an embed.

use serde_json::{Map, Value, json};

use super::input::ExecuteWebhook;

/// Embeds a message carries at most.
const EMBEDS_MAX: usize = 10;

/// Slack's link markup, `<url|label>` and `<url>`, as Markdown.
fn links(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('>') {
            Some(end) => {
                let inner = &after[..end];
                match inner.split_once('|') {
                    Some((url, label)) => out.push_str(&format!("[{label}]({url})")),
                    None => out.push_str(inner),
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push('<');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn text(value: &Value, key: &str) -> Option<String> {
    value
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(links)
}

/// `#36a64f` (or `good`, `warning`, `danger`) as a number.
fn color(value: &str) -> Option<u32> {
    match value {
        "good" => Some(0x2eb886),
        "warning" => Some(0xdaa038),
        "danger" => Some(0xa30200),
        hex => u32::from_str_radix(hex.trim_start_matches('#'), 16).ok(),
    }
}

fn attachment_embed(a: &Value) -> Value {
    let mut embed = Map::new();
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            embed.insert(key.to_owned(), value);
        }
    };
    put("title", text(a, "title").map(Value::from));
    put("url", text(a, "title_link").map(Value::from));
    let description = text(a, "text").or_else(|| text(a, "pretext"));
    put("description", description.map(Value::from));
    put(
        "color",
        a.get("color")
            .and_then(Value::as_str)
            .and_then(color)
            .map(Value::from),
    );
    put(
        "author",
        text(a, "author_name").map(|name| {
            json!({ "name": name, "url": text(a, "author_link"), "icon_url": text(a, "author_icon") })
        }),
    );
    let fields: Vec<Value> = a
        .get("fields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|f| {
            json!({
                "name": text(f, "title").unwrap_or_default(),
                "value": text(f, "value").unwrap_or_default(),
                "inline": f.get("short").and_then(Value::as_bool).unwrap_or(false),
            })
        })
        .collect();
    put("fields", (!fields.is_empty()).then(|| Value::from(fields)));
    put(
        "image",
        text(a, "image_url").map(|url| json!({ "url": url })),
    );
    put(
        "thumbnail",
        text(a, "thumb_url").map(|url| json!({ "url": url })),
    );
    put(
        "footer",
        text(a, "footer")
            .map(|footer| json!({ "text": footer, "icon_url": text(a, "footer_icon") })),
    );
    Value::Object(embed)
}

/// The message a Slack body posts.
pub fn slack_message(body: &Value) -> ExecuteWebhook {
    let embeds: Vec<Value> = body
        .get("attachments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .take(EMBEDS_MAX)
        .map(attachment_embed)
        .collect();
    ExecuteWebhook {
        content: text(body, "text"),
        username: text(body, "username"),
        avatar_url: text(body, "icon_url"),
        embeds: (!embeds.is_empty()).then_some(embeds),
        ..ExecuteWebhook::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_attachments() {
        let body = json!({
            "text": "Deployed <https://example.com|the site> and <https://example.org>",
            "username": "deploy",
            "attachments": [{"title": "Build 12", "title_link": "https://ci", "color": "#36a64f",
                "text": "passed", "fields": [{"title": "Branch", "value": "main", "short": true}]}],
        });
        let message = slack_message(&body);
        assert_eq!(
            message.content.as_deref(),
            Some("Deployed [the site](https://example.com) and https://example.org")
        );
        assert_eq!(message.username.as_deref(), Some("deploy"));
        let embed = &message.embeds.unwrap()[0];
        assert_eq!(embed["title"], "Build 12");
        assert_eq!(embed["color"], 0x36a64f);
        assert_eq!(embed["fields"][0]["inline"], true);
    }
}

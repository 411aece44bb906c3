//! What the index knows of a message: the fields a search can filter on,
//! and nothing it would have to render. Results are ids; the message
//! itself is always read from the store, so the index never serves stale
//! content.

use concord_model::Snowflake;
use concord_model::records::{Message, message_type};

/// What a message contains, as Discord's `has` search parameter names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Has {
    Link,
    Embed,
    File,
    Image,
    Video,
    Sound,
    Sticker,
}

impl Has {
    pub const ALL: [Has; 7] = [
        Has::Link,
        Has::Embed,
        Has::File,
        Has::Image,
        Has::Video,
        Has::Sound,
        Has::Sticker,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Has::Link => "link",
            Has::Embed => "embed",
            Has::File => "file",
            Has::Image => "image",
            Has::Video => "video",
            Has::Sound => "sound",
            Has::Sticker => "sticker",
        }
    }

    pub fn parse(name: &str) -> Option<Has> {
        Has::ALL.into_iter().find(|h| h.as_str() == name)
    }
}

/// One message as the index stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageDoc {
    pub id: Snowflake,
    pub channel_id: Snowflake,
    pub guild_id: Option<Snowflake>,
    pub author_id: Snowflake,
    pub content: String,
    pub mentions: Vec<Snowflake>,
    pub has: Vec<Has>,
    pub pinned: bool,
}

fn has_link(content: &str) -> bool {
    content.contains("https://") || content.contains("http://")
}

/// Whether an embed shows media of `kind` ("image" or "video"): by its
/// type, or by carrying that object.
fn embed_shows(embed: &serde_json::Value, kind: &str) -> bool {
    embed.get("type").and_then(|t| t.as_str()) == Some(kind) || embed.get(kind).is_some()
}

impl MessageDoc {
    /// The document for a message people wrote; system notices (pins,
    /// joins) are not searched, as on Discord.
    pub fn of(m: &Message) -> Option<MessageDoc> {
        message_type::is_editable(m.kind).then(|| MessageDoc::from(m))
    }
}

impl From<&Message> for MessageDoc {
    fn from(m: &Message) -> MessageDoc {
        let mut has = Vec::new();
        if has_link(&m.content) {
            has.push(Has::Link);
        }
        if !m.embeds.is_empty() {
            has.push(Has::Embed);
        }
        if !m.attachments.is_empty() {
            has.push(Has::File);
        }
        let attached = |prefix: &str| {
            m.attachments.iter().any(|a| {
                a.content_type
                    .as_deref()
                    .is_some_and(|t| t.starts_with(prefix))
            })
        };
        for (kind, which) in [("image", Has::Image), ("video", Has::Video)] {
            if m.embeds.iter().any(|e| embed_shows(e, kind)) || attached(&format!("{kind}/")) {
                has.push(which);
            }
        }
        if attached("audio/") {
            has.push(Has::Sound);
        }
        MessageDoc {
            id: m.id,
            channel_id: m.channel_id,
            guild_id: m.guild_id,
            author_id: m.author_id,
            content: m.content.clone(),
            mentions: m.mentions.clone(),
            has,
            pinned: m.pinned,
        }
    }
}

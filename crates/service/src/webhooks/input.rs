//! What webhook routes read: a new or changed webhook, and a message to
//! execute.

use concord_model::Snowflake;
use serde::Deserialize;
use serde_json::Value;

use crate::attachments::Upload;
use crate::attachments::metadata::AttachmentRequest;
use crate::input::nullable;
use crate::messages::{AllowedMentions, CreateMessage, PollInput};

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct CreateWebhook {
    pub name: String,
    /// An image data URI.
    pub avatar: Option<String>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct ModifyWebhook {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub avatar: Option<Option<String>>,
    /// Moves it (not through its token).
    pub channel_id: Option<Snowflake>,
}

/// `POST /webhooks/{id}/{token}`: a message, and who it shows as.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct ExecuteWebhook {
    /// Files from a multipart request (`files[n]`), not part of the JSON.
    #[serde(skip)]
    pub uploads: Vec<Upload>,
    pub content: Option<String>,
    pub username: Option<String>,
    pub avatar_url: Option<String>,
    #[serde(default)]
    pub tts: bool,
    pub embeds: Option<Vec<Value>>,
    pub allowed_mentions: Option<AllowedMentions>,
    pub flags: Option<u64>,
    pub poll: Option<PollInput>,
    /// An interaction's follow-up may carry any; a webhook's message
    /// link buttons alone, and only when asked `with_components`.
    pub components: Option<Vec<Value>>,
    /// A forum's webhook starts a post of this name with the message.
    pub thread_name: Option<String>,
    /// That post's tags, of the forum's.
    pub applied_tags: Option<Vec<Snowflake>>,
    /// The uploaded files' names and descriptions.
    pub attachments: Option<Vec<AttachmentRequest>>,
}

impl ExecuteWebhook {
    /// The message part, as any message is checked.
    pub(crate) fn message(self) -> (CreateMessage, Option<String>, Option<String>) {
        let message = CreateMessage {
            uploads: self.uploads,
            content: self.content,
            tts: self.tts,
            embeds: self.embeds,
            allowed_mentions: self.allowed_mentions,
            flags: self.flags,
            poll: self.poll,
            components: self.components,
            attachments: self.attachments,
            ..CreateMessage::default()
        };
        (message, self.username, self.avatar_url)
    }
}

/// Where an execution goes and what it answers.
#[derive(Debug, Default, Clone, Copy)]
pub struct ExecuteOptions {
    /// Answer with the message (else nothing).
    pub wait: bool,
    /// A thread of the webhook's channel to post in.
    pub thread_id: Option<Snowflake>,
    /// Posted through a service's format (the Slack and GitHub routes),
    /// which a forum refuses, as Discord's do.
    pub service: bool,
    /// Take the message's `components` (else they are ignored, as
    /// Discord ignores them without `with_components`).
    pub with_components: bool,
}

//! Interactions: a person invokes an application's command, clicks a
//! component of its message or submits its modal (`invoke`); the
//! application's bot gets INTERACTION_CREATE with a token, or its
//! interactions endpoint a signed POST (`endpoint`, `signing`), and
//! answers once within 3 seconds, then follows up for 15 minutes through
//! `/webhooks/{application_id}/{token}` (`respond`).
//!
//! Every node may take any step, so an interaction's state is in the
//! store, never in one node's memory: its record (`interaction:{id}`,
//! meta), and its acknowledgement, one conditional write
//! (`put_meta_if_absent` of `interaction:{id}:ack`) that either the first
//! callback wins (`ack:...`) or, at the deadline, the accepting node's
//! timer (`failed`, then INTERACTION_FAILURE to the invoker). Ephemeral
//! messages (flag 64) are kept beside it (`ephemeral:{message_id}`), never
//! in the channel: only the invoker's sessions hear of them and only the
//! token reads them. Once the token has closed, whichever node holds the
//! sweep's lease removes all of it, with the ephemeral messages' files
//! (`expiry`), whether or not the node that accepted it still runs.
//!
//! The token is `base64url("interaction:{id}:{secret}")`, so the webhook
//! routes tell it from a webhook's by its shape (`token::parse`) and the
//! secret is compared in constant time.
//!
//! Depends on access, commands (the records), messages, webhooks (the
//! poster's view).

mod endpoint;
pub mod expiry;
mod index;
pub mod input;
mod invoke;
mod modals;
mod respond;
pub(crate) mod signing;
pub(crate) mod token;

use std::time::Duration;

use concord_model::Snowflake;
use concord_model::event::{Audience, Event, EventKind};
use concord_model::records::Message;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use input::{CreateInteraction, InteractionCallback};
pub use respond::{CallbackInteraction, CallbackResource, CallbackResponse, WebhookMessageId};

use crate::Service;
use crate::events::announce;

/// The initial response's deadline.
pub const RESPONSE_DEADLINE: Duration = Duration::from_secs(3);
/// How long the token opens follow-ups.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);

pub mod interaction_type {
    pub const PING: u8 = 1;
    pub const APPLICATION_COMMAND: u8 = 2;
    pub const MESSAGE_COMPONENT: u8 = 3;
    pub const APPLICATION_COMMAND_AUTOCOMPLETE: u8 = 4;
    pub const MODAL_SUBMIT: u8 = 5;
}

/// An interaction as every node reads it back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Interaction {
    pub id: Snowflake,
    #[serde(rename = "type")]
    pub kind: u8,
    pub application_id: Snowflake,
    pub secret: String,
    pub user_id: Snowflake,
    pub guild_id: Option<Snowflake>,
    /// Invoked in a private channel through the invoker's installation.
    #[serde(default)]
    pub user_install: bool,
    pub channel_id: Snowflake,
    pub nonce: Option<Value>,
    pub command_name: Option<String>,
    pub command_type: Option<u8>,
    /// The component's message (type 3, or a modal opened from one).
    pub message_id: Option<Snowflake>,
    /// The first response once there is one, and whether it is ephemeral.
    pub original: Option<Snowflake>,
    #[serde(default)]
    pub original_ephemeral: bool,
    /// Ephemeral messages answering it, removed with it.
    #[serde(default)]
    pub ephemeral: Vec<Snowflake>,
    /// The modal it opened (its `custom_id`), forgotten with it if never
    /// submitted.
    #[serde(default)]
    pub modal: Option<String>,
}

impl Interaction {
    fn created_ms(&self) -> u64 {
        self.id.timestamp_ms()
    }

    pub(crate) fn past(&self, after: Duration) -> bool {
        concord_model::snowflake::now_ms() > self.created_ms() + after.as_millis() as u64
    }

    /// Who is told of its progress.
    pub(crate) fn invoker(&self) -> Audience {
        Audience::Users(vec![self.user_id])
    }

    /// The metadata its responses carry.
    pub(crate) fn metadata(&self, follow_up: bool) -> concord_model::records::InteractionMetadata {
        concord_model::records::InteractionMetadata {
            id: self.id,
            kind: self.kind,
            application_id: self.application_id,
            user_id: self.user_id,
            guild_id: self.guild_id,
            user_install: self.user_install,
            name: self.command_name.clone(),
            command_type: self.command_type,
            original_response_message_id: if follow_up { self.original } else { None },
            interacted_message_id: self.message_id,
        }
    }
}

/// An ephemeral message and who alone may see it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Ephemeral {
    pub user_id: Snowflake,
    pub interaction_id: Snowflake,
    pub message: Message,
}

fn record_key(id: Snowflake) -> String {
    format!("interaction:{id}")
}

fn ack_key(id: Snowflake) -> String {
    format!("interaction:{id}:ack")
}

fn ephemeral_key(message_id: Snowflake) -> String {
    format!("ephemeral:{message_id}")
}

const FAILED: &[u8] = b"failed";

impl Service {
    pub(crate) async fn interaction_record(
        &self,
        id: Snowflake,
    ) -> crate::ServiceResult<Option<Interaction>> {
        let Some(raw) = self.store.meta(&record_key(id)).await? else {
            return Ok(None);
        };
        Ok(serde_json::from_slice(&raw).ok())
    }

    pub(crate) async fn save_interaction(
        &self,
        interaction: &Interaction,
    ) -> crate::ServiceResult<()> {
        let raw = serde_json::to_vec(interaction)
            .map_err(|e| crate::ServiceError::Internal(e.to_string()))?;
        self.store
            .put_meta(&record_key(interaction.id), &raw)
            .await?;
        Ok(())
    }

    pub(crate) async fn ephemeral_message(
        &self,
        message_id: Snowflake,
    ) -> crate::ServiceResult<Option<Ephemeral>> {
        let Some(raw) = self.store.meta(&ephemeral_key(message_id)).await? else {
            return Ok(None);
        };
        Ok(serde_json::from_slice(&raw).ok())
    }

    pub(crate) async fn save_ephemeral(&self, ephemeral: &Ephemeral) -> crate::ServiceResult<()> {
        let raw = serde_json::to_vec(ephemeral)
            .map_err(|e| crate::ServiceError::Internal(e.to_string()))?;
        self.store
            .put_meta(&ephemeral_key(ephemeral.message.id), &raw)
            .await?;
        Ok(())
    }

    /// Fails the interaction at its deadline unless it was answered
    /// (telling the invoker, but of an autocomplete); [`expiry`] forgets
    /// it once its token closes. Runs on the node that accepted it; the outcome
    /// is decided in the store, so a callback on any node and this timer
    /// never both win.
    fn watch_deadline(&self, interaction: &Interaction) {
        let (store, bus, node) = (self.store.clone(), self.bus.clone(), self.node);
        let (id, nonce, invoker) = (
            interaction.id,
            interaction.nonce.clone(),
            interaction.invoker(),
        );
        let tell = interaction.kind != interaction_type::APPLICATION_COMMAND_AUTOCOMPLETE;
        tokio::spawn(async move {
            tokio::time::sleep(RESPONSE_DEADLINE).await;
            match store.put_meta_if_absent(&ack_key(id), FAILED).await {
                Ok(outcome) if outcome == FAILED && tell => {
                    let data = serde_json::json!({
                        "id": id,
                        "nonce": nonce,
                        "reason": "The application did not respond",
                    });
                    let event = Event::new(EventKind::InteractionFailure, invoker, node, &data);
                    announce(&*bus, event).await;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "interaction deadline not settled"),
            }
        });
    }
}

/// A 50035 refusal of one field.
pub(crate) fn bad<T>(path: &str, code: &str, message: &str) -> crate::ServiceResult<T> {
    Err(crate::ServiceError::InvalidForm(crate::FormErrors::single(
        path, code, message,
    )))
}

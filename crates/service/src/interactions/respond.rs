//! An application answers: the callback (once, within the deadline),
//! then follow-ups and its responses read, edited and deleted through
//! `/webhooks/{application_id}/{token}` for 15 minutes. Responses are
//! messages of its bot, typed as Discord types them (20 for a chat-input
//! command, 23 for a context menu, 0 for components and modals), with
//! `interaction_metadata`; ephemeral ones (flag 64) reach the invoker
//! alone and stay out of the channel.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use concord_model::event::{Audience, EventKind};
use concord_model::records::{Message, message_type};
use concord_model::{Snowflake, codes, wire};
use serde::Serialize;
use serde_json::{Value, json};

use super::input::InteractionCallback;
use super::interaction_type::*;
use super::{
    Ephemeral, FAILED, Interaction, RESPONSE_DEADLINE, TOKEN_LIFETIME, ack_key, bad, token,
};
use crate::messages::message::LOADING;
use crate::messages::{CreateMessage, EditMessage};
use crate::webhooks::same_token;
use crate::{Caller, ChannelView, Service, ServiceError, ServiceResult};

/// Seen by the invoker alone.
pub(crate) const EPHEMERAL: u64 = 64;

/// Callback types.
mod callback {
    pub(super) const PONG: u8 = 1;
    pub(super) const CHANNEL_MESSAGE_WITH_SOURCE: u8 = 4;
    pub(super) const DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE: u8 = 5;
    pub(super) const DEFERRED_UPDATE_MESSAGE: u8 = 6;
    pub(super) const UPDATE_MESSAGE: u8 = 7;
    pub(super) const AUTOCOMPLETE_RESULT: u8 = 8;
    pub(super) const MODAL: u8 = 9;
}

/// A message a webhook route names: `@original` (an interaction's first
/// response) or an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookMessageId {
    Original,
    Id(Snowflake),
}

/// A response as it is kept: in the channel, or beside the interaction.
enum Response {
    Channel(Message),
    Ephemeral(Ephemeral),
}

/// What a callback leaves behind.
struct Answered {
    message: Option<wire::Message>,
    loading: bool,
    ephemeral: bool,
}

/// A callback's answer when asked `with_response`: the interaction and
/// what the callback made of it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CallbackResponse {
    pub interaction: CallbackInteraction,
    pub resource: CallbackResource,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CallbackInteraction {
    pub id: Snowflake,
    #[serde(rename = "type")]
    pub kind: u8,
    /// Activities are not Concord's: always null.
    pub activity_instance_id: Option<String>,
    pub response_message_id: Option<Snowflake>,
    pub response_message_loading: bool,
    pub response_message_ephemeral: bool,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CallbackResource {
    /// The callback's type.
    #[serde(rename = "type")]
    pub kind: u8,
    /// The message it sent or updated, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<wire::Message>,
}

impl Service {
    /// `POST /interactions/{id}/{token}/callback`: the interaction
    /// callback response when `with_response`, else `None` (204).
    pub async fn interaction_callback(
        &self,
        id: Snowflake,
        token: &str,
        input: InteractionCallback,
        with_response: bool,
    ) -> ServiceResult<Option<CallbackResponse>> {
        let mut interaction = self
            .opened_interaction(token)
            .await?
            .filter(|i| i.id == id)
            .ok_or(ServiceError::NotFound(codes::UNKNOWN_INTERACTION))?;
        let from_component = interaction.message_id.is_some();
        let allowed = match input.kind {
            callback::CHANNEL_MESSAGE_WITH_SOURCE
            | callback::DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE => {
                interaction.kind != APPLICATION_COMMAND_AUTOCOMPLETE
            }
            callback::DEFERRED_UPDATE_MESSAGE | callback::UPDATE_MESSAGE => from_component,
            callback::AUTOCOMPLETE_RESULT => interaction.kind == APPLICATION_COMMAND_AUTOCOMPLETE,
            callback::MODAL => matches!(interaction.kind, APPLICATION_COMMAND | MESSAGE_COMPONENT),
            // PONG answers only an HTTP endpoint's PING.
            callback::PONG => false,
            _ => false,
        };
        if !allowed {
            return bad(
                "type",
                "INTERACTION_RESPONSE_TYPE_INVALID",
                "Invalid interaction response type.",
            );
        }
        let data = input.data.unwrap_or(Value::Null);
        let uploads = input.uploads;
        let answered = match input.kind {
            callback::CHANNEL_MESSAGE_WITH_SOURCE => {
                let mut input = message_input(data)?;
                input.uploads = uploads;
                let message = self.response_message(&interaction, input, false).await?;
                self.acknowledge(&interaction).await?;
                let out = self.deliver_response(&mut interaction, message).await?;
                answered(out, false)
            }
            callback::DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE => {
                let flags = data.get("flags").and_then(Value::as_u64).unwrap_or(0);
                let mut message = Message::new(
                    Snowflake(0),
                    interaction.channel_id,
                    interaction.application_id,
                    "",
                );
                message.guild_id = interaction.guild_id;
                message.kind = response_kind(&interaction);
                message.flags = LOADING | (flags & EPHEMERAL);
                message.interaction = Some(interaction.metadata(false));
                self.acknowledge(&interaction).await?;
                let out = self.deliver_response(&mut interaction, message).await?;
                answered(out, true)
            }
            callback::DEFERRED_UPDATE_MESSAGE => {
                self.acknowledge(&interaction).await?;
                interaction.original = interaction.message_id;
                self.save_interaction(&interaction).await?;
                Answered {
                    message: None,
                    loading: false,
                    ephemeral: false,
                }
            }
            callback::UPDATE_MESSAGE => {
                let mut edit = edit_input(data)?;
                edit.uploads = uploads;
                let target = self
                    .response(
                        &interaction,
                        WebhookMessageId::Id(interaction.message_id.unwrap_or(Snowflake(0))),
                    )
                    .await?;
                self.acknowledge(&interaction).await?;
                interaction.original = interaction.message_id;
                interaction.original_ephemeral = matches!(target, Response::Ephemeral(_));
                self.save_interaction(&interaction).await?;
                let ephemeral = interaction.original_ephemeral;
                let out = self.edit_response(&interaction, target, edit).await?;
                Answered {
                    message: Some(out),
                    loading: false,
                    ephemeral,
                }
            }
            callback::AUTOCOMPLETE_RESULT => {
                let choices = data.get("choices").cloned().unwrap_or(json!([]));
                if choices.as_array().is_none_or(|c| c.len() > 25) {
                    return bad(
                        "data.choices",
                        "BASE_TYPE_MAX_LENGTH",
                        "Must be 25 or fewer in length.",
                    );
                }
                self.acknowledge(&interaction).await?;
                let data = json!({ "nonce": interaction.nonce, "choices": choices });
                self.publish(
                    EventKind::ApplicationCommandAutocompleteResponse,
                    interaction.invoker(),
                    data,
                )
                .await;
                return Ok(None);
            }
            _ => {
                let custom_id = data.get("custom_id").and_then(Value::as_str).unwrap_or("");
                if custom_id.is_empty() || custom_id.len() > super::modals::CUSTOM_ID_MAX {
                    return bad(
                        "data.custom_id",
                        "BASE_TYPE_REQUIRED",
                        "This field is required",
                    );
                }
                if data
                    .get("title")
                    .and_then(Value::as_str)
                    .is_none_or(|t| t.is_empty() || t.chars().count() > 45)
                {
                    return bad("data.title", "BASE_TYPE_REQUIRED", "This field is required");
                }
                let fields = data.get("components").and_then(Value::as_array);
                let Some(fields) = fields.filter(|c| !c.is_empty()) else {
                    return bad(
                        "data.components",
                        "BASE_TYPE_REQUIRED",
                        "This field is required",
                    );
                };
                let mut errors = crate::FormErrors::new();
                crate::messages::check_components(&mut errors, "data.components", fields, true);
                errors.into_result()?;
                self.acknowledge(&interaction).await?;
                let origin = serde_json::to_vec(&interaction.message_id).unwrap_or_default();
                interaction.modal = Some(custom_id.to_owned());
                self.open_modal(&interaction, &origin).await?;
                self.save_interaction(&interaction).await?;
                let modal = json!({
                    "id": interaction.id,
                    "nonce": interaction.nonce,
                    "channel_id": interaction.channel_id,
                    "custom_id": custom_id,
                    "title": data["title"],
                    "components": data["components"],
                    "application": { "id": interaction.application_id },
                });
                self.publish(
                    EventKind::InteractionModalCreate,
                    interaction.invoker(),
                    modal,
                )
                .await;
                Answered {
                    message: None,
                    loading: false,
                    ephemeral: false,
                }
            }
        };
        let success = json!({ "id": interaction.id, "nonce": interaction.nonce });
        self.publish(
            EventKind::InteractionSuccess,
            interaction.invoker(),
            success,
        )
        .await;
        Ok(with_response.then(|| CallbackResponse {
            interaction: CallbackInteraction {
                id: interaction.id,
                kind: interaction.kind,
                activity_instance_id: None,
                response_message_id: answered.message.as_ref().map(|m| m.id),
                response_message_loading: answered.loading,
                response_message_ephemeral: answered.ephemeral,
            },
            resource: CallbackResource {
                kind: input.kind,
                message: answered.message,
            },
        }))
    }

    /// `POST /webhooks/{application_id}/{token}` with an interaction's
    /// token: a follow-up, once the interaction was answered. The first
    /// after a deferred answer replaces its "thinking" message, as
    /// Discord's does.
    pub(crate) async fn interaction_follow_up(
        &self,
        application_id: Snowflake,
        token: &str,
        input: CreateMessage,
    ) -> ServiceResult<wire::Message> {
        let mut interaction = self.opened_follow_up(application_id, token).await?;
        if let Some(original) = interaction.original {
            let target = self
                .response(&interaction, WebhookMessageId::Id(original))
                .await?;
            let loading = match &target {
                Response::Channel(m) => m.flags & LOADING != 0,
                Response::Ephemeral(e) => e.message.flags & LOADING != 0,
            };
            if loading {
                let edit = EditMessage {
                    content: Some(input.content),
                    embeds: Some(input.embeds),
                    components: Some(input.components),
                    allowed_mentions: input.allowed_mentions,
                    uploads: input.uploads,
                    ..EditMessage::default()
                };
                return self.edit_response(&interaction, target, edit).await;
            }
        }
        let message = self.response_message(&interaction, input, true).await?;
        self.deliver_response(&mut interaction, message).await
    }

    /// `GET /webhooks/{application_id}/{token}/messages/{id|@original}`.
    pub(crate) async fn interaction_response(
        &self,
        application_id: Snowflake,
        token: &str,
        which: WebhookMessageId,
    ) -> ServiceResult<wire::Message> {
        let interaction = self.opened_follow_up(application_id, token).await?;
        match self.response(&interaction, which).await? {
            Response::Channel(m) => self.render_message(&m).await,
            Response::Ephemeral(e) => self.render_message(&e.message).await,
        }
    }

    /// `PATCH /webhooks/{application_id}/{token}/messages/{id|@original}`.
    pub(crate) async fn edit_interaction_response(
        &self,
        application_id: Snowflake,
        token: &str,
        which: WebhookMessageId,
        input: EditMessage,
    ) -> ServiceResult<wire::Message> {
        let interaction = self.opened_follow_up(application_id, token).await?;
        let target = self.response(&interaction, which).await?;
        self.edit_response(&interaction, target, input).await
    }

    /// `DELETE /webhooks/{application_id}/{token}/messages/{id|@original}`.
    pub(crate) async fn delete_interaction_response(
        &self,
        application_id: Snowflake,
        token: &str,
        which: WebhookMessageId,
    ) -> ServiceResult<()> {
        let interaction = self.opened_follow_up(application_id, token).await?;
        match self.response(&interaction, which).await? {
            Response::Channel(m) => {
                let view = self.response_view(&interaction).await?;
                self.remove_message(&view, m.id).await
            }
            Response::Ephemeral(e) => {
                self.forget_ephemeral(e.message.id).await?;
                let mut data = json!({ "id": e.message.id, "channel_id": e.message.channel_id });
                if let Some(guild_id) = e.message.guild_id {
                    data["guild_id"] = json!(guild_id);
                }
                self.publish(
                    EventKind::MessageDelete,
                    Audience::Users(vec![e.user_id]),
                    data,
                )
                .await;
                Ok(())
            }
        }
    }

    /// The live interaction a token opens (its secret compared in
    /// constant time), or `None`.
    async fn opened_interaction(&self, token: &str) -> ServiceResult<Option<Interaction>> {
        let Some((id, secret)) = token::parse(token) else {
            return Ok(None);
        };
        Ok(self
            .interaction_record(id)
            .await?
            .filter(|i| same_token(&secret, &i.secret))
            .filter(|i| !i.past(TOKEN_LIFETIME)))
    }

    /// An interaction of this application that was answered: what its
    /// webhook routes act on (10015 otherwise, as Discord answers).
    async fn opened_follow_up(
        &self,
        application_id: Snowflake,
        token: &str,
    ) -> ServiceResult<Interaction> {
        let unknown = ServiceError::NotFound(codes::UNKNOWN_WEBHOOK);
        let interaction = self
            .opened_interaction(token)
            .await?
            .filter(|i| i.application_id == application_id)
            .ok_or(unknown)?;
        let acknowledged = self
            .store
            .meta(&ack_key(interaction.id))
            .await?
            .is_some_and(|v| v.starts_with(b"ack"));
        if !acknowledged {
            return Err(ServiceError::NotFound(codes::UNKNOWN_WEBHOOK));
        }
        Ok(interaction)
    }

    /// Takes the interaction's one answer, in the store: 40060 when it
    /// was answered already, 10062 once its deadline went by unanswered.
    async fn acknowledge(&self, interaction: &Interaction) -> ServiceResult<()> {
        let key = ack_key(interaction.id);
        let outcome = if interaction.past(RESPONSE_DEADLINE) {
            self.store.put_meta_if_absent(&key, FAILED).await?
        } else {
            let mine = format!("ack:{}", B64.encode(rand::random::<[u8; 12]>()));
            let stored = self.store.put_meta_if_absent(&key, mine.as_bytes()).await?;
            if stored == mine.as_bytes() {
                return Ok(());
            }
            stored
        };
        if outcome.starts_with(b"ack") {
            Err(ServiceError::BadRequest(
                codes::INTERACTION_ALREADY_ACKNOWLEDGED,
            ))
        } else {
            Err(ServiceError::NotFound(codes::UNKNOWN_INTERACTION))
        }
    }

    /// The interaction's channel as its application posts there.
    async fn response_view(&self, interaction: &Interaction) -> ServiceResult<ChannelView> {
        let unknown = || ServiceError::NotFound(codes::UNKNOWN_CHANNEL);
        let channel = self
            .store
            .channel(interaction.channel_id)
            .await?
            .ok_or_else(unknown)?;
        self.poster_view(channel).await?.ok_or_else(unknown)
    }

    /// A response composed and checked as any message of the bot, typed
    /// and marked as the interaction's.
    async fn response_message(
        &self,
        interaction: &Interaction,
        input: CreateMessage,
        follow_up: bool,
    ) -> ServiceResult<Message> {
        let view = self.response_view(interaction).await?;
        let flags = input.flags.unwrap_or(0);
        let poster = Caller {
            id: interaction.application_id,
            bot: true,
        };
        let mut message = self.compose_message(&view, poster, input).await?;
        message.flags |= flags & EPHEMERAL;
        message.kind = response_kind(interaction);
        message.message_reference = None;
        message.nonce = None;
        message.interaction = Some(interaction.metadata(follow_up));
        Ok(message)
    }

    /// Delivers a response: to the channel, or, ephemeral, to the
    /// invoker's sessions alone; the first becomes the original.
    async fn deliver_response(
        &self,
        interaction: &mut Interaction,
        mut message: Message,
    ) -> ServiceResult<wire::Message> {
        let ephemeral = message.flags & EPHEMERAL != 0;
        let out = if ephemeral {
            message.id = self.next_id();
            let kept = Ephemeral {
                user_id: interaction.user_id,
                interaction_id: interaction.id,
                message,
            };
            self.save_ephemeral(&kept).await?;
            let out = self.render_message(&kept.message).await?;
            self.publish_message_to(EventKind::MessageCreate, interaction.invoker(), &out)
                .await;
            interaction.ephemeral.push(out.id);
            out
        } else {
            let view = self.response_view(interaction).await?;
            self.deliver_message(&view, message, None).await?
        };
        if interaction.original.is_none() {
            interaction.original = Some(out.id);
            interaction.original_ephemeral = ephemeral;
        }
        self.save_interaction(interaction).await?;
        Ok(out)
    }

    /// A response of this interaction (or the message whose component it
    /// used): 10008 for anything else.
    async fn response(
        &self,
        interaction: &Interaction,
        which: WebhookMessageId,
    ) -> ServiceResult<Response> {
        let unknown = ServiceError::NotFound(codes::UNKNOWN_MESSAGE);
        let id = match which {
            WebhookMessageId::Original => interaction.original.ok_or(unknown)?,
            WebhookMessageId::Id(id) => id,
        };
        let ours = |m: &Message| {
            m.author_id == interaction.application_id
                && (interaction.message_id == Some(m.id)
                    || m.interaction
                        .as_ref()
                        .is_some_and(|i| i.id == interaction.id))
        };
        if let Some(e) = self.ephemeral_message(id).await?
            && e.user_id == interaction.user_id
            && ours(&e.message)
        {
            return Ok(Response::Ephemeral(e));
        }
        match self.store.message(interaction.channel_id, id).await? {
            Some(m) if ours(&m) => Ok(Response::Channel(m)),
            _ => Err(ServiceError::NotFound(codes::UNKNOWN_MESSAGE)),
        }
    }

    /// Edits a response where it is kept, telling whoever sees it.
    async fn edit_response(
        &self,
        interaction: &Interaction,
        target: Response,
        input: EditMessage,
    ) -> ServiceResult<wire::Message> {
        let view = self.response_view(interaction).await?;
        match target {
            Response::Channel(m) => self.apply_message_edit(&view, &m, input).await,
            Response::Ephemeral(mut e) => {
                let patch = self.edit_patch(&view, &e.message, input).await?;
                let before = e.message.clone();
                patch.apply(&mut e.message);
                self.save_ephemeral(&e).await?;
                self.release_dropped(&before, &patch).await?;
                let out = self.render_message(&e.message).await?;
                self.publish_message_to(
                    EventKind::MessageUpdate,
                    Audience::Users(vec![e.user_id]),
                    &out,
                )
                .await;
                Ok(out)
            }
        }
    }
}

fn answered(message: wire::Message, loading: bool) -> Answered {
    Answered {
        ephemeral: message.flags & EPHEMERAL != 0,
        message: Some(message),
        loading,
    }
}

/// The type of a response message: 20 for a chat-input command, 23 for a
/// user or message command, 0 for components and modals.
fn response_kind(interaction: &Interaction) -> u8 {
    match interaction.command_type {
        Some(1) => message_type::CHAT_INPUT_COMMAND,
        Some(_) => message_type::CONTEXT_MENU_COMMAND,
        None => message_type::DEFAULT,
    }
}

fn message_input(data: Value) -> ServiceResult<CreateMessage> {
    serde_json::from_value(data).or_else(|_| {
        bad(
            "data",
            "DICT_TYPE_CONVERT",
            "Only dictionaries may be used in a DictType",
        )
    })
}

fn edit_input(data: Value) -> ServiceResult<EditMessage> {
    serde_json::from_value(data).or_else(|_| {
        bad(
            "data",
            "DICT_TYPE_CONVERT",
            "Only dictionaries may be used in a DictType",
        )
    })
}

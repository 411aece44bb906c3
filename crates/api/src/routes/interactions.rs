//! Interactions: a person invokes one as Discord's client does (JSON or
//! multipart with `payload_json`), and the application answers it through
//! the token it was given (JSON, or multipart with files) (the token is the only secret: a path segment,
//! never logged, no `Authorization` needed). Follow-ups go through the
//! webhook routes (`webhooks`).

use axum::extract::Path;
use axum::http::HeaderMap;
use axum::response::Response;
use concord_service::attachments::Upload;
use concord_service::interactions::{CallbackResponse, CreateInteraction, InteractionCallback};

use super::{no_content, ok};
use crate::State;
use crate::error::ApiResult;
use crate::extract::{Auth, CarriesFiles, MessageForm, QueryMap, id};

pub(super) fn routes() -> super::Routes {
    routes!("Interactions" {
        post "/interactions" => create_interaction, 204 NoBody, form CreateInteraction;
        post "/interactions/{interaction_id}/{interaction_token}/callback" => interaction_callback, 204 NoBody | 200 CallbackResponse, form InteractionCallback;
        get "/channels/{channel_id}/application-command-index" => command_index, 200 CommandIndex;
    })
}

/// A callback's files go with the message it sends or updates.
impl CarriesFiles for InteractionCallback {
    fn attach(&mut self, uploads: Vec<Upload>) {
        self.uploads = uploads;
    }
}

/// Files a person attaches to an interaction are not kept.
impl CarriesFiles for CreateInteraction {
    fn attach(&mut self, _uploads: Vec<Upload>) {}
}

async fn create_interaction(
    state: State,
    Auth(caller): Auth,
    MessageForm(input): MessageForm<CreateInteraction>,
) -> ApiResult<Response> {
    state.service.create_interaction(caller, input).await?;
    Ok(no_content())
}

/// The commands the caller may use in the channel, for the `/` list.
async fn command_index(
    state: State,
    Auth(caller): Auth,
    Path(channel): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let channel = id(&channel, "channel_id")?;
    let locale = super::commands::locale(&headers);
    let index = state
        .service
        .command_index(caller, channel, locale.as_deref())
        .await?;
    Ok(ok(index))
}

async fn interaction_callback(
    state: State,
    Path((i, t)): Path<(String, String)>,
    query: QueryMap,
    MessageForm(input): MessageForm<InteractionCallback>,
) -> ApiResult<Response> {
    let interaction = id(&i, "interaction_id")?;
    let with_response = query.flag("with_response")?;
    let answer = state
        .service
        .interaction_callback(interaction, &t, input, with_response)
        .await?;
    Ok(match answer {
        Some(answer) => ok(answer),
        None => no_content(),
    })
}

//! Webhooks: managed with MANAGE_WEBHOOKS, or through their token (which
//! also executes them, in Discord's, Slack's and GitHub's shapes).
//!
//! The token is a path segment here: nothing logs request paths, and it
//! is never part of a rate-limit key (executions are counted per webhook
//! id, see `ratelimit`).

use axum::extract::Path;
use axum::http::HeaderMap;
use axum::response::Response;
use concord_service::attachments::Upload;
use concord_service::interactions::WebhookMessageId;
use concord_service::messages::EditMessage;
use concord_service::webhooks::{
    CreateWebhook, ExecuteOptions, ExecuteWebhook, ModifyWebhook, github_message, slack_message,
};
use serde_json::Value;

use super::channels::channel_id;
use super::guilds::guild_id;
use super::{no_content, ok};
use crate::State;
use crate::error::ApiResult;
use crate::extract::{Auth, Body, CarriesFiles, ImageBody, MessageForm, QueryMap, id};

pub(super) fn routes() -> super::Routes {
    routes!("Webhooks" {
        post "/channels/{channel_id}/webhooks" => create_webhook, 200 Webhook, body CreateWebhook;
        get "/channels/{channel_id}/webhooks" => channel_webhooks, 200 Vec<Webhook>;
        get "/guilds/{guild_id}/webhooks" => guild_webhooks, 200 Vec<Webhook>;
        get "/webhooks/{webhook_id}" => get_webhook, 200 Webhook;
        patch "/webhooks/{webhook_id}" => modify_webhook, 200 Webhook, body ModifyWebhook;
        delete "/webhooks/{webhook_id}" => delete_webhook, 204 NoBody;
        get "/webhooks/{webhook_id}/{webhook_token}" => get_webhook_with_token, 200 Webhook;
        patch "/webhooks/{webhook_id}/{webhook_token}" => modify_webhook_with_token, 200 Webhook, body ModifyWebhook;
        delete "/webhooks/{webhook_id}/{webhook_token}" => delete_webhook_with_token, 204 NoBody;
        post "/webhooks/{webhook_id}/{webhook_token}" => execute_webhook, 200 Message | 204 NoBody, form ExecuteWebhook;
        post "/webhooks/{webhook_id}/{webhook_token}/slack" => execute_slack_webhook, 200 Message | 200 PlainText, body Anything;
        post "/webhooks/{webhook_id}/{webhook_token}/github" => execute_github_webhook, 200 Message | 204 NoBody, body Anything;
        get "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}" => get_webhook_message, 200 Message;
        patch "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}" => edit_webhook_message, 200 Message, form EditMessage;
        delete "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}" => delete_webhook_message, 204 NoBody;
    })
}

impl CarriesFiles for ExecuteWebhook {
    fn attach(&mut self, uploads: Vec<Upload>) {
        self.uploads = uploads;
    }
}

fn webhook_id(raw: &str) -> ApiResult<concord_model::Snowflake> {
    id(raw, "webhook_id")
}

/// A message of a webhook route: an id, or `@original`, an interaction's
/// first response.
fn message_id(raw: &str) -> ApiResult<WebhookMessageId> {
    match raw {
        "@original" => Ok(WebhookMessageId::Original),
        _ => Ok(WebhookMessageId::Id(id(raw, "message_id")?)),
    }
}

fn options(query: &QueryMap) -> ApiResult<ExecuteOptions> {
    Ok(ExecuteOptions {
        wait: query.flag("wait")?,
        thread_id: query.id("thread_id")?,
        service: false,
        with_components: query.flag("with_components")?,
    })
}

/// The options of the Slack and GitHub routes.
fn service_options(query: &QueryMap) -> ApiResult<ExecuteOptions> {
    Ok(ExecuteOptions {
        service: true,
        ..options(query)?
    })
}

/// The message when asked to wait, else 204.
fn executed(message: Option<concord_model::wire::Message>) -> Response {
    match message {
        Some(message) => ok(message),
        None => no_content(),
    }
}

async fn create_webhook(
    state: State,
    Auth(caller): Auth,
    Path(c): Path<String>,
    Body(input): ImageBody<CreateWebhook>,
) -> ApiResult<Response> {
    let channel = channel_id(&c)?;
    Ok(ok(state
        .service
        .create_webhook(caller, channel, input)
        .await?))
}

async fn channel_webhooks(
    state: State,
    Auth(caller): Auth,
    Path(c): Path<String>,
) -> ApiResult<Response> {
    let channel = channel_id(&c)?;
    Ok(ok(state.service.channel_webhooks(caller, channel).await?))
}

async fn guild_webhooks(
    state: State,
    Auth(caller): Auth,
    Path(g): Path<String>,
) -> ApiResult<Response> {
    let guild = guild_id(&g)?;
    Ok(ok(state.service.guild_webhooks(caller, guild).await?))
}

async fn get_webhook(
    state: State,
    Auth(caller): Auth,
    Path(w): Path<String>,
) -> ApiResult<Response> {
    Ok(ok(state.service.webhook(caller, webhook_id(&w)?).await?))
}

async fn modify_webhook(
    state: State,
    Auth(caller): Auth,
    Path(w): Path<String>,
    Body(input): ImageBody<ModifyWebhook>,
) -> ApiResult<Response> {
    let id = webhook_id(&w)?;
    Ok(ok(state.service.modify_webhook(caller, id, input).await?))
}

async fn delete_webhook(
    state: State,
    Auth(caller): Auth,
    Path(w): Path<String>,
) -> ApiResult<Response> {
    state
        .service
        .delete_webhook(caller, webhook_id(&w)?)
        .await?;
    Ok(no_content())
}

async fn get_webhook_with_token(
    state: State,
    Path((w, t)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id = webhook_id(&w)?;
    Ok(ok(state.service.webhook_by_token(id, &t).await?))
}

async fn modify_webhook_with_token(
    state: State,
    Path((w, t)): Path<(String, String)>,
    Body(input): ImageBody<ModifyWebhook>,
) -> ApiResult<Response> {
    let id = webhook_id(&w)?;
    Ok(ok(state
        .service
        .modify_webhook_by_token(id, &t, input)
        .await?))
}

async fn delete_webhook_with_token(
    state: State,
    Path((w, t)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id = webhook_id(&w)?;
    state.service.delete_webhook_by_token(id, &t).await?;
    Ok(no_content())
}

async fn execute_webhook(
    state: State,
    Path((w, t)): Path<(String, String)>,
    query: QueryMap,
    MessageForm(input): MessageForm<ExecuteWebhook>,
) -> ApiResult<Response> {
    let (id, options) = (webhook_id(&w)?, options(&query)?);
    let message = state
        .service
        .execute_webhook(id, &t, options, input)
        .await?;
    Ok(executed(message))
}

/// Slack's clients read `ok` as the answer, unless they asked to wait.
async fn execute_slack_webhook(
    state: State,
    Path((w, t)): Path<(String, String)>,
    query: QueryMap,
    Body(body): Body<Value>,
) -> ApiResult<Response> {
    let (id, options) = (webhook_id(&w)?, service_options(&query)?);
    let input = slack_message(&body);
    let message = state
        .service
        .execute_webhook(id, &t, options, input)
        .await?;
    Ok(match message {
        Some(message) => ok(message),
        None => axum::response::IntoResponse::into_response("ok"),
    })
}

/// GitHub names the event in `X-GitHub-Event`; one with nothing to show
/// (a `ping`) is still checked against the token, then answered 204.
async fn execute_github_webhook(
    state: State,
    Path((w, t)): Path<(String, String)>,
    query: QueryMap,
    headers: HeaderMap,
    Body(body): Body<Value>,
) -> ApiResult<Response> {
    let (id, options) = (webhook_id(&w)?, service_options(&query)?);
    let event = headers
        .get("x-github-event")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(input) = github_message(event, &body) else {
        state.service.webhook_by_token(id, &t).await?;
        return Ok(no_content());
    };
    let message = state
        .service
        .execute_webhook(id, &t, options, input)
        .await?;
    Ok(executed(message))
}

async fn get_webhook_message(
    state: State,
    Path((w, t, m)): Path<(String, String, String)>,
    query: QueryMap,
) -> ApiResult<Response> {
    let (id, message) = (webhook_id(&w)?, message_id(&m)?);
    let thread = query.id("thread_id")?;
    Ok(ok(state
        .service
        .webhook_message(id, &t, message, thread)
        .await?))
}

async fn edit_webhook_message(
    state: State,
    Path((w, t, m)): Path<(String, String, String)>,
    query: QueryMap,
    MessageForm(input): MessageForm<EditMessage>,
) -> ApiResult<Response> {
    let (id, message) = (webhook_id(&w)?, message_id(&m)?);
    let options = ExecuteOptions {
        thread_id: query.id("thread_id")?,
        with_components: query.flag("with_components")?,
        ..ExecuteOptions::default()
    };
    let service = &state.service;
    Ok(ok(service
        .edit_webhook_message(id, &t, message, options, input)
        .await?))
}

async fn delete_webhook_message(
    state: State,
    Path((w, t, m)): Path<(String, String, String)>,
    query: QueryMap,
) -> ApiResult<Response> {
    let (id, message) = (webhook_id(&w)?, message_id(&m)?);
    let thread = query.id("thread_id")?;
    state
        .service
        .delete_webhook_message(id, &t, message, thread)
        .await?;
    Ok(no_content())
}

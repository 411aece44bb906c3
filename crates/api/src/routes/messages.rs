//! Messages and history.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use concord_model::limits;
use concord_service::attachments::AttachmentFile;
use concord_service::attachments::signed_urls::UrlSignature;
use concord_service::messages::{BulkDelete, EditMessage};
use concord_service::{FormErrors, ServiceError};
use concord_store::HistoryAnchor;

use super::channels::channel_id;
use super::{no_content, ok};
use crate::State;
use crate::error::{ApiResult, json_bytes};
use crate::extract::{Auth, Body, MessageForm, QueryMap, id};

pub(super) fn routes() -> super::Routes {
    routes!("Messages" {
        get "/channels/{channel_id}/messages" => history, 200 Vec<Message>;
        post "/channels/{channel_id}/messages" => create, 200 Message, form CreateMessage;
        post "/channels/{channel_id}/messages/bulk-delete" => bulk_delete, 204 NoBody, body BulkDelete;
        post "/channels/{channel_id}/typing" => typing, 204 NoBody;
        get "/channels/{channel_id}/messages/{message_id}" => message, 200 Message;
        patch "/channels/{channel_id}/messages/{message_id}" => edit, 200 Message, body EditMessage;
        delete "/channels/{channel_id}/messages/{message_id}" => delete, 204 NoBody;
        post "/channels/{channel_id}/messages/{message_id}/ack" => ack, 200 AckToken;
    })
}

/// One of `around`, `before`, `after`, or none for the newest page.
fn anchor(query: &QueryMap) -> ApiResult<HistoryAnchor> {
    let around = query.id("around")?;
    let before = query.id("before")?;
    let after = query.id("after")?;
    Ok(match (around, before, after) {
        (None, None, None) => HistoryAnchor::Latest,
        (Some(id), None, None) => HistoryAnchor::Around(id),
        (None, Some(id), None) => HistoryAnchor::Before(id),
        (None, None, Some(id)) => HistoryAnchor::After(id),
        _ => {
            let message = "Only one of around, before and after may be given.";
            return Err(FormErrors::single("", "BASE_TYPE_INVALID", message).into());
        }
    })
}

async fn history(
    state: State,
    Auth(caller): Auth,
    Path(c): Path<String>,
    query: QueryMap,
) -> ApiResult<Response> {
    let limit = query.int(
        "limit",
        1,
        u64::from(limits::HISTORY_LIMIT_MAX),
        u64::from(limits::HISTORY_LIMIT_DEFAULT),
    )?;
    let page = state
        .service
        .messages_json(caller, channel_id(&c)?, anchor(&query)?, limit as usize)
        .await?;
    Ok(json_bytes(StatusCode::OK, page))
}

async fn create(
    state: State,
    Auth(caller): Auth,
    Path(c): Path<String>,
    MessageForm(input): MessageForm,
) -> ApiResult<Response> {
    Ok(ok(state
        .service
        .create_message(caller, channel_id(&c)?, input)
        .await?))
}

async fn message(
    state: State,
    Auth(caller): Auth,
    Path((c, m)): Path<(String, String)>,
) -> ApiResult<Response> {
    Ok(ok(state
        .service
        .message(caller, channel_id(&c)?, id(&m, "message_id")?)
        .await?))
}

async fn edit(
    state: State,
    Auth(caller): Auth,
    Path((c, m)): Path<(String, String)>,
    Body(input): Body<EditMessage>,
) -> ApiResult<Response> {
    Ok(ok(state
        .service
        .edit_message(caller, channel_id(&c)?, id(&m, "message_id")?, input)
        .await?))
}

async fn delete(
    state: State,
    Auth(caller): Auth,
    Path((c, m)): Path<(String, String)>,
) -> ApiResult<Response> {
    state
        .service
        .delete_message(caller, channel_id(&c)?, id(&m, "message_id")?)
        .await?;
    Ok(no_content())
}

async fn bulk_delete(
    state: State,
    Auth(caller): Auth,
    Path(c): Path<String>,
    Body(input): Body<BulkDelete>,
) -> ApiResult<Response> {
    state
        .service
        .bulk_delete(caller, channel_id(&c)?, input)
        .await?;
    Ok(no_content())
}

/// Marks the channel read; the body (`token`, `manual`) is not needed.
async fn ack(
    state: State,
    Auth(caller): Auth,
    Path((c, m)): Path<(String, String)>,
) -> ApiResult<Response> {
    let message_id = id(&m, "message_id")?;
    Ok(ok(state
        .service
        .ack(caller, channel_id(&c)?, message_id)
        .await?))
}

async fn typing(state: State, Auth(caller): Auth, Path(c): Path<String>) -> ApiResult<Response> {
    state.service.typing(caller, channel_id(&c)?).await?;
    Ok(no_content())
}

/// `/attachments/{channel_id}/{attachment_id}/{filename}?ex&is&hm`: the
/// file, if the URL is signed and unexpired (a URL from a message as read
/// now; anything else is Discord's 404 for content no longer available).
/// Only media are shown inline, with their type; anything else downloads
/// as bytes, so an uploaded page or script can never run as this site.
pub(crate) async fn attachment(
    state: State,
    Path((c, a, filename)): Path<(String, String, String)>,
    query: QueryMap,
) -> ApiResult<Response> {
    let signature = UrlSignature {
        expires: query.get("ex"),
        issued: query.get("is"),
        mac: query.get("hm"),
    };
    let file = state
        .service
        .attachment_file(
            channel_id(&c)?,
            id(&a, "attachment_id")?,
            &filename,
            signature,
        )
        .await;
    let AttachmentFile {
        attachment,
        file,
        valid_for_s,
    } = match file {
        Err(ServiceError::NotFound(_)) => {
            let text = "This content is no longer available.";
            return Ok((StatusCode::NOT_FOUND, text).into_response());
        }
        other => other?,
    };
    let content_type = attachment
        .content_type
        .clone()
        .filter(|t| t.parse::<axum::http::HeaderValue>().is_ok())
        .unwrap_or_else(|| "application/octet-stream".into());
    let media = ["image/", "video/", "audio/"]
        .iter()
        .any(|kind| content_type.starts_with(kind))
        && !content_type.contains("svg");
    let (disposition, content_type) = match media {
        true => ("inline", content_type),
        false => ("attachment", "application/octet-stream".into()),
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (
                header::CONTENT_DISPOSITION,
                format!("{disposition}; filename=\"{}\"", attachment.filename),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".into()),
            // Kept no longer than the URL is good, and by no shared cache.
            (
                header::CACHE_CONTROL,
                format!("private, max-age={valid_for_s}, immutable"),
            ),
            (header::CONTENT_LENGTH, attachment.size.to_string()),
        ],
        file_body(file),
    )
        .into_response())
}

/// A file's bytes as they are read, a chunk at a time.
pub(super) fn file_body(file: tokio::fs::File) -> axum::body::Body {
    use tokio::io::AsyncReadExt;
    const CHUNK: usize = 64 * 1024;
    // The file is dropped at its end or its first error, which ends the body.
    let chunks = futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut chunk = bytes::BytesMut::with_capacity(CHUNK);
        match file.read_buf(&mut chunk).await {
            Ok(0) => None,
            Ok(_) => Some((Ok(chunk.freeze()), Some(file))),
            Err(e) => Some((Err(e), None)),
        }
    });
    axum::body::Body::from_stream(chunks)
}

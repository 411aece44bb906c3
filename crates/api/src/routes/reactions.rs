//! Reactions on a message. The emoji is a percent-encoded path segment.

use axum::extract::Path;
use axum::response::Response;

use super::channels::channel_id;
use super::{no_content, ok};
use crate::State;
use crate::error::ApiResult;
use crate::extract::{Auth, QueryMap, id};

const BASE: &str = "/channels/{channel_id}/messages/{message_id}/reactions";

pub(super) fn routes() -> super::Routes {
    routes!("Reactions" {
        delete BASE => clear_all, 204 NoBody;
        get format!("{BASE}/{{emoji}}") => users, 200 Vec<User>;
        delete format!("{BASE}/{{emoji}}") => clear_emoji, 204 NoBody;
        put format!("{BASE}/{{emoji}}/@me") => add, 204 NoBody;
        delete format!("{BASE}/{{emoji}}/@me") => remove_own, 204 NoBody;
        delete format!("{BASE}/{{emoji}}/{{user_id}}") => remove_other, 204 NoBody;
    })
}

async fn add(
    state: State,
    Auth(caller): Auth,
    Path((c, m, emoji)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    state
        .service
        .add_reaction(caller, channel_id(&c)?, id(&m, "message_id")?, &emoji)
        .await?;
    Ok(no_content())
}

async fn remove_own(
    state: State,
    Auth(caller): Auth,
    Path((c, m, emoji)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    state
        .service
        .remove_reaction(caller, channel_id(&c)?, id(&m, "message_id")?, &emoji, None)
        .await?;
    Ok(no_content())
}

async fn remove_other(
    state: State,
    Auth(caller): Auth,
    Path((c, m, emoji, u)): Path<(String, String, String, String)>,
) -> ApiResult<Response> {
    let user = Some(id(&u, "user_id")?);
    state
        .service
        .remove_reaction(caller, channel_id(&c)?, id(&m, "message_id")?, &emoji, user)
        .await?;
    Ok(no_content())
}

async fn users(
    state: State,
    Auth(caller): Auth,
    Path((c, m, emoji)): Path<(String, String, String)>,
    query: QueryMap,
) -> ApiResult<Response> {
    let limit = query.int("limit", 1, 100, 25)? as usize;
    let after = query.id("after")?.unwrap_or_default();
    Ok(ok(state
        .service
        .reaction_users(
            caller,
            channel_id(&c)?,
            id(&m, "message_id")?,
            &emoji,
            after,
            limit,
        )
        .await?))
}

async fn clear_all(
    state: State,
    Auth(caller): Auth,
    Path((c, m)): Path<(String, String)>,
) -> ApiResult<Response> {
    state
        .service
        .clear_reactions(caller, channel_id(&c)?, id(&m, "message_id")?, None)
        .await?;
    Ok(no_content())
}

async fn clear_emoji(
    state: State,
    Auth(caller): Auth,
    Path((c, m, emoji)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    state
        .service
        .clear_reactions(caller, channel_id(&c)?, id(&m, "message_id")?, Some(&emoji))
        .await?;
    Ok(no_content())
}

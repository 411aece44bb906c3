//! Threads: starting them, their members, and the thread lists.

use axum::extract::Path;
use axum::response::Response;
use concord_service::threads::Archived;
use concord_service::threads::StartThread;

use super::channels::channel_id;
use super::{created, no_content, ok};
use crate::State;
use crate::error::ApiResult;
use crate::extract::{Auth, Body, MessageForm, QueryMap, id};

const MEMBERS: &str = "/channels/{channel_id}/thread-members";

pub(super) fn routes() -> super::Routes {
    routes!("Threads" {
        post "/channels/{channel_id}/messages/{message_id}/threads" => start_from_message, 201 Channel, body StartThread;
        post "/channels/{channel_id}/threads" => start, 201 StartedThread, form StartThread;
        get MEMBERS => members, 200 Vec<ThreadMember>;
        put format!("{MEMBERS}/@me") => join, 204 NoBody;
        delete format!("{MEMBERS}/@me") => leave, 204 NoBody;
        get format!("{MEMBERS}/{{user_id}}") => member, 200 ThreadMember;
        put format!("{MEMBERS}/{{user_id}}") => add_member, 204 NoBody;
        delete format!("{MEMBERS}/{{user_id}}") => remove_member, 204 NoBody;
        get "/guilds/{guild_id}/threads/active" => active, 200 ThreadList;
        get "/channels/{channel_id}/threads/archived/public" => archived_public, 200 ThreadList;
        get "/channels/{channel_id}/threads/archived/private" => archived_private, 200 ThreadList;
        get "/channels/{channel_id}/users/@me/threads/archived/private" => archived_joined, 200 ThreadList;
    })
}

async fn start_from_message(
    state: State,
    Auth(caller): Auth,
    Path((c, m)): Path<(String, String)>,
    Body(input): Body<StartThread>,
) -> ApiResult<Response> {
    let message_id = id(&m, "message_id")?;
    Ok(created(
        state
            .service
            .start_thread_from_message(caller, channel_id(&c)?, message_id, input)
            .await?,
    ))
}

async fn start(
    state: State,
    Auth(caller): Auth,
    Path(c): Path<String>,
    MessageForm(input): MessageForm<StartThread>,
) -> ApiResult<Response> {
    Ok(created(
        state
            .service
            .start_thread(caller, channel_id(&c)?, input)
            .await?,
    ))
}

async fn join(state: State, Auth(caller): Auth, Path(c): Path<String>) -> ApiResult<Response> {
    state.service.join_thread(caller, channel_id(&c)?).await?;
    Ok(no_content())
}

async fn leave(state: State, Auth(caller): Auth, Path(c): Path<String>) -> ApiResult<Response> {
    state.service.leave_thread(caller, channel_id(&c)?).await?;
    Ok(no_content())
}

async fn add_member(
    state: State,
    Auth(caller): Auth,
    Path((c, u)): Path<(String, String)>,
) -> ApiResult<Response> {
    let user = id(&u, "user_id")?;
    state
        .service
        .add_thread_member(caller, channel_id(&c)?, user)
        .await?;
    Ok(no_content())
}

async fn remove_member(
    state: State,
    Auth(caller): Auth,
    Path((c, u)): Path<(String, String)>,
) -> ApiResult<Response> {
    let user = id(&u, "user_id")?;
    state
        .service
        .remove_thread_member(caller, channel_id(&c)?, user)
        .await?;
    Ok(no_content())
}

async fn member(
    state: State,
    Auth(caller): Auth,
    Path((c, u)): Path<(String, String)>,
    query: QueryMap,
) -> ApiResult<Response> {
    let user = id(&u, "user_id")?;
    let with_member = query.flag("with_member")?;
    Ok(ok(state
        .service
        .thread_member(caller, channel_id(&c)?, user, with_member)
        .await?))
}

async fn members(
    state: State,
    Auth(caller): Auth,
    Path(c): Path<String>,
    query: QueryMap,
) -> ApiResult<Response> {
    let limit = query.int("limit", 1, 100, 100)? as usize;
    let after = query.id("after")?.unwrap_or_default();
    let with_member = query.flag("with_member")?;
    Ok(ok(state
        .service
        .thread_members(caller, channel_id(&c)?, after, limit, with_member)
        .await?))
}

async fn active(state: State, Auth(caller): Auth, Path(g): Path<String>) -> ApiResult<Response> {
    let guild = id(&g, "guild_id")?;
    Ok(ok(state.service.active_threads(caller, guild).await?))
}

async fn archived(
    state: State,
    caller: concord_service::Caller,
    c: &str,
    which: Archived,
    query: QueryMap,
) -> ApiResult<Response> {
    let limit = query.int("limit", 1, 100, 50)? as usize;
    Ok(ok(state
        .service
        .archived_threads(caller, channel_id(c)?, which, query.get("before"), limit)
        .await?))
}

async fn archived_public(
    state: State,
    Auth(caller): Auth,
    Path(c): Path<String>,
    query: QueryMap,
) -> ApiResult<Response> {
    archived(state, caller, &c, Archived::Public, query).await
}

async fn archived_private(
    state: State,
    Auth(caller): Auth,
    Path(c): Path<String>,
    query: QueryMap,
) -> ApiResult<Response> {
    archived(state, caller, &c, Archived::Private, query).await
}

async fn archived_joined(
    state: State,
    Auth(caller): Auth,
    Path(c): Path<String>,
    query: QueryMap,
) -> ApiResult<Response> {
    archived(state, caller, &c, Archived::JoinedPrivate, query).await
}

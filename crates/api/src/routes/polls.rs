//! Polls on messages: votes (the route Discord's own client votes
//! through), an answer's voters, and ending a poll early. A poll is
//! created with its message (`routes::messages`).

use axum::extract::Path;
use axum::response::Response;
use concord_service::FormErrors;
use concord_service::messages::PollVoteInput;

use super::channels::channel_id;
use super::{no_content, ok};
use crate::State;
use crate::error::ApiResult;
use crate::extract::{Auth, Body, QueryMap, id};

const BASE: &str = "/channels/{channel_id}/polls/{message_id}";

pub(super) fn routes() -> super::Routes {
    routes!("Polls" {
        put format!("{BASE}/answers/@me") => vote, 204 NoBody, body PollVoteInput;
        get format!("{BASE}/answers/{{answer_id}}") => voters, 200 PollVoters;
        post format!("{BASE}/expire") => expire, 200 Message;
    })
}

async fn vote(
    state: State,
    Auth(caller): Auth,
    Path((c, m)): Path<(String, String)>,
    Body(input): Body<PollVoteInput>,
) -> ApiResult<Response> {
    state
        .service
        .vote_poll(caller, channel_id(&c)?, id(&m, "message_id")?, input)
        .await?;
    Ok(no_content())
}

async fn voters(
    state: State,
    Auth(caller): Auth,
    Path((c, m, a)): Path<(String, String, String)>,
    query: QueryMap,
) -> ApiResult<Response> {
    let answer_id: u8 = a.parse().map_err(|_| {
        let message = format!("Value \"{a}\" is not int.");
        FormErrors::single("answer_id", "NUMBER_TYPE_COERCE", message)
    })?;
    let limit = query.int("limit", 1, 100, 25)? as usize;
    let after = query.id("after")?.unwrap_or_default();
    let (channel, message) = (channel_id(&c)?, id(&m, "message_id")?);
    Ok(ok(state
        .service
        .poll_voters(caller, channel, message, answer_id, after, limit)
        .await?))
}

async fn expire(
    state: State,
    Auth(caller): Auth,
    Path((c, m)): Path<(String, String)>,
) -> ApiResult<Response> {
    Ok(ok(state
        .service
        .expire_poll(caller, channel_id(&c)?, id(&m, "message_id")?)
        .await?))
}

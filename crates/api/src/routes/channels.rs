//! Channels, overwrites and invites to a channel.

use axum::extract::Path;
use axum::response::Response;
use concord_model::Snowflake;
use concord_service::guilds::{ChannelInput, CreateInvite, PutOverwrite};

use super::{no_content, ok};
use crate::State;
use crate::error::ApiResult;
use crate::extract::{Auth, Body, ImageBody, id};

pub(super) fn routes() -> super::Routes {
    routes!("Channels" {
        get "/channels/{channel_id}" => channel, 200 Channel;
        patch "/channels/{channel_id}" => patch_channel, 200 Channel, body ChannelInput;
        delete "/channels/{channel_id}" => delete_channel, 200 Channel;
        put "/channels/{channel_id}/permissions/{overwrite_id}" => put_overwrite, 204 NoBody, body PutOverwrite;
        delete "/channels/{channel_id}/permissions/{overwrite_id}" => delete_overwrite, 204 NoBody;
        post "/channels/{channel_id}/invites" => create_invite, 200 Invite, body CreateInvite;
        put "/channels/{channel_id}/recipients/{user_id}" => add_recipient, 204 NoBody;
        delete "/channels/{channel_id}/recipients/{user_id}" => remove_recipient, 204 NoBody;
    })
}

pub(super) fn channel_id(raw: &str) -> ApiResult<Snowflake> {
    id(raw, "channel_id")
}

async fn channel(state: State, Auth(caller): Auth, Path(c): Path<String>) -> ApiResult<Response> {
    Ok(ok(state.service.channel(caller, channel_id(&c)?).await?))
}

/// Room for an image: a group DM's icon comes in the body.
async fn patch_channel(
    state: State,
    Auth(caller): Auth,
    Path(c): Path<String>,
    Body(input): ImageBody<ChannelInput>,
) -> ApiResult<Response> {
    Ok(ok(state
        .service
        .patch_channel(caller, channel_id(&c)?, input)
        .await?))
}

async fn delete_channel(
    state: State,
    Auth(caller): Auth,
    Path(c): Path<String>,
) -> ApiResult<Response> {
    Ok(ok(state
        .service
        .delete_channel(caller, channel_id(&c)?)
        .await?))
}

async fn put_overwrite(
    state: State,
    Auth(caller): Auth,
    Path((c, o)): Path<(String, String)>,
    Body(input): Body<PutOverwrite>,
) -> ApiResult<Response> {
    state
        .service
        .put_overwrite(caller, channel_id(&c)?, id(&o, "overwrite_id")?, input)
        .await?;
    Ok(no_content())
}

async fn delete_overwrite(
    state: State,
    Auth(caller): Auth,
    Path((c, o)): Path<(String, String)>,
) -> ApiResult<Response> {
    state
        .service
        .delete_overwrite(caller, channel_id(&c)?, id(&o, "overwrite_id")?)
        .await?;
    Ok(no_content())
}

async fn add_recipient(
    state: State,
    Auth(caller): Auth,
    Path((c, u)): Path<(String, String)>,
) -> ApiResult<Response> {
    let user = id(&u, "user_id")?;
    state
        .service
        .add_recipient(caller, channel_id(&c)?, user)
        .await?;
    Ok(no_content())
}

async fn remove_recipient(
    state: State,
    Auth(caller): Auth,
    Path((c, u)): Path<(String, String)>,
) -> ApiResult<Response> {
    let user = id(&u, "user_id")?;
    state
        .service
        .remove_recipient(caller, channel_id(&c)?, user)
        .await?;
    Ok(no_content())
}

async fn create_invite(
    state: State,
    Auth(caller): Auth,
    Path(c): Path<String>,
    Body(input): Body<CreateInvite>,
) -> ApiResult<Response> {
    Ok(ok(state
        .service
        .create_invite(caller, channel_id(&c)?, input)
        .await?))
}

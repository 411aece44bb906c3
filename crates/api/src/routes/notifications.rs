//! Notifications: Web Push (Concord's own routes: the server's VAPID key,
//! a user's browser subscriptions) and the notification settings Discord's
//! client changes per guild and for DMs (`@me`).

use axum::extract::Path;
use axum::response::Response;
use concord_service::notifications::{
    PatchGuildSettings, PatchGuildSettingsBulk, PushSubscriptionInput, PushUnsubscribe,
};

use super::{no_content, ok};
use crate::State;
use crate::error::ApiResult;
use crate::extract::{Auth, Body, id};

pub(super) fn routes() -> super::Routes {
    routes!("Notifications" {
        get "/push/vapid-key" => vapid_key, 200 VapidKey;
        put "/users/@me/push-subscriptions" => subscribe, 204 NoBody, body PushSubscriptionInput;
        delete "/users/@me/push-subscriptions" => unsubscribe, 204 NoBody, body PushUnsubscribe;
        patch "/users/@me/guilds/{guild_id}/settings" => patch_settings, 200 GuildSettings, body PatchGuildSettings;
        patch "/users/@me/guilds/settings" => patch_settings_bulk, 200 Vec<GuildSettings>, body PatchGuildSettingsBulk;
    })
}

/// No authentication: the key is public, and a page asks before login.
async fn vapid_key(state: State) -> Response {
    ok(state.service.vapid_key())
}

async fn subscribe(
    state: State,
    Auth(caller): Auth,
    Body(input): Body<PushSubscriptionInput>,
) -> ApiResult<Response> {
    state.service.put_push_subscription(caller, input).await?;
    Ok(no_content())
}

async fn unsubscribe(
    state: State,
    Auth(caller): Auth,
    Body(input): Body<PushUnsubscribe>,
) -> ApiResult<Response> {
    state
        .service
        .delete_push_subscription(caller, input)
        .await?;
    Ok(no_content())
}

/// `{guild_id}` is a guild, or `@me` for DMs.
async fn patch_settings(
    state: State,
    Auth(caller): Auth,
    Path(guild): Path<String>,
    Body(input): Body<PatchGuildSettings>,
) -> ApiResult<Response> {
    let guild_id = match guild.as_str() {
        "@me" => None,
        other => Some(id(other, "guild_id")?),
    };
    Ok(ok(state
        .service
        .patch_guild_settings(caller, guild_id, input)
        .await?))
}

/// Many guilds at once (`@me` among them for DMs), as Discord's client
/// sends them.
async fn patch_settings_bulk(
    state: State,
    Auth(caller): Auth,
    Body(input): Body<PatchGuildSettingsBulk>,
) -> ApiResult<Response> {
    Ok(ok(state
        .service
        .patch_guild_settings_bulk(caller, input)
        .await?))
}

//! Voice regions, for clients choosing a voice channel's `rtc_region`.

use axum::extract::Path;
use axum::response::Response;

use super::guilds::guild_id;
use super::ok;
use crate::State;
use crate::error::ApiResult;
use crate::extract::Auth;

pub(super) fn routes() -> super::Routes {
    routes!("Voice" {
        get "/voice/regions" => regions, 200 Vec<VoiceRegion>;
        get "/guilds/{guild_id}/regions" => guild_regions, 200 Vec<VoiceRegion>;
    })
}

async fn regions(Auth(_caller): Auth) -> Response {
    ok(concord_service::voice::regions())
}

async fn guild_regions(
    state: State,
    Auth(caller): Auth,
    Path(g): Path<String>,
) -> ApiResult<Response> {
    Ok(ok(state
        .service
        .guild_regions(caller, guild_id(&g)?)
        .await?))
}

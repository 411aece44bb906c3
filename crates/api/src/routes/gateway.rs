//! Where the gateway is, for clients about to connect.

use axum::response::Response;
use concord_service::ServiceError;
use serde_json::json;

use super::ok;
use crate::State;
use crate::error::ApiResult;
use crate::extract::Auth;

pub(super) fn routes() -> super::Routes {
    routes!("Gateway" {
        get "/gateway" => gateway, 200 GatewayUrl;
        get "/gateway/bot" => gateway_bot, 200 GatewayBot;
    })
}

async fn gateway(state: State) -> Response {
    ok(json!({ "url": state.gateway_url }))
}

/// One shard suffices for every guild count Concord serves on one node;
/// identify is not throttled, which `session_start_limit` advertises.
async fn gateway_bot(state: State, Auth(caller): Auth) -> ApiResult<Response> {
    if !caller.bot {
        return Err(ServiceError::Unauthorized.into());
    }
    Ok(ok(json!({
        "url": state.gateway_url,
        "shards": 1,
        "session_start_limit": { "total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1 },
    })))
}

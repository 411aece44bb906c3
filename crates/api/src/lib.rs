//! The Discord HTTP API v10, on axum. Handlers are thin: parse the request
//! into the service's input types, call the service, serialize the answer.
//! All error bodies come from one mapping ([`error::ApiError`]) and all
//! bodies are read through one extractor ([`extract::Body`]), so even bad
//! input gets Discord's error shape.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::response::Response;
use axum::routing::get;
use concord_model::limits;
use concord_service::Service;
use metrics_exporter_prometheus::PrometheusHandle;

mod availability;
pub mod error;
pub mod extract;
mod observe;
pub use observe::MetricsAccess;
mod ratelimit;
mod routes;
pub mod web;

/// What every handler can reach.
pub struct AppState {
    pub service: Arc<Service>,
    pub metrics: Option<PrometheusHandle>,
    /// Who may read `/metrics`.
    pub metrics_access: MetricsAccess,
    /// The gateway's public URL, for `GET /gateway`.
    pub gateway_url: String,
    /// The secret the local command line proves itself with (`Control <token>`).
    pub control_token: String,
    /// Open gateway connections, for the admin statistics.
    pub gateway_connections: Box<dyn Fn() -> usize + Send + Sync>,
    pub started: std::time::Instant,
    /// The file the server was configured from, copied into backups.
    pub config_file: Option<std::path::PathBuf>,
    /// The web client's files.
    pub web: web::WebAssets,
}

pub type State = axum::extract::State<Arc<AppState>>;

/// Runs the request with the reason its client gave for the audit log
/// (`X-Audit-Log-Reason`, percent-encoded by the libraries).
async fn audit_reason(request: axum::extract::Request, next: middleware::Next) -> Response {
    let reason = request
        .headers()
        .get("x-audit-log-reason")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned()
        });
    concord_service::guilds::audit::with_reason(reason, next.run(request)).await
}

/// The whole HTTP surface: `/api/v10` (with `/api/v9` and `/api` as
/// aliases), `/healthz` and `/metrics`. `extra` is merged at the root
/// (the gateway's WebSocket upgrade lives there).
pub fn router(state: Arc<AppState>, extra: Router) -> Router {
    // Room for a message's files; JSON bodies keep their own 1 MiB limit.
    let uploads = state.service.config.attachment_max_bytes as usize * limits::ATTACHMENTS_MAX
        + limits::BODY_MAX_BYTES;
    let root_state = Arc::clone(&state);
    let api = routes::api()
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            availability::writes,
        ))
        .route_layer(middleware::from_fn(audit_reason))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            ratelimit::limit,
        ))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(Arc::clone(&state));
    Router::new()
        .nest("/api/v10", api.clone())
        .nest("/api/v9", api.clone())
        .nest("/api", api)
        .route("/emojis/{file}", get(routes::emojis::image))
        .route("/avatars/{user_id}/{file}", get(routes::images::avatar))
        .route("/icons/{guild_id}/{file}", get(routes::images::icon))
        .route(
            "/channel-icons/{channel_id}/{file}",
            get(routes::images::channel_icon),
        )
        .route(
            "/attachments/{channel_id}/{attachment_id}/{filename}",
            get(routes::messages::attachment),
        )
        .route("/static/{*path}", get(web::asset))
        .route("/login", get(web::page))
        .route("/register", get(web::page))
        .route("/invite/{code}", get(web::page))
        .route("/channels/{*rest}", get(web::page))
        .route("/healthz", get(observe::healthz))
        .route("/readyz", get(observe::readyz))
        .route("/metrics", get(observe::metrics))
        .with_state(state)
        .merge(extra)
        .fallback(error::not_found)
        .layer(middleware::from_fn_with_state(
            root_state,
            web::page_at_root,
        ))
        .layer(middleware::from_fn(observe::track))
        .layer(DefaultBodyLimit::max(uploads))
}

//! Health, metrics and per-request accounting.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::State;
use crate::error::json_response;

/// Liveness: the process answers.
pub(crate) async fn healthz() -> Response {
    json_response(StatusCode::OK, &serde_json::json!({ "status": "ok" }))
}

/// Readiness: 200 when every check serving needs passes, else 503; the
/// body names each check and what it found.
pub(crate) async fn readyz(state: State) -> Response {
    let readiness = state.service.readiness().await;
    let status = if readiness.ready {
        StatusCode::OK
    } else {
        tracing::warn!(?readiness, "not ready");
        StatusCode::SERVICE_UNAVAILABLE
    };
    json_response(status, &readiness)
}

/// Who may read `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct MetricsAccess {
    /// Anyone may.
    pub open: bool,
    /// Whoever presents `Authorization: Bearer <token>` may, from anywhere.
    pub token: Option<String>,
}

impl MetricsAccess {
    /// Whether `request` may read the metrics: with access open, with the
    /// token, or from this machine. A request that names a client it was
    /// forwarded for comes from elsewhere, whatever its peer: a reverse
    /// proxy on this machine forwards the whole internet.
    fn allows(&self, request: &Request) -> bool {
        self.open || self.has_token(request) || is_local(request)
    }

    fn has_token(&self, request: &Request) -> bool {
        let Some(token) = &self.token else {
            return false;
        };
        let presented = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        presented.is_some_and(|p| same_secret(p.as_bytes(), token.as_bytes()))
    }
}

/// The request came straight from a loopback address.
fn is_local(request: &Request) -> bool {
    let forwarded = ["x-forwarded-for", "forwarded", "x-real-ip"]
        .iter()
        .any(|name| request.headers().contains_key(*name));
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_canonical());
    !forwarded && peer.is_some_and(|ip| ip.is_loopback())
}

/// Compares secrets in time that depends on their lengths only.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// The Prometheus text, for those [`MetricsAccess`] allows; others get 403.
pub(crate) async fn metrics(state: State, request: Request) -> Response {
    if !state.metrics_access.allows(&request) {
        return (
            StatusCode::FORBIDDEN,
            "metrics are readable from this machine or with the metrics token",
        )
            .into_response();
    }
    let body = state
        .metrics
        .as_ref()
        .map(|h| h.render())
        .unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// Counts requests and their latency by route and status.
pub(crate) async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("concord_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("concord_http_request_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

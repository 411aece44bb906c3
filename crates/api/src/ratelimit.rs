//! Discord's rate limits: a global limit per user (or per address without
//! a valid token) and a limit per route bucket and major parameter, with
//! the headers every client library reads. See PROTOCOL.md §2 for which
//! library needs which header.
//!
//! Requests are counted against who they are, never against the text a
//! client sends: the token is verified here (in memory, see
//! `service::auth`) and the caller handed on to the `Auth` extractor, so
//! a made-up `Authorization` header counts against its sender's address
//! and a valid one against its user, however it is spelled.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{Extensions, HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use concord_model::snowflake::now_ms;
use concord_service::access::ratelimit::{Decision, Limit};

use crate::AppState;
use crate::error::json_response;
use crate::extract::{Authenticated, verify};

/// The parameter that splits a route into separate buckets, as Discord's.
fn major_parameter(path: &str) -> &str {
    let mut parts = path
        .split('/')
        .skip_while(|p| !matches!(*p, "channels" | "guilds" | "webhooks"));
    parts.nth(1).unwrap_or("")
}

/// Discord's limit on executing one webhook, whoever sends: 5 every 2 s.
const WEBHOOK_EXECUTE: Limit = Limit {
    count: 5,
    window_ms: 2_000,
};

/// A webhook execution's route key and limit, counted per webhook (the
/// major parameter: its id, never its token), if the request is one.
fn webhook_execution(method: &Method, route: &str, major: &str) -> Option<(String, Limit)> {
    let executes =
        *method == Method::POST && route.contains("/webhooks/{webhook_id}/{webhook_token}");
    executes.then(|| (format!("w:{major}"), WEBHOOK_EXECUTE))
}

/// A short stable name for a route, sent as `X-RateLimit-Bucket`.
fn bucket_name(method: &Method, route: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in method.as_str().bytes().chain(route.bytes()) {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

fn set(headers: &mut HeaderMap, name: &'static str, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        headers.insert(name, v);
    }
}

fn describe(headers: &mut HeaderMap, d: &Decision, bucket: &str, scope: &str) {
    set(
        headers,
        "x-ratelimit-limit",
        d.limit.min(65_535).to_string(),
    );
    set(
        headers,
        "x-ratelimit-remaining",
        d.remaining.min(65_535).to_string(),
    );
    set(
        headers,
        "x-ratelimit-reset",
        format!("{:.3}", d.reset_at_ms as f64 / 1000.0),
    );
    set(
        headers,
        "x-ratelimit-reset-after",
        format!("{:.3}", d.reset_after_ms as f64 / 1000.0),
    );
    set(headers, "x-ratelimit-bucket", bucket.to_owned());
    set(headers, "x-ratelimit-scope", scope.to_owned());
}

fn too_many(d: &Decision, bucket: &str, global: bool) -> Response {
    let retry_after = d.reset_after_ms as f64 / 1000.0;
    let body = serde_json::json!({ "message": "You are being rate limited.", "retry_after": retry_after, "global": global });
    let mut response = json_response(StatusCode::TOO_MANY_REQUESTS, &body);
    let headers = response.headers_mut();
    let scope = if global { "global" } else { "user" };
    describe(headers, d, bucket, scope);
    set(
        headers,
        "retry-after",
        d.reset_after_ms.div_ceil(1000).max(1).to_string(),
    );
    headers.insert(header::VIA, HeaderValue::from_static("1.1 concord"));
    if global {
        headers.insert("x-ratelimit-global", HeaderValue::from_static("true"));
    }
    metrics::counter!("concord_rate_limited_total", "scope" => scope).increment(1);
    response
}

/// Who an anonymous request is: the peer, or behind a trusted proxy the
/// address it appended last to `X-Forwarded-For`.
fn client_address(request: &Request, trust_forwarded_for: bool) -> String {
    client_address_of(request.headers(), request.extensions(), trust_forwarded_for)
}

/// [`client_address`] from a request's parts.
pub(crate) fn client_address_of(
    headers: &HeaderMap,
    extensions: &Extensions,
    trust_forwarded_for: bool,
) -> String {
    let forwarded = trust_forwarded_for
        .then(|| headers.get("x-forwarded-for"))
        .flatten()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty());
    forwarded.unwrap_or_else(|| {
        extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(String::new, |c| c.0.ip().to_string())
    })
}

/// The counted name of an address: an IPv6 client holds a whole /64, so
/// it is counted as one.
pub(crate) fn address_key(address: &str) -> String {
    match address.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("a:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        _ => format!("a:{address}"),
    }
}

pub(crate) async fn limit(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let limits = &state.service.config.rate_limits;
    if !limits.enabled {
        return next.run(request).await;
    }
    let who = match verify(request.headers(), &state).await {
        Some(caller) => {
            request.extensions_mut().insert(Authenticated(caller));
            format!("u:{}", caller.id)
        }
        None => address_key(&client_address(&request, limits.trust_forwarded_for)),
    };
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("", |p| p.as_str())
        .to_owned();
    let method = request.method().clone();
    let bucket = bucket_name(&method, &route);
    let is_message_send =
        method == Method::POST && route.ends_with("/channels/{channel_id}/messages");
    let route_limit = if is_message_send {
        limits.message
    } else {
        limits.route
    };
    let global_limit = Limit {
        count: limits.global_per_second,
        window_ms: 1_000,
    };
    let major = major_parameter(request.uri().path());
    let global_key = format!("g:{who}");
    let (route_key, route_limit) = webhook_execution(&method, &route, major)
        .unwrap_or_else(|| (format!("r:{who}:{bucket}:{major}"), route_limit));
    // One round trip for both; the route is not counted when the global
    // limit refuses. A limiter that cannot answer lets the request through
    // (see `service::ratelimit`), without headers it cannot know.
    let checks = [(&*global_key, global_limit), (&*route_key, route_limit)];
    let Some(decisions) = state.service.count_request(&checks, now_ms()).await else {
        return next.run(request).await;
    };
    let decision = match decisions.as_slice() {
        [global] if !global.allowed => return too_many(global, &bucket, true),
        [_, route] if !route.allowed => return too_many(route, &bucket, false),
        [_, route] => *route,
        // A backend that answered for the wrong number of keys: as if it
        // could not answer.
        _ => return next.run(request).await,
    };
    let mut response = next.run(request).await;
    describe(response.headers_mut(), &decision, &bucket, "user");
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn major_parameters() {
        assert_eq!(major_parameter("/api/v10/channels/123/messages/9"), "123");
        assert_eq!(major_parameter("/api/v10/guilds/55/members"), "55");
        assert_eq!(major_parameter("/api/v10/users/@me"), "");
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_prefix() {
        assert_eq!(
            address_key("2001:db8:1:2:aaaa::1"),
            address_key("2001:db8:1:2:bbbb::7")
        );
        assert_ne!(
            address_key("2001:db8:1:2::1"),
            address_key("2001:db8:1:3::1")
        );
        assert_eq!(address_key("192.0.2.7"), "a:192.0.2.7");
    }
}

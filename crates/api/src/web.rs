//! The web client: the files of `web/`, built into the binary (or read from
//! a directory while working on the client), served under `/static/`, and
//! its page at `/` and at the client's own paths.

use std::borrow::Cow;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Component, Path, PathBuf};

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use include_dir::{Dir, include_dir};

use crate::State;

static BUILT_IN: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../web");

/// The page's own rules: nothing from elsewhere, no inline script. The one
/// connection elsewhere is a voice server's WebSocket (`wss:`), whose host
/// and port VOICE_SERVER_UPDATE names at run time (each node has its own).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' blob: data:; \
    connect-src 'self' wss:; script-src 'self'; style-src 'self'; object-src 'none'; \
    base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Where the client's files come from.
#[derive(Debug, Clone, Default)]
pub enum WebAssets {
    #[default]
    BuiltIn,
    Directory(PathBuf),
}

impl WebAssets {
    fn read(&self, path: &str) -> Option<Cow<'static, [u8]>> {
        let relative = Path::new(path);
        // Only plain names below the root: no `..`, no absolute paths.
        if !relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
        {
            return None;
        }
        match self {
            WebAssets::BuiltIn => BUILT_IN
                .get_file(relative)
                .map(|f| Cow::Borrowed(f.contents())),
            WebAssets::Directory(root) => std::fs::read(root.join(relative)).ok().map(Cow::Owned),
        }
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("txt" | "md") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// A file with a content hash as its ETag; browsers revalidate each use
/// (`no-cache`) and get a 304 while it is unchanged.
fn file_response(path: &str, bytes: Cow<'static, [u8]>, request: &HeaderMap) -> Response {
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    let etag = format!("\"{:016x}\"", hasher.finish());
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes());
    let headers = [
        (header::CONTENT_TYPE, content_type(path)),
        (header::CACHE_CONTROL, "no-cache"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    let mut response = if fresh {
        (StatusCode::NOT_MODIFIED, headers).into_response()
    } else {
        (headers, bytes).into_response()
    };
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

/// `GET /static/{*path}`.
pub(crate) async fn asset(
    state: State,
    axum::extract::Path(path): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    match state.web.read(&path) {
        Some(bytes) => file_response(&path, bytes, &headers),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The client's page, for every path it routes itself.
pub(crate) async fn page(state: State, headers: HeaderMap) -> Response {
    page_response(&state.web, &headers)
}

fn page_response(web: &WebAssets, headers: &HeaderMap) -> Response {
    let Some(bytes) = web.read("index.html") else {
        return (StatusCode::NOT_FOUND, "the web client is not built in").into_response();
    };
    let mut response = file_response("index.html", bytes, headers);
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// `/` is the gateway's for WebSocket upgrades and the page's for browsers.
pub(crate) async fn page_at_root(
    state: axum::extract::State<std::sync::Arc<crate::AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let upgrade = request.headers().contains_key(header::UPGRADE);
    if request.uri().path() == "/" && request.method() == axum::http::Method::GET && !upgrade {
        return page_response(&state.web, request.headers());
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_client() {
        let web = WebAssets::BuiltIn;
        assert!(web.read("index.html").is_some());
        for escape in ["../Cargo.toml", "/etc/passwd", "js/../../Cargo.toml", ""] {
            assert!(web.read(escape).is_none(), "{escape}");
        }
    }

    #[test]
    fn types_by_extension() {
        assert_eq!(content_type("js/main.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("css/app.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("LICENSE"), "application/octet-stream");
    }
}

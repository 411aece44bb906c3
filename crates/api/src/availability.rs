//! Writes while a backend is down: a request that would change something
//! is refused with 503 while the event bus cannot take its event, before
//! the service commits anything, so no write is acknowledged that no
//! session or other node hears of. Reads, logins and registrations (which
//! announce nothing) go on. The store's own outages reach clients through
//! the error mapping (`error`), as 503 too.

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::error::ApiError;

/// Routes that change state without announcing it.
const UNANNOUNCED: [&str; 2] = ["/auth/login", "/auth/register"];

pub(crate) async fn writes(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let reads = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let unannounced = request
        .extensions()
        .get::<MatchedPath>()
        .is_some_and(|path| UNANNOUNCED.iter().any(|r| path.as_str().ends_with(r)));
    if !reads
        && !unannounced
        && let Err(e) = state.service.writable()
    {
        return ApiError::Service(e).into_response();
    }
    next.run(request).await
}

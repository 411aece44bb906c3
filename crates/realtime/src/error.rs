//! What a realtime backend can fail with.

/// A realtime backend could not answer (a networked one lost its server,
/// timed out, or sent something it should not have). Callers decide per
/// use whether to go on without it or to refuse.
#[derive(Debug, Clone, thiserror::Error)]
#[error("realtime backend unavailable: {0}")]
pub struct RealtimeError(pub String);

pub type RealtimeResult<T> = Result<T, RealtimeError>;

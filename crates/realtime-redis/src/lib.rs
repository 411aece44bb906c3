//! The realtime seam over Redis, for a cluster of nodes: presence, rate
//! limits, leases and the session directory that every node shares.
//!
//! Every operation that reads and then writes is one Lua script (called by
//! hash), so it is atomic on the server whatever the nodes do; batched
//! calls of the seam are one script or one pipeline. TTLs (leases,
//! presence sessions, the directory's entries) follow the server's clock,
//! so one clock decides for every node; rate-limit windows follow the
//! callers' clocks, as the seam passes them.
//!
//! Every key starts with a prefix (by default [`DEFAULT_PREFIX`]), so
//! clusters can share one server: `limit:*`, `streak:*` (limiter),
//! `lease:*`, `presence:*`, `session:*` with `frames:*` (directory), and
//! `voice:*` with `voice-expiry` (voice states).
//! Scripts name every key they touch, but some touch several keys at once:
//! one server (or a primary with replicas), not Redis Cluster.

mod conn;
pub mod leases;
pub mod limiter;
pub mod presence;
pub mod sessions;
pub mod voice;

use std::sync::Arc;

use async_trait::async_trait;
use concord_realtime::{Realtime, RealtimeError, RealtimeResult, Remote};

pub use conn::check_url;
pub use leases::RedisLeases;
pub use limiter::RedisLimiter;
pub use presence::RedisPresence;
pub use sessions::RedisSessions;
pub use voice::RedisVoice;

/// The key prefix when none is configured.
pub const DEFAULT_PREFIX: &str = "concord:";

/// The connections to Redis the realtime parts share: one for the session
/// directory, whose appends are bulk (a node's frames), and one for the
/// rest, so that a presence renewal or a rate-limit check never queues
/// behind megabytes of frames on its way to the server.
#[derive(Clone)]
pub struct RedisRealtime {
    conn: Arc<conn::Conn>,
    frames: Arc<conn::Conn>,
}

impl RedisRealtime {
    /// Connects to the server at `url` (`redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]`),
    /// keeping every key under `prefix`. Fails when the URL is not one or
    /// the server does not answer; once connected, it reconnects by itself
    /// and each call fails (rather than waits) while the server is away.
    pub async fn connect(url: &str, prefix: &str) -> Result<RedisRealtime, String> {
        let conn = conn::Conn::connect(url, prefix).await?;
        let frames = conn::Conn::connect(url, prefix).await?;
        Ok(RedisRealtime {
            conn: Arc::new(conn),
            frames: Arc::new(frames),
        })
    }

    /// Every part of the seam, over these connections.
    pub fn realtime(&self) -> Realtime {
        Realtime {
            presence: Arc::new(RedisPresence::new(Arc::clone(&self.conn))),
            limiter: Arc::new(RedisLimiter::new(Arc::clone(&self.conn))),
            leases: Arc::new(RedisLeases::new(Arc::clone(&self.conn))),
            sessions: Arc::new(RedisSessions::new(Arc::clone(&self.frames))),
            voice: Arc::new(RedisVoice::new(Arc::clone(&self.conn))),
            remote: Some(Arc::new(self.clone())),
        }
    }

    /// Whether the server answers (for readiness) on both connections.
    pub async fn ping(&self) -> Result<(), String> {
        self.conn.ping().await?;
        self.frames.ping().await
    }
}

#[async_trait]
impl Remote for RedisRealtime {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn check(&self) -> RealtimeResult<()> {
        self.ping().await.map_err(RealtimeError)
    }
}

#[cfg(test)]
mod tests;

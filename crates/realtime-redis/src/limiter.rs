//! Rate-limit windows and failure streaks in Redis. A request's windows are
//! counted by one script (read, count, write: atomic), so the nodes of a
//! cluster share one count per key; a streak's reads are one MGET.
//!
//! Windows follow the caller's clock (`now_ms`), as the seam says; keys
//! expire a minute after their window (or streak) could matter, so Redis
//! only ever holds the live ones.

use std::sync::Arc;

use async_trait::async_trait;
use concord_realtime::limiter::{Decision, Limit, Limiter, Streak};
use concord_realtime::{RealtimeError, RealtimeResult};
use fred::interfaces::KeysInterface;
use fred::types::Value;

use crate::conn::{Call, Conn, Lua, read, why};

/// How long a key outlives its use: room for the nodes' clocks to differ.
const SLACK_MS: u64 = 60_000;

pub struct RedisLimiter {
    conn: Arc<Conn>,
    check: Lua,
    extend: Lua,
}

impl RedisLimiter {
    pub(crate) fn new(conn: Arc<Conn>) -> RedisLimiter {
        RedisLimiter {
            conn,
            check: Lua::new(&[include_str!("lua/limiter_check.lua")]),
            extend: Lua::new(&[include_str!("lua/streaks_extend.lua")]),
        }
    }

    fn window(&self, key: &str) -> String {
        self.conn.key(format_args!("limit:{key}"))
    }

    fn streak(&self, key: &str) -> String {
        self.conn.key(format_args!("streak:{key}"))
    }
}

/// A streak as kept: "count last_ms forget_at_ms".
fn parse_streak(kept: &str, now_ms: u64) -> Option<Streak> {
    let mut parts = kept.split(' ').map(str::parse::<u64>);
    let (Some(Ok(count)), Some(Ok(last_ms)), Some(Ok(forget_at))) =
        (parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    (forget_at > now_ms).then(|| Streak {
        count: u32::try_from(count).unwrap_or(u32::MAX),
        last_ms,
    })
}

#[async_trait]
impl Limiter for RedisLimiter {
    async fn check_all(
        &self,
        checks: &[(&str, Limit)],
        now_ms: u64,
    ) -> RealtimeResult<Vec<Decision>> {
        if checks.is_empty() {
            return Ok(Vec::new());
        }
        let mut call = Call::new(&self.check).arg(now_ms).arg(SLACK_MS);
        for (key, limit) in checks {
            call = call
                .key(self.window(key))
                .arg(limit.count)
                .arg(limit.window_ms);
        }
        let answer = read::array(self.conn.eval(call).await.map_err(RealtimeError)?);
        let decision = |(counted, limit): (&[Value], &Limit)| {
            let [allowed, remaining, reset_at] = counted else {
                return Err(read::bad("a window", &Value::Null));
            };
            let reset_at_ms = u64::try_from(read::int(reset_at, "reset")?).unwrap_or(0);
            Ok::<_, String>(Decision {
                allowed: read::int(allowed, "allowed")? == 1,
                limit: limit.count,
                remaining: u32::try_from(read::int(remaining, "remaining")?).unwrap_or(0),
                reset_after_ms: reset_at_ms.saturating_sub(now_ms),
                reset_at_ms,
            })
        };
        answer
            .chunks(3)
            .zip(checks.iter().map(|(_, limit)| limit))
            .map(|counted| decision(counted).map_err(RealtimeError))
            .collect()
    }

    async fn streaks(&self, keys: &[&str], now_ms: u64) -> RealtimeResult<Vec<Option<Streak>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let names: Vec<String> = keys.iter().map(|k| self.streak(k)).collect();
        let kept: Value = self
            .conn
            .client()
            .mget(names)
            .await
            .map_err(|e| RealtimeError(why(&e)))?;
        let kept = match kept {
            Value::Array(values) => values,
            one => vec![one],
        };
        if kept.len() != keys.len() {
            return Err(RealtimeError("redis: MGET answered another count".into()));
        }
        Ok(kept
            .into_iter()
            .map(|value| {
                let text = read::text(value, "a streak").ok()?;
                parse_streak(&text, now_ms)
            })
            .collect())
    }

    async fn extend_streaks(
        &self,
        keys: &[&str],
        now_ms: u64,
        forget_after_ms: u64,
    ) -> RealtimeResult<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let mut call = Call::new(&self.extend)
            .arg(now_ms)
            .arg(forget_after_ms.max(1))
            .arg(SLACK_MS);
        for key in keys {
            call = call.key(self.streak(key));
        }
        self.conn.eval(call).await.map_err(RealtimeError)?;
        Ok(())
    }

    async fn end_streak(&self, key: &str) -> RealtimeResult<()> {
        self.conn
            .client()
            .del::<(), _>(self.streak(key))
            .await
            .map_err(|e| RealtimeError(why(&e)))
    }
}

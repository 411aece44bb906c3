//! Leases in Redis: a key per lease holding its holder's name, expiring
//! with the lease (by the server's clock, so nodes' clocks do not matter).
//! Taking, renewing and giving up are scripts that check the holder first.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use concord_realtime::{Leases, RealtimeError, RealtimeResult};

use crate::conn::{Call, Conn, Lua, ms, read};

pub struct RedisLeases {
    conn: Arc<Conn>,
    acquire: Lua,
    renew: Lua,
    release: Lua,
}

impl RedisLeases {
    pub(crate) fn new(conn: Arc<Conn>) -> RedisLeases {
        RedisLeases {
            conn,
            acquire: Lua::new(&[include_str!("lua/leases_acquire.lua")]),
            renew: Lua::new(&[include_str!("lua/leases_renew.lua")]),
            release: Lua::new(&[include_str!("lua/leases_release.lua")]),
        }
    }

    fn lease(&self, name: &str) -> String {
        self.conn.key(format_args!("lease:{name}"))
    }

    async fn run(&self, call: Call<'_>, what: &str) -> RealtimeResult<i64> {
        let answer = self.conn.eval(call).await.map_err(RealtimeError)?;
        read::int(&answer, what).map_err(RealtimeError)
    }
}

#[async_trait]
impl Leases for RedisLeases {
    async fn acquire(&self, name: &str, holder: &str, ttl: Duration) -> RealtimeResult<bool> {
        let names = [name.to_owned()];
        Ok(self.acquire_first(&names, holder, ttl).await?.is_some())
    }

    async fn acquire_first(
        &self,
        names: &[String],
        holder: &str,
        ttl: Duration,
    ) -> RealtimeResult<Option<usize>> {
        if names.is_empty() {
            return Ok(None);
        }
        let mut call = Call::new(&self.acquire).arg(holder).arg(ms(ttl));
        for name in names {
            call = call.key(self.lease(name));
        }
        let at = self.run(call, "a lease").await?;
        Ok(usize::try_from(at).ok().filter(|at| *at < names.len()))
    }

    async fn renew(&self, name: &str, holder: &str, ttl: Duration) -> RealtimeResult<bool> {
        let call = Call::new(&self.renew)
            .key(self.lease(name))
            .arg(holder)
            .arg(ms(ttl));
        Ok(self.run(call, "a renewal").await? == 1)
    }

    async fn release(&self, name: &str, holder: &str) -> RealtimeResult<()> {
        let call = Call::new(&self.release).key(self.lease(name)).arg(holder);
        self.run(call, "a release").await.map(drop)
    }
}

//! Presence in Redis. Per user a hash: each session's expiry, order and
//! shown presence, and what others were last told; one sorted set of every
//! session by expiry, for the sweep; one counter for the order of changes.
//! Every change is one script that drops the user's expired sessions,
//! applies itself and decides the transition from what was told, so nodes
//! never race on a user going offline. Expiry follows the server's clock.
//!
//! Presences are kept as their JSON as others see them (serde_json writes
//! a value one way only), so the scripts compare them as strings.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use concord_model::Snowflake;
use concord_realtime::presence::{Presence, Touched, Transition, UserPresence};
use concord_realtime::{RealtimeError, RealtimeResult};
use fred::types::Value;

use crate::conn::{Call, Conn, Lua, ms, read};

const LIB: &str = include_str!("lua/presence.lua");

/// Users read by one script, so that none holds the server for long.
const READ_CHUNK: usize = 500;

pub struct RedisPresence {
    conn: Arc<Conn>,
    offline: String,
    connect: Lua,
    update: Lua,
    refresh: Lua,
    disconnect: Lua,
    get: Lua,
    due: Lua,
    sweep: Lua,
}

fn json(presence: &UserPresence) -> String {
    serde_json::to_string(&presence.shown()).unwrap_or_default()
}

fn parse(text: String) -> RealtimeResult<UserPresence> {
    serde_json::from_str(&text)
        .map_err(|e| RealtimeError(format!("redis: a stored presence does not parse: {e}")))
}

fn error(e: String) -> RealtimeError {
    RealtimeError(e)
}

/// A transition answered as `before, after`.
fn transition(before: Value, after: Value) -> RealtimeResult<Transition> {
    Ok(Transition {
        before: parse(read::text(before, "a presence").map_err(error)?)?,
        after: parse(read::text(after, "a presence").map_err(error)?)?,
    })
}

/// nil, or a transition.
fn told(answer: Value) -> RealtimeResult<Option<Transition>> {
    let mut parts = read::array(answer).into_iter();
    match (parts.next(), parts.next()) {
        (Some(before), Some(after)) => transition(before, after).map(Some),
        _ => Ok(None),
    }
}

/// {0} (gone), {1} or {1, before, after}.
fn touched(answer: Value) -> RealtimeResult<Touched> {
    let mut parts = read::array(answer).into_iter();
    let live = parts
        .next()
        .map(|v| read::int(&v, "a session"))
        .transpose()
        .map_err(error)?;
    match (live, parts.next(), parts.next()) {
        (Some(0), ..) => Ok(Touched::Gone),
        (Some(1), Some(before), Some(after)) => Ok(Touched::Live(Some(transition(before, after)?))),
        (Some(1), None, None) => Ok(Touched::Live(None)),
        _ => Err(RealtimeError(
            "redis: unexpected answer for a session".into(),
        )),
    }
}

impl RedisPresence {
    pub(crate) fn new(conn: Arc<Conn>) -> RedisPresence {
        let script = |own: &str| Lua::new(&[LIB, own]);
        RedisPresence {
            conn,
            offline: json(&UserPresence::offline()),
            connect: script(include_str!("lua/presence_connect.lua")),
            update: script(include_str!("lua/presence_update.lua")),
            refresh: script(include_str!("lua/presence_refresh.lua")),
            disconnect: script(include_str!("lua/presence_disconnect.lua")),
            get: script(include_str!("lua/presence_get.lua")),
            due: script(include_str!("lua/presence_due.lua")),
            sweep: script(include_str!("lua/presence_sweep.lua")),
        }
    }

    fn expiry(&self) -> String {
        self.conn.key(format_args!("presence:expiry"))
    }

    /// A call of `lua` with the keys and the argument every presence script
    /// takes, for `users`.
    fn call<'a>(&self, lua: &'a Lua, users: &[Snowflake]) -> Call<'a> {
        let mut call = Call::new(lua)
            .key(self.expiry())
            .key(self.conn.key(format_args!("presence:clock")))
            .arg(&self.offline);
        for user in users {
            call = call
                .key(self.conn.key(format_args!("presence:user:{user}")))
                .arg(user);
        }
        call
    }

    async fn run(&self, call: Call<'_>) -> RealtimeResult<Value> {
        self.conn.eval(call).await.map_err(error)
    }
}

#[async_trait]
impl Presence for RedisPresence {
    async fn connect(
        &self,
        user: Snowflake,
        session: &str,
        presence: UserPresence,
        ttl: Duration,
    ) -> RealtimeResult<Option<Transition>> {
        let call = self
            .call(&self.connect, &[user])
            .arg(session)
            .arg(json(&presence))
            .arg(ms(ttl));
        told(self.run(call).await?)
    }

    async fn update(
        &self,
        user: Snowflake,
        session: &str,
        presence: UserPresence,
    ) -> RealtimeResult<Touched> {
        let call = self
            .call(&self.update, &[user])
            .arg(session)
            .arg(json(&presence));
        touched(self.run(call).await?)
    }

    async fn refresh(
        &self,
        user: Snowflake,
        session: &str,
        ttl: Duration,
    ) -> RealtimeResult<Touched> {
        let call = self.call(&self.refresh, &[user]).arg(session).arg(ms(ttl));
        touched(self.run(call).await?)
    }

    async fn disconnect(
        &self,
        user: Snowflake,
        session: &str,
    ) -> RealtimeResult<Option<Transition>> {
        let call = self.call(&self.disconnect, &[user]).arg(session);
        told(self.run(call).await?)
    }

    async fn get_many(&self, users: &[Snowflake]) -> RealtimeResult<Vec<UserPresence>> {
        let calls = users
            .chunks(READ_CHUNK)
            .map(|chunk| self.call(&self.get, chunk))
            .collect();
        let answers = self.conn.eval_all(calls).await.map_err(error)?;
        let shown: Vec<UserPresence> = answers
            .into_iter()
            .flat_map(read::array)
            .map(|v| parse(read::text(v, "a presence").map_err(error)?))
            .collect::<RealtimeResult<_>>()?;
        if shown.len() != users.len() {
            return Err(RealtimeError(
                "redis: presences answered another count".into(),
            ));
        }
        Ok(shown)
    }

    async fn sweep(&self, max: usize) -> RealtimeResult<Vec<(Snowflake, Transition)>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        // Which sessions are due, by the server's clock; the script that
        // follows settles their users, each in one step, so two nodes
        // sweeping at once still tell each change once.
        let due = self.run(self.call(&self.due, &[]).arg(max)).await?;
        let due: Vec<String> = read::array(due)
            .into_iter()
            .map(|v| read::text(v, "a due session"))
            .collect::<Result<_, _>>()
            .map_err(error)?;
        let mut seen = HashSet::new();
        let users: Vec<Snowflake> = due
            .iter()
            .filter_map(|member| member.split_once(' ')?.0.parse().ok())
            .map(Snowflake)
            .filter(|user| seen.insert(*user))
            .collect();
        if due.is_empty() {
            return Ok(Vec::new());
        }
        let mut call = self.call(&self.sweep, &users);
        for member in due {
            call = call.arg(member);
        }
        let answer = read::array(self.run(call).await?);
        let mut swept = Vec::with_capacity(answer.len() / 3);
        let mut parts = answer.into_iter();
        while let (Some(user), Some(before), Some(after)) =
            (parts.next(), parts.next(), parts.next())
        {
            let user = read::number(user, "a user").map_err(error)?;
            swept.push((Snowflake(user), transition(before, after)?));
        }
        Ok(swept)
    }
}

#[cfg(test)]
mod afk_suffix {
    use concord_realtime::presence::{Status, UserPresence};
    use serde_json::json;

    use super::json;

    /// The scripts tell an away session by how its JSON ends
    /// (`presence.lua`'s `AFK`); this holds them to serde's output.
    #[test]
    fn only_an_away_presence_ends_with_the_afk_field() {
        let mut presence = UserPresence {
            status: Status::Idle,
            activities: vec![json!({ "name": "x", "afk": true })],
            afk: false,
        };
        assert!(!json(&presence).ends_with(r#","afk":true}"#));
        presence.afk = true;
        assert!(json(&presence).ends_with(r#","afk":true}"#));
        presence.activities.clear();
        assert!(json(&presence).ends_with(r#","afk":true}"#));
    }
}

//! Voice states in Redis: per guild a hash of user id to the state's JSON
//! and a key holding the guild's endpoint; one sorted set of every state
//! by expiry, for the sweep. A join (with its user limit), a leave, a
//! change and an expiry are each one script, so nodes never race on a
//! channel's last place or on announcing a leave. Expiry follows the
//! server's clock.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use concord_model::Snowflake;
use concord_realtime::voice::{Change, Held, Joined, VoiceState, VoiceStates};
use concord_realtime::{RealtimeError, RealtimeResult};
use fred::interfaces::KeysInterface;
use fred::types::Value;

use crate::conn::{Call, Conn, Lua, ms, read, why};

const LIB: &str = include_str!("lua/voice.lua");

pub struct RedisVoice {
    conn: Arc<Conn>,
    join: Lua,
    leave: Lua,
    change: Lua,
    renew: Lua,
    due: Lua,
    expire: Lua,
    read: Lua,
    move_endpoint: Lua,
}

fn error(e: String) -> RealtimeError {
    RealtimeError(e)
}

fn parse(value: Value) -> RealtimeResult<VoiceState> {
    let text = read::text(value, "a voice state").map_err(error)?;
    serde_json::from_str(&text)
        .map_err(|e| RealtimeError(format!("redis: a stored voice state does not parse: {e}")))
}

/// A state, or nil.
fn maybe(value: Value) -> RealtimeResult<Option<VoiceState>> {
    match value {
        Value::Null => Ok(None),
        value => parse(value).map(Some),
    }
}

/// What the expiry set calls a state.
fn member(guild: Snowflake, user: Snowflake) -> String {
    format!("{guild} {user}")
}

fn flag(value: Option<bool>) -> &'static str {
    match value {
        Some(true) => "1",
        Some(false) => "0",
        None => "",
    }
}

impl RedisVoice {
    pub(crate) fn new(conn: Arc<Conn>) -> RedisVoice {
        let with_lib = |script: &str| Lua::new(&[LIB, script]);
        RedisVoice {
            join: with_lib(include_str!("lua/voice_join.lua")),
            leave: with_lib(include_str!("lua/voice_leave.lua")),
            change: with_lib(include_str!("lua/voice_change.lua")),
            renew: Lua::new(&[include_str!("lua/voice_renew.lua")]),
            due: Lua::new(&[include_str!("lua/voice_due.lua")]),
            expire: with_lib(include_str!("lua/voice_expire.lua")),
            read: Lua::new(&[include_str!("lua/voice_read.lua")]),
            move_endpoint: Lua::new(&[include_str!("lua/voice_move_endpoint.lua")]),
            conn,
        }
    }

    fn states(&self, guild: Snowflake) -> String {
        self.conn.key(format_args!("voice:{guild}"))
    }

    fn endpoint_key(&self, guild: Snowflake) -> String {
        self.conn.key(format_args!("voice:{guild}:endpoint"))
    }

    fn expiry(&self) -> String {
        self.conn.key(format_args!("voice-expiry"))
    }

    /// A script on one guild: its hash, endpoint and the expiry set.
    fn on_guild<'a>(&self, lua: &'a Lua, guild: Snowflake) -> Call<'a> {
        Call::new(lua)
            .key(self.states(guild))
            .key(self.endpoint_key(guild))
            .key(self.expiry())
    }

    /// One user's state (`user` given) or the guild's.
    async fn read(&self, guild: Snowflake, user: &str) -> RealtimeResult<Vec<VoiceState>> {
        let call = Call::new(&self.read).key(self.states(guild)).arg(user);
        read::array(self.eval(call).await?)
            .into_iter()
            .map(parse)
            .collect()
    }

    async fn eval(&self, call: Call<'_>) -> RealtimeResult<Value> {
        self.conn.eval(call).await.map_err(error)
    }
}

#[async_trait]
impl VoiceStates for RedisVoice {
    async fn join(
        &self,
        state: VoiceState,
        limit: Option<u32>,
        endpoint: &str,
        ttl: Duration,
    ) -> RealtimeResult<Joined> {
        let json = serde_json::to_string(&state).map_err(|e| RealtimeError(e.to_string()))?;
        let call = self
            .on_guild(&self.join, state.guild_id)
            .arg(state.user_id)
            .arg(json)
            .arg(limit.map_or(-1, i64::from))
            .arg(endpoint)
            .arg(ms(ttl))
            .arg(state.channel_id)
            .arg(&state.session_id)
            .arg(member(state.guild_id, state.user_id));
        let mut parts = read::array(self.eval(call).await?).into_iter();
        let set = parts.next().map(|v| read::int(&v, "a join")).transpose();
        match (
            set.map_err(error)?,
            parts.next(),
            parts.next(),
            parts.next(),
        ) {
            (Some(0), ..) => Ok(Joined::Full),
            (Some(1), Some(before), Some(after), Some(endpoint)) => Ok(Joined::Set {
                before: maybe(before)?,
                after: parse(after)?,
                endpoint: read::text(endpoint, "an endpoint").map_err(error)?,
            }),
            _ => Err(RealtimeError("redis: unexpected answer for a join".into())),
        }
    }

    async fn leave(
        &self,
        guild: Snowflake,
        user: Snowflake,
        session: Option<&str>,
    ) -> RealtimeResult<Option<VoiceState>> {
        let call = self
            .on_guild(&self.leave, guild)
            .arg(user)
            .arg(session.unwrap_or(""))
            .arg(member(guild, user));
        maybe(self.eval(call).await?)
    }

    async fn change(
        &self,
        guild: Snowflake,
        user: Snowflake,
        change: Change,
    ) -> RealtimeResult<Option<(VoiceState, VoiceState, String)>> {
        let (channel, token) = match change.move_to {
            Some((channel, token)) => (channel.to_string(), token),
            None => (String::new(), String::new()),
        };
        let call = self
            .on_guild(&self.change, guild)
            .arg(user)
            .arg(flag(change.mute))
            .arg(flag(change.deaf))
            .arg(channel)
            .arg(token);
        let mut parts = read::array(self.eval(call).await?).into_iter();
        match (parts.next(), parts.next(), parts.next()) {
            (Some(before), Some(after), Some(endpoint)) => Ok(Some((
                parse(before)?,
                parse(after)?,
                read::text(endpoint, "an endpoint").map_err(error)?,
            ))),
            _ => Ok(None),
        }
    }

    async fn get(&self, guild: Snowflake, user: Snowflake) -> RealtimeResult<Option<VoiceState>> {
        Ok(self.read(guild, &user.to_string()).await?.pop())
    }

    async fn guild(&self, guild: Snowflake) -> RealtimeResult<Vec<VoiceState>> {
        self.read(guild, "").await
    }

    async fn renew(&self, held: &[Held], ttl: Duration) -> RealtimeResult<Vec<bool>> {
        if held.is_empty() {
            return Ok(Vec::new());
        }
        let mut call = Call::new(&self.renew).key(self.expiry()).arg(ms(ttl));
        for h in held {
            call = call
                .key(self.states(h.guild_id))
                .arg(h.user_id)
                .arg(&h.session_id)
                .arg(member(h.guild_id, h.user_id));
        }
        read::array(self.eval(call).await?)
            .iter()
            .map(|v| read::int(v, "a renewal").map(|n| n == 1).map_err(error))
            .collect()
    }

    async fn endpoint(&self, guild: Snowflake) -> RealtimeResult<Option<String>> {
        let client = self.conn.client();
        let value = client.get(self.endpoint_key(guild)).await;
        value.map_err(|e| error(why(&e)))
    }

    async fn move_endpoint(&self, guild: Snowflake, from: &str, to: &str) -> RealtimeResult<bool> {
        let call = Call::new(&self.move_endpoint)
            .key(self.endpoint_key(guild))
            .arg(from)
            .arg(to);
        let moved = read::int(&self.eval(call).await?, "a move").map_err(error)?;
        Ok(moved == 1)
    }

    async fn sweep(&self, max: usize) -> RealtimeResult<Vec<VoiceState>> {
        let call = Call::new(&self.due).key(self.expiry()).arg(max);
        let due = read::array(self.eval(call).await?);
        let mut swept = Vec::new();
        for entry in due {
            let entry = read::text(entry, "an expiry").map_err(error)?;
            let parsed = entry
                .split_once(' ')
                .and_then(|(g, u)| Some((g.parse().ok()?, u.parse().ok()?)));
            let Some((guild, user)) = parsed.map(|(g, u)| (Snowflake(g), Snowflake(u))) else {
                continue;
            };
            let call = self.on_guild(&self.expire, guild).arg(user).arg(&entry);
            if let Some(state) = maybe(self.eval(call).await?)? {
                swept.push(state);
            }
        }
        Ok(swept)
    }
}

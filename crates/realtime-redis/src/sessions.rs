//! The session directory in Redis: per session a hash (its record) and a
//! list (its last frames, "seq\nkind\ndata" each), both expiring with the
//! TTL the holder last gave. Appending, the takeover behind RESUME,
//! confirming and removing are scripts that check the holder (and, for a
//! takeover, the user and the kept frames) before they write; a node's
//! batches go out as one pipeline.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use concord_model::Snowflake;
use concord_realtime::sessions::{
    Append, FRAMES_KEPT, Frame, NodeId, Resumed, SessionDirectory, SessionRecord, SessionsError,
};
use fred::types::Value;

use crate::conn::{Call, Conn, Lua, ms, read};

pub struct RedisSessions {
    conn: Arc<Conn>,
    kept: usize,
    create: Lua,
    append: Lua,
    resume: Lua,
    confirm: Lua,
    remove: Lua,
}

fn unavailable(why: String) -> SessionsError {
    SessionsError::Unavailable(why)
}

fn encode(frame: &Frame) -> String {
    format!("{}\n{}\n{}", frame.seq, frame.kind, frame.data)
}

fn decode(text: &str) -> Option<Frame> {
    let (seq, rest) = text.split_once('\n')?;
    let (kind, data) = rest.split_once('\n')?;
    Some(Frame {
        seq: seq.parse().ok()?,
        kind: Cow::Owned(kind.to_owned()),
        data: data.into(),
    })
}

impl RedisSessions {
    pub(crate) fn new(conn: Arc<Conn>) -> RedisSessions {
        RedisSessions {
            conn,
            kept: FRAMES_KEPT,
            create: Lua::new(&[include_str!("lua/sessions_create.lua")]),
            append: Lua::new(&[include_str!("lua/sessions_append.lua")]),
            resume: Lua::new(&[include_str!("lua/sessions_resume.lua")]),
            confirm: Lua::new(&[include_str!("lua/sessions_confirm.lua")]),
            remove: Lua::new(&[include_str!("lua/sessions_remove.lua")]),
        }
    }

    /// A call of `lua` on session `id`'s keys.
    fn call<'a>(&self, lua: &'a Lua, id: &str) -> Call<'a> {
        Call::new(lua)
            .key(self.conn.key(format_args!("session:{id}")))
            .key(self.conn.key(format_args!("frames:{id}")))
    }

    fn append_call(&self, node: NodeId, batch: &Append) -> Call<'_> {
        let mut call = self
            .call(&self.append, &batch.id)
            .arg(node.0)
            .arg(batch.last_event)
            .arg(u8::from(batch.state.is_some()))
            .arg(batch.state.as_deref().unwrap_or(""))
            .arg(batch.renew.map_or(0, ms))
            .arg(self.kept);
        if let (Some(first), Some(last)) = (batch.frames.first(), batch.frames.last()) {
            // The sequence the batch follows ("-" for none: it replaces).
            let prev = first
                .seq
                .checked_sub(1)
                .map_or("-".to_owned(), |p| p.to_string());
            call = call.arg(prev).arg(last.seq);
            // Only what can be kept is sent.
            let skip = batch.frames.len().saturating_sub(self.kept);
            for frame in &batch.frames[skip..] {
                call = call.arg(encode(frame));
            }
        } else {
            call = call.arg("").arg("");
        }
        call
    }
}

/// The record as the takeover answered it, and its frames.
fn resumed(id: &str, user: Snowflake, answer: Value) -> Result<Option<Resumed>, String> {
    if answer.is_null() {
        return Ok(None);
    }
    let mut parts = read::array(answer).into_iter();
    let mut next = |what: &str| {
        parts
            .next()
            .ok_or_else(|| format!("redis: a session lacks its {what}"))
            .and_then(|v| read::text(v, what))
    };
    let node = next("node")?;
    let intents = next("intents")?;
    let shard = next("shard")?;
    let state = next("state")?;
    let seq = next("seq")?;
    let last_event = next("last event")?;
    let number = |text: &str, what: &str| {
        text.parse::<u64>()
            .map_err(|_| format!("redis: a session's {what} is not a number: {text}"))
    };
    let (shard_id, shard_count) = shard.split_once(' ').unwrap_or(("0", "1"));
    let record = SessionRecord {
        id: id.into(),
        user_id: user,
        node: NodeId(number(&node, "node")?),
        intents: number(&intents, "intents")?,
        shard: [number(shard_id, "shard")?, number(shard_count, "shard")?],
        state,
        seq: number(&seq, "seq")?,
        last_event: number(&last_event, "last event")?,
    };
    let frames = parts
        .map(|v| {
            let text = read::text(v, "a frame")?;
            decode(&text).ok_or_else(|| "redis: a frame does not parse".to_owned())
        })
        .collect::<Result<_, _>>()?;
    Ok(Some(Resumed { record, frames }))
}

#[async_trait]
impl SessionDirectory for RedisSessions {
    async fn create(&self, record: SessionRecord, ttl: Duration) -> Result<(), SessionsError> {
        let call = self
            .call(&self.create, &record.id)
            .arg(record.user_id)
            .arg(record.node.0)
            .arg(record.intents)
            .arg(format!("{} {}", record.shard[0], record.shard[1]))
            .arg(&record.state)
            .arg(record.seq)
            .arg(record.last_event)
            .arg(ms(ttl));
        self.conn.eval(call).await.map_err(unavailable)?;
        Ok(())
    }

    async fn append(
        &self,
        node: NodeId,
        batches: Vec<Append>,
    ) -> Result<Vec<Arc<str>>, SessionsError> {
        if batches.is_empty() {
            return Ok(Vec::new());
        }
        let calls = batches.iter().map(|b| self.append_call(node, b)).collect();
        let answers = self.conn.eval_all(calls).await.map_err(unavailable)?;
        let mut refused = Vec::new();
        for (batch, answer) in batches.into_iter().zip(answers) {
            if read::int(&answer, "an append").map_err(unavailable)? != 1 {
                refused.push(batch.id);
            }
        }
        Ok(refused)
    }

    async fn resume(
        &self,
        id: &str,
        user: Snowflake,
        node: NodeId,
        after: u64,
        ttl: Duration,
    ) -> Result<Option<Resumed>, SessionsError> {
        let call = self
            .call(&self.resume, id)
            .arg(user)
            .arg(node.0)
            .arg(after)
            .arg(u128::from(after) + 1)
            .arg(ms(ttl));
        let answer = self.conn.eval(call).await.map_err(unavailable)?;
        resumed(id, user, answer).map_err(unavailable)
    }

    async fn confirm(&self, id: &str, node: NodeId, seq: u64) -> Result<(), SessionsError> {
        let call = self.call(&self.confirm, id).arg(node.0).arg(seq);
        self.conn.eval(call).await.map_err(unavailable)?;
        Ok(())
    }

    async fn remove(&self, node: NodeId, ids: Vec<Arc<str>>) -> Result<(), SessionsError> {
        if ids.is_empty() {
            return Ok(());
        }
        let calls = ids
            .iter()
            .map(|id| self.call(&self.remove, id).arg(node.0))
            .collect();
        self.conn.eval_all(calls).await.map_err(unavailable)?;
        Ok(())
    }
}

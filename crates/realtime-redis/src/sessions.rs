//! The session directory in Redis: per session a hash (its record) and a
//! list (its last frames, "seq\nkind\nTEXT-KEY" each), both expiring with
//! the TTL the holder last gave; a frame's data is a key of its own
//! (`text:*`), written once for all the sessions that got it and kept for
//! [`TEXT_TTL`] (a thousand sessions getting one message store its text
//! once, not a thousand times). Appending, the takeover behind RESUME,
//! confirming and removing are scripts that check the holder (and, for a
//! takeover, the user and the kept frames) before they write; a node's
//! batches go out as a few calls of the append script.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use concord_model::Snowflake;
use concord_realtime::sessions::{
    Append, FRAMES_KEPT, Frame, NodeId, Resumed, SessionDirectory, SessionRecord, SessionsError,
};
use fred::types::Value;
use futures_util::StreamExt;
use futures_util::stream::FuturesOrdered;

use crate::conn::{Call, Conn, Lua, ms, read};

/// Sessions and frames one append script takes at most, and how many
/// such calls are out at once: a node's batch goes in calls none of which
/// keeps the server busy for long, so that other commands (presence, a
/// RESUME) wait behind a few calls at most, however far behind the node's
/// sessions are.
const SESSIONS_PER_CALL: usize = 256;
const FRAMES_PER_CALL: usize = 4_096;
const CALLS_AT_ONCE: usize = 4;

/// How long a frame's text is kept from the last append that used it: a
/// frame is needed until its client confirms it (a heartbeat later) or its
/// session expires (a few minutes after its last renewal); a text gone
/// before its frame makes a RESUME needing it fail, as frames no longer
/// kept do.
const TEXT_TTL: Duration = Duration::from_secs(900);

pub struct RedisSessions {
    conn: Arc<Conn>,
    kept: usize,
    /// Names this process's texts apart from every other's.
    process: u64,
    texts: AtomicU64,
    create: Lua,
    append: Lua,
    resume: Lua,
    confirm: Lua,
    remove: Lua,
}

fn unavailable(why: String) -> SessionsError {
    SessionsError::Unavailable(why)
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
            process: rand::random(),
            texts: AtomicU64::new(0),
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

    /// One call appending `batches` (a chunk from [`chunks`]): each frame's
    /// data is stored once, however many of the sessions got it, and their
    /// entries name it.
    fn append_call(&self, node: NodeId, batches: &[Append]) -> Call<'_> {
        let mut texts: Vec<(String, &Arc<str>)> = Vec::new();
        let mut named: HashMap<*const u8, usize> = HashMap::new();
        let mut tail = Vec::new();
        let mut call = Call::new(&self.append);
        for batch in batches {
            call = call
                .key(self.conn.key(format_args!("session:{}", batch.id)))
                .key(self.conn.key(format_args!("frames:{}", batch.id)));
            // Only what can be kept is sent.
            let frames = &batch.frames[batch.frames.len().saturating_sub(self.kept)..];
            // The sequence the batch follows ("-" for none: it replaces).
            let prev = frames
                .first()
                .and_then(|f| f.seq.checked_sub(1))
                .map_or("-".to_owned(), |p| p.to_string());
            let last = frames.last().map_or(String::new(), |f| f.seq.to_string());
            tail.push(batch.last_event.to_string());
            tail.push(u8::from(batch.state.is_some()).to_string());
            tail.push(batch.state.clone().unwrap_or_default());
            tail.push(batch.renew.map_or(0, ms).to_string());
            tail.push(prev);
            tail.push(last);
            tail.push(frames.len().to_string());
            for frame in frames {
                let number = *named.entry(frame.data.as_ptr()).or_insert_with(|| {
                    texts.push((self.text_key(), &frame.data));
                    texts.len() - 1
                });
                tail.push(format!(
                    "{}\n{}\n{}",
                    frame.seq, frame.kind, texts[number].0
                ));
            }
        }
        call = call
            .arg(node.0)
            .arg(self.kept)
            .arg(ms(TEXT_TTL))
            .arg(texts.len());
        for (key, text) in texts {
            call = call.arg(key).arg(text);
        }
        for arg in tail {
            call = call.arg(arg);
        }
        call
    }

    /// A key no other text has had: this process's own prefix and a count.
    fn text_key(&self) -> String {
        let n = self.texts.fetch_add(1, Ordering::Relaxed);
        self.conn
            .key(format_args!("text:{:016x}:{n:x}", self.process))
    }
}

/// `batches` cut where a call would take more than [`SESSIONS_PER_CALL`]
/// sessions or [`FRAMES_PER_CALL`] frames (of which at most `kept` per
/// session are sent); a session with more frames goes alone.
fn chunks(batches: &[Append], kept: usize) -> Vec<&[Append]> {
    let mut chunks = Vec::new();
    let (mut start, mut frames) = (0, 0);
    for (i, batch) in batches.iter().enumerate() {
        let more = batch.frames.len().min(kept);
        if i > start && (i - start == SESSIONS_PER_CALL || frames + more > FRAMES_PER_CALL) {
            chunks.push(&batches[start..i]);
            (start, frames) = (i, 0);
        }
        frames += more;
    }
    if start < batches.len() {
        chunks.push(&batches[start..]);
    }
    chunks
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
        let mut calls = chunks(&batches, self.kept).into_iter();
        let mut out = FuturesOrdered::new();
        let mut answers = Vec::with_capacity(batches.len());
        loop {
            while out.len() < CALLS_AT_ONCE {
                let Some(chunk) = calls.next() else { break };
                out.push_back(self.conn.eval(self.append_call(node, chunk)));
            }
            let Some(answer) = out.next().await else {
                break;
            };
            answers.extend(read::array(answer.map_err(unavailable)?));
        }
        if answers.len() != batches.len() {
            return Err(unavailable(format!(
                "redis: {} answers to {} appends",
                answers.len(),
                batches.len()
            )));
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(frames: usize) -> Append {
        let frame = Frame {
            seq: 1,
            kind: "X".into(),
            data: "{}".into(),
        };
        Append {
            frames: vec![frame; frames],
            ..Append::default()
        }
    }

    /// Every batch goes, in order, and no call exceeds its bounds unless
    /// one session alone does.
    #[test]
    fn chunks_bound_each_call() {
        let sizes = [0, 3, 4_000, 90, 1_000, 1_000, 1_000, 1_000, 1_000, 2];
        let mut batches: Vec<Append> = sizes.iter().map(|&n| batch(n)).collect();
        batches.extend((0..600).map(|_| batch(1)));
        let chunks = chunks(&batches, FRAMES_KEPT);
        assert_eq!(chunks.iter().map(|c| c.len()).sum::<usize>(), batches.len());
        let kept = |c: &[Append]| {
            c.iter()
                .map(|b| b.frames.len().min(FRAMES_KEPT))
                .sum::<usize>()
        };
        for chunk in &chunks {
            assert!(chunk.len() <= SESSIONS_PER_CALL);
            assert!(kept(chunk) <= FRAMES_PER_CALL, "{}", kept(chunk));
        }
        let lens: Vec<usize> = chunks.iter().map(|c| c.len()).collect();
        // 4,000 frames count as the 1,000 kept: seven batches make 4,093.
        assert_eq!(lens, [7, 256, 256, 91]);
    }
}

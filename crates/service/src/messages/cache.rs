//! Read-through cache of each channel's newest messages.
//!
//! An entry is always exactly the newest messages of its channel (a prefix
//! of history, newest first), or absent. Writers update the store first and
//! the entry second; a reader that misses loads from the store while
//! holding the entry's lock, so a write that lands during the load is
//! applied to the entry right after it is installed. Every update is
//! idempotent, so applying a write the load already saw changes nothing.
//!
//! Writes through other nodes reach the cache as bus events, which drop
//! the channel's entry ([`crate::invalidation`]).
//!
//! Each cached message keeps the JSON its first reading made of it
//! ([`Cached::json`]), so the newest page is mostly a concatenation of
//! bytes made once per version of a message: an update replaces the
//! message, and its JSON with it.
//!
//! The cache holds at most `max_bytes` (estimated) across all channels:
//! when it would hold more, whole entries of the least recently used
//! channels go (in O(1) each), which keeps every remaining entry a
//! prefix. An entry evicted while someone still holds it lives on only
//! for them; its later changes no longer count.

use std::sync::{Arc, Mutex};

use concord_model::records::Message;
use concord_model::{Snowflake, wire};
use concord_store::StoreResult;
use lru::LruCache;
use serde_json::Value;

/// How many messages per channel are kept.
pub const CACHED_PER_CHANNEL: usize = 50;

/// A cached message and, once it has been read, its JSON.
pub struct Cached {
    pub message: Message,
    /// Replaced when a reading finds its users changed.
    pub json: Mutex<Option<Arc<Serialized>>>,
}

/// A message as JSON, with the users it was rendered with: the bytes serve
/// a later reading only while those users are unchanged.
pub struct Serialized {
    pub users: Vec<wire::User>,
    pub json: Box<[u8]>,
}

impl Cached {
    fn new(message: Message) -> Arc<Self> {
        Arc::new(Cached {
            message,
            json: Mutex::new(None),
        })
    }
}

#[derive(Default)]
struct Entry {
    loaded: bool,
    /// Newest first.
    messages: Vec<Arc<Cached>>,
    /// True when `messages` is the whole channel.
    complete: bool,
}

impl Entry {
    fn bytes(&self) -> u64 {
        self.messages.iter().map(|c| cached_bytes(&c.message)).sum()
    }
}

/// An entry with the bytes it was last counted at.
struct Slot {
    entry: Arc<tokio::sync::Mutex<Entry>>,
    bytes: u64,
}

/// The entries, least recently used first out.
struct Channels {
    entries: LruCache<Snowflake, Slot>,
    bytes: u64,
}

pub struct RecentMessages {
    channels: Mutex<Channels>,
    max_bytes: u64,
}

impl RecentMessages {
    /// A cache of at most `max_bytes` of messages across all channels.
    pub fn new(max_bytes: u64) -> Self {
        RecentMessages {
            channels: Mutex::new(Channels {
                entries: LruCache::unbounded(),
                bytes: 0,
            }),
            max_bytes,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Channels> {
        self.channels.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The entry of `channel`, made the most recently used.
    fn entry(&self, channel: Snowflake) -> Arc<tokio::sync::Mutex<Entry>> {
        let mut channels = self.lock();
        let slot = channels.entries.get_or_insert_mut(channel, || Slot {
            entry: Arc::default(),
            bytes: 0,
        });
        Arc::clone(&slot.entry)
    }

    fn existing(&self, channel: Snowflake) -> Option<Arc<tokio::sync::Mutex<Entry>>> {
        let mut channels = self.lock();
        channels.entries.get(&channel).map(|s| Arc::clone(&s.entry))
    }

    /// Counts `entry` (of `channel`, changed, its lock still held) at its
    /// new size, then evicts the least recently used entries while the
    /// cache holds more than its bound. An entry no longer in the cache
    /// counts for nothing.
    fn resize(&self, channel: Snowflake, entry: &Arc<tokio::sync::Mutex<Entry>>, bytes: u64) {
        let mut channels = self.lock();
        let channels = &mut *channels;
        match channels.entries.peek_mut(&channel) {
            Some(slot) if Arc::ptr_eq(&slot.entry, entry) => {
                channels.bytes = channels.bytes - slot.bytes + bytes;
                slot.bytes = bytes;
            }
            _ => return,
        }
        while channels.bytes > self.max_bytes {
            let Some((_, evicted)) = channels.entries.pop_lru() else {
                break;
            };
            channels.bytes -= evicted.bytes;
            metrics::counter!("concord_message_cache_evictions_total").increment(1);
        }
        metrics::gauge!("concord_message_cache_bytes").set(channels.bytes as f64);
    }

    /// Bytes held, as estimated.
    pub fn bytes(&self) -> u64 {
        self.lock().bytes
    }

    /// The newest `limit` messages (at most [`CACHED_PER_CHANNEL`]), from
    /// the entry or, on a miss, from `load` (which must return the newest
    /// [`CACHED_PER_CHANNEL`] messages, newest first).
    pub async fn latest<F, Fut>(
        &self,
        channel: Snowflake,
        limit: usize,
        load: F,
    ) -> StoreResult<Vec<Arc<Cached>>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = StoreResult<Vec<Message>>>,
    {
        let slot = self.entry(channel);
        let mut entry = slot.lock().await;
        let hit = entry.loaded && (entry.messages.len() >= limit || entry.complete);
        metrics::counter!("concord_message_cache_total", "result" => if hit { "hit" } else { "miss" })
            .increment(1);
        if !hit {
            let messages = load().await?;
            entry.complete = messages.len() < CACHED_PER_CHANNEL;
            entry.messages = messages.into_iter().map(Cached::new).collect();
            entry.loaded = true;
            self.resize(channel, &slot, entry.bytes());
        }
        Ok(entry.messages.iter().take(limit).cloned().collect())
    }

    pub async fn created(&self, message: &Message) {
        let Some(slot) = self.existing(message.channel_id) else {
            return;
        };
        let mut entry = slot.lock().await;
        if !entry.loaded {
            return;
        }
        let pos = entry
            .messages
            .partition_point(|c| c.message.id > message.id);
        if entry
            .messages
            .get(pos)
            .is_some_and(|c| c.message.id == message.id)
        {
            entry.messages[pos] = Cached::new(message.clone());
        } else if pos == entry.messages.len() && !entry.complete {
            // Older than everything cached, with more history beyond: not ours to hold.
            return;
        } else {
            entry.messages.insert(pos, Cached::new(message.clone()));
            if entry.messages.len() > CACHED_PER_CHANNEL {
                entry.messages.truncate(CACHED_PER_CHANNEL);
                entry.complete = false;
            }
        }
        self.resize(message.channel_id, &slot, entry.bytes());
    }

    pub async fn updated(&self, message: &Message) {
        let Some(slot) = self.existing(message.channel_id) else {
            return;
        };
        let mut entry = slot.lock().await;
        if let Some(cached) = entry
            .messages
            .iter_mut()
            .find(|c| c.message.id == message.id)
        {
            *cached = Cached::new(message.clone());
            self.resize(message.channel_id, &slot, entry.bytes());
        }
    }

    pub async fn deleted(&self, channel: Snowflake, ids: &[Snowflake]) {
        let Some(slot) = self.existing(channel) else {
            return;
        };
        let mut entry = slot.lock().await;
        entry.messages.retain(|c| !ids.contains(&c.message.id));
        self.resize(channel, &slot, entry.bytes());
    }

    /// Drops a channel's entry: the channel is gone, or another node wrote
    /// to it. A load under way ends in an entry no longer in the cache, so
    /// what it read before the write is never served after it.
    pub fn forget(&self, channel: Snowflake) {
        let mut channels = self.lock();
        if let Some(slot) = channels.entries.pop(&channel) {
            channels.bytes -= slot.bytes;
        }
    }

    /// Drops every entry: writes elsewhere may have been missed.
    pub fn forget_all(&self) {
        let mut channels = self.lock();
        channels.entries.clear();
        channels.bytes = 0;
    }
}

/// What a cached message is counted at: the record, and as much again for
/// the JSON a reading keeps beside it (about as large as the record).
fn cached_bytes(m: &Message) -> u64 {
    2 * message_bytes(m)
}

/// About what a message takes in memory: its fixed part plus what its
/// strings, lists and JSON values hold. An estimate, but one that grows
/// with everything a client can make large.
fn message_bytes(m: &Message) -> u64 {
    use std::mem::size_of;
    let strings = m.content.len()
        + m.mentions.len() * size_of::<Snowflake>()
        + m.mention_roles.len() * size_of::<Snowflake>()
        + m.reactions
            .iter()
            .map(|r| size_of_val(r) + r.emoji.len())
            .sum::<usize>()
        + m.attachments
            .iter()
            .map(|a| {
                size_of_val(a)
                    + a.filename.len()
                    + a.sha256.len()
                    + a.content_type.as_ref().map_or(0, String::len)
            })
            .sum::<usize>();
    let values = m
        .nonce
        .iter()
        .chain(&m.embeds)
        .map(value_bytes)
        .sum::<u64>();
    (size_of::<Message>() + strings) as u64 + values
}

fn value_bytes(v: &Value) -> u64 {
    let own = std::mem::size_of::<Value>() as u64;
    own + match v {
        Value::String(s) => s.len() as u64,
        Value::Array(items) => items.iter().map(value_bytes).sum(),
        Value::Object(fields) => fields
            .iter()
            .map(|(k, v)| k.len() as u64 + value_bytes(v))
            .sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(channel: u64, count: u64, text: &str) -> Vec<Message> {
        (0..count)
            .rev()
            .map(|i| {
                Message::new(
                    Snowflake(channel * 1000 + i + 1),
                    Snowflake(channel),
                    Snowflake(7),
                    text,
                )
            })
            .collect()
    }

    /// Reads a channel's newest messages; true if the store was asked.
    async fn read(cache: &RecentMessages, channel: u64, text: &str) -> bool {
        let loaded = std::sync::atomic::AtomicBool::new(false);
        let got = cache
            .latest(Snowflake(channel), 50, || async {
                loaded.store(true, std::sync::atomic::Ordering::Relaxed);
                Ok(messages(channel, 3, text))
            })
            .await
            .unwrap();
        let got: Vec<Message> = got.iter().map(|c| c.message.clone()).collect();
        assert_eq!(
            got,
            messages(channel, 3, text),
            "always the newest messages"
        );
        loaded.into_inner()
    }

    #[tokio::test]
    async fn cache_is_bounded_by_bytes() {
        let text = "x".repeat(10_000);
        let per_channel = messages(1, 3, &text).iter().map(cached_bytes).sum::<u64>();
        assert!(
            per_channel > 30_000,
            "large contents are counted: {per_channel}"
        );
        let cache = RecentMessages::new(per_channel * 3 + per_channel / 2);

        for channel in 1..=3 {
            assert!(read(&cache, channel, &text).await, "first read loads");
        }
        assert_eq!(cache.bytes(), per_channel * 3);
        assert!(
            !read(&cache, 1, &text).await,
            "channel 1 is cached, and now the most recent"
        );
        // A fourth channel does not fit: the least recently used (2) goes whole.
        assert!(read(&cache, 4, &text).await);
        assert_eq!(cache.bytes(), per_channel * 3);
        assert!(!read(&cache, 1, &text).await);
        assert!(!read(&cache, 3, &text).await);
        assert!(!read(&cache, 4, &text).await);
        assert!(
            read(&cache, 2, &text).await,
            "channel 2 was evicted and loads again"
        );

        // Writes to a channel grow its entry, and may push others out.
        let big = Message::new(
            Snowflake(4999),
            Snowflake(4),
            Snowflake(7),
            &"y".repeat(100_000),
        );
        cache.created(&big).await;
        assert!(
            cache.bytes() <= per_channel * 3 + per_channel / 2,
            "{}",
            cache.bytes()
        );
        // A write to an evicted channel does not bring it back half-filled.
        let mut never_loaded = 0;
        for channel in 1..=3 {
            let m = Message::new(
                Snowflake(channel * 1000 + 500),
                Snowflake(channel),
                Snowflake(7),
                "new",
            );
            cache.created(&m).await;
            never_loaded += u64::from(cache.existing(Snowflake(channel)).is_none());
        }
        assert!(never_loaded > 0);

        // Forgetting a channel gives its bytes back.
        let before = cache.bytes();
        let held = cache.lock().entries.peek(&Snowflake(4)).map(|s| s.bytes);
        cache.forget(Snowflake(4));
        assert_eq!(cache.bytes(), before - held.unwrap_or(0));
    }

    #[tokio::test]
    async fn embeds_count_toward_the_bound() {
        let mut m = Message::new(Snowflake(1), Snowflake(1), Snowflake(7), "");
        let plain = message_bytes(&m);
        m.embeds = vec![serde_json::json!({ "description": "z".repeat(4096) })];
        assert!(message_bytes(&m) >= plain + 4096);
    }
}

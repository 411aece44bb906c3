//! Read-through cache of each channel's newest messages.
//!
//! An entry is always exactly the newest messages of its channel (a prefix
//! of history, newest first), or absent. Writers update the store first and
//! the entry second; a reader that misses loads from the store while
//! holding the entry's lock, so a write that lands during the load is
//! applied to the entry right after it is installed. Every update is
//! idempotent, so applying a write the load already saw changes nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use concord_model::Snowflake;
use concord_model::records::Message;
use concord_store::StoreResult;

/// How many messages per channel are kept.
pub const CACHED_PER_CHANNEL: usize = 50;

#[derive(Default)]
struct Entry {
    loaded: bool,
    /// Newest first.
    messages: Vec<Message>,
    /// True when `messages` is the whole channel.
    complete: bool,
}

#[derive(Default)]
pub struct RecentMessages {
    channels: Mutex<HashMap<Snowflake, Arc<tokio::sync::Mutex<Entry>>>>,
}

impl RecentMessages {
    pub fn new() -> Self {
        Self::default()
    }

    fn entry(&self, channel: Snowflake) -> Arc<tokio::sync::Mutex<Entry>> {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(channels.entry(channel).or_default())
    }

    fn existing(&self, channel: Snowflake) -> Option<Arc<tokio::sync::Mutex<Entry>>> {
        let channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        channels.get(&channel).cloned()
    }

    /// The newest `limit` messages (at most [`CACHED_PER_CHANNEL`]), from
    /// the entry or, on a miss, from `load` (which must return the newest
    /// [`CACHED_PER_CHANNEL`] messages, newest first).
    pub async fn latest<F, Fut>(
        &self,
        channel: Snowflake,
        limit: usize,
        load: F,
    ) -> StoreResult<Vec<Message>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = StoreResult<Vec<Message>>>,
    {
        let entry = self.entry(channel);
        let mut entry = entry.lock().await;
        let hit = entry.loaded && (entry.messages.len() >= limit || entry.complete);
        metrics::counter!("concord_message_cache_total", "result" => if hit { "hit" } else { "miss" })
            .increment(1);
        if !hit {
            let messages = load().await?;
            entry.complete = messages.len() < CACHED_PER_CHANNEL;
            entry.messages = messages;
            entry.loaded = true;
        }
        Ok(entry.messages.iter().take(limit).cloned().collect())
    }

    pub async fn created(&self, message: &Message) {
        let Some(entry) = self.existing(message.channel_id) else {
            return;
        };
        let mut entry = entry.lock().await;
        if !entry.loaded {
            return;
        }
        let pos = entry.messages.partition_point(|m| m.id > message.id);
        if entry.messages.get(pos).is_some_and(|m| m.id == message.id) {
            entry.messages[pos] = message.clone();
            return;
        }
        // Older than everything cached, with more history beyond: not ours to hold.
        if pos == entry.messages.len() && !entry.complete {
            return;
        }
        entry.messages.insert(pos, message.clone());
        if entry.messages.len() > CACHED_PER_CHANNEL {
            entry.messages.truncate(CACHED_PER_CHANNEL);
            entry.complete = false;
        }
    }

    pub async fn updated(&self, message: &Message) {
        let Some(entry) = self.existing(message.channel_id) else {
            return;
        };
        let mut entry = entry.lock().await;
        if let Some(slot) = entry.messages.iter_mut().find(|m| m.id == message.id) {
            *slot = message.clone();
        }
    }

    pub async fn deleted(&self, channel: Snowflake, ids: &[Snowflake]) {
        let Some(entry) = self.existing(channel) else {
            return;
        };
        entry.lock().await.messages.retain(|m| !ids.contains(&m.id));
    }

    pub fn forget(&self, channel: Snowflake) {
        self.channels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&channel);
    }
}

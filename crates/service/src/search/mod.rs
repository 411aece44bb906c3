//! Message search: the feed that keeps the index in step with the store,
//! and the searches themselves, limited to what the searcher may read.
//!
//! The feed follows the bus like a gateway node does, but reads each
//! message back from the store when it commits a batch, so whatever order
//! events and catch-up reads arrive in, the index ends with the store's
//! latest state. Commits are batched (every [`COMMIT_INTERVAL`] or
//! [`COMMIT_BATCH`] changes) so indexing stays off the write path. Which
//! node feeds the index is [`indexing`]'s choice.
//!
//! Depends on the search index, the bus and the store, on access and
//! threads (the channels and threads a searcher may read), on messages
//! (rendering the hits) and on cluster (the indexer's lease).

pub mod indexing;

use std::sync::Arc;
use std::time::Duration;

use concord_bus::{Delivery, Subscription};
use concord_model::event::{Audience, Event, EventKind};
use concord_model::records::channel_type;
use concord_model::snowflake::now_ms;
use concord_model::{Permissions, Snowflake, codes, wire};
use concord_search::{Change, MessageDoc, SearchIndex, SearchQuery};
pub use concord_search::{Has, Sort};
use concord_store::Store;
use serde::Serialize;

use crate::{Caller, Service, ServiceError, ServiceResult};

/// How long an indexed write may wait before it becomes searchable.
pub const COMMIT_INTERVAL: Duration = Duration::from_millis(500);
/// Changes that force a commit before the interval is up.
const COMMIT_BATCH: usize = 2_000;
/// Store reads the feed makes before it lets other tasks run.
const READS_BETWEEN_YIELDS: usize = 32;
/// Messages read from the store per step when filling the index.
const BACKFILL_PAGE: usize = 500;
/// Catch-up starts this long before the watermark: events are published
/// in commit order, which can differ slightly from id order.
const CATCH_UP_MARGIN_MS: u64 = 10_000;
/// Discord's deepest result page.
pub const MAX_OFFSET: usize = 9_975;
pub const MAX_LIMIT: usize = 25;

fn index_error(e: impl std::fmt::Display) -> ServiceError {
    ServiceError::Internal(format!("search index: {e}"))
}

/// Runs a blocking index operation off the async threads.
async fn blocking<T: Send + 'static>(
    index: &Arc<SearchIndex>,
    op: impl FnOnce(&SearchIndex) -> concord_search::SearchResult<T> + Send + 'static,
) -> ServiceResult<T> {
    let index = Arc::clone(index);
    tokio::task::spawn_blocking(move || op(&index))
        .await
        .map_err(index_error)?
        .map_err(index_error)
}

/// Where a fill of the index stands, for a progress display.
#[derive(Debug, Clone, Copy, Default)]
pub struct FillProgress {
    pub channels_done: u64,
    pub channels_total: u64,
    pub messages: u64,
}

/// Indexes every stored message newer than `after`, channel by channel,
/// and commits. Returns the watermark it committed: the moment the fill
/// started, since anything written later reached the feed as an event.
pub async fn fill(
    store: &dyn Store,
    index: &Arc<SearchIndex>,
    after: Snowflake,
    progress: &mut (dyn FnMut(FillProgress) + Send),
) -> ServiceResult<Snowflake> {
    let started = Snowflake::from_timestamp_ms(now_ms()).max(after);
    // Into an empty index every message is new.
    let empty = blocking(index, |i| Ok(i.documents() == 0)).await?;
    let change = if empty { Change::Add } else { Change::Upsert };
    let mut channels = Vec::new();
    loop {
        let cursor = channels.last().copied().unwrap_or(Snowflake(0));
        let page = store.channels_after(cursor, 1_000).await?;
        if page.is_empty() {
            break;
        }
        channels.extend(page.iter().map(|c| c.id));
    }
    let mut state = FillProgress {
        channels_total: channels.len() as u64,
        ..FillProgress::default()
    };
    progress(state);
    for channel_id in channels {
        let mut cursor = after;
        loop {
            let page = store
                .messages_after(channel_id, cursor, BACKFILL_PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            cursor = last.id;
            state.messages += page.len() as u64;
            let changes: Vec<Change> = page.iter().filter_map(MessageDoc::of).map(change).collect();
            blocking(index, move |i| i.apply(&changes)).await?;
            progress(state);
        }
        state.channels_done += 1;
        progress(state);
    }
    blocking(index, move |i| i.commit(started)).await?;
    Ok(started)
}

/// What an event asks of the index, before the store is read.
enum Work {
    /// Read the message and index it (or drop it if it is gone); `created`
    /// when the event announced a new message.
    Reindex {
        channel_id: Snowflake,
        id: Snowflake,
        created: bool,
    },
    Apply(Change),
}

fn work_of(event: &Event) -> Vec<Work> {
    let relevant = matches!(
        event.kind,
        EventKind::MessageCreate
            | EventKind::MessageUpdate
            | EventKind::MessageDelete
            | EventKind::MessageDeleteBulk
            | EventKind::ChannelDelete
            | EventKind::GuildDelete
    );
    if !relevant {
        return Vec::new();
    }
    let route = &event.route;
    match (event.kind, route.id, route.channel_id) {
        (EventKind::MessageCreate | EventKind::MessageUpdate, Some(id), Some(channel_id)) => {
            vec![Work::Reindex {
                channel_id,
                id,
                created: event.kind == EventKind::MessageCreate,
            }]
        }
        (EventKind::MessageDelete, Some(id), _) => vec![Work::Apply(Change::Delete(id))],
        (EventKind::MessageDeleteBulk, _, _) => route
            .ids
            .iter()
            .map(|id| Work::Apply(Change::Delete(*id)))
            .collect(),
        (EventKind::ChannelDelete, Some(id), _) => vec![Work::Apply(Change::DeleteChannel(id))],
        // A guild deleted for everyone; a member leaving is sent to them alone.
        (EventKind::GuildDelete, Some(id), _)
            if matches!(event.audience, Audience::Guild { .. }) =>
        {
            vec![Work::Apply(Change::DeleteGuild(id))]
        }
        _ => Vec::new(),
    }
}

/// The feed's side of the index: what it has staged and what it covers.
struct Feed {
    store: Arc<dyn Store>,
    index: Arc<SearchIndex>,
    pending: Vec<Work>,
    watermark: Snowflake,
    /// When the last fill ended: a message created later cannot be in the
    /// index yet, one created earlier may have been read by the fill.
    filled_until: Snowflake,
}

impl Feed {
    /// Reads what the pending work needs from the store and commits it.
    /// While the store cannot be read the work stays pending, for the next
    /// flush: nothing is applied to the index until every read is done.
    async fn flush(&mut self) -> ServiceResult<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut changes = Vec::with_capacity(self.pending.len());
        let mut watermark = self.watermark;
        for (n, work) in self.pending.iter().enumerate() {
            // Store reads do not yield by themselves: let requests through.
            if n % READS_BETWEEN_YIELDS == 0 {
                tokio::task::yield_now().await;
            }
            changes.push(match work {
                Work::Apply(change) => change.clone(),
                &Work::Reindex {
                    channel_id,
                    id,
                    created,
                } => {
                    watermark = watermark.max(id);
                    let stored = self.store.message(channel_id, id).await?;
                    match stored.as_ref().and_then(MessageDoc::of) {
                        Some(doc) if created && id > self.filled_until => Change::Add(doc),
                        Some(doc) => Change::Upsert(doc),
                        None => Change::Delete(id),
                    }
                }
            });
        }
        self.pending.clear();
        self.watermark = watermark;
        blocking(&self.index, move |i| {
            i.apply(&changes)?;
            i.commit(watermark)
        })
        .await
    }

    /// Fills from shortly before the watermark: everything the index may
    /// have missed (a crash before a commit, events dropped by a lag).
    async fn catch_up(&mut self) -> ServiceResult<()> {
        let from = self
            .watermark
            .timestamp_ms()
            .saturating_sub(CATCH_UP_MARGIN_MS);
        let after = match self.watermark {
            Snowflake(0) => Snowflake(0),
            _ => Snowflake::from_timestamp_ms(from),
        };
        let filled = fill(&*self.store, &self.index, after, &mut |_| {}).await?;
        self.watermark = self.watermark.max(filled);
        self.filled_until = Snowflake::from_timestamp_ms(now_ms() + 1);
        Ok(())
    }
}

/// Keeps `index` in step with the store until `stop` resolves (then commits
/// what it holds) or the bus closes: first fills what it lacks (answering
/// searches "not yet available" meanwhile), then follows `events` (a
/// subscription to every topic), committing in batches. Which message an
/// event is about comes from its route.
pub async fn feed(
    store: Arc<dyn Store>,
    index: Arc<SearchIndex>,
    mut events: Subscription,
    stop: impl Future<Output = ()>,
) {
    let watermark = match index.watermark() {
        Ok(w) => w.unwrap_or(Snowflake(0)),
        Err(e) => {
            tracing::error!(error = %e, "search index unreadable; search stays unavailable");
            return;
        }
    };
    let mut feed = Feed {
        store,
        index,
        pending: Vec::new(),
        watermark,
        filled_until: Snowflake(0),
    };
    let started = std::time::Instant::now();
    while let Err(e) = feed.catch_up().await {
        tracing::error!(error = %e, "filling the search index failed; retrying");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    feed.index.set_ready(true);
    tracing::info!(
        documents = feed.index.documents(),
        seconds = started.elapsed().as_secs_f64(),
        "search index ready"
    );
    let mut tick = tokio::time::interval(COMMIT_INTERVAL);
    let mut stop = std::pin::pin!(stop);
    loop {
        let result = tokio::select! {
            () = &mut stop => {
                // Writes acknowledged before the stop have published their events.
                while let Some(delivery) = events.try_next() {
                    if let Delivery::Event(event) = delivery {
                        feed.pending.extend(work_of(&event));
                    }
                }
                if let Err(e) = feed.flush().await {
                    tracing::error!(error = %e, "last search index commit failed");
                }
                return;
            }
            delivery = events.next() => match delivery {
                Some(Delivery::Event(event)) => {
                    feed.pending.extend(work_of(&event));
                    if feed.pending.len() < COMMIT_BATCH {
                        continue;
                    }
                    feed.flush().await
                }
                Some(Delivery::Gap { after }) => {
                    tracing::warn!(after, "search feed fell behind the bus; catching up from the store");
                    match feed.flush().await {
                        Ok(()) => feed.catch_up().await,
                        e => e,
                    }
                }
                None => {
                    if let Err(e) = feed.flush().await {
                        tracing::error!(error = %e, "last search index commit failed");
                    }
                    return;
                }
            },
            _ = tick.tick() => feed.flush().await,
        };
        if let Err(e) = result {
            // Work whose reads failed is tried again at the next flush;
            // a failed commit's is lost, and the next catch-up covers it.
            tracing::error!(error = %e, "search index commit failed");
        }
    }
}

/// A search request as the API parsed it; `channel_ids` narrows the search
/// to some channels, and is itself narrowed to those the searcher may read.
pub type SearchRequest = SearchQuery;

/// One result: the message as it is now, marked as a hit.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct SearchHit {
    #[serde(flatten)]
    pub message: wire::Message,
    pub hit: bool,
}

/// Discord's search response: each result wrapped in a one-element array.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct SearchResults {
    pub total_results: usize,
    pub messages: Vec<[SearchHit; 1]>,
    pub doing_deep_historical_index: bool,
}

impl Service {
    /// Searches the channels (and threads) of a guild the caller may read:
    /// VIEW_CHANNEL and READ_MESSAGE_HISTORY in each.
    pub async fn search_guild(
        &self,
        caller: Caller,
        guild_id: Snowflake,
        request: SearchRequest,
    ) -> ServiceResult<SearchResults> {
        let guild = self.guild_view(caller, guild_id).await?;
        let readable = Permissions::VIEW_CHANNEL | Permissions::READ_MESSAGE_HISTORY;
        let channels = self.store.guild_channels(guild_id).await?;
        let threads = self.visible_threads(&guild, |_| true).await?;
        let allowed: Vec<Snowflake> = channels
            .into_iter()
            .filter(|c| channel_type::is_text(c.kind) && guild.in_channel(c).contains(readable))
            .map(|c| c.id)
            .chain(
                threads
                    .into_iter()
                    .filter(|t| t.permissions.contains(readable))
                    .map(|t| t.thread.id),
            )
            .filter(|id| request.channel_ids.is_empty() || request.channel_ids.contains(id))
            .collect();
        self.search(caller, allowed, request).await
    }

    /// Searches one channel the caller may read.
    pub async fn search_channel(
        &self,
        caller: Caller,
        channel_id: Snowflake,
        request: SearchRequest,
    ) -> ServiceResult<SearchResults> {
        let view = self.text_channel(caller, channel_id).await?;
        view.require(Permissions::READ_MESSAGE_HISTORY)?;
        self.search(caller, vec![channel_id], request).await
    }

    async fn search(
        &self,
        caller: Caller,
        channels: Vec<Snowflake>,
        mut request: SearchRequest,
    ) -> ServiceResult<SearchResults> {
        if !self.reads_content(caller).await? {
            return Err(ServiceError::Forbidden(codes::MISSING_ACCESS));
        }
        let index = match self.search_index() {
            Some(index) if index.is_ready() => index,
            other => {
                let documents_indexed = other.as_ref().map_or(0, |i| i.documents());
                return Err(ServiceError::IndexNotReady { documents_indexed });
            }
        };
        let empty = SearchResults {
            total_results: 0,
            messages: Vec::new(),
            doing_deep_historical_index: false,
        };
        if channels.is_empty() {
            return Ok(empty);
        }
        request.channel_ids = channels;
        request.limit = request.limit.clamp(1, MAX_LIMIT);
        let page = blocking(&index, move |i| i.search(&request)).await?;
        let mut found = Vec::with_capacity(page.hits.len());
        for hit in &page.hits {
            // The index may briefly hold a message the store has just dropped.
            if let Some(m) = self.store.message(hit.channel_id, hit.id).await? {
                found.push(m);
            }
        }
        let messages = self
            .render_messages(&found)
            .await?
            .into_iter()
            .map(|mut message| {
                message.reactions = None;
                [SearchHit { message, hit: true }]
            })
            .collect();
        Ok(SearchResults {
            total_results: page.total,
            messages,
            ..empty
        })
    }
}

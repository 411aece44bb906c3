//! Full-text search over message history, on tantivy, in the data directory
//! beside the store.
//!
//! The index is a derived copy: the store stays the truth, the index only
//! answers "which message ids match", and the caller reads the messages
//! themselves from the store. That is what makes it safe to lag, to lose
//! and to rebuild. Each commit records a watermark (the newest message id
//! the index is known to hold) so a restart catches up from the store
//! instead of starting over.
//!
//! Pipeline: [`tokenize`] turns chat text into terms, [`document`] says
//! what of a message is indexed, [`schema`] lays it out in tantivy fields,
//! [`query`] turns a search request into a tantivy query. The feeding loop
//! (bus events in, store reads, batched commits) lives in the service,
//! which owns the store.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use concord_model::Snowflake;
use tantivy::collector::{Count, TopDocs};
use tantivy::directory::MmapDirectory;
use tantivy::schema::Value;
use tantivy::{
    DocAddress, Index, IndexReader, IndexWriter, Order, ReloadPolicy, TantivyDocument, Term,
};

pub mod document;
pub mod query;
mod schema;
pub mod tokenize;

pub use document::{Has, MessageDoc};
pub use query::{Hit, Page, SearchQuery, Sort};
pub use schema::SCHEMA_VERSION;

use schema::Fields;
use tokenize::{CHAT_TOKENIZER, ChatTokenizer};

/// The file beside tantivy's own that names the schema version.
const VERSION_FILE: &str = "concord-schema-version";
/// Memory the single indexing thread buffers before it writes a segment.
const WRITER_MEMORY: usize = 32 << 20;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("search index directory {0}: {1}")]
    Directory(PathBuf, String),
    #[error("search index in {0} is not written yet")]
    NotWritten(PathBuf),
    #[error("this node follows the search index; another writes it")]
    ReadOnly,
}

pub type SearchResult<T> = Result<T, SearchError>;

/// One change to apply to the index.
#[derive(Debug, Clone)]
pub enum Change {
    /// Index the message, replacing any earlier version of it.
    Upsert(MessageDoc),
    /// Index a message the index cannot hold yet: cheaper, as no earlier
    /// version has to be looked up and deleted at commit.
    Add(MessageDoc),
    Delete(Snowflake),
    DeleteChannel(Snowflake),
    DeleteGuild(Snowflake),
}

/// An index in a directory: written by one node (the one that
/// [`open`](SearchIndex::open)s it), read by any number that
/// [`follow`](SearchIndex::follow) it, such as the other nodes of a
/// cluster sharing the directory on a mount.
pub struct SearchIndex {
    dir: PathBuf,
    index: Index,
    fields: Fields,
    /// `None` on a follower.
    writer: Option<Mutex<IndexWriter>>,
    reader: IndexReader,
    /// False while the index is being filled from the store; searches are
    /// then answered "not yet available", as Discord does. A follower's
    /// index is ready once its writer has committed a fill.
    ready: AtomicBool,
}

fn directory_error(dir: &Path, e: impl std::fmt::Display) -> SearchError {
    SearchError::Directory(dir.to_path_buf(), e.to_string())
}

/// Whether `dir` holds an index written with this schema version.
fn current_version(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join(VERSION_FILE))
        .is_ok_and(|v| v.trim() == SCHEMA_VERSION.to_string())
        && dir.join("meta.json").exists()
}

impl SearchIndex {
    /// Opens the index in `dir`, or starts an empty one there when it is
    /// missing or was written with another schema version. A new index has
    /// no [`watermark`](Self::watermark) and is not ready until filled.
    pub fn open(dir: &Path) -> SearchResult<SearchIndex> {
        let (schema, fields) = schema::schema();
        let index = if current_version(dir) {
            let directory = MmapDirectory::open(dir).map_err(|e| directory_error(dir, e))?;
            Index::open(directory)?
        } else {
            if dir.exists() {
                tracing::info!(dir = %dir.display(), "search index missing or outdated: rebuilding");
                std::fs::remove_dir_all(dir).map_err(|e| directory_error(dir, e))?;
            }
            std::fs::create_dir_all(dir).map_err(|e| directory_error(dir, e))?;
            let index = Index::create_in_dir(dir, schema)?;
            std::fs::write(dir.join(VERSION_FILE), SCHEMA_VERSION.to_string())
                .map_err(|e| directory_error(dir, e))?;
            index
        };
        index.tokenizers().register(CHAT_TOKENIZER, ChatTokenizer);
        let writer = index.writer_with_num_threads(1, WRITER_MEMORY)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(SearchIndex {
            dir: dir.to_path_buf(),
            index,
            fields,
            writer: Some(Mutex::new(writer)),
            reader,
            ready: AtomicBool::new(false),
        })
    }

    /// Reads the index another node writes in `dir`: each search first
    /// picks up the writer's last commit, so every node answers a query
    /// alike. [`SearchError::NotWritten`] until the writer has created it
    /// with this schema version.
    pub fn follow(dir: &Path) -> SearchResult<SearchIndex> {
        if !current_version(dir) {
            return Err(SearchError::NotWritten(dir.to_path_buf()));
        }
        let (_, fields) = schema::schema();
        let directory = MmapDirectory::open(dir).map_err(|e| directory_error(dir, e))?;
        let index = Index::open(directory)?;
        index.tokenizers().register(CHAT_TOKENIZER, ChatTokenizer);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(SearchIndex {
            dir: dir.to_path_buf(),
            index,
            fields,
            writer: None,
            reader,
            ready: AtomicBool::new(false),
        })
    }

    /// Whether this handle writes the index (rather than following it).
    pub fn writes(&self) -> bool {
        self.writer.is_some()
    }

    /// The newest message id the last commit is known to cover; `None` for
    /// an index that was never filled.
    pub fn watermark(&self) -> SearchResult<Option<Snowflake>> {
        let payload = self.index.load_metas()?.payload;
        Ok(payload.and_then(|p| p.parse().ok()).map(Snowflake))
    }

    /// Copies the last commit into `dest`, a new directory, and returns
    /// the bytes copied. The files a commit lists never change and are only
    /// deleted once a newer commit (or merge) stops listing them, so a copy
    /// during which the commit stayed the same is whole; otherwise it
    /// starts over.
    pub fn copy_to(&self, dest: &Path) -> SearchResult<u64> {
        const ATTEMPTS: usize = 5;
        let described = |meta: &tantivy::IndexMeta| serde_json::to_string_pretty(meta);
        for _ in 0..ATTEMPTS {
            let _ = std::fs::remove_dir_all(dest);
            std::fs::create_dir_all(dest).map_err(|e| directory_error(dest, e))?;
            let meta = self.index.load_metas()?;
            let mut bytes = 0;
            for file in meta.segments.iter().flat_map(|s| s.list_files()) {
                match std::fs::copy(self.dir.join(&file), dest.join(&file)) {
                    Ok(n) => bytes += n,
                    // A component this segment does not have, or one a merge took.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(directory_error(dest, e)),
                }
            }
            let json = described(&meta).map_err(|e| directory_error(dest, e))?;
            let now = described(&self.index.load_metas()?).map_err(|e| directory_error(dest, e))?;
            if json != now {
                continue;
            }
            std::fs::write(dest.join("meta.json"), json)
                .and_then(|()| std::fs::copy(self.dir.join(VERSION_FILE), dest.join(VERSION_FILE)))
                .map_err(|e| directory_error(dest, e))?;
            return Ok(bytes);
        }
        Err(directory_error(
            dest,
            format!("the index changed during each of {ATTEMPTS} copies"),
        ))
    }

    pub fn is_ready(&self) -> bool {
        if self.ready.load(Ordering::Acquire) {
            return true;
        }
        // A follower: ready once the writer's fill is committed.
        let filled = !self.writes() && matches!(self.watermark(), Ok(Some(_)));
        if filled {
            self.set_ready(true);
        }
        filled
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }

    fn writer(&self) -> SearchResult<MutexGuard<'_, IndexWriter>> {
        let writer = self.writer.as_ref().ok_or(SearchError::ReadOnly)?;
        // A panic while holding the writer leaves nothing half-applied that a
        // later commit would make worse: tantivy commits atomically.
        Ok(writer.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Stages changes; they become visible at the next [`commit`](Self::commit).
    pub fn apply(&self, changes: &[Change]) -> SearchResult<()> {
        let f = &self.fields;
        let writer = self.writer()?;
        for change in changes {
            match change {
                Change::Upsert(doc) => {
                    writer.delete_term(Term::from_field_u64(f.id, doc.id.get()));
                    writer.add_document(f.document(doc))?;
                }
                Change::Add(doc) => {
                    writer.add_document(f.document(doc))?;
                }
                Change::Delete(id) => {
                    writer.delete_term(Term::from_field_u64(f.id, id.get()));
                }
                Change::DeleteChannel(id) => {
                    writer.delete_term(Term::from_field_u64(f.channel_id, id.get()));
                }
                Change::DeleteGuild(id) => {
                    writer.delete_term(Term::from_field_u64(f.guild_id, id.get()));
                }
            }
        }
        Ok(())
    }

    /// Makes staged changes durable and visible, recording `watermark`.
    pub fn commit(&self, watermark: Snowflake) -> SearchResult<()> {
        let mut writer = self.writer()?;
        let mut prepared = writer.prepare_commit()?;
        prepared.set_payload(&watermark.get().to_string());
        prepared.commit()?;
        drop(writer);
        self.reader.reload()?;
        Ok(())
    }

    /// How many messages the index holds as of its last commit (as of the
    /// last one read, if a follower cannot read the commit file now).
    pub fn documents(&self) -> u64 {
        let _ = self.refresh();
        self.reader.searcher().num_docs()
    }

    /// A follower reads the writer's commit file again (cheap when nothing
    /// changed), so that whatever is searchable on the writer is searchable
    /// here; the writer's own reader is reloaded as it commits.
    fn refresh(&self) -> SearchResult<()> {
        if !self.writes() {
            self.reader.reload()?;
        }
        Ok(())
    }

    pub fn search(&self, q: &SearchQuery) -> SearchResult<Page> {
        self.refresh()?;
        let searcher = self.reader.searcher();
        let query = q.to_query(&self.fields);
        let top = TopDocs::with_limit(q.limit.max(1)).and_offset(q.offset);
        let (total, addresses): (usize, Vec<DocAddress>) = if q.by_relevance() {
            let (total, scored) = searcher.search(&query, &(Count, top))?;
            (total, scored.into_iter().map(|(_, a)| a).collect())
        } else {
            let order = if q.ascending { Order::Asc } else { Order::Desc };
            let by_id = top.order_by_fast_field::<u64>("id", order);
            let (total, sorted) = searcher.search(&query, &(Count, by_id))?;
            (total, sorted.into_iter().map(|(_, a)| a).collect())
        };
        let mut hits = Vec::with_capacity(addresses.len());
        for address in addresses {
            let doc: TantivyDocument = searcher.doc(address)?;
            let field = |f| doc.get_first(f).and_then(|v| v.as_u64()).map(Snowflake);
            if let (Some(id), Some(channel_id)) =
                (field(self.fields.id), field(self.fields.channel_id))
            {
                hits.push(Hit { id, channel_id });
            }
        }
        Ok(Page { total, hits })
    }
}

#[cfg(test)]
mod tests;

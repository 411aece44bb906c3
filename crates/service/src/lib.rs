//! The rules of Concord: who may do what, what a valid request is, and what
//! a write changes. Every write goes through here, persists to the store,
//! then publishes its event on the bus, so no write can forget its event.
//!
//! A write awaits its publish before it answers: whoever learns of the
//! write (its caller, a client reading another node) finds its event on the
//! bus already. A publish that fails is logged and counted, never turned
//! into an error: the write is committed, and only its announcement is
//! lost, as if every subscriber had missed it.
//!
//! Methods take a [`Caller`] (an authenticated user) and return wire shapes,
//! which the HTTP API serializes and the gateway reuses.
//!
//! One folder per component, each owning its state and its routes' request
//! bodies, its `mod.rs` saying what it depends on: [`access`] (who a caller
//! is and what they may do where), [`accounts`], [`guilds`], [`messages`],
//! [`threads`], [`private`] (DMs), [`attachments`], [`search`],
//! [`sessions`] (what a gateway session gets: READY, GUILD_CREATE,
//! presence), [`cluster`] (leases, caches kept true across nodes) and
//! [`operations`] (administration, backups, readiness).

use std::sync::Arc;

use concord_bus::EventBus;
use concord_config::{RateLimits, Registration};
use concord_model::event::NodeId;
use concord_model::{Snowflake, SnowflakeGenerator};
use concord_realtime::Realtime;
use concord_search::SearchIndex;
use concord_store::Store;

pub mod access;
pub mod accounts;
pub mod attachments;
pub mod cluster;
pub mod commands;
pub mod error;
mod events;
pub mod guilds;
pub mod input;
pub mod interactions;
pub mod messages;
pub mod notifications;
pub mod operations;
pub mod outbound;
pub mod private;
mod render;
pub mod search;
pub mod sessions;
pub mod threads;
pub mod voice;
pub mod webhooks;

pub use access::{ChannelView, GuildView};
pub use error::{FormErrors, ServiceError, ServiceResult};
pub(crate) use events::{audience_of, to_channel, to_guild};

use access::auth::TokenSigner;
use access::passwords::Passwords;
use attachments::signed_urls::UrlSigner;
use cluster::invalidation::{self, Applied};
use messages::cache::RecentMessages;
use messages::sequencer::Sequencer;

/// The authenticated user behind a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub id: Snowflake,
    pub bot: bool,
}

#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub worker_id: u8,
    pub process_id: u8,
    pub rate_limits: RateLimits,
    pub registration: Registration,
    /// The server's public HTTP URL (no trailing slash), for attachment URLs.
    pub public_base: String,
    /// Largest file a message may carry.
    pub attachment_max_bytes: u64,
    /// Seconds an attachment URL stays valid.
    pub attachment_url_ttl_s: u64,
    /// Requests receiving files at once; more wait their turn.
    pub upload_concurrency: usize,
    /// Bytes of recent messages the cache holds across all channels.
    pub cache_max_bytes: u64,
    /// Password hashes run at once at most (each takes 19 MiB).
    pub hash_concurrency: u32,
    /// Hosts outbound requests may reach wherever they resolve ([`outbound`]).
    pub outbound_allow: Vec<String>,
    /// This node's voice endpoint (`host:port`, no scheme), where the
    /// guilds whose first voice member joins here are sent; `None`: voice
    /// is off and joins are ignored.
    pub voice_endpoint: Option<String>,
}

impl ServiceConfig {
    /// What the service takes from the server's settings; the snowflake
    /// pair is the node's lease, `public_base` its public HTTP URL.
    pub fn new(
        config: &concord_config::Config,
        (worker_id, process_id): (u8, u8),
        public_base: String,
    ) -> ServiceConfig {
        ServiceConfig {
            worker_id,
            process_id,
            rate_limits: config.rate_limits.clone(),
            registration: config.registration,
            public_base,
            attachment_max_bytes: config.attachment_max_bytes,
            attachment_url_ttl_s: config.attachment_url_ttl_s,
            upload_concurrency: config.bounds.upload_concurrency as usize,
            cache_max_bytes: config.cache_max_bytes,
            hash_concurrency: config.bounds.hash_concurrency,
            outbound_allow: config.outbound_allow.clone(),
            // Named by the server once its voice server listens.
            voice_endpoint: None,
        }
    }

    /// A server's defaults, as node (0, 0): for tests.
    pub fn defaults() -> ServiceConfig {
        let config = concord_config::Config::from_settings(concord_config::Settings::defaults())
            .expect("the defaults are valid");
        ServiceConfig::new(&config, (0, 0), String::new())
    }
}

pub struct Service {
    /// The store, private to the service: every write goes through here.
    pub(crate) store: Arc<dyn Store>,
    bus: Arc<dyn EventBus>,
    /// This node, as the origin of the events it publishes.
    node: NodeId,
    ids: SnowflakeGenerator,
    pub config: ServiceConfig,
    /// State shared by every node: presence, rate limits, leases, and more
    /// as the seam grows.
    /// In-process unless [`Service::with_realtime`] says otherwise.
    realtime: Realtime,
    /// What each component keeps on this node.
    access: access::State,
    messages: messages::State,
    attachments: attachments::State,
    /// Rung when a deletion leaves something to purge
    /// ([`operations::purge::purger`]).
    purges: Arc<tokio::sync::Notify>,
    /// The message index searches read (`None`: search is off); an empty
    /// slot answers "not yet available".
    search: Option<search::indexing::SearchSlot>,
    /// How far other nodes' events have been applied to the caches of
    /// `access` and `messages` ([`invalidation`]).
    applied: Applied,
    notifications: notifications::State,
    /// The guard and client of every request to a URL a user gave.
    pub(crate) outbound: outbound::Outbound,
}

const SECRET_KEY: &str = "token_secret";

impl Service {
    /// Loads (or creates, on first start) the token secret, and starts
    /// applying other nodes' events on `bus` to this node's caches. Nodes
    /// that start at once over one store end with the same secret: the
    /// first written is kept, and every node uses what is stored.
    pub async fn open(
        store: Arc<dyn Store>,
        bus: Arc<dyn EventBus>,
        config: ServiceConfig,
    ) -> ServiceResult<Service> {
        let secret = match store.meta(SECRET_KEY).await? {
            Some(secret) => secret,
            None => {
                let fresh = rand::random::<[u8; 32]>();
                store.put_meta_if_absent(SECRET_KEY, &fresh).await?
            }
        };
        let node = NodeId(rand::random::<u64>().max(1));
        let urls = UrlSigner::new(&secret, config.attachment_url_ttl_s);
        let tokens = Arc::new(TokenSigner::new(secret));
        let cache = Arc::new(RecentMessages::new(config.cache_max_bytes));
        let applied =
            invalidation::start(node, &*bus, Arc::clone(&cache), Arc::clone(&tokens)).await?;
        let sequencer = Sequencer::new(Arc::clone(&bus));
        let outbound = outbound::Outbound::new(&config.outbound_allow)?;
        let notifications = notifications::State::open(&*store).await?;
        Ok(Service {
            notifications,
            outbound,
            store,
            bus,
            node,
            ids: SnowflakeGenerator::new(config.worker_id, config.process_id),
            access: access::State {
                tokens,
                passwords: Passwords::new(config.hash_concurrency),
            },
            messages: messages::State { sequencer, cache },
            attachments: attachments::State {
                urls,
                blobs: None,
                sized: Default::default(),
            },
            purges: Arc::default(),
            applied,
            config,
            search: None,
            realtime: Realtime::local(),
        })
    }

    /// Answers searches, from the index [`search::indexing::write_or_follow`]
    /// writes or follows.
    pub fn with_search(mut self) -> Self {
        self.search = Some(search::indexing::SearchSlot::default());
        self
    }

    /// The index searches read now, if search is on and one is open.
    pub(crate) fn search_index(&self) -> Option<Arc<SearchIndex>> {
        self.search
            .as_ref()
            .and_then(search::indexing::SearchSlot::get)
    }

    /// Shares `realtime` with the other nodes of a cluster.
    pub fn with_realtime(mut self, realtime: Realtime) -> Self {
        self.realtime = realtime;
        self
    }

    /// Keeps attachments' bytes in `dir`.
    pub fn with_blobs(mut self, dir: std::path::PathBuf) -> Self {
        let concurrency = self.config.upload_concurrency;
        let store = Arc::new(attachments::blobs::DirectoryBlobs::new(dir));
        self.attachments.blobs = Some(attachments::Blobs::new(store, concurrency));
        self
    }

    pub fn bus(&self) -> &Arc<dyn EventBus> {
        &self.bus
    }

    /// The realtime state this node shares with the others.
    pub fn realtime(&self) -> &Realtime {
        &self.realtime
    }

    /// The guard every request to a URL a user gave passes, and its client.
    pub fn outbound(&self) -> &outbound::Outbound {
        &self.outbound
    }

    /// This node, as its events name it.
    pub fn node(&self) -> NodeId {
        self.node
    }

    pub(crate) fn next_id(&self) -> Snowflake {
        self.ids.next()
    }
}

//! Notifications: Web Push to a person's browsers when they are away, and
//! the notification settings (per guild, per channel, for DMs) that decide
//! it. `vapid` (the server's signing key pair, kept in the store),
//! `encrypt` (RFC 8291 message encryption), `subscriptions` (the routes
//! browsers subscribe through), `settings` (Discord's user guild settings
//! and what they let through), `recipients` (who hears of a new message),
//! `delivery` (the queue in the store, drained by the node holding the
//! `push-delivery` lease).
//!
//! A new message is handed to this node's intake without waiting (a full
//! intake drops it, counted); the intake decides who to push to and queues
//! one push per subscription in the store; the drainer posts them, with
//! retries and a bound. Every URL called passes [`crate::outbound`].
//!
//! Depends on access (permissions), the store and the realtime presence.

pub mod delivery;
mod encrypt;
pub mod input;
pub mod recipients;
pub mod settings;
pub mod subscriptions;
mod vapid;

pub use input::{
    PatchGuildSettings, PatchGuildSettingsBulk, PushSubscriptionInput, PushUnsubscribe,
};

/// What notifications keep on each node.
pub(crate) struct State {
    pub(crate) vapid: vapid::Vapid,
    /// New messages waiting for [`recipients`] to be decided.
    pub(crate) intake: tokio::sync::mpsc::Sender<recipients::Notice>,
    /// Its other end, taken by [`delivery::push_intake`] when it starts.
    pub(crate) intake_rx: std::sync::Mutex<Option<tokio::sync::mpsc::Receiver<recipients::Notice>>>,
    /// Rung when this node queued pushes: its drainer, if it holds the
    /// lease, looks at once.
    pub(crate) queued: std::sync::Arc<tokio::sync::Notify>,
}

impl State {
    /// Messages waiting to be looked at at most; more are dropped.
    const INTAKE: usize = 4096;

    pub(crate) async fn open(store: &dyn concord_store::Store) -> crate::ServiceResult<State> {
        let (intake, rx) = tokio::sync::mpsc::channel(Self::INTAKE);
        Ok(State {
            vapid: vapid::Vapid::load(store).await?,
            intake,
            intake_rx: std::sync::Mutex::new(Some(rx)),
            queued: std::sync::Arc::default(),
        })
    }
}

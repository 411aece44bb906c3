//! Messages: what is said in a channel. Sending, history, edits and
//! deletions (`message`), the order new messages are announced in
//! (`sequencer`), the recent-messages cache (`cache`), rendering for
//! clients (`render`), reactions, pins, polls (votes, voters, their end
//! and result), read states and their unread mentions (`read_states`),
//! the mentions inbox (`mentions`), and the request bodies of those routes (`input`).
//!
//! Depends on access (views, rate limits for slowmode and the flood
//! check), on guilds (the audit log, custom emoji for reactions), on
//! threads (a thread's counters and followers as messages come and go),
//! on attachments (a message's files), and on cluster (a read from the
//! cache first waits until this node has applied other nodes' writes).

pub mod cache;
mod components;
pub mod input;
pub mod mentions;
pub mod message;
pub mod pins;
pub mod polls;
pub mod reactions;
pub mod read_states;
mod render;
pub(crate) mod sequencer;

pub(crate) use components::check as check_components;
pub(crate) use components::check_non_interactive as check_non_interactive_components;
pub use input::{
    AllowedMentions, BulkDelete, CreateMessage, EditMessage, PollInput, PollVoteInput,
    ReferenceInput,
};

/// What messages keep on each node.
pub(crate) struct State {
    /// Holds each channel's new messages' events until those with lower
    /// ids are published.
    pub(crate) sequencer: sequencer::Sequencer,
    /// Each channel's newest messages; kept true to writes made through
    /// other nodes by `cluster::invalidation`.
    pub(crate) cache: std::sync::Arc<cache::RecentMessages>,
}

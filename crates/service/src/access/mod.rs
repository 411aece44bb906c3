//! Access: who a caller is and what they may do where. The one place for
//! "may user X do Y here": tokens and their revocation (`tokens`, `auth`),
//! password hashing within bounds and login throttling (`passwords`),
//! request, slowmode and flood limits (`ratelimit`), Discord's permission
//! algorithm with threads seen through their parents (`permissions`), the
//! views every route starts from (`views`: [`GuildView`], [`ChannelView`]),
//! who may hand out which right (`grants`: the role hierarchy, role
//! assignment, channel overwrites), and who may join, speak and move
//! members in voice channels (`voice`).
//!
//! Depends on the store (users, guilds, members, roles, channels, thread
//! members: read only, but for a revocation's user write), the realtime
//! limiter, and cluster (a token read first waits until this node has
//! applied other nodes' revocations); on no domain component. Every other
//! component depends on it.

pub mod auth;
mod grants;
pub mod passwords;
pub mod permissions;
pub mod ratelimit;
mod tokens;
mod views;
pub mod voice;

pub use tokens::{Revocation, TokenKind, TokenOwner, parse_authorization};
pub use views::{ChannelView, GuildView};

/// What access keeps on each node.
pub(crate) struct State {
    /// Token states, checked in memory; kept true to revocations made
    /// through other nodes by `cluster::invalidation`.
    pub(crate) tokens: std::sync::Arc<auth::TokenSigner>,
    /// Every password hash and check, bounded; login throttling.
    pub(crate) passwords: passwords::Passwords,
}

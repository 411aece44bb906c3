//! Sessions: what a gateway session gets from the service and asks of it.
//! The two payloads a session opens with, built here and nowhere else:
//! READY (`ready`: [`SessionStart`] and [`SessionStart::ready`]) and
//! GUILD_CREATE (`guild_create`, also sent to a new member and a new
//! guild's owner); what the hub computes permissions and views from
//! (`snapshot`: [`GuildSnapshot`] and the members and channels it asks
//! about); and presence per session (`presence`), told to the user's
//! guilds when it changes, with the sweep of expired sessions.
//!
//! Depends on access (permissions, a thread's through its parent), on
//! accounts (the current user, a bot's application), on guilds (members,
//! channels, emoji), on threads (the active threads a member sees), on
//! private (the user's DMs), on messages (read states, a channel's newest
//! message) and on the realtime presence backend.

pub mod guild_create;
pub mod presence;
pub mod ready;
pub mod snapshot;

pub use ready::SessionStart;
pub use snapshot::GuildSnapshot;
